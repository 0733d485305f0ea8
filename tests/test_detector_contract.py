"""One parametrised test of the public contract (docs/design.md, "The detector contract") over every detector."""

from __future__ import annotations

import inspect

import keras
import numpy as np
import pytest

from conftest import needs_tensorflow, tf
from detector_rows import DETECTORS, REFIT_SAMPLES, tiny_mobilenet  # noqa: F401 - rows; `trained` is in conftest
from keras_oneclass import NotFittedError, metrics


def test_fit_without_compile_trains_and_scores_separate_anomalies(trained):
    logs = trained["history"].history  # losses, or what a one-pass fit measured (patches, memory size)
    assert logs and all(np.isfinite(values).all() for values in logs.values())
    scores = trained["model"].predict(trained["x_test"], verbose=0)
    assert scores.shape == (len(trained["x_test"]),) and scores.dtype == np.float32
    assert metrics.roc_auc(trained["y_test"], scores) > 0.9


def test_calibrate_percentile_and_detect(trained):
    model = trained["model"]
    threshold = model.calibrate(trained["x_train"], percentile=90)
    assert model.threshold == pytest.approx(threshold)
    flagged = model.detect(trained["x_train"])
    assert flagged.dtype == bool and 0.05 <= flagged.mean() <= 0.15


def test_calibrate_f1_uses_labels(trained):
    model = trained["model"]
    scores = model.predict(trained["x_test"], verbose=0)
    threshold = model.calibrate(trained["x_test"], trained["y_test"])
    assert threshold == pytest.approx(metrics.best_f1_threshold(trained["y_test"], scores)[0], rel=1e-5)


def test_save_and_load_restore_identical_scores_and_threshold(trained):
    model = trained["model"]
    model.calibrate(trained["x_train"], percentile=95)
    path = trained["tmp"] / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(loaded.predict(trained["x_test"], verbose=0),
                                  model.predict(trained["x_test"], verbose=0))
    assert loaded.threshold == model.threshold
    np.testing.assert_array_equal(loaded.detect(trained["x_test"]), model.detect(trained["x_test"]))


def test_config_holds_every_constructor_argument_under_its_own_name(trained):
    model = trained["model"]
    arguments = set(type(model).constructor_arguments()) - {"weights_dir"}
    config = model.get_config()
    assert arguments <= set(config), f"missing from get_config: {sorted(arguments - set(config))}"
    rebuilt = type(model).from_config(config)
    assert rebuilt.get_config() == config == model.get_config()  # rebuilding consumes nothing
    assert inspect.signature(type(model).__init__).parameters["seed"].default == 0  # one default-seed policy


def test_localising_detectors_keep_one_map_contract(trained):
    model, x = trained["model"], trained["x_test"][:5]
    if not model.localizes:  # DASVDD, Deep SVDD; autoencoders on tables
        with pytest.raises((NotImplementedError, ValueError), match="no anomaly maps|image inputs"):
            model.anomaly_map(x)
        return
    maps = model.anomaly_map(x)
    height, width = trained["shape"][:2]
    assert maps.shape == (5, height, width) and maps.dtype == np.float32 and np.isfinite(maps).all()
    scores, maps_again = model.score_and_map(x, batch_size=2)
    np.testing.assert_allclose(scores, model.predict(x, verbose=0), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(maps_again, maps, rtol=1e-5, atol=1e-6)
    assert "blur_sigma" in model.get_config()


def test_same_seed_gives_identical_scores(trained):
    def run():
        model = trained["factory"](3)
        model.fit(trained["x_train"][:REFIT_SAMPLES], epochs=2, verbose=0)  # shuffled with the seed
        return model.predict(trained["x_test"], verbose=0)
    np.testing.assert_allclose(run(), run(), rtol=1e-5, atol=1e-6)


@needs_tensorflow
def test_fit_accepts_a_labelled_dataset(trained):
    x = trained["x_train"][:REFIT_SAMPLES]
    model = trained["factory"](1)
    model.fit(tf.data.Dataset.from_tensor_slices((x, np.zeros(len(x)))).batch(32), epochs=1, verbose=0)
    assert np.isfinite(model.predict(x, verbose=0)).all()


class LabelledBatches(keras.utils.PyDataset):
    """(x, y) batches of an array, as a user's own PyDataset would serve them."""

    def __init__(self, x, batch_size=64):
        super().__init__()
        self.x, self.batch_size = x, batch_size

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index):
        batch = self.x[index * self.batch_size:(index + 1) * self.batch_size]
        return batch, np.zeros(len(batch), "float32")


def test_fit_and_predict_accept_a_pydataset(trained):
    x = trained["x_train"][:REFIT_SAMPLES]
    model = trained["factory"](1)
    model.fit(LabelledBatches(x, batch_size=32), epochs=1, verbose=0)
    np.testing.assert_allclose(model.predict(LabelledBatches(x, batch_size=32), verbose=0), model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_predict_before_fit_raises(trained):
    model = trained["factory"](0)
    with pytest.raises(NotFittedError, match="before fit"):
        model.predict(trained["x_test"])
    assert issubclass(NotFittedError, ValueError)


def test_detect_before_calibrate_names_calibrate(trained):
    model = trained["factory"](0)
    model.fit(trained["x_train"][:REFIT_SAMPLES], epochs=1, verbose=0)
    with pytest.raises(NotFittedError, match="calibrate"):
        model.detect(trained["x_test"])


@pytest.mark.parametrize("bad, error, message", [
    ("wrong_shape", ValueError, "expected \\(N, "),
    ("wrong_rank", ValueError, "expected \\(N, "),
    ("nan", ValueError, "NaN or inf"),
    ("empty", ValueError, "empty"),
    ("unbatched", ValueError, "batch it"),
    ("strings", TypeError, "numeric"),
])
def test_bad_input_raises_clear_errors(trained, bad, error, message):
    if bad == "unbatched" and tf is None:
        pytest.skip("tf.data needs TensorFlow, not installed or blocked here")
    x = trained["x_train"]
    inputs = {
        "wrong_shape": np.zeros((4, *[d + 1 for d in trained["shape"]]), "float32"),
        "wrong_rank": x[0],
        "nan": np.where(np.arange(x.size).reshape(x.shape) == 3, np.nan, x),
        "empty": x[:0],
        "unbatched": tf.data.Dataset.from_tensor_slices(x) if tf is not None else None,
        "strings": np.full((2, *trained["shape"]), "a"),
    }[bad]
    with pytest.raises(error, match=message):
        trained["model"].fit(inputs, epochs=1, verbose=0)
    if bad != "unbatched":
        with pytest.raises(error, match=message):
            trained["model"].predict(inputs)
