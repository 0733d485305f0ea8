"""plots: the returned figures hold what they claim, and files are written when asked."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from keras_oneclass import metrics, plots

Y = np.array([0, 0, 0, 0, 1, 1, 1])
SCORES = np.array([0.1, 0.3, 0.2, 0.6, 0.5, 0.9, 0.8])


def test_roc_points_match_the_auc():
    fpr, tpr = plots.roc_points(Y, SCORES)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    area = np.sum(np.diff(fpr) * tpr[1:])  # step integral; no ties here
    assert area == pytest.approx(metrics.roc_auc(Y, SCORES))
    with pytest.raises(ValueError):
        plots.roc_points([0, 0], [0.1, 0.2])


def test_roc_curves_one_line_per_model_and_file(tmp_path):
    path = tmp_path / "sub" / "roc.png"
    figure = plots.roc_curves({"good": (Y, SCORES), "perfect": (Y, Y * 2.0 + 0.1)}, path=path)
    assert isinstance(figure, Figure) and len(figure.axes) == 1
    lines = figure.axes[0].get_lines()
    assert len(lines) == 3  # two models and the chance line
    labels = [line.get_label() for line in lines]
    assert labels[0] == f"good (AUC {metrics.roc_auc(Y, SCORES):.3f})" and labels[1] == "perfect (AUC 1.000)"
    perfect_x, perfect_y = lines[1].get_data()
    assert np.any((perfect_x == 0) & (perfect_y == 1))  # the perfect model reaches the top-left corner
    assert path.is_file() and path.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="empty"):
        plots.roc_curves({})


def test_score_histogram_threshold_line_and_classes(tmp_path):
    figure = plots.score_histogram(SCORES, labels=Y, threshold=0.55, path=tmp_path / "hist.png")
    axes = figure.axes
    assert len(axes) == 1
    lines = axes[0].get_lines()
    assert len(lines) == 1 and list(lines[0].get_xdata()) == [0.55, 0.55]
    heights = [sum(p.get_height() for p in container) for container in axes[0].containers]
    assert heights == [4, 3]  # normal then anomalous counts
    assert (tmp_path / "hist.png").is_file()
    assert not plots.score_histogram(SCORES).axes[0].get_lines()  # no threshold, no line
    with pytest.raises(ValueError, match="labels"):
        plots.score_histogram(SCORES, labels=Y[:3])


def test_anomaly_overlays_grid(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(3, 16, 16, 3)).astype("float32")
    masks = np.zeros((3, 16, 16), bool)
    masks[2, 4:8, 4:8] = True
    maps = {"A": rng.uniform(size=(3, 16, 16)), "B": rng.uniform(size=(3, 8, 8))}  # B at half resolution
    figure = plots.anomaly_overlays(images, maps, masks=masks, titles=["good", "good", "hole"],
                                    path=tmp_path / "overlays.png")
    assert len(figure.axes) == 3 * 3  # image row + 2 model rows, 3 columns
    first, overlay = figure.axes[0], figure.axes[3]
    assert len(first.images) == 1 and len(overlay.images) == 2  # the image, then the map on top
    assert first.get_title() == "good" and figure.axes[3].get_ylabel() == "A"
    assert overlay.images[1].get_extent() == figure.axes[6].images[1].get_extent()  # B stretched to the image
    assert len(figure.axes[2].collections) > 0 and len(figure.axes[0].collections) == 0  # mask outline only on the defect
    assert (tmp_path / "overlays.png").is_file()

    single = plots.anomaly_overlays(images[..., :1], maps["A"], show_images=False)
    assert len(single.axes) == 3
    with pytest.raises(ValueError, match="maps"):
        plots.anomaly_overlays(images, rng.uniform(size=(2, 16, 16)))
    with pytest.raises(ValueError, match="masks"):
        plots.anomaly_overlays(images, maps["A"], masks=masks[:, :8])
