"""Helpers the studies share: an epoch timer, the machine's description, mean and spread."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def data_root(data=None) -> Path:
    """The shared data folder: ``data``, else $KERAS_ONECLASS_DATA, else ../shared/data beside the checkout."""
    return Path(data or os.environ.get("KERAS_ONECLASS_DATA") or REPO.parent / "shared" / "data")


def epoch_timer():
    """A Keras callback whose ``seconds`` lists the wall-clock seconds of every epoch."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._start)

    return EpochTimer()


def machine() -> dict:
    import keras

    info = {"cpus": os.cpu_count(), "platform": platform.platform(), "keras": keras.__version__}
    try:
        import tensorflow as tf
    except ImportError:
        return {**info, "backend": keras.backend.backend()}
    return {**info, "tensorflow": tf.__version__, "gpus": [d.name for d in tf.config.list_physical_devices("GPU")]}


def mean_std(values) -> tuple[float, float]:
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else 0.0


def balanced_subset(test, per_class: int):
    """The first ``per_class`` good and ``per_class`` defective images of a ``datasets.LabelledImages`` (smoke runs)."""
    from keras_oneclass import datasets

    keep = np.r_[np.flatnonzero(test.labels == 0)[:per_class], np.flatnonzero(test.labels == 1)[:per_class]]
    return datasets.LabelledImages(test.images[keep], test.labels[keep], test.masks[keep], test.types[keep],
                                   test.files[keep], test.has_masks)
