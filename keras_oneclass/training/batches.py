"""In-memory arrays as a ``keras.utils.PyDataset`` of batches: the input pipeline of every backend.

On the TensorFlow backend ``Detector.fit`` feeds arrays through ``tf.data`` (fastest there); on JAX
and PyTorch, and wherever TensorFlow is not installed, through ``ArrayBatches``, which reshuffles
every epoch from its own seeded generator so that runs repeat exactly. Under a JAX
``keras.distribution`` each batch is split evenly over the devices, so ``ArrayBatches`` can cut the
last partial batch to a multiple of their number (``multiple_of``).
"""

from __future__ import annotations

import math

import keras
import numpy as np


class ArrayBatches(keras.utils.PyDataset):
    """Batches of an in-memory array, reshuffled every epoch.

    Args:
        x: (N, ...) array of samples (cast to float32).
        batch_size: samples per batch.
        shuffle: reshuffle the order before every epoch.
        seed: seed of the shuffling (None: a fresh random order each run).
        drop_remainder: skip the last partial batch (PyTorch's ``drop_last=True``).
        targets: "none" yields ``x`` batches, "self" yields ``(x, x)`` (autoencoder training with a
            compiled loss).
        multiple_of: the last partial batch is cut to a multiple of this (and skipped when shorter):
            the number of devices a JAX ``keras.distribution.DataParallel`` splits every batch over.
            At most ``multiple_of - 1`` samples sit out an epoch, different ones each reshuffled epoch.
    Yields:
        (B, ...) float32 batches, or ``(x, x)`` pairs.
    """

    def __init__(self, x, batch_size: int, shuffle: bool = True, seed: int | None = None,
                 drop_remainder: bool = False, targets: str = "none", multiple_of: int = 1):
        super().__init__()
        self.x = np.asarray(x, dtype=np.float32)
        self.batch_size = int(batch_size)
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
        self.multiple_of = int(multiple_of)
        if self.multiple_of < 1:
            raise ValueError(f"multiple_of must be >= 1, got {multiple_of}.")
        if targets not in ("none", "self"):
            raise ValueError(f"targets must be 'none' or 'self', got {targets!r}.")
        self.shuffle = bool(shuffle)
        self.drop_remainder = bool(drop_remainder)
        if len(self.x) and not self._size():
            cause = "drop_remainder=True" if self.drop_remainder else f"multiple_of={self.multiple_of}"
            raise ValueError(f"{cause} with {len(self.x)} samples and batch_size={self.batch_size} "
                             "leaves no batch to train on.")
        self.targets = targets
        self._rng = np.random.default_rng(seed)
        self._order = self._rng.permutation(len(self.x)) if self.shuffle else np.arange(len(self.x))

    def _size(self) -> int:
        """The samples an epoch serves: all of them, less the remainder that is dropped or cut."""
        remainder = len(self.x) % self.batch_size
        kept = 0 if self.drop_remainder else remainder - remainder % self.multiple_of
        return len(self.x) - remainder + kept

    def __len__(self) -> int:
        return math.ceil(self._size() / self.batch_size)

    def __getitem__(self, index: int):
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} of {len(self)}")
        start, stop = index * self.batch_size, min((index + 1) * self.batch_size, self._size())
        batch = self.x[self._order[start:stop]] if self.shuffle else self.x[start:stop]
        return (batch, batch) if self.targets == "self" else batch

    def on_epoch_end(self):
        if self.shuffle:
            self._order = self._rng.permutation(len(self.x))

    def skip_epochs(self, epochs: int) -> None:
        """Replay the reshuffles of ``epochs`` epochs: a fit resumed at epoch k (``BackupAndRestore``)
        then serves epoch k in the order an uninterrupted fit serves it."""
        for _ in range(int(epochs)):
            self.on_epoch_end()


class SelfTargets(keras.utils.PyDataset):
    """A PyDataset of ``x`` batches re-served as ``(x, x)`` pairs, for autoencoders trained with a
    compiled loss.

    Args:
        dataset: a ``keras.utils.PyDataset`` yielding ``x``, ``(x,)`` or ``(x, y)`` batches.
    """

    def __init__(self, dataset: keras.utils.PyDataset):
        super().__init__()
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(self.dataset[index])
        x = np.asarray(x, dtype=np.float32)
        return x, x

    def on_epoch_end(self):
        self.dataset.on_epoch_end()
