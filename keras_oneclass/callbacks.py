"""Training callbacks for the reconstruction detectors."""

from __future__ import annotations

import os

import keras
import numpy as np


def image_grid(rows: list[np.ndarray]) -> np.ndarray:
    """Tile equal-length lists of (N, H, W, C) images into one (rows*H, N*W, C) image, 1-pixel gaps."""
    count, height, width, channels = rows[0].shape
    grid = np.ones((len(rows) * (height + 1) - 1, count * (width + 1) - 1, channels), np.float32)
    for r, images in enumerate(rows):
        for c in range(count):
            grid[r * (height + 1): r * (height + 1) + height, c * (width + 1): c * (width + 1) + width] = images[c]
    return grid


class ReconstructionGrid(keras.callbacks.Callback):
    """Save a PNG grid of inputs (top row) and the model's reconstructions (bottom row) every N epochs.

    Works with any model whose ``call`` returns a reconstruction of its input (``DenseAutoencoder``,
    ``ConvAutoencoder``, ``VAE``, ``GANomaly``, ``DASVDD``).

    Args:
        images: (N, H, W, C) images to reconstruct (a few, e.g. 8), values in [0, 1].
        directory: folder for ``reconstruction_epoch_{epoch:03d}.png`` (created if missing).
        every: save after every ``every``-th epoch (and after the last one is not implied).

    Example:
        >>> callback = ReconstructionGrid(x_test[:8], "runs/grids", every=5)      # doctest: +SKIP
        >>> model.fit(x_train, epochs=15, callbacks=[callback])                 # doctest: +SKIP
    """

    def __init__(self, images, directory, every: int = 1):
        super().__init__()
        images = np.asarray(images, dtype=np.float32)
        if images.ndim != 4 or len(images) == 0:
            raise ValueError(f"images must be a non-empty (N, H, W, C) array, got shape {images.shape}.")
        if int(every) < 1:
            raise ValueError(f"every must be a positive number of epochs, got {every}.")
        self.images = images
        self.directory = os.fspath(directory)
        self.every = int(every)
        self.paths: list[str] = []

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        reconstruction = keras.ops.convert_to_numpy(self.model(self.images, training=False))
        grid = np.clip(image_grid([self.images, reconstruction.reshape(self.images.shape)]), 0.0, 1.0)
        os.makedirs(self.directory, exist_ok=True)
        path = os.path.join(self.directory, f"reconstruction_epoch_{epoch + 1:03d}.png")
        keras.utils.save_img(path, grid, scale=True)
        self.paths.append(path)
