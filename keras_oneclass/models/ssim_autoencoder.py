"""The SSIM autoencoder of Bergmann, Loewe, Fauser, Sattlegger & Steger (VISAPP 2019).

A convolutional autoencoder (``networks.ssim_autoencoder``, the paper's table 1) trained to maximise
the structural similarity (SSIM, 11 x 11 Gaussian window) between an image and its reconstruction,
not the per-pixel squared error: SSIM compares local luminance, contrast and structure, so a
reconstruction that is blurred but right on average is still penalised where the texture is wrong.
The anomaly map is the residual 1 - SSIM(x, x_hat) per pixel (channel mean), optionally blurred; the
image score is its maximum ("map_max", default) or its mean ("reconstruction").

With ``patch_size`` the network sees patches, as in the paper (128 px patches of 256 px images): training
reconstructs one random patch per image per step, and an image is reconstructed patch by patch on a grid
of stride ``patch_stride`` (the last patch flush with the border), overlapping reconstructions averaged.
"""

from __future__ import annotations

import keras
import numpy as np
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
        patch_size: None (the network sees whole images) or the side of the square patches it sees
            (a multiple of 16, at most the image's shorter side).
        patch_stride: the grid step of the patches that reconstruct an image, in pixels (patch_size // 2).
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
                 blur_sigma: float = 0.0, patch_size: int | None = None, patch_stride: int | None = None,
                 seed: int | None = 0, **kwargs):
        super().__init__(input_shape, reconstruction_loss="mse", scoring=scoring, blur_sigma=blur_sigma,
                         seed=seed, **kwargs)
        if len(self.sample_shape) != 3:
            raise ValueError(f"SSIMAutoencoder needs images: input_shape=(H, W, C), got {self.sample_shape}.")
        if int(window) < 3 or int(window) % 2 == 0:
            raise ValueError(f"window must be an odd number of pixels >= 3, got {window}.")
        self.latent_dim, self.window = int(latent_dim), int(window)
        height, width, channels = self.sample_shape
        self.patch_size = None if patch_size is None else int(patch_size)
        self.patch_stride = None
        network_shape = self.sample_shape
        if self.patch_size is not None:
            if self.patch_size % 16 or not 16 <= self.patch_size <= min(height, width):
                raise ValueError(f"patch_size must be a multiple of 16 between 16 and the image's shorter side "
                                 f"({min(height, width)} px), got {patch_size}.")
            self.patch_stride = int(patch_stride or self.patch_size // 2)
            if not 1 <= self.patch_stride <= self.patch_size:
                raise ValueError(f"patch_stride must be between 1 and patch_size ({self.patch_size}), got {patch_stride}.")
            network_shape = (self.patch_size, self.patch_size, channels)
            self.seed_generator = keras.random.SeedGenerator(self.seed_for(400))
        elif patch_stride is not None:
            raise ValueError("patch_stride needs a patch_size.")
        self.encoder, self.decoder = ssim_autoencoder(network_shape, self.latent_dim, self.seed_for(0))
        self.build()

    def patch_origins(self) -> list[tuple[int, int]]:
        """(row, column) of the top-left corner of each patch that reconstructs an image, row-major."""
        def along(side):
            starts = list(range(0, side - self.patch_size + 1, self.patch_stride))
            return starts if starts[-1] == side - self.patch_size else starts + [side - self.patch_size]

        height, width = self.sample_shape[:2]
        return [(i, j) for i in along(height) for j in along(width)]

    def random_patches(self, x):
        """(B, H, W, C) -> (B, P, P, C): one patch per image at a random position (seeded)."""
        height, width, channels = self.sample_shape
        size, batch = self.patch_size, ops.shape(x)[0]
        rows = keras.random.randint((batch, 1), 0, height - size + 1, seed=self.seed_generator) + ops.arange(size)
        cols = keras.random.randint((batch, 1), 0, width - size + 1, seed=self.seed_generator) + ops.arange(size)
        index = (ops.reshape(ops.arange(batch), (-1, 1, 1)) * height + rows[:, :, None]) * width + cols[:, None, :]
        pixels = ops.take(ops.reshape(x, (-1, channels)), ops.reshape(index, (-1,)), axis=0)
        return ops.reshape(pixels, (-1, size, size, channels))

    def call(self, x, training=False):
        """Reconstruction of ``x``, (B, H, W, C): whole, or patch by patch with overlaps averaged."""
        if self.patch_size is None:
            return super().call(x, training=training)
        size, (height, width) = self.patch_size, self.sample_shape[:2]
        origins = self.patch_origins()
        patches = ops.concatenate([x[:, i:i + size, j:j + size, :] for i, j in origins], axis=0)
        parts = ops.split(super().call(patches, training=training), len(origins))
        total = sum(ops.pad(part, [[0, 0], [i, height - size - i], [j, width - size - j], [0, 0]])
                    for part, (i, j) in zip(parts, origins))
        count = np.zeros((1, height, width, 1), np.float32)
        for i, j in origins:
            count[:, i:i + size, j:j + size] += 1.0
        return total / ops.convert_to_tensor(count)

    def network_loss(self, x, outputs):
        """1 - SSIM of the reconstruction of ``x``, or of one random patch per image."""
        if self.patch_size is None:
            return super().network_loss(x, outputs)
        patches = self.random_patches(x)
        loss = self.training_loss(patches, super().call(patches, training=True))
        return loss, {"loss": loss}

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

