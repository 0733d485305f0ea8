"""The SSIM autoencoder of Bergmann, Loewe, Fauser, Sattlegger & Steger (VISAPP 2019).

A convolutional autoencoder (``networks.ssim_autoencoder``, the paper's table 1) trained to maximise
the structural similarity (SSIM, 11 x 11 Gaussian window) between an image and its reconstruction,
not the per-pixel squared error: SSIM compares local luminance, contrast and structure, so a
reconstruction that is blurred but right on average is still penalised where the texture is wrong.
The anomaly map is the residual 1 - SSIM(x, x_hat) per pixel (channel mean), optionally blurred; the
image score is its maximum ("map_max", default) or its mean ("reconstruction").
"""

from __future__ import annotations

import keras
from keras import ops

from keras_oneclass.anomaly_map import blurred
from keras_oneclass.detector import PACKAGE
from keras_oneclass.losses import ssim_map
from keras_oneclass.models.autoencoder import Autoencoder
from keras_oneclass.networks.ssim_autoencoder import ssim_autoencoder


@keras.saving.register_keras_serializable(package=PACKAGE)
class SSIMAutoencoder(Autoencoder):
    """Convolutional autoencoder trained with the SSIM loss; SSIM residual maps.

    Args:
        input_shape: (H, W, C), sides multiples of 16 (the paper: 128 px patches), pixels in [0, 1].
        latent_dim: channels of the code (100, the paper's for textures).
        window: side of the Gaussian SSIM window in pixels (11, sigma 1.5).
        scoring: "map_max" (the residual map's maximum; default) or "reconstruction" (its mean).
        blur_sigma: Gaussian blur of the residual maps in pixels (0: none, as the paper).
        seed: initialisation and shuffling seed.

    The optimisation is ``compile(learning_rate=2e-4, weight_decay=1e-5)``: the paper's Adam.

    Example:
        >>> model = SSIMAutoencoder((128, 128, 1))                 # doctest: +SKIP
        >>> model.fit(x_train, epochs=50); maps = model.anomaly_map(x_test)  # doctest: +SKIP
    """

    default_batch_size = 16
    learning_rate = 2e-4
    weight_decay = 1e-5

    def __init__(self, input_shape, latent_dim: int = 100, window: int = 11, scoring: str = "map_max",
                 blur_sigma: float = 0.0, seed: int | None = 0, **kwargs):
        super().__init__(input_shape, reconstruction_loss="mse", scoring=scoring, blur_sigma=blur_sigma,
                         seed=seed, **kwargs)
        if len(self.sample_shape) != 3:
            raise ValueError(f"SSIMAutoencoder needs images: input_shape=(H, W, C), got {self.sample_shape}.")
        if int(window) < 3 or int(window) % 2 == 0:
            raise ValueError(f"window must be an odd number of pixels >= 3, got {window}.")
        self.latent_dim, self.window = int(latent_dim), int(window)
        self.encoder, self.decoder = ssim_autoencoder(self.sample_shape, self.latent_dim, self.seed_for(0))
        self.build()

    @property
    def input_range(self):
        return (0.0, 1.0)

    def compile(self, optimizer=None, learning_rate: float | None = None, weight_decay: float | None = None,
                **kwargs):
        """Adam(``learning_rate`` 2e-4, ``weight_decay`` 1e-5) unless ``optimizer`` is given."""
        self.remember_compile_settings(learning_rate=learning_rate, weight_decay=weight_decay)
        optimizer = optimizer or keras.optimizers.Adam(
            learning_rate or self.learning_rate, weight_decay=self.weight_decay if weight_decay is None else weight_decay)
        self.compile_phases({"network": (optimizer, self.trainable_variables)}, **kwargs)

    def training_loss(self, x, x_hat):
        """Batch mean of 1 - SSIM."""
        return 1.0 - ops.mean(ssim_map(x, x_hat, self.window))

    def error_map(self, x, x_hat):
        """(B, H, W) residual 1 - SSIM, blurred with ``blur_sigma``."""
        return blurred(1.0 - ssim_map(x, x_hat, self.window), self.blur_sigma)

    def _scores(self, x, x_hat, error_map=None):
        error_map = self.error_map(x, x_hat) if error_map is None else error_map
        if self.scoring == "map_max":
            return ops.max(error_map, axis=(1, 2))
        return ops.mean(error_map, axis=(1, 2))

