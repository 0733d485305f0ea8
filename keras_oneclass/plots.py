"""Figures for anomaly detection results: ROC curves, score histograms, anomaly-map overlays.

Every function builds a ``matplotlib.figure.Figure`` without pyplot (no screen, no global state,
safe in scripts and threads), returns it, and saves it when ``path`` is given (PNG, PDF, SVG...:
the suffix decides). Scores follow the package convention: higher = more anomalous, labels 1 =
anomaly.

Example:
    >>> from keras_oneclass import plots
    >>> figure = plots.roc_curves({"PatchCore": (y_test, scores)}, path="roc.png")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from keras_oneclass import metrics


def _save(figure: Figure, path: str | os.PathLike | None, dpi: int = 120) -> Figure:
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=dpi, bbox_inches="tight")
    return figure


def roc_points(y_true, scores) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates when flagging ``scores >= s`` for every distinct score ``s``.

    Args:
        y_true: (N,) 1 = anomaly, 0 = normal (both present).
        scores: (N,) anomaly scores.

    Returns:
        (fpr, tpr), each (K + 1,) and starting at (0, 0), ending at (1, 1).
    """
    y = np.asarray(y_true).reshape(-1).astype(np.int64)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    metrics.roc_auc(y, s)  # the same checks (lengths, labels, both classes, finite scores)
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    last_of_group = np.r_[np.flatnonzero(np.diff(s_sorted)), y.size - 1]
    true_pos = np.cumsum(y_sorted)[last_of_group]
    false_pos = last_of_group + 1 - true_pos
    return (np.r_[0.0, false_pos / (y.size - y.sum())], np.r_[0.0, true_pos / y.sum()])


def roc_curves(results: Mapping[str, tuple], path: str | os.PathLike | None = None,
               title: str = "ROC curves", figsize=(5.5, 5.0)) -> Figure:
    """One ROC curve per model on shared axes, the AUC in each legend entry, and the chance line.

    Args:
        results: ``{name: (y_true, scores)}``, each (N,) arrays; N may differ between models.
        path: where to save the figure, or None.
        title: axes title.
        figsize: inches.

    Returns:
        the Figure (one Axes: a line per model, then the dashed chance diagonal).

    Example:
        >>> roc_curves({"AE": (y, ae_scores), "VAE": (y, vae_scores)}, path="out/roc.png")  # doctest: +SKIP
    """
    if not results:
        raise ValueError("`results` is empty: expected {model name: (y_true, scores)}.")
    figure = Figure(figsize=figsize)
    axes = figure.subplots()
    for name, pair in results.items():
        if len(pair) != 2:
            raise ValueError(f"results[{name!r}] must be (y_true, scores), got {len(pair)} items.")
        fpr, tpr = roc_points(*pair)
        axes.plot(fpr, tpr, lw=1.8, label=f"{name} (AUC {metrics.roc_auc(*pair):.3f})")
    axes.plot([0, 1], [0, 1], ls="--", lw=1, color="0.6", label="chance")
    axes.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="false positive rate", ylabel="true positive rate", title=title)
    axes.set_aspect("equal")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize="small")
    return _save(figure, path)


def score_histogram(scores, labels=None, threshold: float | None = None,
                    path: str | os.PathLike | None = None, bins: int = 40, title: str = "Anomaly scores",
                    figsize=(6.0, 4.0)) -> Figure:
    """Histogram of anomaly scores, split into normal and anomalous when ``labels`` are given.

    Args:
        scores: (N,) anomaly scores.
        labels: optional (N,) 1 = anomaly, 0 = normal.
        threshold: draws a vertical line at this score (the detector's decision threshold).
        path: where to save the figure, or None.
        bins: number of bins shared by both classes.

    Returns:
        the Figure (one Axes; the threshold line, if any, is the Axes' only Line2D).
    """
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if scores.size == 0 or not np.all(np.isfinite(scores)):
        raise ValueError(f"`scores` must be a non-empty array of finite numbers, got shape {scores.shape}.")
    figure = Figure(figsize=figsize)
    axes = figure.subplots()
    edges = np.histogram_bin_edges(scores, bins=bins)
    if labels is None:
        axes.hist(scores, bins=edges, color="tab:blue", alpha=0.8, label="all")
    else:
        labels = np.asarray(labels).reshape(-1)
        if labels.shape != scores.shape:
            raise ValueError(f"`labels` has shape {labels.shape}, expected {scores.shape} like `scores`.")
        axes.hist(scores[labels == 0], bins=edges, color="tab:blue", alpha=0.6, label=f"normal ({np.sum(labels == 0)})")
        axes.hist(scores[labels == 1], bins=edges, color="tab:red", alpha=0.6, label=f"anomalous ({np.sum(labels == 1)})")
    if threshold is not None:
        if not np.isfinite(threshold):
            raise ValueError(f"`threshold` must be a finite number, got {threshold!r}.")
        axes.axvline(float(threshold), color="black", ls="--", lw=1.5, label=f"threshold {threshold:.4g}")
    axes.set(xlabel="anomaly score", ylabel="images", title=title)
    axes.legend(fontsize="small")
    return _save(figure, path)


def _as_images(images) -> np.ndarray:
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] != 3):
        raise ValueError(f"`images` must be (N, H, W), (N, H, W, 1) or (N, H, W, 3), got {images.shape}.")
    return np.clip(images, 0.0, 1.0)


def anomaly_overlays(images, maps, masks=None, titles: Sequence[str] | None = None,
                     path: str | os.PathLike | None = None, alpha: float = 0.5, cmap: str = "jet",
                     show_images: bool = True, panel_size: float = 1.6) -> Figure:
    """A grid of anomaly maps laid over their images: one column per image, one row per map set.

    Maps of one row share a colour scale (min to max over that row), so a good and a defective image
    compare fairly within a model. Masks, when given, are outlined in white on every panel.

    Args:
        images: (N, H, W), (N, H, W, 1) or (N, H, W, 3) in [0, 1].
        maps: (N, h, w) anomaly maps (any resolution: stretched over the image), or a dict
            ``{row name: (N, h, w)}`` for several models (one row each).
        masks: optional (N, H, W) bool ground truth.
        titles: optional N column titles (e.g. the defect type).
        path: where to save the figure, or None.
        alpha: opacity of the maps.
        cmap: matplotlib colormap of the maps.
        show_images: add a first row with the plain images.
        panel_size: inches per panel.

    Returns:
        the Figure, with (rows x N) Axes in row-major order.

    Example:
        >>> anomaly_overlays(test.images[:6], {"PaDiM": padim_maps, "VAE": vae_maps},
        ...                  masks=test.masks[:6], titles=test.types[:6], path="out/overlays.png")  # doctest: +SKIP
    """
    images = _as_images(images)
    n = images.shape[0]
    rows = dict(maps) if isinstance(maps, Mapping) else {"anomaly map": maps}
    for name, row in rows.items():
        row = np.asarray(row, dtype=np.float32)
        if row.ndim != 3 or row.shape[0] != n:
            raise ValueError(f"maps[{name!r}] has shape {row.shape}, expected ({n}, h, w) like `images`.")
        rows[name] = row
    if masks is not None:
        masks = np.asarray(masks, dtype=bool)
        if masks.shape != images.shape[:3]:
            raise ValueError(f"`masks` has shape {masks.shape}, expected {images.shape[:3]}.")
    if titles is not None and len(titles) != n:
        raise ValueError(f"`titles` has {len(titles)} entries, expected {n}.")
    n_rows = len(rows) + int(show_images)
    figure = Figure(figsize=(panel_size * n, panel_size * n_rows + 0.3))
    grid = np.asarray(figure.subplots(n_rows, n, squeeze=False))
    height, width = images.shape[1:3]
    extent = (-0.5, width - 0.5, height - 0.5, -0.5)
    row_items = ([("image", None)] if show_images else []) + list(rows.items())
    for r, (name, row) in enumerate(row_items):
        if row is not None:
            finite = row[np.isfinite(row)]
            low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
            high = high if high > low else low + 1e-6
        for c in range(n):
            axes = grid[r, c]
            axes.imshow(images[c], cmap="gray" if images.ndim == 3 else None, vmin=0, vmax=1, extent=extent)
            if row is not None:
                axes.imshow(row[c], cmap=cmap, alpha=alpha, vmin=low, vmax=high, extent=extent,
                            interpolation="bilinear")
            if masks is not None and masks[c].any():
                axes.contour(masks[c].astype(float), levels=[0.5], colors="white", linewidths=0.8)
            axes.set_xticks([])
            axes.set_yticks([])
            if r == 0 and titles is not None:
                axes.set_title(str(titles[c]), fontsize="small")
            if c == 0:
                axes.set_ylabel(name, fontsize="small")
    figure.tight_layout(pad=0.3)
    return _save(figure, path)
