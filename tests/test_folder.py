"""MVTec-layout folders: labels, masks, resizing, validation split, errors, the shared magnetic-tile set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import shared_data
from keras_oneclass import backends, datasets


def _write(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def make_mvtec(root: Path, size: int = 20, rgb: bool = True, masks: bool = True) -> Path:
    """3 train images, test: 2 good + 2 'scratch' with a square defect and its mask."""
    rng = np.random.default_rng(0)
    shape = (size, size, 3) if rgb else (size, size)
    for i in range(3):
        _write(root / "train" / "good" / f"{i:03d}.png", rng.integers(0, 100, shape, dtype=np.uint8))
    for i in range(2):
        _write(root / "test" / "good" / f"{i:03d}.png", rng.integers(0, 100, shape, dtype=np.uint8))
        image = rng.integers(0, 100, shape, dtype=np.uint8)
        image[5:15, 5:15] = 255
        _write(root / "test" / "scratch" / f"{i:03d}.png", image)
        if masks:
            mask = np.zeros((size, size), np.uint8)
            mask[5:15, 5:15] = 255
            _write(root / "ground_truth" / "scratch" / f"{i:03d}_mask.png", mask)
    return root


def test_read_folder_labels_masks_and_scaling(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_ONECLASS_CACHE", str(tmp_path / "cache"))
    data = datasets.read_folder(make_mvtec(tmp_path / "set"), image_size=10)
    assert data.train.shape == (3, 10, 10, 3) and data.train.dtype == np.float32
    assert 0.0 <= data.train.min() and data.train.max() <= 100 / 255 + 1e-6
    test = data.test
    assert test.images.shape == (4, 10, 10, 3) and len(test) == 4
    assert list(test.types) == ["good", "good", "scratch", "scratch"]
    np.testing.assert_array_equal(test.labels, [0, 0, 1, 1])
    assert test.has_masks and not test.masks[:2].any()
    expected = np.zeros((10, 10), bool)
    expected[3:7, 3:7] = True  # the 10x10 square of 20x20 at half size, edges blurred by antialiasing
    assert test.masks[2:, 3:7, 3:7].all() and not test.masks[2:, :2].any() and not test.masks[2:, 8:].any()
    again = datasets.read_folder(tmp_path / "set", image_size=10)  # from the cache
    np.testing.assert_array_equal(again.test.images, test.images)
    assert list((tmp_path / "cache").glob("mvtec_folder_*.npz"))


def test_grayscale_auto_and_missing_ground_truth(tmp_path):
    data = datasets.read_folder(make_mvtec(tmp_path / "gray", rgb=False, masks=False), image_size=(8, 12), cache=False)
    assert data.color_mode == "grayscale" and data.train.shape == (3, 8, 12, 1)
    assert not data.test.has_masks and not data.test.masks.any()
    np.testing.assert_array_equal(data.test.labels, [0, 0, 1, 1])


def test_split_validation_is_seeded_and_disjoint(tmp_path):
    data = datasets.read_folder(make_mvtec(tmp_path / "set"), image_size=10, cache=False)
    train, validation = data.split_validation(0.34, seed=1)
    assert len(train) == 2 and len(validation) == 1
    again_train, again_validation = data.split_validation(0.34, seed=1)
    np.testing.assert_array_equal(validation, again_validation)
    assert not any(np.array_equal(v, t) for v in validation for t in train)
    with pytest.raises(ValueError, match="fraction"):
        data.split_validation(1.0)


def test_load_folder_dataset_and_errors(tmp_path):
    root = make_mvtec(tmp_path / "set")
    train_ds, test = datasets.load_folder(root, image_size=10, batch_size=2, cache=False)
    if backends.tensorflow_installed():
        batches = [b.numpy() for b in train_ds]
        assert [len(b) for b in batches] == [2, 1] and batches[0].shape[1:] == (10, 10, 3)
    else:  # the training array itself, left to fit to batch
        assert isinstance(train_ds, np.ndarray) and train_ds.shape == (3, 10, 10, 3)
    assert test.labels.sum() == 2
    with pytest.raises(FileNotFoundError, match="MVTec AD layout"):
        datasets.read_folder(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="train/good"):
        datasets.read_folder(root / "test", cache=False)
    with pytest.raises(ValueError, match="image_size"):
        datasets.read_folder(root, image_size=None)
    (root / "ground_truth" / "scratch" / "001_mask.png").unlink()
    with pytest.raises(FileNotFoundError, match="001_mask.png"):
        datasets.read_folder(root, image_size=10, cache=False)
    for file in (root / "train" / "good").iterdir():
        file.unlink()
    with pytest.raises(ValueError, match="no images"):
        datasets.read_folder(root, image_size=10, cache=False)


def test_shared_magnetic_tile_counts():
    root = shared_data("magnetic_tile")
    data = datasets.read_folder(root, image_size=64)
    assert data.train.shape == (752, 64, 64, 1) and data.color_mode == "grayscale"
    assert len(data.test) == 592 and data.test.labels.sum() == 392
    assert set(data.test.types) == {"good", "blowhole", "break", "crack", "fray", "uneven"}
    defect_pixels = data.test.masks[data.test.labels == 1].sum(axis=(1, 2))
    assert (defect_pixels > 0).mean() > 0.98  # 4 of the 392 source masks are empty
