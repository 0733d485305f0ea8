"""Post-processing of anomaly maps, shared by every localising detector (AE, VAE, GANomaly, PaDiM, PatchCore):
Gaussian blur and upsampling of patch-grid maps to the input resolution.

The Gaussian blur is the smoothing step of PaDiM (Defard et al. 2021, sec. 3: sigma = 4) and of
PatchCore (Roth et al. 2022, sec. 3.3: sigma = 4) applied to score maps before they are read.
"""

from __future__ import annotations

import math

import numpy as np
from keras import ops


def gaussian_kernel1d(sigma: float, truncate: float = 4.0) -> np.ndarray:
    """Normalised 1-D Gaussian of standard deviation ``sigma`` and radius ``ceil(truncate * sigma)``.

    Returns:
        (2 * radius + 1,) float32 weights summing to 1.
    """
    if not (np.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a positive number of pixels, got {sigma!r}.")
    radius = max(1, int(math.ceil(truncate * sigma)))
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    return (kernel / kernel.sum()).astype(np.float32)


def gaussian_blur(maps, sigma: float = 4.0, truncate: float = 4.0):
    """Gaussian smoothing of a batch of 2-D maps, separable, with reflected borders.

    Matches ``scipy.ndimage.gaussian_filter(map, sigma, mode="mirror", truncate=truncate)`` applied
    to each map, as long as the kernel radius ``ceil(truncate * sigma)`` is smaller than the map's
    sides (otherwise the radius is cut to ``side - 1`` and the kernel renormalised).

    Args:
        maps: (N, H, W) array or tensor of per-pixel scores.
        sigma: standard deviation in pixels; 4 as PaDiM and PatchCore.
        truncate: kernel radius in standard deviations.

    Returns:
        (N, H, W) float32 tensor of the backend (``keras.ops.convert_to_numpy`` for numpy).

    Example:
        >>> import numpy as np
        >>> impulse = np.zeros((1, 33, 33), "float32"); impulse[0, 16, 16] = 1.0
        >>> blurred = gaussian_blur(impulse, sigma=2.0)
        >>> round(float(ops.sum(blurred)), 4)
        1.0
    """
    maps = ops.cast(ops.convert_to_tensor(maps), "float32")
    if len(maps.shape) != 3:
        raise ValueError(f"maps must have shape (N, H, W), got {tuple(maps.shape)}.")
    height, width = int(maps.shape[1]), int(maps.shape[2])
    full = gaussian_kernel1d(sigma, truncate)
    h = maps[..., None]
    for axis, side in ((1, height), (2, width)):
        radius = min(len(full) // 2, side - 1)
        if radius == 0:
            continue
        center = len(full) // 2
        kernel = full[center - radius: center + radius + 1]
        kernel = kernel / kernel.sum()
        pad = [[0, 0], [0, 0], [0, 0], [0, 0]]
        pad[axis] = [radius, radius]
        h = ops.pad(h, pad, mode="reflect")
        shape = (len(kernel), 1, 1, 1) if axis == 1 else (1, len(kernel), 1, 1)
        h = ops.conv(h, ops.convert_to_tensor(kernel.reshape(shape)), padding="valid")
    return h[..., 0]


def upsample_maps(maps, size) -> np.ndarray:
    """Bilinear resize of (N, h, w) patch-grid maps to ``size`` = (H, W).

    Returns:
        (N, H, W) float32 numpy array.
    """
    maps = ops.convert_to_tensor(maps, dtype="float32")
    if len(maps.shape) != 3:
        raise ValueError(f"maps must be (N, h, w), got shape {tuple(maps.shape)}.")
    resized = ops.image.resize(maps[..., None], tuple(int(s) for s in size), interpolation="bilinear")
    return np.asarray(ops.convert_to_numpy(resized[..., 0]), dtype=np.float32)
