"""Tests of keras_oneclass.datasets on tiny generated data (plus real data when present)."""

from __future__ import annotations

import shutil
from pathlib import Path

import keras
import numpy as np
import pytest
import scipy.io
from PIL import Image

from keras_oneclass import backends, datasets
from keras_oneclass.datasets import locate

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path, monkeypatch):
    """No ambient data folder, a private cache, and no network for every test."""
    monkeypatch.delenv(locate.DATA_ENV_VAR, raising=False)
    monkeypatch.setenv("KERAS_ONECLASS_CACHE", str(tmp_path / "cache"))

    def offline(*args, **kwargs):
        raise OSError("network disabled in tests")

    for module in (keras.datasets.mnist, keras.datasets.fashion_mnist, keras.datasets.cifar10):
        monkeypatch.setattr(module, "load_data", offline)


def _fake_mnist(folder: Path, per_class: int = 4, seed: int = 0) -> Path:
    """Writes folder/mnist/mnist.npz with `per_class` samples of each digit in each split."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split in ("train", "test"):
        labels = np.repeat(np.arange(10, dtype=np.uint8), per_class)
        arrays[f"x_{split}"] = rng.integers(0, 256, size=(len(labels), 28, 28), dtype=np.uint8)
        arrays[f"y_{split}"] = labels
    (folder / "mnist").mkdir(parents=True)
    np.savez(folder / "mnist" / "mnist.npz", **arrays)
    return folder


def _fake_image_tree(root: Path, classes, per_class=3, size=(8, 6), fmt="png", seed=0) -> Path:
    rng = np.random.default_rng(seed)
    for class_name in classes:
        (root / class_name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, size=(size[0], size[1], 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / class_name / f"{i:03d}.{fmt}")
    return root


# ------------------------------------------------------------------ preprocessing


def test_gcn_l1_gives_zero_mean_unit_mean_abs():
    x = np.random.default_rng(0).uniform(0, 1, size=(5, 6, 6, 3)).astype(np.float32)
    z = datasets.global_contrast_normalization(x, "l1").reshape(5, -1)
    np.testing.assert_allclose(z.mean(axis=1), 0.0, atol=1e-5)
    np.testing.assert_allclose(np.abs(z).mean(axis=1), 1.0, atol=1e-5)


def test_gcn_l2_is_the_reference_codes_and_constant_sample_safe():
    x = np.random.default_rng(1).normal(size=(3, 10)).astype(np.float32)
    x[1] = 7.0
    z = datasets.global_contrast_normalization(x, "l2")
    assert np.all(np.isfinite(z))
    np.testing.assert_allclose(z[1], 0.0)
    # Deep-SVDD-PyTorch / DASVDD: x -= mean(x); x /= sqrt(sum(x ** 2)) / n_features
    for row in (0, 2):
        centred = x[row].astype(np.float64) - x[row].mean()
        np.testing.assert_allclose(z[row], centred / (np.sqrt((centred ** 2).sum()) / x.shape[1]), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.sqrt((z[[0, 2]] ** 2).mean(axis=1)), np.sqrt(10), rtol=1e-5)
    with pytest.raises(ValueError, match="scale"):
        datasets.global_contrast_normalization(x, "l3")


def test_min_max_and_standardize():
    x = np.random.default_rng(2).normal(3.0, 2.0, size=(50, 4))
    lo, hi = datasets.fit_min_max(x)
    scaled = datasets.min_max_scale(x, lo, hi)
    assert scaled.dtype == np.float32 and scaled.min() == 0.0 and scaled.max() == 1.0
    x[:, 2] = 5.0  # constant feature: std 0 -> 1
    mean, std = datasets.fit_standardize(x)
    assert std[2] == 1.0
    z = datasets.standardize(x, mean, std)
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(z[:, [0, 1, 3]].std(axis=0), 1.0, atol=1e-4)


# ------------------------------------------------------------------ one-class images


def test_oneclass_labels_shapes_and_train_normal_only(tmp_path):
    data = _fake_mnist(tmp_path)
    x_train, (x_test, y_test) = datasets.load_oneclass(
        "mnist", normal_class=3, path=data, as_numpy=True, preprocessing="none"
    )
    raw = np.load(data / "mnist" / "mnist.npz")
    expected_train = raw["x_train"][raw["y_train"] == 3].astype(np.float32)[..., None]
    np.testing.assert_array_equal(x_train, expected_train)
    assert x_train.dtype == np.float32 and x_train.shape == (4, 28, 28, 1)
    assert x_test.shape == (40, 28, 28, 1) and y_test.dtype == np.int32
    np.testing.assert_array_equal(y_test, (raw["y_test"] != 3).astype(np.int32))


def test_oneclass_dataset_batches_and_flatten(tmp_path):
    data = _fake_mnist(tmp_path, per_class=5)
    train_ds, (x_test, _) = datasets.load_oneclass(
        "mnist", 1, path=data, batch_size=2, seed=1, flatten=True
    )
    assert x_test.shape == (50, 784)
    if not backends.tensorflow_installed():  # the training array itself, left to fit to batch
        assert isinstance(train_ds, np.ndarray) and train_ds.shape == (5, 784)
        return
    batches = [batch.numpy() for batch in train_ds]
    assert [len(b) for b in batches] == [2, 2, 1]
    assert batches[0].shape[1:] == (784,)


@pytest.mark.parametrize("method", ["scale", "gcn_minmax", "gcn_l2"])
def test_oneclass_preprocessing_ranges(tmp_path, method):
    data = _fake_mnist(tmp_path)
    x_train, (x_test, _) = datasets.load_oneclass(
        "mnist", 0, path=data, preprocessing=method, as_numpy=True
    )
    if method in ("scale", "gcn_minmax"):
        assert x_train.min() >= 0.0 and x_train.max() <= 1.0
        assert x_train.min() == 0.0 and x_train.max() == pytest.approx(1.0)
    if method == "scale":
        assert x_test.min() >= 0.0 and x_test.max() <= 1.0
    if method == "gcn_l2":
        rms = np.sqrt((x_train.reshape(len(x_train), -1) ** 2).mean(axis=1))
        np.testing.assert_allclose(rms, np.sqrt(x_train[0].size), rtol=1e-4)


def test_path_beats_env_var(tmp_path, monkeypatch):
    env_data = _fake_mnist(tmp_path / "env", seed=1)
    arg_data = _fake_mnist(tmp_path / "arg", seed=2)
    monkeypatch.setenv(locate.DATA_ENV_VAR, str(env_data))
    from_arg, _ = datasets.load_oneclass("mnist", 0, path=arg_data, as_numpy=True)
    from_env, _ = datasets.load_oneclass("mnist", 0, as_numpy=True)
    raw_arg = np.load(arg_data / "mnist" / "mnist.npz")
    raw_env = np.load(env_data / "mnist" / "mnist.npz")
    np.testing.assert_allclose(from_arg[..., 0], raw_arg["x_train"][raw_arg["y_train"] == 0] / 255)
    np.testing.assert_allclose(from_env[..., 0], raw_env["x_train"][raw_env["y_train"] == 0] / 255)


def test_missing_data_error_names_env_var_and_places(tmp_path, monkeypatch):
    empty_arg, empty_env = tmp_path / "arg", tmp_path / "env"
    empty_arg.mkdir()
    empty_env.mkdir()
    monkeypatch.setenv(locate.DATA_ENV_VAR, str(empty_env))
    with pytest.raises(FileNotFoundError) as info:
        datasets.load_oneclass("fmnist", 0, path=empty_arg)
    message = str(info.value)
    assert "KERAS_ONECLASS_DATA" in message
    assert str(empty_arg) in message and str(empty_env) in message
    assert "fashion_mnist/fashion_mnist.npz" in message
    assert "network disabled in tests" in message


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="normal_class"):
        datasets.load_oneclass("mnist", 10)
    with pytest.raises(ValueError, match="normal_class"):
        datasets.load_oneclass("cifar10", "cow")
    with pytest.raises(TypeError, match="normal_class"):
        datasets.load_oneclass("mnist", 1.5)
    with pytest.raises(ValueError, match="name"):
        datasets.load_oneclass("svhn", 0)
    with pytest.raises(ValueError, match="preprocessing"):
        datasets.load_oneclass("mnist", 0, preprocessing="zca")


def test_fashion_mnist_idx_files(tmp_path):
    import gzip

    folder = tmp_path / "fashion_mnist"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for prefix, count in (("train", 20), ("t10k", 10)):
        images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
        labels = (np.arange(count) % 10).astype(np.uint8)
        header = bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in images.shape)
        with gzip.open(folder / f"{prefix}-images-idx3-ubyte.gz", "wb") as handle:
            handle.write(header + images.tobytes())
        header = bytes([0, 0, 8, 1]) + count.to_bytes(4, "big")
        with gzip.open(folder / f"{prefix}-labels-idx1-ubyte.gz", "wb") as handle:
            handle.write(header + labels.tobytes())
    x_train, (x_test, y_test) = datasets.load_oneclass(
        "fashion_mnist", "Trouser", path=tmp_path, as_numpy=True, preprocessing="none"
    )
    assert x_train.shape == (2, 28, 28, 1) and x_test.shape == (10, 28, 28, 1)
    assert y_test.tolist() == [1, 0] + [1] * 8


def test_cifar10_class_folders(tmp_path):
    _fake_image_tree(tmp_path / "cifar10" / "train", datasets.CIFAR10_CLASSES, 2, (32, 32))
    _fake_image_tree(tmp_path / "cifar10" / "test", datasets.CIFAR10_CLASSES, 1, (32, 32))
    x_train, (x_test, y_test) = datasets.load_oneclass("cifar10", "cat", path=tmp_path,
                                                       as_numpy=True)
    assert x_train.shape == (2, 32, 32, 3) and x_test.shape == (10, 32, 32, 3)
    assert y_test.tolist() == [0 if i == 3 else 1 for i in range(10)]
    assert x_train.min() == 0.0 and x_train.max() == pytest.approx(1.0)  # gcn_minmax default


# ------------------------------------------------------------------ image folders


def test_load_image_folder_order_labels_and_cache(tmp_path, monkeypatch):
    root = _fake_image_tree(tmp_path / "tree", ["b_class", "a_class"], per_class=3)
    Image.fromarray(np.zeros((8, 6, 3), np.uint8)).save(root / "a_class" / "extra.jpg")
    images, labels, names = datasets.load_image_folder(root)
    assert names == ["a_class", "b_class"]
    assert images.dtype == np.float32 and images.shape == (7, 8, 6, 3)
    assert labels.tolist() == [0, 0, 0, 0, 1, 1, 1]
    png = np.asarray(Image.open(root / "b_class" / "000.png"))
    np.testing.assert_array_equal(images[4], png)  # png is lossless: exact pixels
    assert list((tmp_path / "cache").glob("*.npz"))

    import keras_oneclass.datasets.image_folder as image_folder

    def no_decode(*args, **kwargs):
        raise AssertionError("decoded again although the cache should hit")

    monkeypatch.setattr(image_folder, "_decode_images", no_decode)
    cached, cached_labels, cached_names = datasets.load_image_folder(root)
    np.testing.assert_array_equal(cached, images)
    np.testing.assert_array_equal(cached_labels, labels)
    assert cached_names == names


def test_load_image_folder_resize_grayscale_and_errors(tmp_path):
    root = _fake_image_tree(tmp_path / "tree", ["x", "y"], per_class=2, size=(10, 12), fmt="jpg")
    Image.fromarray(np.zeros((5, 5, 3), np.uint8)).save(root / "y" / "odd.png")
    images, _, _ = datasets.load_image_folder(root, image_size=4, color_mode="grayscale")
    assert images.shape == (5, 4, 4, 1) and 0 <= images.min() and images.max() <= 255
    with pytest.raises(ValueError, match="image_size"):
        datasets.load_image_folder(root, cache=False)
    with pytest.raises(ValueError, match="class_names"):
        datasets.load_image_folder(root, image_size=4, class_names=["x", "z"])
    with pytest.raises(ValueError, match="color_mode"):
        datasets.load_image_folder(root, color_mode="cmyk")


# ------------------------------------------------------------------ tabular


def _table(n_normal=60, n_outlier=20, dim=3, seed=0):
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(0, 1, (n_normal, dim)), rng.normal(5, 1, (n_outlier, dim))])
    y = np.r_[np.zeros(n_normal), np.ones(n_outlier)]
    return x, y


@pytest.mark.parametrize("fmt", ["mat", "npz"])
def test_load_odds_split(tmp_path, fmt):
    x, y = _table()
    (tmp_path / "odds").mkdir()
    if fmt == "mat":
        scipy.io.savemat(tmp_path / "odds" / "toy.mat", {"X": x, "y": y[:, None]})
    else:
        np.savez(tmp_path / "odds" / "toy.npz", X=x, y=y)
    x_train, (x_test, y_test) = datasets.load_odds("toy", path=tmp_path, standardize=False)
    assert x_train.dtype == np.float32 and y_test.dtype == np.int32
    assert len(x_test) == 32 and y_test.sum() == 8  # stratified 40% of 80 rows, 20 outliers
    assert x_train.shape == (36, 3)  # normal rows of the remaining 48
    normal_rows = {tuple(row) for row in x[y == 0].astype(np.float32)}
    assert all(tuple(row) in normal_rows for row in x_train)
    x_all, _ = datasets.load_odds(tmp_path / "odds" / f"toy.{fmt}", train_on="all")
    assert x_all.shape == (48, 3)
    np.testing.assert_allclose(x_all.mean(axis=0), 0.0, atol=1e-5)


def test_read_odds_returns_the_whole_table_in_file_order(tmp_path):
    x, y = _table()
    np.savez(tmp_path / "toy.npz", X=x, y=y)
    x_read, y_read = datasets.read_odds(tmp_path / "toy.npz")
    np.testing.assert_array_equal(x_read, x)
    assert y_read.dtype == np.int32 and y_read.tolist() == y.astype(int).tolist()
    np.savez(tmp_path / "bad.npz", X=x, y=y * 2)
    with pytest.raises(ValueError, match="only 0"):
        datasets.read_odds(tmp_path / "bad.npz")


def test_load_odds_missing_and_bad_args(tmp_path, monkeypatch):
    monkeypatch.setenv(locate.DATA_ENV_VAR, str(tmp_path))
    with pytest.raises(FileNotFoundError) as info:
        datasets.load_odds("pima")
    assert "KERAS_ONECLASS_DATA" in str(info.value) and "odds/pima.mat" in str(info.value)
    with pytest.raises(ValueError, match="test_fraction"):
        datasets.load_odds("pima", test_fraction=1.5)
    with pytest.raises(ValueError, match="train_on"):
        datasets.load_odds("pima", train_on="some")


# ------------------------------------------------------------------ real data (when present)

needs_shared = pytest.mark.skipif(
    not SHARED_DATA.is_dir(), reason=f"shared data folder {SHARED_DATA} is absent"
)


@needs_shared
def test_real_mnist_digit_zero_counts():
    if not (SHARED_DATA / "mnist" / "mnist.npz").is_file():
        pytest.skip("shared mnist/mnist.npz is absent")
    x_train, (x_test, y_test) = datasets.load_oneclass("mnist", 0, path=SHARED_DATA,
                                                       as_numpy=True)
    assert x_train.shape == (5923, 28, 28, 1)
    assert x_test.shape == (10000, 28, 28, 1) and int((y_test == 0).sum()) == 980


@needs_shared
def test_real_pima_shape():
    if not (SHARED_DATA / "odds" / "pima.mat").is_file():
        pytest.skip("shared odds/pima.mat is absent")
    x_train, (x_test, y_test) = datasets.load_odds("pima", path=SHARED_DATA, standardize=False,
                                                   train_on="all")
    assert len(x_train) + len(x_test) == 768 and x_train.shape[1] == 8
    raw = scipy.io.loadmat(SHARED_DATA / "odds" / "pima.mat")
    assert raw["X"].shape == (768, 8) and int(raw["y"].sum()) == 268
    assert int(y_test.sum()) == round(268 * 0.4)


@needs_shared
def test_real_cifar10_subset(tmp_path):
    source = SHARED_DATA / "cifar10" / "train"
    if not source.is_dir():
        pytest.skip("shared cifar10/train is absent")
    assert sorted(p.name for p in source.iterdir()) == list(datasets.CIFAR10_CLASSES)
    for class_name in ("cat", "dog"):
        (tmp_path / "sub" / class_name).mkdir(parents=True)
        for file in sorted((source / class_name).iterdir())[:3]:
            shutil.copy(file, tmp_path / "sub" / class_name / file.name)
    images, labels, names = datasets.load_image_folder(tmp_path / "sub")
    assert images.shape == (6, 32, 32, 3) and labels.tolist() == [0, 0, 0, 1, 1, 1]
    reference = np.asarray(Image.open(source / "cat" / sorted(p.name for p in
                                                               (source / "cat").iterdir())[0]))
    np.testing.assert_array_equal(images[0], reference)  # same pixels as PIL
