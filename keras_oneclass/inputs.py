"""The input rules every entry point applies (fit, predict, calibrate, detect, anomaly_map, score_and_map).

What a detector accepts as ``x`` (and ``validation_data``): a numpy array (N, *input_shape), a list
of samples, a batched ``tf.data.Dataset``, a ``keras.utils.PyDataset`` or a Python generator of
batches, each yielding ``x``, ``(x,)`` or ``(x, y)``. The rules, the same for every detector:

- **Finite values only.** Arrays are checked in full before any work; datasets, PyDatasets and
  generators batch by batch as they are read (inside the ``tf.data`` pipeline for datasets). A NaN
  or inf raises ``ValueError`` naming the batch, and a ``fit`` that meets it leaves the detector as
  it was before the call.
- **At least one batch.** An input that yields nothing (e.g. a ``filter`` that keeps nothing)
  raises ``ValueError`` before any work.
- **Integer images are 0-255 pixels.** An integer-typed input whose samples are images (H, W, C)
  is divided by 255, with a warning; integer tables are cast to float32. Other float dtypes are
  cast to float32. Booleans count as 0/1.
- **Pixels in [0, 1].** Detectors whose inputs are documented in [0, 1] (pretrained backbones,
  sigmoid reconstructions: ``Detector.input_range``) warn once when values lie far outside it
  (below -1 or above 2: e.g. 0-255 floats).
- **Lists** are converted with ``numpy.asarray``; ragged or non-numeric lists are refused.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import types
import warnings

import keras
import numpy as np

from keras_oneclass import backends

# Marker of the finiteness assertion inside tf.data pipelines, read back from TensorFlow's error.
_MARKER = "keras_oneclass_nonfinite_batch"
FAR_BELOW, FAR_ABOVE = -1.0, 2.0


def _expected(sample_shape) -> str:
    return f"(N, {', '.join(map(str, sample_shape))})"


def _features(data):
    x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
    return x


def _replace_features(data, x):
    """``data`` (x, (x,), (x, y) or (x, y, w)) with its features replaced by ``x``."""
    if isinstance(data, tuple):
        return (x, *data[1:])
    if isinstance(data, list):
        return [x, *data[1:]]
    return x


def is_image_shape(sample_shape) -> bool:
    return len(sample_shape) == 3


def numeric_array(x, sample_shape, name: str) -> np.ndarray:
    """``x`` as float32 following the dtype rule (integer images / 255), or a clear error."""
    try:
        array = np.asarray(x)
    except ValueError as error:  # ragged lists
        raise ValueError(f"{name}: cannot make an array of shape {_expected(sample_shape)} from it ({error}).") from None
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"{name} must be numeric, got dtype {array.dtype}.")
    return as_float32(array, sample_shape, name)


def as_float32(array, sample_shape, name: str, warn: bool = True):
    """Apply the dtype rule to a numpy batch: integer images / 255 (with a warning), the rest cast."""
    if np.issubdtype(array.dtype, np.integer) and is_image_shape(sample_shape):
        if warn:
            warnings.warn(f"{name} holds integer pixels ({array.dtype}): they are read as 0-255 and divided by "
                          "255. Pass float32 images in [0, 1] to silence this warning.", stacklevel=4)
        return array.astype(np.float32) / 255.0
    return array.astype(np.float32, copy=False)


def check_finite(batch: np.ndarray, name: str, index: int | None = None) -> None:
    bad = int(np.size(batch) - np.count_nonzero(np.isfinite(batch)))
    if bad:
        where = f" batch {index}" if index is not None else ""
        raise ValueError(f"{name}{where} contains {bad} NaN or inf values; clean or impute them first.")


def check_array_shape(array: np.ndarray, sample_shape, name: str) -> None:
    if array.ndim != len(sample_shape) + 1 or tuple(array.shape[1:]) != tuple(sample_shape):
        raise ValueError(f"{name} has shape {array.shape}, expected {_expected(sample_shape)} for this detector's "
                         f"input_shape={tuple(sample_shape)}.")
    if array.shape[0] == 0:
        raise ValueError(f"{name} is empty: expected at least one sample of shape {tuple(sample_shape)}.")


def is_generator(x) -> bool:
    """Whether ``x`` is a one-shot iterator of batches (a generator), which can be read only once."""
    return isinstance(x, (types.GeneratorType, map, filter, itertools.chain)) or (
        hasattr(x, "__next__") and not hasattr(x, "__len__"))


class InputChecker:
    """Applies the module's rules for one detector (its sample shape and input range)."""

    def __init__(self, sample_shape, input_range=None, warn_range=None):
        self.sample_shape = tuple(sample_shape)
        self.input_range = input_range
        self._warn_range = warn_range  # callable(message) that warns once per detector

    # ------------------------------------------------------------------ range
    def check_range(self, batch: np.ndarray, name: str) -> None:
        if self.input_range is None or not np.size(batch):
            return
        low, high = float(np.min(batch)), float(np.max(batch))
        if low < FAR_BELOW or high > FAR_ABOVE:
            message = (f"{name} has values in [{low:.4g}, {high:.4g}], far outside the range [0, 1] this detector "
                       "expects (pixels scaled to [0, 1]); scores will be meaningless. Divide 0-255 images by 255.")
            if self._warn_range is not None:
                self._warn_range(message)
            else:
                warnings.warn(message, stacklevel=4)

    # ------------------------------------------------------------------ entry point
    def prepare(self, x, name: str = "x"):
        """``x`` checked and converted: float32 arrays, or a dataset/PyDataset/generator that checks
        each batch as it is read. Raises ``TypeError``/``ValueError`` naming ``name``."""
        if x is None:
            raise TypeError(f"{name} is None: expected an array of shape {_expected(self.sample_shape)}, a "
                            "keras.utils.PyDataset, a batched tf.data.Dataset or a generator of batches.")
        if backends.is_tf_dataset(x):
            return self._dataset(x, name)
        if isinstance(x, keras.utils.PyDataset):
            return self._pydataset(x, name)
        if is_generator(x):
            return self._generator(x, name)
        array = numeric_array(x, self.sample_shape, name)
        check_array_shape(array, self.sample_shape, name)
        check_finite(array, name)
        self.check_range(array, name)
        return array

    # ------------------------------------------------------------------ batch by batch
    def check_batch(self, batch, name: str, index: int):
        """One batch (x, (x,), (x, y)...) of a PyDataset or generator, checked and converted."""
        x = numeric_array(_features(batch), self.sample_shape, f"{name} batch {index}")
        if x.ndim != len(self.sample_shape) + 1 or tuple(x.shape[1:]) != self.sample_shape:
            raise ValueError(f"{name} batch {index} has shape {x.shape}, expected {_expected(self.sample_shape)}.")
        check_finite(x, name, index)
        if index == 0:
            self.check_range(x, name)
        return _replace_features(batch, x)

    def _pydataset(self, dataset, name: str):
        if len(dataset) == 0:
            raise ValueError(f"{name}: the PyDataset has no batch.")
        return CheckedBatches(dataset, self, name)

    def _generator(self, generator, name: str):
        iterator = iter(generator)
        try:
            first = next(iterator)
        except StopIteration:
            raise ValueError(f"{name}: the generator yields no batch.") from None
        checker = self

        def checked():
            for index, batch in enumerate(itertools.chain([first], iterator)):
                batch = checker.check_batch(batch, name, index)
                yield batch if isinstance(batch, tuple) else (batch,)  # Keras reads generators' tuples

        return checked()

    def _dataset(self, dataset, name: str):
        import tensorflow as tf

        spec = _features(dataset.element_spec)
        shape = getattr(spec, "shape", None)
        if shape is None:
            raise TypeError(f"{name}: the dataset must yield tensors or (x, y) tuples, got {dataset.element_spec}.")
        if shape.rank is not None and shape.rank == len(self.sample_shape):
            raise ValueError(f"{name}: the dataset yields single samples of shape {shape}; batch it first, "
                             f"e.g. dataset.batch(200), so that it yields {_expected(self.sample_shape)}.")
        if not shape.is_compatible_with((None, *self.sample_shape)):
            raise ValueError(f"{name}: the dataset yields batches of shape {shape}, expected "
                             f"{_expected(self.sample_shape)}.")
        dtype = spec.dtype
        if not (dtype.is_floating or dtype.is_integer or dtype == tf.bool):
            raise TypeError(f"{name}: the dataset yields {dtype.name} values; expected numbers.")
        if dataset.cardinality() == 0:
            raise ValueError(f"{name}: the dataset is empty.")
        first = None
        for batch in dataset.take(1):
            first = np.asarray(_features(batch))
        if first is None:
            raise ValueError(f"{name}: the dataset yields no batch (e.g. a filter that keeps nothing).")
        scale = dtype.is_integer and is_image_shape(self.sample_shape)
        if scale:
            warnings.warn(f"{name} holds integer pixels ({dtype.name}): they are read as 0-255 and divided by 255. "
                          "Pass float32 images in [0, 1] to silence this warning.", stacklevel=4)
        self.check_range(as_float32(first, self.sample_shape, name, warn=False), name)

        def convert(index, batch):
            x = tf.cast(_features(batch), tf.float32)
            if scale:
                x = x / 255.0
            check = tf.debugging.Assert(tf.reduce_all(tf.math.is_finite(x)), [_MARKER, name, index], summarize=1)
            with tf.control_dependencies([check]):
                x = tf.identity(x)
            return _replace_features(batch, x)

        return dataset.enumerate().map(convert, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


class CheckedBatches(keras.utils.PyDataset):
    """A PyDataset whose batches are checked and converted by an ``InputChecker`` as they are read."""

    def __init__(self, dataset: keras.utils.PyDataset, checker: InputChecker, name: str):
        super().__init__(workers=dataset.workers, use_multiprocessing=dataset.use_multiprocessing,
                         max_queue_size=dataset.max_queue_size)
        self.dataset, self.checker, self.name = dataset, checker, name

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        return self.checker.check_batch(self.dataset[index], self.name, index)

    def on_epoch_end(self):
        self.dataset.on_epoch_end()


@contextlib.contextmanager
def readable_errors():
    """Turn the finiteness assertion of a checked ``tf.data`` pipeline back into a ``ValueError``
    naming the input and the batch."""
    try:
        yield
    except Exception as error:  # noqa: BLE001 - only TensorFlow's assertion is translated
        match = re.search(_MARKER + r"\] \[([^\]]*)\] \[(\d+)\]", str(error))
        if match is None:
            raise
        raise ValueError(f"{match.group(1)} batch {match.group(2)} contains NaN or inf values; clean or impute "
                         "them first.") from None


def nonfinite_scores_error(scores: np.ndarray, what: str = "scores") -> ValueError | None:
    """A ``ValueError`` naming the samples whose ``scores`` are NaN or inf, or None when all are finite."""
    bad = np.flatnonzero(~np.isfinite(scores))
    if not len(bad):
        return None
    shown = ", ".join(map(str, bad[:10])) + (", ..." if len(bad) > 10 else "")
    return ValueError(f"the {what} of {len(bad)} sample(s) are NaN or inf (sample indices {shown}). The inputs may "
                      "be far too large (e.g. 1e30), or the detector diverged in training (learning rate too "
                      "large for it).")
