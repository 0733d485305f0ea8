"""Mixed-precision policy selection and loss scaling for custom training steps."""

from __future__ import annotations

import keras
import tensorflow as tf

MIXED = "mixed_float16"
FULL = "float32"


def auto() -> str:
    """Set and return the best dtype policy for this machine.

    ``mixed_float16`` on a GPU of compute capability 7.0 or newer (tensor cores), ``float32``
    everywhere else (CPUs gain nothing from float16 arithmetic).

    Example:
        >>> from keras_oneclass import precision
        >>> policy = precision.auto()   # "float32" on a CPU-only machine
    """
    policy = FULL
    for gpu in tf.config.list_physical_devices("GPU"):
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability")
        if capability and tuple(capability) >= (7, 0):
            policy = MIXED
            break
    keras.mixed_precision.set_global_policy(policy)
    return policy


def is_mixed(layer: keras.layers.Layer | None = None) -> bool:
    """Whether ``layer`` (or the global policy when None) computes in float16."""
    policy = layer.dtype_policy if layer is not None else keras.mixed_precision.global_policy()
    return policy.name == MIXED


def loss_scaled(optimizer: keras.optimizers.Optimizer, mixed: bool) -> keras.optimizers.Optimizer:
    """Wrap ``optimizer`` in a ``LossScaleOptimizer`` when ``mixed`` and not wrapped already.

    A training step then computes gradients of ``optimizer.scale_loss(loss)`` and calls
    ``optimizer.apply(grads, variables)``, which unscales them and skips steps with inf/NaN.
    """
    if mixed and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer
