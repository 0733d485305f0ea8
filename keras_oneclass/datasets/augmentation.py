"""Data augmentation for image training sets, applied in the tf.data pipeline that feeds ``fit``.

One function serves every detector: ``augment`` maps random Keras preprocessing layers over a dataset
of image batches (or turns an image array into such a dataset), and the result goes straight into
``model.fit``. The options are those of Keras' former ``ImageDataGenerator`` used by our wood-surface
study: ``rotation`` (degrees), ``width_shift`` / ``height_shift`` (fractions of the side) and
``horizontal_flip``. Labels, if the dataset yields ``(x, y)``, pass through untouched.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


def augmentation_layers(rotation: float = 0.0, width_shift: float = 0.0, height_shift: float = 0.0,
                        horizontal_flip: bool = False, fill_mode: str = "reflect",
                        seed: int | None = None) -> keras.Sequential:
    """The random layers ``augment`` applies, as one ``keras.Sequential`` (also usable inside a model).

    Args:
        rotation: maximum rotation in degrees, drawn uniformly in [-rotation, rotation].
        width_shift, height_shift: maximum shift as a fraction of the width / height, in [0, 1).
        horizontal_flip: flip left-right with probability 1/2.
        fill_mode: how pixels outside the image are filled ("reflect", "constant", "nearest", "wrap").
        seed: seed of every random draw (each layer gets its own derived seed).
    """
    if not 0 <= rotation <= 180:
        raise ValueError(f"rotation must be in [0, 180] degrees, got {rotation}.")
    for name, value in (("width_shift", width_shift), ("height_shift", height_shift)):
        if not 0 <= value < 1:
            raise ValueError(f"{name} must be a fraction of the side in [0, 1), got {value}.")
    layers = []

    def layer_seed(offset):
        return None if seed is None else int(seed) * 31 + offset

    if rotation:
        layers.append(keras.layers.RandomRotation(rotation / 360.0, fill_mode=fill_mode, seed=layer_seed(1)))
    if width_shift or height_shift:
        layers.append(keras.layers.RandomTranslation(height_shift, width_shift, fill_mode=fill_mode,
                                                     seed=layer_seed(2)))
    if horizontal_flip:
        layers.append(keras.layers.RandomFlip("horizontal", seed=layer_seed(3)))
    return keras.Sequential(layers, name="augmentation")


def augment(data, rotation: float = 0.0, width_shift: float = 0.0, height_shift: float = 0.0,
            horizontal_flip: bool = False, fill_mode: str = "reflect", seed: int | None = None,
            batch_size: int = 32, shuffle: bool = True) -> tf.data.Dataset:
    """A dataset of randomly augmented image batches, new draws every epoch, for ``model.fit``.

    Args:
        data: a tf.data.Dataset of image batches (B, H, W, C) or ``(x, y)`` batches, such as the
            ``train_ds`` of ``datasets.load_folder`` / ``load_oneclass``; or an (N, H, W, C) array, which
            is batched by ``batch_size`` (and shuffled with ``seed`` when ``shuffle``).
        rotation: maximum rotation in degrees.
        width_shift, height_shift: maximum shifts as fractions of the width / height.
        horizontal_flip: random left-right flips.
        fill_mode: fill of pixels moved in from outside ("reflect" by default, as Keras).
        seed: seed of the augmentation (and of the shuffle for arrays).
        batch_size, shuffle: used only when ``data`` is an array.

    Returns:
        tf.data.Dataset yielding batches of the same structure, shapes and dtype as ``data``.

    Example:
        >>> from keras_oneclass import ConvAutoencoder, datasets
        >>> train_ds, test = datasets.load_folder("wood", image_size=256)                  # doctest: +SKIP
        >>> train_ds = datasets.augment(train_ds, rotation=20, width_shift=0.1, height_shift=0.1,
        ...                             horizontal_flip=True, seed=0)                     # doctest: +SKIP
        >>> ConvAutoencoder(input_shape=(256, 256, 3)).fit(train_ds, epochs=50)           # doctest: +SKIP
    """
    if not isinstance(data, tf.data.Dataset):
        array = np.asarray(data, dtype=np.float32)
        if array.ndim != 4 or len(array) == 0:
            raise ValueError(f"data must be a non-empty (N, H, W, C) image array or a dataset of batches, "
                             f"got shape {array.shape}.")
        data = tf.data.Dataset.from_tensor_slices(array)
        if shuffle:
            data = data.shuffle(len(array), seed=seed, reshuffle_each_iteration=True)
        data = data.batch(int(batch_size))
    spec = data.element_spec
    x_spec = spec[0] if isinstance(spec, tuple) else spec
    if x_spec.shape.rank != 4:
        raise ValueError(f"data must yield image batches (B, H, W, C), got element shape {x_spec.shape}; "
                         f"batch the dataset first.")
    layers = augmentation_layers(rotation, width_shift, height_shift, horizontal_flip, fill_mode, seed)
    if not layers.layers:
        return data

    def apply(*batch):
        x = tf.cast(layers(batch[0], training=True), x_spec.dtype)
        return x if len(batch) == 1 else (x, *batch[1:])

    # Sequential map: Keras' random layers draw from a stateful SeedGenerator, so parallel calls
    # would make seeded draws depend on thread timing.
    return data.map(apply).prefetch(tf.data.AUTOTUNE)
