"""Training callbacks: reconstruction grids, and the epoch chosen on a labelled validation set."""

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


class BestValidationEpoch(keras.callbacks.Callback):
    """Choose the training length on validation: score a labelled validation set after each epoch and
    keep the weights of the epoch with the best image ROC AUC.

    After every ``every``-th epoch (and the last) the detector scores ``images`` with its current weights;
    the ROC AUC against ``labels`` is logged as ``val_image_roc_auc`` and kept in ``curve``. When training
    ends the best epoch's weights are restored (the earliest on ties), so ``fit`` returns the detector of
    ``best_epoch``. Detectors whose scores rest on statistics of normal images computed after training
    (EfficientAD's map quantiles) recompute them on ``normal`` before each scoring, as ``fit`` does at the end.
    With ``patience``, training stops once that many epochs have passed since the best one (early stopping).

    Args:
        images: (N, ...) validation samples in the detector's input format, normal and anomalous.
        labels: (N,) 1 = anomaly, 0 = normal; both classes present.
        normal: (M, ...) normal validation samples for ``after_fit`` statistics, or None.
        every: score after every ``every``-th epoch.
        batch_size: samples scored per call.
        patience: stop training when the best epoch lies ``patience`` epochs back; None = never stop early.

    Attributes after ``fit``: ``curve`` [(epoch, AUC), ...] (epochs counted from 1), ``best_epoch``,
    ``best_roc_auc``, ``stopped_epoch`` (the epoch after which patience stopped training, or None).

    Example:
        >>> choose = BestValidationEpoch(x_val, y_val)                          # doctest: +SKIP
        >>> model.fit(x_train, epochs=20, callbacks=[choose]); choose.best_epoch  # doctest: +SKIP
    """

    def __init__(self, images, labels, normal=None, every: int = 1, batch_size: int = 32, patience: int | None = None):
        super().__init__()
        labels = np.asarray(labels).reshape(-1)
        if len(labels) != len(images):
            raise ValueError(f"images and labels differ in length: {len(images)} and {len(labels)}.")
        if set(np.unique(labels).tolist()) != {0, 1}:
            raise ValueError("labels must hold both classes, 0 = normal and 1 = anomaly, to rank the epochs.")
        if int(every) < 1 or int(batch_size) < 1:
            raise ValueError(f"every and batch_size must be positive, got {every} and {batch_size}.")
        if patience is not None and int(patience) < 1:
            raise ValueError(f"patience must be a positive number of epochs or None, got {patience}.")
        self.images, self.labels, self.normal = images, labels, normal
        self.every, self.batch_size = int(every), int(batch_size)
        self.patience = None if patience is None else int(patience)
        self.stopped_epoch = None
        self.curve: list[tuple[int, float]] = []
        self.best_epoch, self.best_roc_auc, self._best_weights = None, -np.inf, None

    def on_train_begin(self, logs=None):
        self.curve, self.stopped_epoch = [], None
        self.best_epoch, self.best_roc_auc, self._best_weights = None, -np.inf, None

    def validation_scores(self) -> np.ndarray:
        """(N,) scores of ``images`` under the current weights."""
        model = self.model
        if self.normal is not None:
            model.after_fit(self.normal, self.normal)
        images = model.input_checker().prepare(self.images, "images")
        return np.concatenate([keras.ops.convert_to_numpy(model.score(images[i:i + self.batch_size])).reshape(-1)
                               for i in range(0, len(images), self.batch_size)])

    def on_epoch_end(self, epoch, logs=None):
        last = bool(self.params) and self.params.get("epochs") == epoch + 1
        if (epoch + 1) % self.every and not last:
            return
        from keras_oneclass import metrics

        roc_auc = metrics.roc_auc(self.labels, self.validation_scores())
        self.curve.append((epoch + 1, roc_auc))
        if logs is not None:
            logs["val_image_roc_auc"] = roc_auc
        if roc_auc > self.best_roc_auc:
            self.best_epoch, self.best_roc_auc = epoch + 1, roc_auc
            self._best_weights = self.model.get_weights()
        elif self.patience is not None and epoch + 1 - self.best_epoch >= self.patience:
            self.stopped_epoch = epoch + 1
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self._best_weights is not None:
            self.model.set_weights(self._best_weights)
