"""Per-sample and per-dataset normalisation used by the one-class loaders.

Global contrast normalisation followed by min-max scaling fitted on the normal class is the
preprocessing of Ruff et al., "Deep One-Class Classification", ICML 2018 (section 4.1).
"""

from __future__ import annotations

import numpy as np

_EPS = 1e-12


def _as_float_array(x, name: str, min_ndim: int = 1) -> np.ndarray:
    """Converts `x` to float32 and checks it is non-empty, finite and of rank >= `min_ndim`."""
    try:
        array = np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise TypeError(f"`{name}` must be a numeric array; got {type(x).__name__} ({error}).")
    if array.ndim < min_ndim:
        raise ValueError(
            f"`{name}` must have at least {min_ndim} dimension(s) (samples first); "
            f"got shape {array.shape}."
        )
    if array.size == 0:
        raise ValueError(f"`{name}` is empty (shape {array.shape}); expected at least one sample.")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"`{name}` contains NaN or inf values; expected finite numbers.")
    return array


def global_contrast_normalization(x, scale: str = "l1") -> np.ndarray:
    """Global contrast normalisation of every sample (Ruff et al. 2018, sec. 4.1).

    Each sample has its mean over all of its features subtracted and is then divided by its
    contrast: the mean absolute deviation (`"l1"`), or the l2 norm divided by `n_features`
    (`"l2"`). The l2 contrast is the definition of the reference code of Deep SVDD
    (Deep-SVDD-PyTorch) and of DASVDD (Armanfard-Lab/DASVDD, `global_contrast_normalization`):
    every sample ends with a root-mean-square of `sqrt(n_features)` (55.4 for a CIFAR-10 image),
    not 1. The scale matters to networks with biases and to a centre drawn from N(0, 1), so it is
    kept as published (docs/design.md, 2026-12-01, has the measured effect on DASVDD). Constant
    samples (contrast 0) become all zeros instead of dividing by zero.

    Args:
        x: array of shape (N, ...), one sample per row; any numeric dtype.
        scale: `"l1"` or `"l2"`.

    Returns:
        float32 array of the shape of `x`; per sample mean 0 and mean |x| 1 (l1), or RMS
        `sqrt(n_features)` (l2).

    Example:
        >>> x = np.random.default_rng(0).uniform(size=(4, 28, 28, 1))
        >>> z = global_contrast_normalization(x)
        >>> bool(np.allclose(np.abs(z).reshape(4, -1).mean(axis=1), 1.0, atol=1e-4))
        True
    """
    if scale not in ("l1", "l2"):
        raise ValueError(f"`scale` must be 'l1' or 'l2'; got {scale!r}.")
    array = _as_float_array(x, "x", min_ndim=2)
    flat = array.reshape(len(array), -1)
    # float32 arithmetic with float64 accumulators: exact enough, half the memory traffic.
    centred = flat - flat.mean(axis=1, keepdims=True, dtype=np.float64).astype(np.float32)
    if scale == "l1":
        contrast = np.abs(centred).mean(axis=1, keepdims=True, dtype=np.float64)
    else:
        contrast = np.sqrt(np.einsum("ij,ij->i", centred, centred, dtype=np.float64)[:, None]) / flat.shape[1]
    contrast = np.where(contrast > _EPS, contrast, 1.0).astype(np.float32)
    centred /= contrast
    return centred.reshape(array.shape)


def fit_min_max(x) -> tuple[float, float]:
    """Global minimum and maximum of `x` (over all samples and features).

    As Ruff et al. (2018), fit this on the GCN'd training data of the normal class and apply
    the result to train and test with `min_max_scale`.

    Args:
        x: array of shape (N, ...).

    Returns:
        `(minimum, maximum)` as Python floats.
    """
    array = _as_float_array(x, "x")
    return float(array.min()), float(array.max())


def min_max_scale(x, minimum: float, maximum: float) -> np.ndarray:
    """Maps `[minimum, maximum]` linearly onto `[0, 1]`.

    Values outside the fitted range (e.g. anomalous test samples) land outside [0, 1]; nothing
    is clipped. If `maximum == minimum` the data is only shifted.

    Args:
        x: array of any shape.
        minimum: value mapped to 0, usually from `fit_min_max`.
        maximum: value mapped to 1; must be >= `minimum`.

    Returns:
        float32 array of the shape of `x`.
    """
    array = _as_float_array(x, "x")
    minimum, maximum = float(minimum), float(maximum)
    if not (np.isfinite(minimum) and np.isfinite(maximum)) or maximum < minimum:
        raise ValueError(
            f"`minimum` and `maximum` must be finite with maximum >= minimum; "
            f"got minimum={minimum}, maximum={maximum}."
        )
    span = maximum - minimum if maximum - minimum > _EPS else 1.0
    return ((array - minimum) / span).astype(np.float32)


def fit_standardize(x) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and standard deviation of `x` (features with std 0 get std 1).

    Args:
        x: array of shape (N, ...), one sample per row.

    Returns:
        `(mean, std)`, float32 arrays of shape `x.shape[1:]`.
    """
    array = _as_float_array(x, "x", min_ndim=2)
    mean = array.mean(axis=0, dtype=np.float64)
    std = array.std(axis=0, dtype=np.float64)
    std = np.where(std > _EPS, std, 1.0)
    return mean.astype(np.float32), std.astype(np.float32)


def standardize(x, mean, std) -> np.ndarray:
    """Per-feature z-score `(x - mean) / std` (std 0 is treated as 1).

    Args:
        x: array of shape (N, ...).
        mean: array broadcastable to `x.shape[1:]`, usually from `fit_standardize`.
        std: array broadcastable to `x.shape[1:]`, non-negative.

    Returns:
        float32 array of the shape of `x`.

    Example:
        >>> x_train = np.random.default_rng(0).normal(3.0, 2.0, size=(100, 5))
        >>> mean, std = fit_standardize(x_train)
        >>> bool(np.allclose(standardize(x_train, mean, std).mean(axis=0), 0.0, atol=1e-5))
        True
    """
    array = _as_float_array(x, "x", min_ndim=2)
    mean = np.asarray(mean, dtype=np.float32)
    std = np.asarray(std, dtype=np.float32)
    if np.any(std < 0):
        raise ValueError("`std` must be non-negative; got negative entries.")
    try:
        np.broadcast_shapes(mean.shape, array.shape[1:])
        np.broadcast_shapes(std.shape, array.shape[1:])
    except ValueError:
        raise ValueError(
            f"`mean` {mean.shape} and `std` {std.shape} must broadcast to the feature shape "
            f"{array.shape[1:]} of `x`."
        )
    std = np.where(std > _EPS, std, 1.0).astype(np.float32)
    return ((array - mean) / std).astype(np.float32)
