"""Post-processing of anomaly maps: Gaussian blur and upsampling to the input resolution.

Kept apart from the detectors so it can be tested alone (STYLE.md, anomalib): every localising
detector turns its patch-grid map into an (N, H, W) map with ``upsample_maps`` then ``gaussian_blur``.
"""

from __future__ import annotations

import numpy as np
from keras import ops
from scipy import ndimage


def gaussian_blur(maps, sigma: float) -> np.ndarray:
    """Blur each map with an isotropic Gaussian of standard deviation ``sigma`` pixels.

    The kernel is truncated at 4 sigma and the border is reflected (``scipy.ndimage``), as in the
    PaDiM / PatchCore reference code (sigma = 4).

    Args:
        maps: (N, H, W) anomaly maps.
        sigma: standard deviation in pixels; 0 returns the maps unchanged.
    Returns:
        (N, H, W) float32.

    Example:
        >>> gaussian_blur(np.zeros((2, 8, 8)), sigma=1.0).shape
        (2, 8, 8)
    """
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim != 3:
        raise ValueError(f"maps must be (N, H, W), got shape {maps.shape}.")
    if not (np.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"sigma must be a non-negative number, got {sigma!r}.")
    if sigma == 0:
        return maps.copy()
    return ndimage.gaussian_filter(maps, sigma=(0.0, float(sigma), float(sigma)), mode="reflect",
                                   truncate=4.0).astype(np.float32)


def upsample_maps(maps, size) -> np.ndarray:
    """Bilinear resize of (N, h, w) patch-grid maps to ``size`` = (H, W).

    Returns:
        (N, H, W) float32.
    """
    maps = ops.convert_to_tensor(maps, dtype="float32")
    if len(maps.shape) != 3:
        raise ValueError(f"maps must be (N, h, w), got shape {tuple(maps.shape)}.")
    resized = ops.image.resize(maps[..., None], tuple(int(s) for s in size), interpolation="bilinear")
    return np.asarray(ops.convert_to_numpy(resized[..., 0]), dtype=np.float32)
