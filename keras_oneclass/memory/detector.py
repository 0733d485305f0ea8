"""Shared base of the detectors that memorise pretrained features in one pass (PaDiM, PatchCore).

``fit`` makes ONE pass over the normal images with a progress bar (no gradients, no optimizer),
feeding patch embeddings to ``accumulate`` and calling ``finish_fit`` at the end; ``epochs`` above
1 are accepted for API compatibility and add nothing (a warning says so). Scoring runs the backbone
compiled where the backend compiles cheaply (``tf.function`` on TensorFlow, ``jax.jit`` on JAX; eager
without autograd on PyTorch), then the detector's memory look-up (``patch_scores``) and the shared
post-processing (bilinear upsampling to the input size, Gaussian blur sigma = 4) in numpy.
Fitted state lives in non-trainable weights, so ``model.save`` / ``keras.models.load_model``
restore identical scores.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import keras
import numpy as np

from keras_oneclass import backends
from keras_oneclass import inputs
from keras_oneclass.detector import Detector, iterate_batches
from keras_oneclass.anomaly_map import check_blur_sigma
from keras_oneclass.networks.backbones import BackboneArguments, FeatureExtractor
from keras_oneclass.postprocessing import gaussian_blur, upsample_maps


# keras.Model.fit / Detector.fit arguments that mean nothing to a one-pass memory: accepted so that
# code written for the trained detectors runs, with a warning; any other keyword is a TypeError.
_FIT_ARGS_WITHOUT_EFFECT = frozenset({
    "shuffle", "class_weight", "sample_weight", "initial_epoch", "steps_per_epoch", "validation_split",
    "validation_data", "validation_steps", "validation_batch_size", "validation_freq", "drop_remainder"})


class FeatureMemoryDetector(BackboneArguments, Detector):
    """Pretrained backbone + a memory of normal patch features. Subclasses implement ``embed``,
    ``accumulate``, ``finish_fit`` and ``patch_scores`` (and optionally ``image_scores``).

    Args:
        input_shape: (H, W, C) with C = 1 (repeated to 3) or 3; pixels in [0, 1].
        backbone: family name ("resnet50", "efficientnetb0", "mobilenetv2", "mobilenet") or a
            ready headless keras.applications model.
        layers: feature layer names; default per family (``networks.backbones.FAMILIES``).
        weights: "imagenet", None or a path (with a family name).
        alpha: MobileNet width multiplier (with a family name).
        weights_dir: folder searched first for the ImageNet weights file.
        blur_sigma: Gaussian blur of the anomaly maps (and so of the image score), in input pixels;
            0 = none. 4 (PaDiM and PatchCore).
        seed: seed of every random choice (0).
    """

    default_batch_size = 16
    localizes = True
    input_range = (0.0, 1.0)  # pixels read by a pretrained backbone

    def __init__(self, input_shape, backbone="mobilenet", layers: Sequence[str] | None = None,
                 weights="imagenet", alpha: float = 1.0, weights_dir=None, preprocessing: str | None = None,
                 blur_sigma: float = 4.0, seed: int | None = 0, **kwargs):
        super().__init__(input_shape, seed=seed, **kwargs)
        self.extractor = FeatureExtractor(backbone, self.sample_shape, layers=layers, weights=weights,
                                          alpha=alpha, weights_dir=weights_dir, preprocessing=preprocessing)
        self.blur_sigma = check_blur_sigma(blur_sigma)
        self._embed_graph = None

    def compile(self, **kwargs):
        """Nothing to optimise: compiles without an optimizer or loss (no XLA; faiss runs outside the graph)."""
        kwargs.setdefault("jit_compile", False)
        super().compile(optimizer=None, **kwargs)

    # ----------------------------------------------------------------------------- subclass hooks
    def embed(self, images):
        """(B, H, W, C) images -> (B, h, w, D) patch embeddings (graph-compatible)."""
        raise NotImplementedError

    def accumulate(self, embeddings: np.ndarray) -> None:
        """Add one batch of (B, h, w, D) training embeddings to the running memory."""
        raise NotImplementedError

    def finish_fit(self) -> dict[str, float]:
        """Turn the accumulated memory into fitted weights; returns logs for the history."""
        raise NotImplementedError

    def patch_scores(self, embeddings: np.ndarray) -> np.ndarray:
        """(B, h, w, D) embeddings -> (B, h, w) patch anomaly scores."""
        raise NotImplementedError

    def image_scores(self, patch_scores: np.ndarray, maps: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
        """Image scores from one batch: the maximum of the blurred map by default (PaDiM)."""
        return maps.reshape(len(maps), -1).max(axis=1)

    # ----------------------------------------------------------------------------- fitting
    def embeddings_of(self, images) -> np.ndarray:
        """(B, H, W, C) -> (B, h, w, D) float32 numpy, through a compiled graph where it pays."""
        if not keras.ops.is_tensor(images):
            images = np.asarray(images, dtype=np.float32)
        if self._embed_graph is None:
            self._embed_graph = self._compile_embed()
        return np.asarray(keras.ops.convert_to_numpy(self._embed_graph(images)), dtype=np.float32)

    def _compile_embed(self):
        """``embed`` as a function of a (B, H, W, C) batch, compiled for the active backend.

        TensorFlow: ``tf.function``. JAX: ``jax.jit`` of a stateless call (the variables' current
        values are arguments, not constants baked in, so loading or refitting weights is seen).
        PyTorch: eager, without autograd.
        """
        backend = backends.name()
        if backend == "tensorflow":
            import tensorflow as tf

            graph = tf.function(self.embed, reduce_retracing=True)
            return lambda images: graph(tf.convert_to_tensor(images, dtype=tf.float32))
        if backend == "jax":
            import jax

            def stateless_embed(values, images):
                with keras.StatelessScope(state_mapping=list(zip(self.variables, values))):
                    return self.embed(keras.ops.cast(images, "float32"))

            graph = jax.jit(stateless_embed)
            return lambda images: graph([v.value for v in self.variables], images)
        if backend == "torch":
            import torch

            def no_grad_embed(images):
                with torch.no_grad():
                    return self.embed(keras.ops.convert_to_tensor(images, dtype="float32"))

            return no_grad_embed
        return lambda images: self.embed(keras.ops.convert_to_tensor(images, dtype="float32"))

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, **kwargs):
        """Build the memory from one pass over normal images (labels are ignored).

        Args:
            x: (N, H, W, C) array, a keras.utils.PyDataset or a tf.data.Dataset of batches.
            batch_size: batch size for arrays (default 16).
            epochs: accepted for keras compatibility; the memory is built from one pass.
            verbose: 0 silent, otherwise a progress bar.
            callbacks: keras callbacks (train begin/end, one epoch, one batch per batch).
            **kwargs: other ``keras.Model.fit`` arguments (shuffle, validation_data, ...) have no
                effect on a one-pass memory and are ignored with a warning; unknown ones raise TypeError.
        Returns:
            keras.callbacks.History with the fit logs (e.g. patches seen, memory size).
        """
        unknown = sorted(set(kwargs) - _FIT_ARGS_WITHOUT_EFFECT)
        if unknown:
            raise TypeError(f"{type(self).__name__}.fit() got unexpected keyword argument(s) {unknown}.")
        if kwargs:
            warnings.warn(f"{type(self).__name__} builds its memory in one pass over x; "
                          f"{sorted(kwargs)} have no effect.", stacklevel=2)
        x = self.input_checker().prepare(x, "x")
        if int(epochs) > 1:
            warnings.warn(f"{type(self).__name__} builds its memory in one pass; epochs={epochs} is "
                          f"treated as 1.", stacklevel=2)
        if not self.compiled:
            self.compile()
        if backends.is_tf_dataset(x):
            steps = int(x.cardinality()) if int(x.cardinality()) > 0 else None
        elif isinstance(x, keras.utils.PyDataset):
            steps = len(x)
        elif isinstance(x, np.ndarray):
            steps = -(-len(x) // int(batch_size or self.default_batch_size))
        else:  # a generator
            steps = None
        callback_list = keras.callbacks.CallbackList(callbacks, add_history=True, model=self)
        progress = keras.utils.Progbar(steps, verbose=0 if verbose == 0 else 1, unit_name="batch")
        callback_list.on_train_begin()
        callback_list.on_epoch_begin(0)
        self.start_fit()
        with inputs.readable_errors():
            for step, batch in enumerate(iterate_batches(x, int(batch_size or self.default_batch_size))):
                callback_list.on_train_batch_begin(step)
                embeddings = self.embeddings_of(batch)
                if not np.isfinite(embeddings).all():
                    raise ValueError(f"x batch {step}: the backbone's features are NaN or inf; the inputs are "
                                     "probably far outside [0, 1]. The detector was left as it was before fit().")
                self.accumulate(embeddings)
                callback_list.on_train_batch_end(step)
                progress.update(step + 1)
        if self.threshold is not None:
            warnings.warn(f"{type(self).__name__}.fit() built a new memory and cleared the threshold set before "
                          f"({self.threshold:.6g}). Call calibrate() again.", stacklevel=2)
            self.threshold = None
        logs = self.finish_fit()
        self._fitted.assign(1.0)
        callback_list.on_epoch_end(0, logs)
        callback_list.on_train_end(logs)
        return self.history

    def start_fit(self) -> None:
        """Reset the running memory before a pass (hook for subclasses)."""

    # ----------------------------------------------------------------------------- scoring
    def map_batch(self, x):
        """Image scores (B,) and anomaly maps (B, H, W) of one batch, as numpy."""
        embeddings = self.embeddings_of(x)
        patch = self.patch_scores(embeddings)
        maps = upsample_maps(patch, self.sample_shape[:2])
        if self.blur_sigma > 0:
            maps = np.asarray(keras.ops.convert_to_numpy(gaussian_blur(maps, self.blur_sigma)))
        return np.asarray(self.image_scores(patch, maps, embeddings), dtype=np.float32), maps

    def serving_outputs(self, x) -> dict:
        """``map_batch`` in ``keras.ops`` only (the exported path): dict of ``score`` (B,) and
        ``anomaly_map`` (B, H, W) tensors."""
        embeddings = self.embed(x)
        patch = self.graph_patch_scores(embeddings)
        maps = keras.ops.image.resize(patch[..., None], tuple(self.sample_shape[:2]), interpolation="bilinear")[..., 0]
        if self.blur_sigma > 0:
            maps = gaussian_blur(maps, self.blur_sigma)
        return {"score": self.graph_image_scores(patch, maps, embeddings), "anomaly_map": maps}

    def graph_patch_scores(self, embeddings):
        """``patch_scores`` in ``keras.ops``: (B, h, w, D) tensor -> (B, h, w) tensor."""
        raise NotImplementedError

    def graph_image_scores(self, patch_scores, maps, embeddings):
        """``image_scores`` in ``keras.ops``: the maximum of the blurred map by default (PaDiM)."""
        return keras.ops.max(maps, axis=(1, 2))

    def predict(self, x, batch_size=None, verbose="auto", **kwargs) -> np.ndarray:
        """Image anomaly scores, shape (N,), float32."""
        self._require_fitted("predict")
        return self.score_and_map(x, batch_size)[0]

    def score(self, x):
        return self.score_and_map(np.asarray(x))[0]

    def call(self, x):
        """The patch embeddings (B, h, w, D): the detector's natural output."""
        return self.embed(x)

    # ----------------------------------------------------------------------------- state helpers
    def replace_weight(self, attribute: str, value: np.ndarray, name: str, dtype: str = "float32") -> None:
        """Set a fitted non-trainable weight whose shape is only known after fitting (e.g. a memory
        bank), of ``dtype``. The new variable is tracked last, as in ``__init__`` when rebuilt from
        the config."""
        old = getattr(self, attribute, None)
        if old is not None and tuple(old.shape) == value.shape and old.dtype == dtype:
            old.assign(value)
            return
        if old is not None:
            self._untrack_variable(old)
        locked = self._tracker.locked
        self._tracker.unlock()
        try:
            variable = self.add_weight(name=name, shape=value.shape, dtype=dtype, trainable=False,
                                       initializer="zeros")
        finally:
            if locked:
                self._tracker.lock()
        variable.assign(value)
        object.__setattr__(self, attribute, variable)
