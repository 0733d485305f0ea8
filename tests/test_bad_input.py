"""The bad-input matrix: inputs x detectors x entry points, each case asserting the error type and a
message that names the argument (the rules of ``keras_oneclass.inputs``)."""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pytest

from conftest import needs_tensorflow, tf
from detector_rows import REFIT_SAMPLES
# `trained` (conftest): the fitted detectors of detector_rows.DETECTORS, one per row, shared with the contract tests.

# calibrate and detect read their input through predict: one case each below covers them.
ENTRY_POINTS = ("fit", "predict", "anomaly_map")


def call(model, entry: str, x):
    if entry == "fit":
        return model.fit(x, epochs=1, verbose=0)
    if entry == "detect":
        model.threshold = 1.0
    if entry == "anomaly_map" and not model.localizes:
        pytest.skip(f"{type(model).__name__} draws no anomaly maps")
    return getattr(model, entry)(x)


def poisoned(x, index=10):
    bad = x.copy()
    bad.reshape(len(bad), -1)[index, 0] = np.nan
    return bad


class Batches(keras.utils.PyDataset):
    def __init__(self, x, batch_size=16):
        super().__init__()
        self.x, self.batch_size = x, batch_size

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index):
        return self.x[index * self.batch_size:(index + 1) * self.batch_size]


def generator(x, batch_size=16):
    for start in range(0, len(x), batch_size):
        yield x[start:start + batch_size]


BAD_INPUTS = {
    # name -> (make(x) -> input, error type, message)
    "nan_pydataset": (lambda x: Batches(poisoned(x)), ValueError, "x batch 0 contains 1 NaN or inf"),
    "nan_generator": (lambda x: generator(poisoned(x, 20)), ValueError, "x batch 1 contains 1 NaN or inf"),
    "empty_pydataset": (lambda x: Batches(x[:0]), ValueError, "x: the PyDataset has no batch"),
    "empty_generator": (lambda x: generator(x[:0]), ValueError, "x: the generator yields no batch"),
    "ragged_list": (lambda x: [x[0], x[1][:1]], ValueError, "x: cannot make an array"),
    "strings_list": (lambda x: [["a"] * x[0].size], TypeError, "x must be numeric"),
}
TF_INPUTS = {
    "nan_dataset": (lambda x: tf.data.Dataset.from_tensor_slices(poisoned(x, 20)).batch(16), ValueError,
                    "x batch 1 contains NaN or inf"),
    "empty_filtered_dataset": (lambda x: tf.data.Dataset.from_tensor_slices(x).filter(lambda s: False).batch(16),
                               ValueError, "x: the dataset yields no batch"),
}


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("bad", sorted(BAD_INPUTS))
def test_bad_inputs_raise_naming_the_argument(trained, bad, entry):
    make, error, message = BAD_INPUTS[bad]
    model = trained["model"]
    if entry == "fit" and "generator" in bad and hasattr(model, "train_phases"):  # read once per epoch
        error, message = TypeError, "x: .* a generator can be read only once"
    before = [v.numpy().copy() for v in model.trainable_variables]
    with pytest.raises(error, match=message):
        call(model, entry, make(trained["x_train"]))
    assert model.is_fitted
    for variable, value in zip(model.trainable_variables, before):  # nothing trained on the bad input
        np.testing.assert_array_equal(variable.numpy(), value)


@needs_tensorflow
@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("bad", sorted(TF_INPUTS))
def test_bad_tf_datasets_raise_naming_the_batch(trained, bad, entry):
    make, error, message = TF_INPUTS[bad]
    with pytest.raises(error, match=message):
        call(trained["model"], entry, make(trained["x_train"]))


@pytest.mark.parametrize("entry", ["calibrate", "detect"])
def test_calibrate_and_detect_check_their_input(trained, entry):
    with pytest.raises(ValueError, match="x batch 0 contains 1 NaN or inf"):
        call(trained["model"], entry, Batches(poisoned(trained["x_train"])))


@needs_tensorflow
def test_a_nan_in_a_dataset_leaves_a_new_detector_unfitted(trained):
    model = trained["factory"](0)
    dataset = tf.data.Dataset.from_tensor_slices(poisoned(trained["x_train"], 3)).batch(16)
    with pytest.raises(ValueError, match="x batch 0 contains NaN or inf"):
        model.fit(dataset, epochs=1, verbose=0)
    assert not model.is_fitted
    if not hasattr(model, "train_phases"):
        return  # one-pass memories take no validation data
    with pytest.raises(ValueError, match="validation_data contains 1 NaN"):
        model.fit(trained["x_train"], epochs=1, verbose=0, validation_data=poisoned(trained["x_train"][:32]))
    assert not model.is_fitted


def test_integer_images_are_read_as_0_255_pixels(trained):
    model, x = trained["model"], trained["x_test"]
    if len(trained["shape"]) != 3:
        ints = np.round(x * 10).astype(np.int64)  # integer tables: cast, not scaled
        np.testing.assert_allclose(model.predict(ints, verbose=0), model.predict(ints.astype("float32"), verbose=0),
                                   rtol=1e-6)
        return
    pixels = np.round(np.clip(x, 0, 1) * 255).astype(np.uint8)
    with pytest.warns(UserWarning, match="integer pixels .* divided by 255"):
        scores = model.predict(pixels, verbose=0)
    np.testing.assert_allclose(scores, model.predict(pixels.astype("float32") / 255, verbose=0), rtol=1e-5, atol=1e-7)


@needs_tensorflow
def test_datasets_of_other_dtypes_are_cast_like_arrays(trained):
    model, x = trained["model"], trained["x_test"]
    expected = model.predict(x.astype("float32"), verbose=0)
    as_float64 = tf.data.Dataset.from_tensor_slices(x.astype("float64")).batch(32)
    np.testing.assert_allclose(model.predict(as_float64, verbose=0), expected, rtol=1e-5, atol=1e-6)
    if len(trained["shape"]) == 3:
        pixels = np.round(np.clip(x, 0, 1) * 255).astype(np.uint8)
        with pytest.warns(UserWarning, match="integer pixels"):
            from_uint8 = model.predict(tf.data.Dataset.from_tensor_slices(pixels).batch(32), verbose=0)
        np.testing.assert_allclose(from_uint8, model.predict(pixels / np.float32(255), verbose=0), rtol=1e-5, atol=1e-6)


def test_values_far_outside_the_documented_range_warn_once(trained):
    model = trained["model"]
    if model.input_range is None:
        pytest.skip(f"{type(model).__name__} documents no input range here")
    model._range_warned = False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):
            try:
                model.predict(trained["x_test"] * 255.0, verbose=0)
            except ValueError:
                pass  # 0-255 inputs may also make the scores overflow: then predict names the samples
    assert sum("far outside the range [0, 1]" in str(w.message) for w in caught) == 1


def test_validation_data_then_a_second_fit_without_a_stale_threshold(trained):
    model, x = trained["factory"](0), trained["x_train"][:REFIT_SAMPLES]
    if hasattr(model, "train_phases"):  # trained detectors log validation losses
        history = model.fit(x, epochs=1, verbose=0, validation_data=x[:32]).history
        assert "val_loss" in history and np.isfinite(history["val_loss"]).all()
        split = trained["factory"](1).fit(x, epochs=1, verbose=0, validation_split=0.25).history
        assert "val_loss" in split and np.isfinite(split["val_loss"]).all()
    else:  # one-pass memories
        model.fit(x, epochs=1, verbose=0)
    model.calibrate(x)
    with pytest.warns(UserWarning, match="cleared the threshold"):
        model.fit(0.5 * x, epochs=1, verbose=0)
    assert model.threshold is None
    with pytest.raises(ValueError, match="threshold"):
        model.detect(x)


def test_huge_inputs_never_give_silent_non_finite_scores(trained):
    model, x = trained["model"], trained["x_test"][:8]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            scores = model.predict(x * 1e30, verbose=0)
        except ValueError as error:
            assert "NaN or inf" in str(error) and "sample indices" in str(error)
        else:
            assert np.isfinite(scores).all()


def test_divergence_is_never_silent(trained):
    """A learning rate of 1e8: fit stops with an error naming the likely cause and restores the detector,
    or, where the loss stays finite, predict refuses non-finite scores; never a silent NaN."""
    model = trained["factory"](0)
    if not hasattr(model, "train_phases"):
        pytest.skip("one-pass memories have no learning rate")
    model.compile(learning_rate=1e8)
    initial = [v.numpy().copy() for v in model.trainable_variables]
    try:
        model.fit(trained["x_train"][:REFIT_SAMPLES], epochs=2, verbose=0)
    except ValueError as error:
        assert "NaN or inf" in str(error) and "learning rate" in str(error)
        assert not model.is_fitted
        for variable, value in zip(model.trainable_variables, initial):
            np.testing.assert_array_equal(variable.numpy(), value)
        return
    try:
        scores = model.predict(trained["x_test"], verbose=0)
    except ValueError as error:
        assert "NaN or inf" in str(error) and "sample indices" in str(error)
    else:
        assert np.isfinite(scores).all()


def test_generators_and_lists_work_where_read_once(trained):
    model, x = trained["model"], trained["x_test"]
    expected = model.predict(x, verbose=0)
    np.testing.assert_allclose(model.predict(generator(x), verbose=0), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict(list(x), verbose=0), expected, rtol=1e-5, atol=1e-6)
