"""The embedded wood-surface set: layout and counts, exact masks, determinism, reuse, read_folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from keras_oneclass import datasets
from keras_oneclass.datasets.synthetic_wood import DEFECT_TYPES, MANIFEST

SMALL = dict(n_train=4, n_test_good=3, n_test_defect_per_type=2, image_size=64)


def _pngs(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.png"))


@pytest.fixture(scope="module")
def wood(tmp_path_factory) -> Path:
    return datasets.synthetic_wood(tmp_path_factory.mktemp("wood") / "set", seed=3, **SMALL)


def test_layout_counts_and_image_format(wood):
    assert len(_pngs(wood / "train" / "good")) == 4
    assert len(_pngs(wood / "test" / "good")) == 3
    assert not (wood / "ground_truth" / "good").exists()  # good images have no mask files
    for kind in DEFECT_TYPES:
        images = _pngs(wood / "test" / kind)
        masks = _pngs(wood / "ground_truth" / kind)
        assert len(images) == 2 and [m.name for m in masks] == [f"{i.stem}_mask.png" for i in images]
    image = Image.open(wood / "train" / "good" / "000.png")
    assert image.mode == "RGB" and image.size == (64, 64)
    assert json.loads((wood / MANIFEST).read_text())["seed"] == 3


def test_masks_are_binary_and_non_empty_exactly_for_defects(wood):
    for kind in DEFECT_TYPES:
        for mask_file in _pngs(wood / "ground_truth" / kind):
            mask = np.asarray(Image.open(mask_file))
            assert set(np.unique(mask)) == {0, 255}, (kind, mask_file.name)
            assert 0 < (mask > 0).mean() < 0.5, (kind, mask_file.name)


def test_defects_change_the_pixels_inside_their_mask(tmp_path):
    """Painting a defect alters the board inside the mask, far more than just outside it."""
    from keras_oneclass.datasets.synthetic_wood import _defect_image

    for index, kind in enumerate(DEFECT_TYPES):
        rng = np.random.default_rng(index)
        image, mask = _defect_image(rng, 128, kind)
        assert mask.any() and image.shape == (128, 128, 3) and 0 <= image.min() and image.max() <= 1
        luminance = image.mean(axis=-1)
        ring = np.zeros_like(mask)
        for shift in (-6, 6):  # pixels a few steps away from the defect, outside its mask
            ring |= np.roll(mask, shift, axis=0) | np.roll(mask, shift, axis=1)
        ring &= ~mask
        contrast = abs(luminance[mask].mean() - luminance[ring].mean())
        assert contrast > 0.02, (kind, contrast)


def test_same_seed_gives_identical_files_and_another_seed_differs(wood, tmp_path):
    again = datasets.synthetic_wood(tmp_path / "again", seed=3, **SMALL)
    other = datasets.synthetic_wood(tmp_path / "other", seed=4, **SMALL)
    for relative in ("train/good/003.png", "test/good/000.png", "test/knot/001.png", "ground_truth/stain/000_mask.png"):
        assert (again / relative).read_bytes() == (wood / relative).read_bytes(), relative
    assert (other / "train/good/000.png").read_bytes() != (wood / "train/good/000.png").read_bytes()


def test_counts_do_not_change_the_other_images(wood, tmp_path):
    more = datasets.synthetic_wood(tmp_path / "more", seed=3, **{**SMALL, "n_train": 6})
    assert len(_pngs(more / "train" / "good")) == 6
    assert (more / "test/crack/001.png").read_bytes() == (wood / "test/crack/001.png").read_bytes()


def test_reuse_mismatch_and_overwrite(tmp_path):
    root = datasets.synthetic_wood(tmp_path / "set", **SMALL)
    stamp = (root / "train/good/000.png").stat().st_mtime_ns
    assert datasets.synthetic_wood(root, **SMALL) == root
    assert (root / "train/good/000.png").stat().st_mtime_ns == stamp  # reused, not rewritten
    with pytest.raises(ValueError, match="other parameters"):
        datasets.synthetic_wood(root, **{**SMALL, "n_train": 5})
    datasets.synthetic_wood(root, overwrite=True, **{**SMALL, "n_train": 5})
    assert len(_pngs(root / "train" / "good")) == 5
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty"):
        datasets.synthetic_wood(tmp_path / "busy", **SMALL)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="n_train"):
        datasets.synthetic_wood(tmp_path / "a", n_train=0)
    with pytest.raises(ValueError, match="defect_types"):
        datasets.synthetic_wood(tmp_path / "b", defect_types=("knot", "dent"))


def test_grayscale_and_read_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_ONECLASS_CACHE", str(tmp_path / "cache"))
    root = datasets.synthetic_wood(tmp_path / "gray", color=False, defect_types=("hole", "stain"), **SMALL)
    assert Image.open(root / "test" / "good" / "000.png").mode == "L"
    data = datasets.read_folder(root, image_size=32)
    assert data.train.shape == (4, 32, 32, 1) and data.color_mode == "grayscale"
    test = data.test
    assert len(test) == 3 + 2 * 2 and test.has_masks
    np.testing.assert_array_equal(test.labels, (test.types != "good").astype(int))
    assert not test.masks[test.labels == 0].any()
    assert all(mask.any() for mask in test.masks[test.labels == 1])
    # the same arrays on a second read (determinism of what the detectors see)
    again = datasets.read_folder(datasets.synthetic_wood(tmp_path / "gray2", color=False,
                                                         defect_types=("hole", "stain"), **SMALL), image_size=32)
    np.testing.assert_array_equal(again.train, data.train)
    np.testing.assert_array_equal(again.test.masks, test.masks)


def test_default_set_is_fast(tmp_path):
    """The default set (290 boards of 256 x 256) is written in seconds of CPU time."""
    import time

    start = time.process_time()  # CPU seconds of this process: robust to other jobs sharing the cores
    root = datasets.synthetic_wood(tmp_path / "default")
    seconds = time.process_time() - start
    assert len(list(root.glob("test/*/*.png"))) == 40 + 5 * 10
    assert seconds < 30, seconds  # about 7 CPU seconds measured
