"""examples/wood_surface.py end to end, with a tiny stand-in detector so the test takes seconds."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import ops

from keras_oneclass import datasets, metrics
from keras_oneclass.detector import Detector, validate_input

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "wood_surface.py"


@keras.saving.register_keras_serializable(package="tests_wood")
class Brightness(Detector):
    """Score = mean |x - 0.5|; map = per-pixel |x - 0.5|. Enough to exercise the whole pipeline."""

    localizes = True

    def __init__(self, input_shape, **kwargs):
        super().__init__(input_shape, **kwargs)
        self.build()

    def fit(self, x=None, y=None, **kwargs):
        validate_input(x, self.sample_shape, "x")
        self._fitted.assign(1.0)

    def score(self, x):
        return ops.mean(ops.abs(x - 0.5), axis=(1, 2, 3))

    def anomaly_map(self, x, batch_size=None):
        return np.abs(np.asarray(x) - 0.5).mean(axis=-1)


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("wood_surface_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def wood(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_ONECLASS_CACHE", str(tmp_path / "cache"))
    return datasets.synthetic_wood(tmp_path / "wood", n_train=20, n_test_good=4, n_test_defect_per_type=2,
                                   image_size=32, defect_types=("knot", "stain"))


def test_six_study_factories_are_registered(example):
    assert set(example.STUDY) == {"autoencoder", "efficientad", "ganomaly", "padim", "patchcore", "vae"}
    assert set(example.STUDY) < set(example.MODELS) and "dasvdd_conv" in example.MODELS
    assert set(example.REFERENCE_AUC) == set(example.STUDY)


def test_pipeline_writes_every_output(example, wood, tmp_path, monkeypatch):
    monkeypatch.setitem(example.MODELS, "brightness", lambda shape, args: Brightness(input_shape=shape))

    def unavailable(shape, args):
        raise ImportError("cannot import name 'Missing' from 'keras_oneclass'")

    monkeypatch.setitem(example.MODELS, "missing", unavailable)
    out = tmp_path / "out"
    status = example.main(["--data", str(wood), "--models", "brightness", "missing", "--image-size", "32",
                           "--out", str(out), "--verbose", "0"])
    assert status == 1  # one model could not run, and the exit status says so
    for name in ("table.md", "table.json", "roc.png", "overlays.png", "results.npz", "models/brightness.keras"):
        assert (out / name).is_file(), name
    table = json.loads((out / "table.json").read_text())
    brightness, missing = table["results"]
    assert "not available" in missing["error"] and "missing | not run" in (out / "table.md").read_text()
    assert table["settings"]["n_train"] == 18 and table["settings"]["n_validation"] == 2
    assert brightness["image_size"] == 32 and "| px |" in (out / "table.md").read_text()
    stored = np.load(out / "results.npz")
    test = datasets.read_folder(wood, image_size=32).test
    np.testing.assert_array_equal(stored["labels"], test.labels)
    model = keras.models.load_model(out / "models" / "brightness.keras")
    np.testing.assert_allclose(stored["scores_brightness"], model.predict(test.images, verbose=0), rtol=1e-6)
    assert brightness["image_roc_auc"] == pytest.approx(metrics.roc_auc(test.labels, stored["scores_brightness"]))
    assert brightness["pixel_roc_auc"] == pytest.approx(
        metrics.roc_auc(test.masks.reshape(-1).astype(int), model.anomaly_map(test.images).reshape(-1)), abs=1e-4)
    assert brightness["calibration"] == "95th percentile of validation"
    assert brightness["threshold"] == pytest.approx(float(stored["threshold_brightness"]))
    assert model.threshold == pytest.approx(brightness["threshold"])


def test_labelled_validation_uses_best_f1(example, wood, tmp_path, monkeypatch):
    monkeypatch.setitem(example.MODELS, "brightness", lambda shape, args: Brightness(input_shape=shape))
    out = tmp_path / "out"
    assert example.main(["--data", str(wood), "--models", "brightness", "--image-size", "32", "--out", str(out),
                         "--labelled-validation", "0.5", "--verbose", "0"]) == 0
    table = json.loads((out / "table.json").read_text())
    assert table["results"][0]["calibration"] == "best F1 on validation"
    assert table["settings"]["n_test"] == 4  # half of each type (4 good, 2 knot, 2 stain) moved to validation
    assert table["settings"]["n_validation"] == 2 + 4


def test_overlay_columns_pick_good_and_each_defect(example):
    test = datasets.LabelledImages(images=np.zeros((6, 4, 4, 1)), labels=np.array([0, 0, 0, 1, 1, 1]),
                                   masks=np.zeros((6, 4, 4), bool), types=np.array(["good"] * 3 + ["a", "b", "a"]),
                                   files=np.array([f"{i}" for i in range(6)]))
    assert list(example.overlay_columns(test)) == [0, 1, 3, 4]


def test_memory_detectors_run_at_their_own_size_on_the_same_images(example, wood, tmp_path, monkeypatch):
    monkeypatch.setitem(example.MODELS, "brightness", lambda shape, args: Brightness(input_shape=shape))
    monkeypatch.setitem(example.MODELS, "patchcore", lambda shape, args: Brightness(input_shape=shape))
    out = tmp_path / "out"
    assert example.main(["--data", str(wood), "--models", "brightness", "patchcore", "--image-size", "32",
                         "--memory-image-size", "16", "--out", str(out), "--verbose", "0"]) == 0
    small, large = json.loads((out / "table.json").read_text())["results"][::-1]
    assert (large["image_size"], small["image_size"]) == (32, 16)
    assert small["image_roc_auc"] == pytest.approx(
        metrics.roc_auc(datasets.read_folder(wood, image_size=16).test.labels,
                        np.load(out / "results.npz")["scores_patchcore"]))
    assert (out / "overlays.png").is_file()   # 16 px maps resized to sit beside the 32 px ones


def test_trained_detectors_get_the_batch_and_side_chosen_on_validation(example, wood, tmp_path, monkeypatch):
    fits = {}

    class Recording(Brightness):
        def fit(self, x=None, y=None, **kwargs):
            fits[self.name] = (kwargs.get("batch_size"), x.shape[1])
            return super().fit(x, y, **kwargs)

    for name in ("vae", "ganomaly", "padim"):
        monkeypatch.setitem(example.MODELS, name, lambda shape, args, name=name: Recording(input_shape=shape, name=name))
    out = tmp_path / "out"
    assert example.main(["--data", str(wood), "--models", "vae", "ganomaly", "padim", "--memory-image-size", "32",
                         "--out", str(out), "--verbose", "0"]) == 0
    assert fits == {"vae": (16, 128), "ganomaly": (8, 64), "padim": (None, 32)}
    rows = {r["model"]: r for r in json.loads((out / "table.json").read_text())["results"]}
    assert (rows["vae"]["batch_size"], rows["vae"]["image_size"]) == (16, 128)
    assert "| vae | - | - | 128 | 20 | 16 |" in (out / "table.md").read_text()
    fits.clear()
    assert example.main(["--data", str(wood), "--models", "vae", "--image-size", "32", "--batch-size", "4",
                         "--out", str(tmp_path / "out2"), "--verbose", "0"]) == 0
    assert fits == {"vae": (4, 32)}  # the command line overrides the per-model defaults
