"""What the active Keras backend and this machine offer, asked without importing TensorFlow needlessly.

The package runs on the TensorFlow (default), JAX and PyTorch backends of Keras 3. TensorFlow is
optional on JAX and PyTorch: these helpers look for it only where the answer needs it.
"""

from __future__ import annotations

import importlib.util
import sys

import keras


def name() -> str:
    """The active Keras backend: "tensorflow", "jax" or "torch"."""
    return keras.backend.backend()


def tensorflow_installed() -> bool:
    """Whether TensorFlow can be imported (without importing it)."""
    if sys.modules.get("tensorflow") is not None:
        return True
    try:
        return importlib.util.find_spec("tensorflow") is not None
    except (ImportError, ValueError):
        return False


def is_tf_dataset(x) -> bool:
    """Whether ``x`` is a ``tf.data.Dataset``; never imports TensorFlow (a dataset implies it is loaded)."""
    tf = sys.modules.get("tensorflow")
    return tf is not None and hasattr(tf, "data") and isinstance(x, tf.data.Dataset)


def is_dataset(x) -> bool:
    """Whether ``x`` is a ``tf.data.Dataset`` or a ``keras.utils.PyDataset`` (batches, not an array)."""
    return is_tf_dataset(x) or isinstance(x, keras.utils.PyDataset)


def gpu_capability() -> tuple[int, int] | None:
    """Compute capability of the first GPU visible to the active backend, (0, 0) when it is unknown,
    None when the backend runs on CPU only."""
    backend = name()
    if backend == "jax":
        import jax

        gpus = [d for d in jax.devices() if d.platform == "gpu"]
        if not gpus:
            return None
        capability = getattr(gpus[0], "compute_capability", None)
        try:
            return tuple(int(p) for p in str(capability).split("."))[:2] if capability else (0, 0)
        except ValueError:
            return (0, 0)
    if backend == "torch":
        import torch

        return tuple(torch.cuda.get_device_capability(0)) if torch.cuda.is_available() else None
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if not gpus:
            return None
        capability = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability")
        return tuple(capability) if capability else (0, 0)
    return None


def has_gpu() -> bool:
    """Whether the active backend places work on a GPU."""
    return gpu_capability() is not None
