"""Saving and loading detectors: .h5 refused with a pointer to .keras; load_detector names what is wrong."""

from __future__ import annotations

import json
import zipfile

import keras
import numpy as np
import pytest

from conftest import blobs
from keras_oneclass import DASVDD, PatchCore, load_detector


def tiny_mobilenet():
    """A small keras.applications backbone with random weights (no download needed)."""
    keras.utils.set_random_seed(0)
    return keras.applications.MobileNet(alpha=0.25, weights=None, include_top=False, input_shape=(32, 32, 3))


# one detector trained by gradient steps, one that builds a memory in one pass
DETECTORS = {
    "dasvdd": (lambda: DASVDD(input_shape=(8,)), (8,), 2),
    "patchcore": (lambda: PatchCore((32, 32, 1), backbone=tiny_mobilenet()), (32, 32, 1), 1),
}


@pytest.fixture(params=sorted(DETECTORS), scope="module")
def saved(request, tmp_path_factory):
    """A fitted, calibrated detector, its test data and the .keras file it was saved to."""
    factory, shape, epochs = DETECTORS[request.param]
    x_train, x_test, _ = blobs(n_normal=64, n_anomalous=16, shape=shape)
    model = factory()
    model.fit(x_train, epochs=epochs, verbose=0)
    model.calibrate(x_train, percentile=95)
    path = tmp_path_factory.mktemp(request.param) / "model.keras"
    model.save(path)
    return model, x_test[:16], path


@pytest.mark.parametrize("name", ["model.h5", "model.hdf5", "MODEL.H5"])
def test_h5_is_refused_with_a_pointer_to_keras(saved, tmp_path, name):
    model, _, _ = saved
    with pytest.raises(ValueError, match=r"legacy HDF5 .*\.keras"):
        model.save(tmp_path / name)
    with pytest.raises(ValueError, match=r"legacy HDF5 .*\.keras"):
        model.save(str(tmp_path / name))
    assert not (tmp_path / name).exists()


def test_a_good_file_restores_identical_scores_and_threshold(saved):
    model, x_test, path = saved
    loaded = load_detector(path)
    assert type(loaded) is type(model) and loaded.is_fitted
    assert loaded.threshold == pytest.approx(model.threshold)
    np.testing.assert_array_equal(loaded.predict(x_test, verbose=0), model.predict(x_test, verbose=0))
    assert type(load_detector(str(path))) is type(model)  # str paths too


def test_missing_file_is_file_not_found(tmp_path):
    path = tmp_path / "nowhere" / "model.keras"
    with pytest.raises(FileNotFoundError, match="model.keras.*does not exist"):
        load_detector(path)


def test_zero_byte_file_is_damaged(tmp_path):
    path = tmp_path / "empty.keras"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.keras' is damaged: .*empty \(0 bytes\)"):
        load_detector(path)


@pytest.mark.parametrize("fraction", [0.5, 0.95])
def test_truncated_file_is_damaged(saved, tmp_path, fraction):
    _, _, good = saved
    data = good.read_bytes()
    path = tmp_path / "truncated.keras"
    path.write_bytes(data[:int(len(data) * fraction)])
    with pytest.raises(ValueError, match=r"truncated\.keras' is damaged: not a \.keras zip archive"):
        load_detector(path)


def _rewrite(good, path, replace: dict | None = None, drop=()) -> None:
    """A copy of the archive ``good`` with some members replaced or left out."""
    replace = replace or {}
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(path, "w") as target:
        for name in source.namelist():
            if name not in drop:
                target.writestr(name, replace.get(name, source.read(name)))


def test_archive_without_config_or_weights_is_damaged(saved, tmp_path):
    _, _, good = saved
    _rewrite(good, tmp_path / "no_weights.keras", drop=("model.weights.h5",))
    with pytest.raises(ValueError, match=r"is damaged: the weights .* missing"):
        load_detector(tmp_path / "no_weights.keras")
    _rewrite(good, tmp_path / "no_config.keras", drop=("config.json",))
    with pytest.raises(ValueError, match=r"is damaged: config\.json is missing"):
        load_detector(tmp_path / "no_config.keras")
    _rewrite(good, tmp_path / "bad_config.keras", replace={"config.json": b'{"class_name": "DASV'})
    with pytest.raises(ValueError, match=r"is damaged: config\.json is not valid JSON"):
        load_detector(tmp_path / "bad_config.keras")


def test_corrupt_member_is_damaged(saved, tmp_path):
    _, _, good = saved
    data = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as archive:  # flip bytes inside the stored weights
        info = archive.getinfo("model.weights.h5")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + info.compress_size // 2
    data[start:start + 8] = bytes(255 - b for b in data[start:start + 8])
    path = tmp_path / "corrupt.keras"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"is damaged: .*model\.weights\.h5"):
        load_detector(path)


def test_other_keras_models_are_not_detectors(tmp_path):
    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    plain.save(tmp_path / "plain.keras")
    with pytest.raises(ValueError, match="holds a Sequential, not a keras_oneclass detector"):
        load_detector(tmp_path / "plain.keras")


def test_unknown_class_in_an_intact_archive_does_not_load(saved, tmp_path):
    _, _, good = saved
    with zipfile.ZipFile(good) as archive:
        config = json.loads(archive.read("config.json"))
    config.update(class_name="NoSuchDetector", module="nowhere", registered_name="NoSuchDetector")
    _rewrite(good, tmp_path / "unknown.keras", replace={"config.json": json.dumps(config)})
    with pytest.raises(ValueError, match="could not be loaded as a Keras model"):
        load_detector(tmp_path / "unknown.keras")


def test_h5_file_is_refused_on_load(tmp_path):
    path = tmp_path / "old.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n")
    with pytest.raises(ValueError, match=r"legacy HDF5.*\.keras"):
        load_detector(path)
