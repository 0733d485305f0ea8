"""Data augmentation for image training sets, applied in the data pipeline that feeds ``fit``.

One function serves every detector: ``augment`` maps random Keras preprocessing layers over a dataset
of image batches (or turns an image array into such a dataset), and the result goes straight into
``model.fit``. The pipeline is tf.data when TensorFlow is installed (or the input is a tf.data
dataset), and a ``keras.utils.PyDataset`` applying the same layers batch by batch otherwise (or when
the input is a PyDataset), so it runs on the JAX and PyTorch backends without TensorFlow. The options are those of Keras' former ``ImageDataGenerator`` used by our wood-surface
study: ``rotation`` (degrees), ``width_shift`` / ``height_shift`` (fractions of the side) and
``horizontal_flip``. Labels, if the dataset yields ``(x, y)``, pass through untouched.
"""

from __future__ import annotations

import keras
import numpy as np

from keras_oneclass import backends


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
            batch_size: int = 32, shuffle: bool = True):
    """A dataset of randomly augmented image batches, new draws every epoch, for ``model.fit``.

    Args:
        data: a tf.data.Dataset or a keras.utils.PyDataset of image batches (B, H, W, C) or ``(x, y)``
            batches, such as the ``train_ds`` of ``datasets.load_folder`` / ``load_oneclass``; or an
            (N, H, W, C) array, which is batched by ``batch_size`` (and shuffled with ``seed`` when
            ``shuffle``, again every epoch).
        rotation: maximum rotation in degrees.
        width_shift, height_shift: maximum shifts as fractions of the width / height.
        horizontal_flip: random left-right flips.
        fill_mode: fill of pixels moved in from outside ("reflect" by default, as Keras).
        seed: seed of the augmentation (and of the shuffle for arrays).
        batch_size, shuffle: used only when ``data`` is an array.

    Returns:
        Batches of the same structure, shapes and dtype as ``data``: a tf.data.Dataset for a
        tf.data input, or for an array when TensorFlow is installed; otherwise (a PyDataset input,
        or an array without TensorFlow) a keras.utils.PyDataset (``AugmentedBatches``).

    Example:
        >>> from keras_oneclass import ConvAutoencoder, datasets
        >>> train_ds, test = datasets.load_folder("wood", image_size=256)                  # doctest: +SKIP
        >>> train_ds = datasets.augment(train_ds, rotation=20, width_shift=0.1, height_shift=0.1,
        ...                             horizontal_flip=True, seed=0)                     # doctest: +SKIP
        >>> ConvAutoencoder(input_shape=(256, 256, 3)).fit(train_ds, epochs=50)           # doctest: +SKIP
    """
    layers = augmentation_layers(rotation, width_shift, height_shift, horizontal_flip, fill_mode, seed)
    if backends.is_tf_dataset(data):
        return _augment_tf_dataset(data, layers)
    if isinstance(data, keras.utils.PyDataset):
        return AugmentedBatches(data, layers) if layers.layers else data
    array = np.asarray(data, dtype=np.float32)
    if array.ndim != 4 or len(array) == 0:
        raise ValueError(f"data must be a non-empty (N, H, W, C) image array or a dataset of batches, "
                         f"got shape {array.shape}.")
    if not backends.tensorflow_installed():
        return AugmentedBatches(array, layers, batch_size=int(batch_size), shuffle=shuffle, seed=seed)
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices(array)
    if shuffle:
        dataset = dataset.shuffle(len(array), seed=seed, reshuffle_each_iteration=True)
    return _augment_tf_dataset(dataset.batch(int(batch_size)), layers)


def _apply(layers: keras.Sequential, x):
    """The random layers applied one by one in training mode: (B, H, W, C) -> (B, H, W, C).

    Layer by layer rather than through the Sequential: each Keras preprocessing layer switches to
    TensorFlow ops inside a tf.data graph, whatever the Keras backend, which a Sequential does not.
    """
    for layer in layers.layers:
        x = layer(x, training=True)
    return x


def _augment_tf_dataset(data, layers: keras.Sequential):
    """``data`` (a tf.data.Dataset of (B, H, W, C) or (x, ...) batches) with ``layers`` mapped over x."""
    import tensorflow as tf

    spec = data.element_spec
    x_spec = spec[0] if isinstance(spec, tuple) else spec
    if x_spec.shape.rank != 4:
        raise ValueError(f"data must yield image batches (B, H, W, C), got element shape {x_spec.shape}; "
                         f"batch the dataset first.")
    if not layers.layers:
        return data

    def apply(*batch):
        x = tf.cast(_apply(layers, batch[0]), x_spec.dtype)
        return x if len(batch) == 1 else (x, *batch[1:])

    # Sequential map: Keras' random layers draw from a stateful SeedGenerator, so parallel calls
    # would make seeded draws depend on thread timing.
    return data.map(apply).prefetch(tf.data.AUTOTUNE)


class AugmentedBatches(keras.utils.PyDataset):
    """Batches of an image array or a PyDataset with random Keras layers applied to x, on any backend.

    Args:
        data: an (N, H, W, C) float32 array, or a keras.utils.PyDataset of (B, H, W, C) or (x, ...)
            batches (passed through batch by batch; its ``on_epoch_end`` is forwarded).
        layers: the random layers (``augmentation_layers``), applied in training mode.
        batch_size, shuffle, seed: batching of an array: shuffled with ``seed`` before the first
            epoch and again after each one (ignored for a PyDataset).

    Batches are numpy arrays of x's dtype; draws are made in order on one worker, so a seed
    reproduces them.
    """

    def __init__(self, data, layers: keras.Sequential, batch_size: int = 32, shuffle: bool = True,
                 seed: int | None = None):
        super().__init__()
        self.data, self.layers = data, layers
        self.batch_size, self.shuffle = int(batch_size), bool(shuffle)
        self._rng = np.random.default_rng(seed)
        if isinstance(data, keras.utils.PyDataset):
            first = data[0]
            x = np.asarray(first[0] if isinstance(first, tuple) else first)
            if x.ndim != 4:
                raise ValueError(f"data must yield image batches (B, H, W, C), got batch shape {x.shape}; "
                                 f"batch the dataset first.")
            self._order = None
        else:
            self._order = self._rng.permutation(len(data)) if self.shuffle else np.arange(len(data))

    def __len__(self) -> int:
        if self._order is None:
            return len(self.data)
        return -(-len(self._order) // self.batch_size)

    def __getitem__(self, index: int):
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} out of range [0, {len(self)}).")
        if self._order is None:
            batch = self.data[index]
        else:
            batch = self.data[self._order[index * self.batch_size:(index + 1) * self.batch_size]]
        x = batch[0] if isinstance(batch, tuple) else batch
        dtype = keras.backend.standardize_dtype(x.dtype) if hasattr(x, "dtype") else "float32"
        augmented = keras.ops.convert_to_numpy(_apply(self.layers, x)).astype(dtype)
        return (augmented, *batch[1:]) if isinstance(batch, tuple) else augmented

    def on_epoch_begin(self):
        if self._order is None:
            self.data.on_epoch_begin()

    def on_epoch_end(self):
        if self._order is None:
            self.data.on_epoch_end()
        elif self.shuffle:
            self._order = self._rng.permutation(len(self._order))
