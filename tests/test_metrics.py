import numpy as np
import pytest
from sklearn import metrics as skm

from keras_oneclass import metrics


@pytest.fixture(params=[0, 1, 2])
def labelled_scores(request):
    rng = np.random.default_rng(request.param)
    y = rng.integers(0, 2, 300)
    scores = rng.normal(size=300) + y
    scores[::7] = np.round(scores[::7], 1)  # ties
    return y, scores


def test_roc_auc_matches_sklearn(labelled_scores):
    y, s = labelled_scores
    assert metrics.roc_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)


def test_pr_auc_matches_sklearn_average_precision(labelled_scores):
    y, s = labelled_scores
    assert metrics.pr_auc(y, s) == pytest.approx(skm.average_precision_score(y, s), abs=1e-12)


def test_f1_precision_recall_at_threshold_match_sklearn(labelled_scores):
    y, s = labelled_scores
    flagged = (s > 0.3).astype(int)
    result = metrics.precision_recall_f1(y, s, 0.3)
    assert result["precision"] == pytest.approx(skm.precision_score(y, flagged))
    assert result["recall"] == pytest.approx(skm.recall_score(y, flagged))
    assert result["f1"] == pytest.approx(skm.f1_score(y, flagged))


def test_best_f1_threshold_reaches_the_best_f1_on_the_curve(labelled_scores):
    y, s = labelled_scores
    precision, recall, _ = skm.precision_recall_curve(y, s)
    best = np.nanmax(2 * precision * recall / np.maximum(precision + recall, 1e-12))
    threshold, f1 = metrics.best_f1_threshold(y, s)
    assert f1 == pytest.approx(best)
    assert skm.f1_score(y, (s > threshold).astype(int)) == pytest.approx(best)


def test_best_f1_threshold_separates_a_perfect_split():
    threshold, f1 = metrics.best_f1_threshold([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    assert f1 == 1.0 and 0.2 < threshold < 0.8


def test_evaluate_reports_every_metric():
    result = metrics.evaluate([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], threshold=0.3)
    assert set(result) == {"roc_auc", "pr_auc", "threshold", "precision", "recall", "f1"}
    assert result["roc_auc"] == pytest.approx(0.75)
    assert result["recall"] == 1.0 and result["precision"] == pytest.approx(2 / 3)


@pytest.mark.parametrize("y, s, message", [
    ([0, 1], [0.1], "same length"),
    ([], [], "empty"),
    ([0, 2], [0.1, 0.2], "0 \\(normal\\) and 1"),
    ([0, 1], [0.1, np.nan], "NaN"),
])
def test_bad_input_raises_clear_errors(y, s, message):
    with pytest.raises(ValueError, match=message):
        metrics.roc_auc(y, s)


def test_one_class_only_raises():
    with pytest.raises(ValueError, match="both normal"):
        metrics.roc_auc([0, 0, 0], [0.1, 0.2, 0.3])
