"""Data loaders without TensorFlow: Pillow decoding (and how close it is to TensorFlow's), numpy
training sets from the loaders, augmentation as a PyDataset, feature-memory detectors fed by one.

TensorFlow's absence is simulated by patching ``backends.tensorflow_installed``; the real check runs
in an environment without TensorFlow on the JAX and PyTorch backends.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from conftest import shared_data
from keras_oneclass import backends, datasets
from keras_oneclass.datasets import image_folder, locate
from test_folder import make_mvtec


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path, monkeypatch):
    monkeypatch.delenv(locate.DATA_ENV_VAR, raising=False)
    monkeypatch.setenv("KERAS_ONECLASS_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def without_tensorflow(monkeypatch):
    """The loaders behave as if TensorFlow were not installed."""
    monkeypatch.setattr(backends, "tensorflow_installed", lambda: False)


def _decode(decoder, files, size, color_mode):
    progbar = keras.utils.Progbar(len(files), verbose=0)
    function = image_folder._decode_images_tf if decoder == "tensorflow" else image_folder._decode_images_pillow
    return function([str(f) for f in files], size, color_mode, Path("."), progbar).astype(int)


# ------------------------------------------------------------------ Pillow decoding


@pytest.mark.parametrize("subset, size, color_mode", [
    ("magnetic_tile/train/good", (224, 224), "grayscale"),   # grayscale JPEGs of varied size, down-scaled
    ("magnetic_tile/train/good", (600, 520), "rgb"),         # up-scaled, to RGB
    ("cifar10/test/cat", None, "rgb"),                       # colour JPEGs as stored
    ("cifar10/test/cat", (24, 24), "grayscale"),
])
def test_pillow_decoding_is_within_one_grey_level_of_tensorflow(subset, size, color_mode):
    pytest.importorskip("tensorflow")
    files = sorted(shared_data(subset).glob("*.jpg"))[:20]
    tf_pixels, pil_pixels = _decode("tensorflow", files, size, color_mode), _decode("pillow", files, size, color_mode)
    difference = np.abs(tf_pixels - pil_pixels)
    assert tf_pixels.shape == pil_pixels.shape
    assert difference.max() <= (1 if size else 0)  # decoders agree; a resize may round a .5 tie apart
    assert (difference > 0).mean() < 0.01


def test_pillow_path_reads_folders_exactly_and_keeps_its_own_cache(tmp_path, without_tensorflow):
    root = tmp_path / "tree"
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)).save(root / name / f"{i}.png")
    images, labels, names = datasets.load_image_folder(root)
    assert images.shape == (4, 10, 12, 3) and labels.tolist() == [0, 0, 1, 1] and names == ["a", "b"]
    np.testing.assert_array_equal(images[2], np.asarray(Image.open(root / "b" / "0.png")))  # lossless: exact
    gray, _, _ = datasets.load_image_folder(root, image_size=(5, 6), color_mode="grayscale")
    assert gray.shape == (4, 5, 6, 1) and gray.max() <= 255
    assert image_folder.decoder() == "pillow" and image_folder.decoder_key() == ("pillow",)
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(root / "a" / "odd.png")
    with pytest.raises(ValueError, match="image_size"):
        datasets.load_image_folder(root, cache=False)
    (root / "a" / "broken.jpg").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="Could not decode"):
        datasets.load_image_folder(root, image_size=4, cache=False)


def test_colour_mode_detection_without_tensorflow(tmp_path, without_tensorflow):
    from keras_oneclass.datasets.folder import _detect_color_mode

    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "gray.jpg")
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "rgb.jpg")
    Image.fromarray(np.zeros((4, 4), np.uint8)).convert("P").save(tmp_path / "palette.png")
    assert _detect_color_mode(str(tmp_path / "gray.jpg")) == "grayscale"
    assert _detect_color_mode(str(tmp_path / "rgb.jpg")) == "rgb"
    assert _detect_color_mode(str(tmp_path / "palette.png")) == "rgb"  # decoded to RGB, as TensorFlow does


# ------------------------------------------------------------------ loaders return arrays


def test_load_oneclass_returns_numpy_without_tensorflow(tmp_path, without_tensorflow):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10, dtype=np.uint8), 3)
    arrays = {f"{k}_{split}": v for split in ("train", "test")
              for k, v in (("x", rng.integers(0, 256, (30, 28, 28), dtype=np.uint8)), ("y", labels))}
    (tmp_path / "mnist").mkdir()
    np.savez(tmp_path / "mnist" / "mnist.npz", **arrays)
    x_train, (x_test, y_test) = datasets.load_oneclass("mnist", 4, path=tmp_path)  # as_numpy not asked
    assert isinstance(x_train, np.ndarray) and x_train.shape == (3, 28, 28, 1) and x_train.dtype == np.float32
    assert x_test.shape == (30, 28, 28, 1) and int(y_test.sum()) == 27


def test_load_folder_returns_numpy_without_tensorflow(tmp_path, without_tensorflow):
    train, test = datasets.load_folder(make_mvtec(tmp_path / "set", rgb=False), image_size=10)
    assert isinstance(train, np.ndarray) and train.shape == (3, 10, 10, 1) and train.dtype == np.float32
    assert test.images.shape == (4, 10, 10, 1) and test.labels.tolist() == [0, 0, 1, 1]


# ------------------------------------------------------------------ augmentation as a PyDataset


def _images(n=16, shape=(12, 12, 1)):
    return np.random.default_rng(0).uniform(size=(n, *shape)).astype("float32")


def _collect(dataset):
    return np.concatenate([np.asarray(b[0] if isinstance(b, tuple) else b) for b in dataset])


def test_augment_without_tensorflow_is_a_seeded_pydataset(without_tensorflow):
    x = _images()
    kwargs = dict(rotation=30, width_shift=0.2, height_shift=0.2, horizontal_flip=True, seed=3, batch_size=8)
    dataset = datasets.augment(x, shuffle=False, **kwargs)
    assert isinstance(dataset, keras.utils.PyDataset) and len(dataset) == 2
    first = _collect(dataset)
    assert first.shape == x.shape and first.dtype == np.float32 and np.abs(first - x).mean() > 0.05
    np.testing.assert_array_equal(first, _collect(datasets.augment(x, shuffle=False, **kwargs)))  # same seed
    assert not np.array_equal(first, _collect(dataset))  # new draws every epoch
    flips = datasets.augment(x, horizontal_flip=True, seed=0, batch_size=16)

    def source_rows():  # which image of x each output is, flipped or not (and nothing else)
        return [int(np.flatnonzero([np.array_equal(out, image) or np.array_equal(out, image[:, ::-1])
                                    for image in x])[0]) for out in _collect(flips)]

    first_epoch = source_rows()
    flips.on_epoch_end()
    second_epoch = source_rows()
    assert sorted(first_epoch) == sorted(second_epoch) == list(range(16))
    assert first_epoch != second_epoch  # reshuffled every epoch


def test_augment_maps_a_pydataset_and_passes_labels():
    class Pairs(keras.utils.PyDataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return _images()[8 * i:8 * i + 8], np.arange(8 * i, 8 * i + 8)

    out = datasets.augment(Pairs(), horizontal_flip=True, seed=0)
    assert isinstance(out, keras.utils.PyDataset)
    x, y = out[1]
    np.testing.assert_array_equal(y, np.arange(8, 16))
    source = _images()[8:]
    assert all(np.array_equal(a, b) or np.array_equal(a, b[:, ::-1]) for a, b in zip(x, source))
    plain = Pairs()
    assert datasets.augment(plain) is plain  # nothing to apply


# ------------------------------------------------------------------ feature memories take any batches


def test_padim_scores_the_same_from_arrays_and_pydatasets():
    from keras_oneclass.models.padim import PaDiM
    from test_padim import textures, tiny_backbone

    class Batches(keras.utils.PyDataset):
        def __init__(self, x):
            super().__init__()
            self.x = x

        def __len__(self):
            return 2

        def __getitem__(self, i):
            return self.x[8 * i:8 * i + 8]

    x = textures(16)
    from_array = PaDiM((32, 32, 1), backbone=tiny_backbone(), n_features=10, seed=0)
    from_array.fit(x, verbose=0)
    from_pydataset = PaDiM((32, 32, 1), backbone=tiny_backbone(), n_features=10, seed=0)
    from_pydataset.fit(Batches(x), verbose=0)
    test = textures(4, seed=3)
    np.testing.assert_allclose(from_pydataset.predict(test), from_array.predict(test), rtol=1e-5)
