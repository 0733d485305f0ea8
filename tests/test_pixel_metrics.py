"""Pixel ROC AUC and PRO on hand-made masks whose answers are worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from keras_oneclass import metrics


def _two_regions():
    """One 4x4 image: region A = 1 pixel at (0, 0), region B = 3 pixels in the bottom row corner."""
    masks = np.zeros((1, 4, 4), bool)
    masks[0, 0, 0] = True
    masks[0, 3, 1:4] = True
    return masks


def test_pixel_roc_auc_perfect_and_reversed_and_half():
    masks = _two_regions()
    maps = masks.astype(float)
    assert metrics.pixel_roc_auc(masks, maps) == 1.0
    assert metrics.pixel_roc_auc(masks, -maps) == 0.0
    assert metrics.pixel_roc_auc(masks, np.zeros_like(maps)) == 0.5


def test_pixel_roc_auc_counts_pixel_pairs():
    # 2 anomalous pixels scored 0.5 and 2.0 among 14 normals scored 1.0: half the pairs ranked right.
    masks = np.zeros((1, 4, 4), bool)
    masks[0, 0, :2] = True
    maps = np.ones((1, 4, 4))
    maps[0, 0, 0], maps[0, 0, 1] = 0.5, 2.0
    assert metrics.pixel_roc_auc(masks, maps) == pytest.approx(0.5)


def test_pro_is_one_for_a_perfect_map():
    masks = _two_regions()
    assert metrics.pro_score(masks, masks.astype(float)) == pytest.approx(1.0)


def test_pro_weighs_regions_equally_whatever_their_size():
    masks = _two_regions()
    # A (1 px) found above every normal pixel, B (3 px) below every normal pixel: PRO = 1/2 up to
    # FPR 1, so the normalised area is 0.5.
    maps = np.zeros((1, 4, 4))
    maps[0, 0, 0] = 1.0
    maps[0, 3, 1:4] = -1.0
    assert metrics.pro_score(masks, maps) == pytest.approx(0.5)
    # Pixel AUROC sees 3 of 4 anomalous pixels ranked last instead: 1/4.
    assert metrics.pixel_roc_auc(masks, maps) == pytest.approx(0.25)


def test_pro_interpolates_at_the_fpr_limit():
    masks = _two_regions()
    # A above everything; B tied with all normals: the curve goes (0, 0.5) -> (1, 1); at FPR 0.3
    # PRO = 0.65, trapezoid area 0.3 * (0.5 + 0.65) / 2 = 0.1725, normalised 0.575.
    maps = np.zeros((1, 4, 4))
    maps[0, 0, 0] = 1.0
    assert metrics.pro_score(masks, maps) == pytest.approx(0.575)
    assert metrics.pro_score(masks, maps, fpr_limit=1.0) == pytest.approx((0.5 + 1.0) / 2)


def test_pro_separates_regions_across_images_and_ignores_good_images():
    masks = np.zeros((3, 5, 5), bool)
    masks[0, 1:3, 1:3] = True     # region 1 (4 px)
    masks[1, 4, 4] = True         # region 2 (1 px); image 2 is a good image
    maps = np.zeros((3, 5, 5))
    maps[0, 1:3, 1:3] = [[1.0, 1.0], [-1.0, -1.0]]  # half of region 1 found at FPR 0
    maps[1, 4, 4] = 1.0                               # region 2 found at FPR 0
    # PRO at FPR 0 = (0.5 + 1) / 2 = 0.75 and stays so until FPR 1: area / limit = 0.75
    assert metrics.pro_score(masks, maps) == pytest.approx(0.75)


def test_pixel_metrics_reject_bad_input():
    masks = _two_regions()
    with pytest.raises(ValueError, match="same shape"):
        metrics.pro_score(masks, np.zeros((1, 4, 5)))
    with pytest.raises(ValueError, match="NaN"):
        metrics.pixel_roc_auc(masks, np.full((1, 4, 4), np.nan))
    with pytest.raises(ValueError, match="anomalous region"):
        metrics.pro_score(np.zeros((1, 4, 4), bool), np.zeros((1, 4, 4)))
    with pytest.raises(ValueError, match="fpr_limit"):
        metrics.pro_score(masks, np.zeros((1, 4, 4)), fpr_limit=0)
