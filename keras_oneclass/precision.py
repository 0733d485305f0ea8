"""Mixed-precision policy selection and loss scaling for the training engine."""

from __future__ import annotations

import keras

from keras_oneclass import backends

MIXED = "mixed_float16"
FULL = "float32"


def best_policy() -> str:
    """The dtype policy measured fastest for this machine and backend (without setting it).

    ``mixed_float16`` on a GPU of compute capability 7.0 or newer (tensor cores) under TensorFlow
    and JAX; ``float32`` everywhere else: CPUs gain nothing from float16, and on the PyTorch
    backend of Keras mixed precision made training slower on an H200 (docs/gpu.md).
    """
    if backends.name() == "torch":
        return FULL
    capability = backends.gpu_capability()
    return MIXED if capability is not None and (capability == (0, 0) or capability >= (7, 0)) else FULL


def auto() -> str:
    """Set and return the best dtype policy for this machine (``best_policy``).

    Example:
        >>> from keras_oneclass import precision
        >>> policy = precision.auto()   # "float32" on a CPU-only machine
    """
    policy = best_policy()
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
