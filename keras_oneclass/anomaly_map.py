"""Per-pixel anomaly maps of reconstruction-based detectors (AE, VAE, GANomaly)."""

from __future__ import annotations

import numpy as np
from keras import ops

from keras_oneclass.postprocessing import gaussian_blur


def squared_error_map(x, x_hat):
    """Per-pixel squared reconstruction error, averaged over channels.

    Args:
        x, x_hat: (B, H, W, C) images and their reconstructions.
    Returns:
        (B, H, W) float32 map; its mean over pixels is the per-sample MSE score.
    """
    diff = ops.cast(x_hat, "float32") - ops.cast(x, "float32")
    return ops.mean(ops.square(diff), axis=-1)


def blurred_peak(error_map, sigma: float | None = 4.0):
    """(B,) float32 maximum of each (B, H, W) map after a Gaussian blur of ``sigma`` pixels (None/0: none)."""
    if sigma:
        error_map = gaussian_blur(error_map, sigma)
    return ops.max(error_map, axis=(1, 2))


def map_max_score(x, x_hat, sigma: float | None = 4.0):
    """(B,) float32 localised image score: the maximum of the Gaussian-blurred squared-error map.

    A small defect (a crack, a hole) barely moves the mean error of a whole textured image but is
    the peak of its error map; the blur (``sigma`` pixels, as PaDiM/PatchCore) keeps one noisy
    pixel from being that peak. None or 0 = no blur.
    """
    return blurred_peak(squared_error_map(x, x_hat), sigma)


class ReconstructionMaps:
    """Mixin for detectors with a ``reconstruct(x)`` method: ``anomaly_map`` and ``score_and_map``.

    The map and the image score come from the same reconstruction; a Gaussian blur (``sigma``
    pixels, see ``postprocessing.gaussian_blur``) is applied to the map only. Detectors built with
    ``score="map_max"`` score images by ``map_max_score`` (blur ``map_sigma``) instead.
    """

    map_sigma = 4.0

    def check_map_score(self, score: str, choices: tuple[str, ...], map_sigma: float) -> None:
        """Validate and store ``score`` (one of ``choices``, "map_max" among them) and ``map_sigma``."""
        if score not in choices:
            raise ValueError(f"score must be one of {choices}, got {score!r}.")
        if score == "map_max" and len(self.sample_shape) != 3:
            raise ValueError(f"score='map_max' needs image inputs (H, W, C), got input_shape={self.sample_shape}.")
        if not (map_sigma is None or map_sigma >= 0):
            raise ValueError(f"map_sigma must be >= 0 pixels or None, got {map_sigma!r}.")
        self.score_type = score
        self.map_sigma = None if map_sigma is None else float(map_sigma)

    def score_hyperparameters(self) -> dict:
        """The ``score`` and ``map_sigma`` entries of ``get_config``."""
        return {"score": self.score_type, "map_sigma": self.map_sigma}

    def score_and_map(self, x, sigma: float | None = None, batch_size: int = 256):
        """(scores (N,), maps (N, H, W)) as float32 numpy arrays, from one pass over ``x``.

        The score is the detector's ``score`` (computed from the same batch); maps are
        ``squared_error_map`` of ``x`` and ``reconstruct(x)``, optionally blurred.
        """
        from keras_oneclass.detector import iterate_batches, validate_input

        self._require_fitted("anomaly_map")
        validate_input(x, self.sample_shape, "x")
        if len(self.sample_shape) != 3:
            raise ValueError(f"anomaly_map needs image inputs (H, W, C); this detector's input_shape is "
                             f"{self.sample_shape}.")
        scores, maps = [], []
        for batch in iterate_batches(x, batch_size):
            score, error_map = self._score_and_map_batch(batch)
            if sigma:
                error_map = gaussian_blur(error_map, sigma)
            scores.append(ops.convert_to_numpy(score))
            maps.append(ops.convert_to_numpy(error_map))
        return np.concatenate(scores).astype(np.float32), np.concatenate(maps).astype(np.float32)

    def anomaly_map(self, x, sigma: float | None = None, batch_size: int = 256) -> np.ndarray:
        """(N, H, W) float32 per-pixel squared reconstruction error at input resolution.

        Args:
            x: (N, H, W, C) images (array or dataset of batches).
            sigma: Gaussian blur in pixels (None = no smoothing; 4 as PaDiM/PatchCore).
            batch_size: batch size for arrays.
        """
        return self.score_and_map(x, sigma=sigma, batch_size=batch_size)[1]

    def _score_and_map_batch(self, x):
        return self.score(x), squared_error_map(x, self.reconstruct(x))
