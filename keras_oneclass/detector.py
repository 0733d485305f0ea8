"""The contract every detector keeps: fit without compile, scores from predict, thresholds, checks.

A detector is a ``keras.Model`` whose ``predict`` returns one anomaly score per sample (float32,
higher = more anomalous). Subclasses implement ``score(x)``; detectors trained by gradient steps
declare their update phases (``training.TrainedDetector``); everything a user touches around them (input checks, auto-compile, calibrate/detect, the fitted
flag and the threshold that travel with ``model.save``) lives here once.
"""

from __future__ import annotations

import inspect
import math
import warnings
from typing import Any, Iterator

import keras
import numpy as np
from keras import ops

from keras_oneclass import backends, inputs
from keras_oneclass import metrics as metrics_lib

PACKAGE = "keras_oneclass"


class NotFittedError(ValueError):
    """Raised when a detector is asked to score before ``fit`` (or before ``calibrate``)."""


class TrainingDiverged(ValueError):
    """Raised by ``fit`` when a training loss turned NaN or inf (the detector is left as before ``fit``)."""


def as_sample_shape(input_shape) -> tuple[int, ...]:
    """Validate ``input_shape`` (the shape of ONE sample, no batch axis) and return it as a tuple."""
    try:
        shape = tuple(int(d) for d in input_shape)
    except TypeError:
        shape = None
    if not shape or any(d <= 0 for d in shape):
        raise ValueError(
            f"input_shape must be the shape of one sample with positive sizes, e.g. (28, 28, 1) or (8,); "
            f"got {input_shape!r}."
        )
    return shape


def features_of(data):
    """The ``x`` of a batch that may be ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``."""
    x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
    return x


def validate_input(x, sample_shape: tuple[int, ...], name: str = "x") -> None:
    """Raise a clear error when ``x`` cannot be a batch of samples of ``sample_shape`` (the rules of
    ``keras_oneclass.inputs``; arrays are checked in full, datasets by their spec and first batch)."""
    inputs.InputChecker(sample_shape).prepare(x, name)


def replicated_on_cpu(strategy) -> bool:
    """Whether a ``tf.distribute`` strategy keeps several replicas in sync on CPU devices, where
    TensorFlow (2.21) cannot run an XLA-compiled train step:

    - ``MirroredStrategy`` over logical CPUs of one process: TensorFlow places every replica's XLA
      cluster on CPU:0, so the replica on CPU:1 cannot read its own variable copy ("Trying to access
      resource ... located in device CPU:1 from device CPU:0"; a plain ``tf.function(jit_compile=True)``
      fails the same way without Keras);
    - ``MultiWorkerMirroredStrategy`` on CPUs: "Collectives are not yet implemented for CPU devices
      when compiling with XLA".

    Replicas on GPUs are not concerned (XLA there stays as ``auto_jit_compile`` decides).
    """
    if strategy is None or strategy.num_replicas_in_sync < 2:
        return False
    import tensorflow as tf

    devices = getattr(strategy.extended, "worker_devices", ())
    return any(tf.DeviceSpec.from_string(d).device_type == "CPU" for d in devices)


def data_shards() -> int:
    """How many devices of this process the active JAX ``keras.distribution`` splits a batch over
    (1 without one, and on the other backends). Keras needs each batch to split evenly."""
    if backends.name() != "jax":
        return 1
    distribution = keras.distribution.distribution()
    mesh = getattr(distribution, "device_mesh", None)
    batch_axis = getattr(distribution, "batch_dim_name", None)
    if mesh is None or batch_axis not in mesh.axis_names:
        return 1
    import jax

    return max(mesh.shape[mesh.axis_names.index(batch_axis)] // jax.process_count(), 1)


def iterate_batches(x, batch_size: int = 1000) -> Iterator[np.ndarray]:
    """Yield the feature batches of an array, a tf.data.Dataset or a PyDataset, once each, as
    float32 numpy arrays (B, ...) that any backend's layers accept."""
    if backends.is_tf_dataset(x):
        for batch in x.as_numpy_iterator():
            yield np.asarray(features_of(batch), dtype=np.float32)
    elif isinstance(x, keras.utils.PyDataset):
        for i in range(len(x)):
            yield np.asarray(features_of(x[i]), dtype=np.float32)
    elif not isinstance(x, np.ndarray):  # a generator of batches
        for batch in x:
            yield np.asarray(features_of(batch), dtype=np.float32)
    else:
        array = np.asarray(x, dtype=np.float32)
        for start in range(0, array.shape[0], batch_size):
            yield array[start:start + batch_size]


def run_stateless(variable_groups, value_groups, function):
    """Run ``function()`` with each group of variables bound to its values (JAX's stateless style).

    Returns (``function()``'s result, the values of every group after the assignments it made).
    """
    mapping = [pair for variables, values in zip(variable_groups, value_groups) for pair in zip(variables, values)]
    with keras.StatelessScope(state_mapping=mapping) as scope:
        result = function()
    return result, tuple([scope.get_current_value(v) for v in variables] for variables in variable_groups)


class Detector(keras.Model):
    """Base class of every detector: see the module docstring and docs/design.md.

    Subclasses set ``default_batch_size``, implement ``score(x)`` returning (B,) float32 scores,
    ``compile`` with their published defaults, and optionally ``prepare_fit(x)`` (work done once
    before the first epoch, such as estimating a loss weight).

    Args:
        input_shape: shape of one sample, e.g. (28, 28, 1) or (8,).
        seed: seed of every random choice the detector makes (initialisation, centre, data order, ...).
            0 by default for every detector, so that two runs give the same scores; None draws fresh
            randomness.

    Where a setting lives: what defines the objective (loss weights, beta, kappa, the blur of the
    maps, ...) is a constructor argument, stored under its own name and saved in ``get_config``; what
    defines the optimisation (optimizer, learning rate, schedule) is an argument of ``compile()``,
    which applies the paper's defaults when it is not called.

    Inputs follow the rules of ``keras_oneclass.inputs`` at every entry point (finite values, at
    least one batch, integer images read as 0-255 pixels).

    Saving: ``model.save("model.keras")`` keeps the fitted state and the threshold (the legacy ``.h5``
    format is refused with a ValueError); ``keras_oneclass.load_detector("model.keras")`` loads it back,
    with a clear error when the file is missing, damaged or holds no detector.
    """

    default_batch_size = 32

    def __init__(self, input_shape, seed: int | None = 0, **kwargs):
        super().__init__(**kwargs)
        self.sample_shape = as_sample_shape(input_shape)
        self.seed = seed
        self._threshold = self.add_weight(
            name="threshold", shape=(), dtype="float32", trainable=False,
            initializer=keras.initializers.Constant(float("nan")))
        self._fitted = self.add_weight(
            name="fitted", shape=(), dtype="float32", trainable=False, initializer="zeros")

    # ----------------------------------------------------------------------------- state
    @property
    def is_fitted(self) -> bool:
        return bool(self._fitted.numpy() > 0)

    @property
    def threshold(self) -> float | None:
        """Decision threshold on the score (``score > threshold`` = anomaly); None before calibrate."""
        value = float(self._threshold.numpy())
        return None if math.isnan(value) else value

    @threshold.setter
    def threshold(self, value: float | None) -> None:
        if value is not None and not np.isfinite(value):
            raise ValueError(f"threshold must be a finite number or None, got {value!r}.")
        self._threshold.assign(float("nan") if value is None else float(value))

    def seed_for(self, offset: int) -> int | None:
        """A distinct, reproducible seed for the ``offset``-th random choice (None if unseeded)."""
        return None if self.seed is None else int(self.seed) * 7919 + offset

    # ----------------------------------------------------------------------------- training
    def xla_on_cpu(self) -> bool:
        """Whether XLA pays off on a CPU for this network (measured per network family)."""
        return False

    def auto_jit_compile(self) -> bool:
        """What ``jit_compile="auto"`` means on the active backend.

        JAX: always (XLA is how JAX compiles a step). PyTorch: never (``torch.compile`` of a Keras
        step recompiles often and did not pay here). TensorFlow: XLA on a GPU, and on a CPU where
        ``xla_on_cpu()`` says it was measured faster (dense nets: about 12% per DASVDD epoch; conv
        nets train 2x slower under XLA on CPU and take ~10 s longer to compile). Never under a
        ``tf.distribute`` strategy with several replicas on CPUs (``replicated_on_cpu``).
        """
        backend = backends.name()
        if backend == "jax":
            return True
        if backend == "torch":
            return False
        if replicated_on_cpu(self.distribute_strategy):
            return False
        return backends.has_gpu() or self.xla_on_cpu()

    def compile(self, *args, jit_compile="auto", **kwargs):
        """``keras.Model.compile``; ``jit_compile="auto"``: see ``auto_jit_compile``.

        ``jit_compile=True`` under a strategy with several replicas on CPUs (where TensorFlow cannot
        compile the step with XLA, see ``replicated_on_cpu``) warns and compiles without XLA, as Keras
        does for models that do not support XLA.
        """
        if jit_compile == "auto":
            jit_compile = self.auto_jit_compile()
        elif jit_compile and backends.name() == "tensorflow" and replicated_on_cpu(self.distribute_strategy):
            warnings.warn("jit_compile=True is not supported by TensorFlow with several tf.distribute replicas "
                          "on CPUs; compiling with jit_compile=False.", stacklevel=2)
            jit_compile = False
        super().compile(*args, jit_compile=jit_compile, **kwargs)

    # ----------------------------------------------------------------------------- input rules
    @property
    def input_range(self) -> tuple[float, float] | None:
        """The documented range of the inputs, (0, 1) for images read by a sigmoid reconstruction or a
        pretrained backbone; None when any scale is fine. Values far outside it warn once."""
        return (0.0, 1.0) if getattr(self, "output_activation", None) == "sigmoid" else None

    def _warn_range_once(self, message: str) -> None:
        if not getattr(self, "_range_warned", False):
            warnings.warn(message, stacklevel=5)
            self._range_warned = True

    def input_checker(self) -> inputs.InputChecker:
        """The checks of ``keras_oneclass.inputs`` for this detector's samples."""
        return inputs.InputChecker(self.sample_shape, self.input_range, self._warn_range_once)

    def _prepare_validation(self, validation_data, checker):
        if isinstance(validation_data, tuple) and len(validation_data) in (2, 3):  # (x_val, y_val[, weights])
            return (checker.prepare(validation_data[0], "validation_data"), *validation_data[1:])
        return checker.prepare(validation_data, "validation_data")

    # ----------------------------------------------------------------------------- training
    def prepare_fit(self, x) -> None:
        """Work done before training starts (hook for subclasses). On a second ``fit`` the statistics
        it estimated the first time are kept, with a warning (``warn_kept``)."""

    def after_fit(self, x, validation_data) -> None:
        """Work done after the epochs, before the detector is marked fitted (hook for subclasses)."""

    def warn_kept(self, what: str) -> None:
        """The warning of a second ``fit``: training continues, ``what`` estimated before the first is kept."""
        warnings.warn(f"{type(self).__name__}.fit() continues training the fitted detector and keeps {what} "
                      "estimated before its first fit; build a new detector to start over on other data.",
                      stacklevel=4)

    def fit(self, x=None, y=None, batch_size=None, *, drop_remainder: bool = False, validation_data=None,
            **kwargs):
        """Train on normal data; labels, if given, are ignored by one-class training.

        Accepts what ``keras.Model.fit`` accepts, checked by the rules of ``keras_oneclass.inputs``;
        compiles with the method's published defaults when ``compile()`` was not called. For arrays,
        ``drop_remainder=True`` skips the last partial batch of every epoch (PyTorch's
        ``DataLoader(drop_last=True)``). ``validation_data`` (normal samples) is checked like ``x``
        and its losses are logged as ``val_*``.

        A second ``fit`` continues training: it clears a threshold set by ``calibrate`` (with a
        warning: calibrate again), and keeps the statistics estimated before the first fit.

        When a batch holds NaN or inf, or the loss turns NaN or inf, ``fit`` raises ``ValueError``
        and leaves every weight, the fitted flag and the threshold as they were before the call.

        An interrupted fit resumes with ``keras.callbacks.BackupAndRestore(backup_dir)``: a new
        detector fitting with the same directory loads the last saved epoch's weights, optimizer and
        random states and continues from the next epoch; each epoch of an array sees the order it sees
        in an uninterrupted fit, so the result is the uninterrupted fit's (``training/resume.py``).
        """
        if inputs.is_generator(x):
            raise TypeError(f"x: {type(self).__name__}.fit() reads x once per epoch (and before training), but a "
                            "generator can be read only once; wrap it in a keras.utils.PyDataset or "
                            "tf.data.Dataset.from_generator, or pass an array.")
        checker = self.input_checker()
        x = checker.prepare(x, "x")
        if validation_data is not None:
            validation_data = self._prepare_validation(validation_data, checker)
        if not self.compiled:
            self.compile()
        is_dataset = not isinstance(x, np.ndarray)
        if drop_remainder and (is_dataset or kwargs.get("validation_split")):
            raise ValueError("drop_remainder=True applies to arrays without validation_split; batch a dataset "
                             "with dataset.batch(n, drop_remainder=True) instead.")
        if not is_dataset and not kwargs.get("validation_split"):
            x = self.array_pipeline(x, batch_size or self.default_batch_size, kwargs.pop("shuffle", True),
                                    drop_remainder)
            y = None  # one-class training ignores labels
            from keras_oneclass.training.resume import with_resumed_data_order  # a resumed fit keeps the order

            kwargs["callbacks"] = with_resumed_data_order(kwargs.get("callbacks"), x, kwargs.get("steps_per_epoch"))
        if not isinstance(x, np.ndarray):
            kwargs.setdefault("shuffle", False)  # a dataset shuffles itself; Keras warns otherwise
            batch_size = None
        elif batch_size is None:
            batch_size = self.default_batch_size
        before = [np.array(v.numpy(), copy=True) for v in self.variables]
        if self.threshold is not None:
            warnings.warn(f"{type(self).__name__}.fit() cleared the threshold set before ({self.threshold:.6g}): "
                          "it belonged to the detector before this fit. Call calibrate() again.", stacklevel=2)
            self.threshold = None
        try:
            with inputs.readable_errors():
                self.prepare_fit(x)
                history = super().fit(x, y, batch_size=batch_size, validation_data=validation_data, **kwargs)
                self.check_training(history)
                self.after_fit(x, validation_data)
        except ValueError:
            for variable, value in zip(self.variables, before):
                variable.assign(value)
            raise
        self._fitted.assign(1.0)
        return history

    def check_training(self, history) -> None:
        """Raise ``TrainingDiverged`` (a ``ValueError``) when a logged loss turned NaN or inf."""
        for key, values in history.history.items():
            values = np.asarray(values, dtype=np.float64)
            if values.size and not np.isfinite(values).all():
                epoch = int(np.flatnonzero(~np.isfinite(values))[0])
                raise TrainingDiverged(
                    f"{type(self).__name__}.fit(): {key} became NaN or inf in epoch {epoch}; the detector was "
                    "left as it was before fit(). Likely causes: a learning rate too large for this detector "
                    "(compile(learning_rate=...) or the optimizer given to compile()), or inputs far outside "
                    "their expected scale.")

    def array_pipeline(self, x, batch_size: int, shuffle: bool = True, drop_remainder: bool = False):
        """Batches of an in-memory array, reshuffled each epoch with the seed.

        A lean ``tf.data`` pipeline on the TensorFlow backend (the fastest feed there); an
        ``ArrayBatches`` PyDataset on JAX and PyTorch. Under a JAX ``keras.distribution`` the last
        partial batch is cut to a multiple of the devices (``data_shards``).
        """
        if backends.name() != "tensorflow":
            from keras_oneclass.training.batches import ArrayBatches

            return ArrayBatches(x, batch_size, shuffle=shuffle, seed=self.seed_for(2), drop_remainder=drop_remainder,
                                multiple_of=data_shards())
        import tensorflow as tf

        dataset = tf.data.Dataset.from_tensor_slices(np.asarray(x, dtype=np.float32))
        if shuffle:
            dataset = dataset.shuffle(len(x), seed=self.seed_for(2), reshuffle_each_iteration=True)
        if drop_remainder and len(x) < batch_size:
            raise ValueError(f"drop_remainder=True with {len(x)} samples and batch_size={batch_size} leaves no "
                             "batch to train on.")
        return dataset.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)

    # ----------------------------------------------------------------------------- scoring
    def score(self, x):
        """(B, ...) batch -> (B,) float32 anomaly scores. Implemented by each detector."""
        raise NotImplementedError

    def predict_step(self, *args):
        """The scores of a batch; on JAX, statelessly from ``(state, data)`` as its trainer calls it."""
        if backends.name() != "jax":
            return self.score(features_of(args[0]))
        state, data = args
        scores, _ = run_stateless((self.trainable_variables, self.non_trainable_variables), state,
                                  lambda: self.score(features_of(data)))
        return scores, state[1]

    def _require_fitted(self, what: str) -> None:
        if not self.is_fitted:
            raise NotFittedError(f"{type(self).__name__}.{what}() was called before fit(); "
                                 f"train it on normal data first: model.fit(x_normal).")

    def predict(self, x, batch_size=None, verbose="auto", **kwargs) -> np.ndarray:
        """Anomaly scores, shape (N,), float32, higher = more anomalous.

        Under a JAX ``keras.distribution`` an array is padded to split evenly over the devices, and the
        padding's scores dropped.
        """
        self._require_fitted("predict")
        x = self.input_checker().prepare(x, "x")
        count = None
        if isinstance(x, np.ndarray):
            if batch_size is None:
                batch_size = max(self.default_batch_size, 256)
            shards = data_shards()
            if shards > 1 and len(x) % shards:  # pad the last batch to split evenly over the devices
                x = np.asarray(x)
                count = len(x)
                x = np.concatenate([x, np.repeat(x[-1:], shards - count % shards, axis=0)])
        with inputs.readable_errors():
            scores = super().predict(x, batch_size=batch_size, verbose=verbose, **kwargs)
        scores = np.asarray(scores, dtype=np.float32).reshape(-1)[:count]
        error = inputs.nonfinite_scores_error(scores)
        if error is not None:
            raise error
        return scores

    def calibrate(self, x, y=None, percentile: float = 95.0, method: str | None = None,
                  verbose=0) -> float:
        """Set ``threshold`` from data and return it.

        Args:
            x: normal samples (method "percentile") or labelled samples (method "f1").
            y: (N,) labels, 1 = anomaly; needed for method "f1".
            percentile: for "percentile", the percentile of the normal scores, in (0, 100].
            method: "percentile" or "f1"; default "f1" when ``y`` is given, else "percentile".
        """
        method = method or ("f1" if y is not None else "percentile")
        scores = self.predict(x, verbose=verbose)
        if method == "percentile":
            if not 0 < percentile <= 100:
                raise ValueError(f"percentile must be in (0, 100], got {percentile}.")
            threshold = float(np.percentile(scores, percentile))
        elif method == "f1":
            if y is None:
                raise ValueError("calibrate(method='f1') needs labels y (1 = anomaly, 0 = normal).")
            threshold, _ = metrics_lib.best_f1_threshold(y, scores)
        else:
            raise ValueError(f"method must be 'percentile' or 'f1', got {method!r}.")
        self.threshold = threshold
        return threshold

    def detect(self, x, verbose=0) -> np.ndarray:
        """(N,) bool: True where the score exceeds ``threshold``."""
        if self.threshold is None:
            raise NotFittedError(f"{type(self).__name__}.detect() needs a threshold: call "
                                 f"model.calibrate(x_normal) or set model.threshold first.")
        return self.predict(x, verbose=verbose) > self.threshold

    # ----------------------------------------------------------------------------- localisation
    localizes = False  # True for detectors that produce per-pixel anomaly maps of their (H, W, C) images

    def map_batch(self, x):
        """(B, H, W, C) batch -> (scores (B,), maps (B, H, W)) at the input resolution, blurred with
        ``blur_sigma``; the scores are those of ``score``. Implemented by the detectors that localise."""
        raise NotImplementedError

    def score_and_map(self, x, batch_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Image scores and anomaly maps from one pass over ``x``.

        Args:
            x: (N, H, W, C) images in [0, 1]: an array, a ``keras.utils.PyDataset`` or a batched
                ``tf.data.Dataset``.
            batch_size: batch size for arrays (default: the detector's).
        Returns:
            (scores (N,) float32, the same as ``predict(x)``; maps (N, H, W) float32 at the input
            resolution, higher = more anomalous, blurred with ``blur_sigma`` pixels).
        """
        if not self.localizes:
            if type(self).map_batch is not Detector.map_batch:
                raise ValueError(f"anomaly maps need image inputs (H, W, C); this detector's input_shape is "
                                 f"{self.sample_shape}.")
            raise NotImplementedError(f"{type(self).__name__} scores whole samples and has no anomaly maps; "
                                      "the detectors that localise are the autoencoders, VAE, GANomaly, PaDiM, "
                                      "PatchCore and EfficientAD.")
        self._require_fitted("score_and_map")
        x = self.input_checker().prepare(x, "x")
        scores, maps = [], []
        with inputs.readable_errors():
            for batch in iterate_batches(x, int(batch_size or self.default_batch_size)):
                score, anomaly_map = self.map_batch(batch)
                scores.append(np.asarray(ops.convert_to_numpy(score), dtype=np.float32).reshape(-1))
                maps.append(np.asarray(ops.convert_to_numpy(anomaly_map), dtype=np.float32))
        scores, maps = np.concatenate(scores), np.concatenate(maps)
        for values, what in ((scores, "scores"), (maps.reshape(len(maps), -1).max(axis=1), "anomaly maps")):
            error = inputs.nonfinite_scores_error(values, what)
            if error is not None:
                raise error
        return scores, maps

    def anomaly_map(self, x, batch_size: int | None = None) -> np.ndarray:
        """(N, H, W) float32 anomaly maps at the input resolution: see ``score_and_map``."""
        return self.score_and_map(x, batch_size)[1]

    # ----------------------------------------------------------------------------- export
    def serving_outputs(self, x) -> dict:
        """The exported inference path: (B, *sample_shape) float32 tensor -> dict of backend tensors,
        ``score`` (B,) and, for the detectors that localise, ``anomaly_map`` (B, H, W). Built from
        ``keras.ops`` only, so that it traces into a graph."""
        if self.localizes:
            score, anomaly_map = self.map_batch(x)
            return {"score": score, "anomaly_map": anomaly_map}
        return {"score": self.score(x)}

    def prepare_serving(self) -> None:
        """Eager work ``serving_outputs`` needs before it is traced (e.g. tables computed in numpy)."""

    def export(self, filepath, format: str = "tf_saved_model", check_data=None, verbose: bool = True, **kwargs):
        """Write a standalone inference artifact with one endpoint ``serve``, checked against this detector.

        Args:
            filepath: a folder (``tf_saved_model``) or a file ending in ``.onnx`` / ``.tflite``.
            format: "tf_saved_model" (default), "onnx" or "litert".
            check_data: (N, *sample_shape) samples the artifact must score like ``predict`` (and map like
                ``anomaly_map``) to 1e-4 relative; default 4 seeded uniform samples in [0, 1].
            verbose: print the path and the differences measured.
        Returns:
            The path written. See ``keras_oneclass.export`` for the endpoint's inputs and outputs.
        """
        from keras_oneclass import export as export_lib

        if kwargs:
            raise TypeError(f"{type(self).__name__}.export() got unexpected keyword argument(s) {sorted(kwargs)}.")
        return export_lib.export_detector(self, filepath, format=format, check_data=check_data, verbose=verbose)

    # ----------------------------------------------------------------------------- saving
    def save(self, filepath, overwrite=True, zipped=None, **kwargs):
        """``keras.Model.save`` to a ``.keras`` file; load it with ``keras_oneclass.load_detector``.

        The legacy HDF5 format (``.h5``, ``.hdf5``) cannot hold a detector's configuration and
        fitted state: a ValueError says to use ``.keras`` instead.
        """
        if str(filepath).lower().endswith((".h5", ".hdf5")):
            raise ValueError(f"{type(self).__name__} cannot be saved in the legacy HDF5 format ({str(filepath)!r}); "
                             f"save it to a .keras file instead, e.g. model.save('model.keras').")
        return super().save(filepath, overwrite=overwrite, zipped=zipped, **kwargs)

    def build(self, input_shape=None):
        """Networks are built at construction; nothing is left to create here."""
        self.built = True

    # Constructor arguments not saved in the config: where to find pretrained weights on this machine.
    unsaved_arguments = frozenset({"weights_dir"})

    @classmethod
    def constructor_arguments(cls) -> list[str]:
        """The names of the ``__init__`` arguments, in order (without ``self`` and ``**kwargs``)."""
        parameters = inspect.signature(cls.__init__).parameters.values()
        return [p.name for p in parameters if p.name != "self"
                and p.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)]

    def config_value(self, name: str):
        """The value of constructor argument ``name`` that rebuilds this detector: by default the
        attribute of the same name (tuples as lists, for JSON)."""
        value = getattr(self, name)
        return list(value) if isinstance(value, tuple) else value

    def get_config(self) -> dict[str, Any]:
        """``name``, ``trainable`` and every constructor argument under its own name (derived from the
        signature of ``__init__``; ``input_shape`` is the sample shape)."""
        config = {"name": self.name, "trainable": self.trainable}
        for argument in self.constructor_arguments():
            if argument == "input_shape":
                config[argument] = list(self.sample_shape)
            elif argument not in self.unsaved_arguments:
                config[argument] = self.config_value(argument)
        return config

    # Plain settings given to compile() (learning rates, ...): saved with the model and given to
    # compile() again on load; optimizer objects passed to compile() are not saved.
    def compile_settings(self) -> dict[str, Any]:
        return dict(getattr(self, "_compile_settings", {}))

    def remember_compile_settings(self, **settings) -> None:
        """Record the plain compile() arguments (numbers, strings, None, lists of numbers) for
        ``get_compile_config``."""
        plain = (int, float, str, bool)
        self._compile_settings = {
            k: list(v) if isinstance(v, (list, tuple)) else v for k, v in settings.items()
            if v is None or isinstance(v, plain) or (isinstance(v, (list, tuple)) and all(isinstance(i, plain) for i in v))}

    def get_compile_config(self):
        # A saved detector records that it was compiled and with which plain settings; on load it
        # compiles again with them, so its scores come from the same (XLA) graph and match bit for bit.
        return {"settings": self.compile_settings()} if self.compiled else None

    def compile_from_config(self, config):
        self.compile(**{k: v for k, v in (config or {}).get("settings", {}).items() if v is not None})

    def get_build_config(self):
        return None
