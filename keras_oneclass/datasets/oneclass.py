"""One-class splits of MNIST, Fashion-MNIST and CIFAR-10.

The one-class protocol (Ruff et al., "Deep One-Class Classification", ICML 2018, sec. 4.1):
one class is "normal"; training uses only that class of the training split; the whole test
split is scored, labelled 0 for the normal class and 1 (anomaly) for every other class.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from keras_oneclass import backends
from keras_oneclass.datasets.image_folder import read_image_folder
from keras_oneclass.datasets.locate import find_local, missing_data_error, search_locations
from keras_oneclass.datasets.preprocessing import (
    fit_min_max,
    global_contrast_normalization,
    min_max_scale,
)

CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
PREPROCESSING = ("default", "scale", "gcn_minmax", "gcn_l2", "none")
_IDX_FILES = (
    "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
)
_NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


def _is_npz(candidate: Path) -> bool:
    return candidate.is_file() and candidate.suffix == ".npz"


def _is_idx_folder(candidate: Path) -> bool:
    return candidate.is_dir() and all((candidate / name).is_file() for name in _IDX_FILES)


def _is_split_folder(candidate: Path) -> bool:
    return candidate.is_dir() and (candidate / "train").is_dir() and (candidate / "test").is_dir()


_SPECS = {
    "mnist": dict(
        shape=(28, 28, 1), class_names=None, default="scale",
        candidates=["mnist/mnist.npz", "mnist.npz"], accept=_is_npz,
        expected="mnist/mnist.npz  (numpy .npz with keys x_train, y_train, x_test, y_test)",
    ),
    "fashion_mnist": dict(
        shape=(28, 28, 1), class_names=FASHION_MNIST_CLASSES, default="scale",
        candidates=["fashion_mnist/fashion_mnist.npz", "fashion_mnist.npz", "fashion_mnist",
                    "fashion-mnist", "."],
        accept=lambda c: _is_npz(c) or _is_idx_folder(c),
        expected="fashion_mnist/fashion_mnist.npz  (keys x_train, y_train, x_test, y_test)\n"
                 "  or fashion_mnist/{" + ",".join(_IDX_FILES) + "}",
    ),
    "cifar10": dict(
        shape=(32, 32, 3), class_names=CIFAR10_CLASSES, default="gcn_minmax",
        candidates=["cifar10/cifar10.npz", "cifar10.npz", "cifar10", "."],
        accept=lambda c: _is_npz(c) or _is_split_folder(c),
        expected="cifar10/{train,test}/<class>/*.jpg  (class folders: "
                 + ", ".join(CIFAR10_CLASSES) + ")\n"
                 "  or cifar10/cifar10.npz  (keys x_train, y_train, x_test, y_test)",
    ),
}
_ALIASES = {"fmnist": "fashion_mnist", "fashion-mnist": "fashion_mnist", "cifar-10": "cifar10"}


# --------------------------------------------------------------------------------------------
# raw datasets


def _read_npz(file: Path):
    with np.load(file, allow_pickle=False) as stored:
        missing = [key for key in _NPZ_KEYS if key not in stored.files]
        if missing:
            raise ValueError(
                f"{file} lacks the keys {missing}; expected {list(_NPZ_KEYS)} (Keras names)."
            )
        return tuple(stored[key] for key in _NPZ_KEYS)


def _read_idx(file: Path) -> np.ndarray:
    """Parses a gzip'd IDX file (the MNIST / Fashion-MNIST format) of unsigned bytes."""
    import gzip

    with gzip.open(file, "rb") as handle:
        data = handle.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{file} is not an IDX file of unsigned bytes (bad magic number).")
    ndim = data[3]
    dims = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    if len(data) - offset != int(np.prod(dims)):
        raise ValueError(f"{file} holds {len(data) - offset} bytes; its header says {dims}.")
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(dims)


def _read_local(name: str, found: Path, cache: bool):
    if found.suffix == ".npz":
        return _read_npz(found)
    if name == "fashion_mnist":
        return tuple(_read_idx(found / file) for file in _IDX_FILES)
    x_train, y_train, _ = read_image_folder(found / "train", class_names=CIFAR10_CLASSES,
                                             cache=cache)
    x_test, y_test, _ = read_image_folder(found / "test", class_names=CIFAR10_CLASSES,
                                           cache=cache)
    return x_train, y_train, x_test, y_test


def _download(name: str):
    import keras

    module = {"mnist": keras.datasets.mnist, "fashion_mnist": keras.datasets.fashion_mnist,
              "cifar10": keras.datasets.cifar10}[name]
    (x_train, y_train), (x_test, y_test) = module.load_data()
    return x_train, y_train, x_test, y_test


def _load_raw(name: str, path=None, cache: bool = True):
    """Returns uint8 images (N, H, W, C) and int32 labels (N,) of both splits."""
    spec = _SPECS[name]
    found = find_local(spec["candidates"], path, accept=spec["accept"])
    if found is not None:
        arrays, source = _read_local(name, found, cache), str(found)
    else:
        try:
            arrays, source = _download(name), f"the keras.datasets.{name} download"
        except Exception as error:  # offline, blocked, corrupted: say where we looked
            looked = search_locations(spec["candidates"], path)
            raise missing_data_error(name, looked, spec["expected"], error) from error
    x_train, y_train, x_test, y_test = arrays
    images = []
    for split, x in (("train", x_train), ("test", x_test)):
        x = np.asarray(x)
        if x.ndim == 3:
            x = x[..., None]
        if x.shape[1:] != spec["shape"]:
            raise ValueError(
                f"{source}: {split} images have shape {x.shape[1:]}; "
                f"expected {spec['shape']} for {name}."
            )
        images.append(x)
    y_train = np.asarray(y_train).reshape(-1).astype(np.int32)
    y_test = np.asarray(y_test).reshape(-1).astype(np.int32)
    if len(y_train) != len(images[0]) or len(y_test) != len(images[1]):
        raise ValueError(f"{source}: image and label counts differ.")
    return images[0], y_train, images[1], y_test


# --------------------------------------------------------------------------------------------
# one-class splits


def _resolve_name(name) -> str:
    if not isinstance(name, str):
        raise TypeError(f"`name` must be a str; got {type(name).__name__}.")
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in _SPECS:
        raise ValueError(
            f"`name` must be one of {sorted(_SPECS) + sorted(_ALIASES)}; got {name!r}."
        )
    return key


def _resolve_class(name: str, normal_class) -> int:
    class_names = _SPECS[name]["class_names"]
    if isinstance(normal_class, str):
        if class_names is not None and normal_class in class_names:
            return class_names.index(normal_class)
        valid = f"an int in 0..9 or one of {list(class_names)}" if class_names else "0..9"
        raise ValueError(f"`normal_class` must be {valid} for {name}; got {normal_class!r}.")
    if isinstance(normal_class, bool) or not isinstance(normal_class, (int, np.integer)):
        raise TypeError(
            f"`normal_class` must be an int (or a class name); got {type(normal_class).__name__}."
        )
    if not 0 <= int(normal_class) <= 9:
        raise ValueError(
            f"`normal_class` must be in the range 0..9 for {name}; got {int(normal_class)}."
        )
    return int(normal_class)


def _preprocess(x_train: np.ndarray, x_test: np.ndarray, method: str):
    x_train = x_train.astype(np.float32)
    x_test = x_test.astype(np.float32)
    if method == "none":
        return x_train, x_test
    x_train /= 255.0
    x_test /= 255.0
    if method == "gcn_l2":
        return (global_contrast_normalization(x_train, "l2"),
                global_contrast_normalization(x_test, "l2"))
    if method == "gcn_minmax":
        x_train = global_contrast_normalization(x_train, "l1")
        x_test = global_contrast_normalization(x_test, "l1")
        minimum, maximum = fit_min_max(x_train)
        return min_max_scale(x_train, minimum, maximum), min_max_scale(x_test, minimum, maximum)
    return x_train, x_test


def load_oneclass(
    name: str,
    normal_class: int | str,
    path: str | os.PathLike | None = None,
    preprocessing: str = "default",
    batch_size: int = 200,
    shuffle: bool = True,
    seed: int = 0,
    as_numpy: bool = False,
    flatten: bool = False,
):
    """Loads the one-class split of MNIST, Fashion-MNIST or CIFAR-10 (Ruff et al. 2018).

    Data is looked for in `path`, then `$KERAS_ONECLASS_DATA`, then downloaded with
    `keras.datasets`; accepted local layouts: `mnist/mnist.npz`, `fashion_mnist/fashion_mnist.npz`
    or the four Keras idx.gz files in `fashion_mnist/`, `cifar10/{train,test}/<class>/*.jpg` or
    `cifar10/cifar10.npz`.

    Args:
        name: `"mnist"`, `"fashion_mnist"` (alias `"fmnist"`) or `"cifar10"`.
        normal_class: index 0..9 of the normal class; for cifar10 / fashion_mnist also a class
            name (see `CIFAR10_CLASSES`).
        path: a data folder (or the dataset's file/folder itself).
        preprocessing: `"scale"` (x / 255), `"gcn_minmax"` (x / 255, GCN l1, min-max fitted on
            the normal training class and applied to train and test, as Ruff et al.),
            `"gcn_l2"` (x / 255, GCN l2 as the DASVDD authors' code), `"none"` (raw 0..255) or `"default"` (`"scale"` for
            MNIST / Fashion-MNIST, `"gcn_minmax"` for CIFAR-10).
        batch_size: batch size of the training dataset.
        shuffle: reshuffle the training dataset every epoch (seeded by `seed`).
        seed: shuffle seed.
        as_numpy: return the training images as a numpy array instead of a tf.data.Dataset.
            Implied when TensorFlow is not installed (JAX or PyTorch backend): the array is then
            returned whatever `as_numpy` says, and `batch_size`, `shuffle`, `seed` are left to `fit`.
        flatten: reshape images to (N, D).

    Returns:
        `(train_ds, (x_test, y_test))`: train_ds yields float32 batches (B, H, W, C) (or (B, D)
        with `flatten`) of the normal class only; x_test float32 (N, H, W, C) of the whole test
        split; y_test int32 (N,), 1 = anomaly (other class), 0 = normal. With `as_numpy`, or
        without TensorFlow, `x_train` (N_train, ...) replaces `train_ds`. MNIST/FMNIST images are 28x28x1,
        CIFAR-10 32x32x3.

    Example:
        >>> train_ds, (x_test, y_test) = load_oneclass("mnist", normal_class=0)  # doctest: +SKIP
        >>> x_test.shape, int(y_test.sum())  # doctest: +SKIP
        ((10000, 28, 28, 1), 9020)
    """
    key = _resolve_name(name)
    class_index = _resolve_class(key, normal_class)
    if preprocessing not in PREPROCESSING:
        raise ValueError(f"`preprocessing` must be one of {PREPROCESSING}; got {preprocessing!r}.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive int; got {batch_size!r}.")
    method = _SPECS[key]["default"] if preprocessing == "default" else preprocessing

    x_train, y_train, x_test, y_test = _load_raw(key, path)
    x_train = x_train[y_train == class_index]
    if len(x_train) == 0:
        raise ValueError(f"`normal_class` {normal_class!r} has no training samples in {key}.")
    x_train, x_test = _preprocess(x_train, x_test, method)
    labels = (y_test != class_index).astype(np.int32)
    if flatten:
        x_train = x_train.reshape(len(x_train), -1)
        x_test = x_test.reshape(len(x_test), -1)
    if as_numpy or not backends.tensorflow_installed():
        return x_train, (x_test, labels)
    import tensorflow as tf

    train_ds = tf.data.Dataset.from_tensor_slices(x_train)
    if shuffle:
        train_ds = train_ds.shuffle(len(x_train), seed=seed, reshuffle_each_iteration=True)
    train_ds = train_ds.batch(int(batch_size)).prefetch(tf.data.AUTOTUNE)
    return train_ds, (x_test, labels)
