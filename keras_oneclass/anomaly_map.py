"""Anomaly maps of the reconstruction detectors (autoencoders, VAE, GANomaly).

The map of an image is its per-pixel squared reconstruction error (``losses.squared_error_map``),
blurred with a Gaussian of ``blur_sigma`` pixels. With ``scoring="map_max"`` the image score is the
maximum of that same map: a small defect (a crack, a hole) barely moves the mean error of a whole
textured image but is the peak of its error map, and the blur keeps one noisy pixel from being that
peak.
"""

from __future__ import annotations

from keras import ops

from keras_oneclass.losses import squared_error_map
from keras_oneclass.postprocessing import gaussian_blur


def blurred(maps, sigma: float):
    """(B, H, W) maps blurred with a Gaussian of ``sigma`` pixels; unchanged when ``sigma`` is 0."""
    return gaussian_blur(maps, sigma) if sigma else ops.cast(maps, "float32")


def peak(maps):
    """(B,) float32 maximum of each (B, H, W) map."""
    return ops.max(maps, axis=(1, 2))


def check_blur_sigma(blur_sigma) -> float:
    """``blur_sigma`` as a float, or a clear error: a number of pixels >= 0 (0 = no blur)."""
    if blur_sigma is None or not float(blur_sigma) >= 0:
        raise ValueError(f"blur_sigma must be a number of pixels >= 0 (0 = no blur), got {blur_sigma!r}.")
    return float(blur_sigma)


class ReconstructionMaps:
    """Mixin for detectors with a ``reconstruct(x)`` method: the localisation contract of
    ``Detector.score_and_map`` and the "map_max" image score.

    Subclasses call ``check_scoring`` in ``__init__`` and implement ``scores_from(x, reconstruction
    details)`` through ``map_batch`` (default: the error map of ``reconstruct``).
    """

    @property
    def localizes(self) -> bool:
        """Maps exist for image inputs (H, W, C) only."""
        return len(self.sample_shape) == 3

    def check_scoring(self, scoring: str, choices: tuple[str, ...], blur_sigma: float) -> None:
        """Validate and store ``scoring`` (one of ``choices``, "map_max" among them) and ``blur_sigma``."""
        if scoring not in choices:
            raise ValueError(f"scoring must be one of {choices}, got {scoring!r}.")
        if scoring == "map_max" and len(self.sample_shape) != 3:
            raise ValueError(f"scoring='map_max' needs image inputs (H, W, C), got input_shape={self.sample_shape}.")
        self.scoring = scoring
        self.blur_sigma = check_blur_sigma(blur_sigma)

    def error_map(self, x, x_hat):
        """(B, H, W) blurred squared-error map of images ``x`` and their reconstructions ``x_hat``."""
        return blurred(squared_error_map(x, x_hat), self.blur_sigma)

    def map_max_score(self, x, x_hat):
        """(B,) float32 peak of the blurred squared-error map ("map_max")."""
        return peak(self.error_map(x, x_hat))
