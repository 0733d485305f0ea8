"""Image-level detection metrics: ROC AUC, PR AUC, F1 at a threshold, the best-F1 threshold.

Convention everywhere: ``y_true`` holds 1 for an anomaly and 0 for a normal sample; ``scores`` are
anomaly scores, higher = more anomalous; a sample is flagged when ``score > threshold``.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def _as_labels_and_scores(y_true, scores) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true).reshape(-1)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if y.shape != s.shape:
        raise ValueError(f"y_true and scores must have the same length, got {y.shape[0]} and {s.shape[0]}.")
    if y.size == 0:
        raise ValueError("y_true is empty: expected at least one normal and one anomalous sample.")
    if not np.all(np.isin(y, (0, 1))):
        raise ValueError(f"y_true must hold 0 (normal) and 1 (anomaly) only, got values {np.unique(y)[:10]}.")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores contain NaN or inf.")
    return y.astype(np.int64), s


def _require_both_classes(y: np.ndarray, what: str) -> None:
    if y.min() == y.max():
        raise ValueError(f"{what} needs both normal (0) and anomalous (1) samples in y_true; only {y[0]} was given.")


def roc_auc(y_true, scores) -> float:
    """Area under the ROC curve, by the Mann-Whitney rank statistic (ties count one half).

    Args:
        y_true: (N,) 0 = normal, 1 = anomaly.
        scores: (N,) anomaly scores.
    Returns:
        AUC in [0, 1].
    """
    y, s = _as_labels_and_scores(y_true, scores)
    _require_both_classes(y, "roc_auc")
    ranks = rankdata(s)
    n_pos = y.sum()
    n_neg = y.size - n_pos
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _curve_at_distinct_scores(y: np.ndarray, s: np.ndarray):
    """True/false positives when flagging every score >= each distinct score, descending."""
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    last_of_group = np.r_[np.flatnonzero(np.diff(s_sorted)), y.size - 1]
    true_pos = np.cumsum(y_sorted)[last_of_group]
    false_pos = (last_of_group + 1) - true_pos
    return s_sorted[last_of_group], true_pos, false_pos


def pr_auc(y_true, scores) -> float:
    """Area under the precision-recall curve as average precision (sum of dRecall * precision)."""
    y, s = _as_labels_and_scores(y_true, scores)
    _require_both_classes(y, "pr_auc")
    _, true_pos, false_pos = _curve_at_distinct_scores(y, s)
    precision = true_pos / (true_pos + false_pos)
    recall = true_pos / y.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def precision_recall_f1(y_true, scores, threshold: float) -> dict[str, float]:
    """Precision, recall and F1 when flagging ``scores > threshold`` as anomalies."""
    y, s = _as_labels_and_scores(y_true, scores)
    if not np.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number, got {threshold}.")
    flagged = s > threshold
    true_pos = float(np.sum(flagged & (y == 1)))
    precision = true_pos / max(flagged.sum(), 1)
    recall = true_pos / max(y.sum(), 1)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def f1_score(y_true, scores, threshold: float) -> float:
    """F1 of flagging ``scores > threshold`` as anomalies."""
    return precision_recall_f1(y_true, scores, threshold)["f1"]


def best_f1_threshold(y_true, scores) -> tuple[float, float]:
    """The threshold that maximises F1 on labelled data, and that F1.

    The threshold lies halfway between the lowest flagged score and the next lower score, so
    ``scores > threshold`` reproduces the optimal split and new data near the boundary is treated
    symmetrically.

    Returns:
        (threshold, f1)
    """
    y, s = _as_labels_and_scores(y_true, scores)
    if y.sum() == 0:
        raise ValueError("best_f1_threshold needs at least one anomaly (label 1) in y_true.")
    distinct, true_pos, false_pos = _curve_at_distinct_scores(y, s)
    f1 = 2 * true_pos / (true_pos + false_pos + y.sum())
    best = int(np.argmax(f1))
    lower = distinct[best + 1] if best + 1 < distinct.size else distinct[best] - max(abs(distinct[best]), 1.0) * 1e-6
    return float((distinct[best] + lower) / 2), float(f1[best])


def evaluate(y_true, scores, threshold: float | None = None) -> dict[str, float]:
    """ROC AUC, PR AUC and, at ``threshold`` (best-F1 threshold when None), precision/recall/F1.

    Returns:
        dict with keys roc_auc, pr_auc, threshold, precision, recall, f1.
    """
    if threshold is None:
        threshold, _ = best_f1_threshold(y_true, scores)
    result = {"roc_auc": roc_auc(y_true, scores), "pr_auc": pr_auc(y_true, scores), "threshold": float(threshold)}
    result.update(precision_recall_f1(y_true, scores, threshold))
    return result


# ----------------------------------------------------------------------------- pixel-level metrics
def _as_masks_and_maps(masks, maps) -> tuple[np.ndarray, np.ndarray]:
    m = np.asarray(masks)
    a = np.asarray(maps, dtype=np.float64)
    if m.ndim != 3 or m.shape != a.shape:
        raise ValueError(f"masks and maps must both be (N, H, W) with the same shape, got {m.shape} and {a.shape}.")
    if m.size == 0:
        raise ValueError("masks is empty: expected at least one (H, W) mask.")
    if not np.all(np.isin(m, (0, 1))):
        raise ValueError("masks must be boolean (or 0/1): True on anomalous pixels.")
    if not np.all(np.isfinite(a)):
        raise ValueError("maps contain NaN or inf.")
    return m.astype(bool), a


def pixel_roc_auc(masks, maps) -> float:
    """ROC AUC over all pixels of all images (anomalous pixels = positives).

    Args:
        masks: (N, H, W) bool ground truth, True on anomalous pixels.
        maps: (N, H, W) anomaly maps, higher = more anomalous.
    Returns:
        AUC in [0, 1].
    """
    m, a = _as_masks_and_maps(masks, maps)
    return roc_auc(m.reshape(-1).astype(np.int64), a.reshape(-1))


def pro_score(masks, maps, fpr_limit: float = 0.3) -> float:
    """Normalised area under the per-region-overlap (PRO) curve up to ``fpr_limit`` (MVTec AD).

    Every connected region of every ground-truth mask (8-connectivity, ``scipy.ndimage.label``)
    counts once, whatever its size: PRO(t) is the mean over regions of the fraction of the region's
    pixels whose score exceeds t. The false-positive rate FPR(t) is the fraction of normal pixels
    (mask False, in all images) above t. The curve is computed exactly at every distinct score,
    integrated (trapezoids) from FPR 0 to ``fpr_limit`` and divided by ``fpr_limit``, so a perfect
    map scores 1.

    Args:
        masks: (N, H, W) bool; at least one anomalous and one normal pixel.
        maps: (N, H, W) anomaly maps.
        fpr_limit: upper end of the FPR integration range, in (0, 1] (0.3 as in Bergmann et al.).
    Returns:
        PRO in [0, 1].
    """
    from scipy import ndimage  # noqa: PLC0415 (only the pixel metrics need it)

    m, a = _as_masks_and_maps(masks, maps)
    if not 0.0 < fpr_limit <= 1.0:
        raise ValueError(f"fpr_limit must be in (0, 1], got {fpr_limit}.")
    weights = np.zeros(m.shape, dtype=np.float64)  # 1 / size of the pixel's region, 0 off regions
    n_regions = 0
    for i in range(len(m)):
        labels, count = ndimage.label(m[i], structure=np.ones((3, 3), dtype=int))
        if count:
            sizes = np.bincount(labels.ravel())
            weights[i] = np.where(labels > 0, 1.0 / sizes[labels], 0.0)
            n_regions += count
    negatives = ~m
    if n_regions == 0 or not negatives.any():
        raise ValueError("pro_score needs at least one anomalous region and one normal pixel in masks.")
    order = np.argsort(-a.ravel(), kind="mergesort")
    scores = a.ravel()[order]
    pro = np.cumsum(weights.ravel()[order]) / n_regions
    fpr = np.cumsum(negatives.ravel()[order]) / negatives.sum()
    last = np.r_[np.flatnonzero(np.diff(scores)), scores.size - 1]  # one point per distinct score
    fpr, pro = np.r_[0.0, fpr[last]], np.r_[0.0, pro[last]]
    inside = fpr <= fpr_limit
    x, y = fpr[inside], pro[inside]
    if x[-1] < fpr_limit:  # interpolate the curve at fpr_limit
        nxt = int(np.argmax(fpr > fpr_limit))
        y_end = pro[nxt - 1] + (pro[nxt] - pro[nxt - 1]) * (fpr_limit - fpr[nxt - 1]) / (fpr[nxt] - fpr[nxt - 1])
        x, y = np.r_[x, fpr_limit], np.r_[y, y_end]
    return float(np.trapezoid(y, x) / fpr_limit)
