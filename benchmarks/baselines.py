"""The shallow one-class baselines of the DASVDD paper's Table 2: OC-SVM, Gaussian KDE, Isolation Forest."""

from __future__ import annotations

import time

import numpy as np
from scipy.special import logsumexp
from sklearn.ensemble import IsolationForest
from sklearn.svm import OneClassSVM

from keras_oneclass import metrics


def squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) squared Euclidean distances, float64, by one matrix product."""
    return np.maximum((a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T, 0.0)


def gaussian_kde_scores(x_train, x_test, bandwidths, max_fit: int = 3000, seed: int = 0):
    """Negative log-density under a Gaussian KDE, bandwidth chosen by leave-one-out likelihood.

    scikit-learn's tree-based KernelDensity is minutes per task at 784-3072 dimensions; the same estimator
    written as dense matrix products takes seconds.
    """
    rng = np.random.default_rng(seed)
    fit = x_train[rng.permutation(len(x_train))[:max_fit]].astype(np.float64)
    dims = fit.shape[1]
    d_fit = squared_distances(fit, fit)
    np.fill_diagonal(d_fit, np.inf)  # leave one out

    def log_density(d, h):
        return logsumexp(-d / (2 * h * h), axis=1) - dims * np.log(h)

    best = max(bandwidths, key=lambda h: log_density(d_fit, h).mean())
    d_test = squared_distances(x_test.astype(np.float64), x_train.astype(np.float64))
    return -log_density(d_test, best), float(best)


def shallow_baselines(x_train, x_test, y_test, seed: int = 0) -> dict[str, float]:
    """ROC AUC (%) of OC-SVM (RBF, nu = 0.1), Gaussian KDE and Isolation Forest, with seconds each."""
    flat_train = x_train.reshape(len(x_train), -1)
    flat_test = x_test.reshape(len(x_test), -1)
    result = {}
    start = time.perf_counter()
    ocsvm = OneClassSVM(kernel="rbf", nu=0.1, gamma="scale").fit(flat_train)
    result["ocsvm"] = 100 * metrics.roc_auc(y_test, -ocsvm.decision_function(flat_test))
    result["ocsvm_seconds"] = time.perf_counter() - start
    start = time.perf_counter()
    spread = float(np.sqrt(flat_train.var(axis=0).sum()))  # bandwidth grid around the data's spread
    scores, result["kde_bandwidth"] = gaussian_kde_scores(flat_train, flat_test, spread * np.logspace(-2, 0, 12))
    result["kde"] = 100 * metrics.roc_auc(y_test, scores)
    result["kde_seconds"] = time.perf_counter() - start
    start = time.perf_counter()
    forest = IsolationForest(n_estimators=100, random_state=seed).fit(flat_train)
    result["isolation_forest"] = 100 * metrics.roc_auc(y_test, -forest.score_samples(flat_test))
    result["isolation_forest_seconds"] = time.perf_counter() - start
    return result
