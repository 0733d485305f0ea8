"""Public layers shared by the detectors (serializable under the ``keras_oneclass`` package)."""

from __future__ import annotations

import keras
from keras import ops

from keras_oneclass.detector import PACKAGE


@keras.saving.register_keras_serializable(package=PACKAGE)
class Sampling(keras.layers.Layer):
    """Reparameterisation trick of the VAE (Kingma & Welling 2014, sec. 2.4): z = mu + sigma * eps.

    With ``eps ~ N(0, I)`` and ``sigma = exp(z_log_var / 2)`` the sample stays differentiable in
    ``z_mean`` and ``z_log_var``. Draws come from a seeded ``keras.random.SeedGenerator``, so the
    layer keeps no Python state and runs inside compiled and distributed training steps.

    Args:
        seed: seed of the noise draws (None: nondeterministic).

    Call args:
        inputs: ``(z_mean, z_log_var)``, two (B, D) tensors.
        training: when False and ``deterministic_inference``, returns ``z_mean``.

    Returns:
        (B, D) samples z.

    Example:
        >>> import numpy as np
        >>> z = Sampling(seed=0)((np.zeros((4, 2), "float32"), np.zeros((4, 2), "float32")))
        >>> tuple(z.shape)
        (4, 2)
    """

    def __init__(self, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        epsilon = keras.random.normal(ops.shape(z_mean), dtype=z_mean.dtype, seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}
