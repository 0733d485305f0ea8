"""Losses and distances shared by the detectors' training objectives and scores (``keras.ops``, float32 out).

Every function takes batches with the batch axis first and returns one value per sample, (B,), or
per pixel, (B, H, W); detectors average them over the batch for a loss.
"""

from __future__ import annotations

import numpy as np
from keras import ops


def _flat(values):
    """(B, ...) -> (B, n) float32."""
    values = ops.cast(values, "float32")
    return ops.reshape(values, (ops.shape(values)[0], -1))


def squared_error_per_sample(x, x_hat):
    """(B,) mean over all non-batch axes of (x_hat - x)^2: the reconstruction score of the autoencoders."""
    return ops.mean(ops.square(_flat(x_hat) - _flat(x)), axis=-1)


def sum_squared_error(x, x_hat):
    """(B,) sum over all non-batch axes of (x_hat - x)^2: Deep SVDD's pretraining loss (Ruff et al.'s code)."""
    return ops.sum(ops.square(_flat(x_hat) - _flat(x)), axis=-1)


def squared_error_map(x, x_hat):
    """(B, H, W) per-pixel squared error of (B, H, W, C) images, averaged over channels.

    Its mean over pixels is ``squared_error_per_sample``.
    """
    return ops.mean(ops.square(ops.cast(x_hat, "float32") - ops.cast(x, "float32")), axis=-1)


def squared_distance(z, center):
    """(B,) ||z - center||^2 of (B, D) embeddings to a (D,) centre, summed over units (Deep SVDD, DASVDD)."""
    return ops.sum(ops.square(ops.cast(z, "float32") - ops.cast(center, "float32")), axis=-1)


def latent_distance(z, z_hat):
    """(B,) mean over latent units of (z - z_hat)^2 (GANomaly's score and encoder loss, per sample)."""
    return ops.mean(ops.square(ops.cast(z, "float32") - ops.cast(z_hat, "float32")), axis=-1)


def kl_divergence(z_mean, z_log_var):
    """(B,) KL(N(z_mean, exp(z_log_var)) || N(0, I)), summed over latent units (Kingma & Welling, app. B)."""
    z_mean, z_log_var = ops.cast(z_mean, "float32"), ops.cast(z_log_var, "float32")
    return -0.5 * ops.sum(1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1)


def reconstruction_loss(x, x_hat, kind: str):
    """(B,) reconstruction term of the negative ELBO, summed over all pixels and channels.

    ``"bce"``: Bernoulli likelihood (targets in [0, 1], sigmoid outputs); ``"mse"``: squared error.
    """
    if kind == "mse":
        return sum_squared_error(x, x_hat)
    x, x_hat = _flat(x), ops.clip(_flat(x_hat), 1e-7, 1.0 - 1e-7)
    return ops.sum(-(x * ops.log(x_hat) + (1.0 - x) * ops.log(1.0 - x_hat)), axis=-1)


def hard_feature_loss(teacher, student, quantile: float):
    """EfficientAD's hard-feature loss (Batzner et al., section 3.1): the mean of the squared
    teacher-student differences at or above their ``quantile`` over the batch. Scalar float32."""
    errors = ops.square(ops.cast(teacher, "float32") - ops.cast(student, "float32"))
    hard = ops.quantile(ops.reshape(errors, (-1,)), quantile)
    mask = ops.cast(errors >= hard, "float32")
    return ops.sum(errors * mask) / ops.maximum(ops.sum(mask), 1.0)


def ssim_map(x, y, window: int = 11, sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03):
    """Structural similarity per pixel of images in [0, 1] (Wang et al. 2004): local means, variances and
    covariance under an ``window`` x ``window`` Gaussian of ``sigma`` pixels ("same" zero padding).

    (B, H, W, C), (B, H, W, C) -> (B, H, W) float32, the channel mean; 1 where the images agree."""
    x, y = ops.cast(x, "float32"), ops.cast(y, "float32")
    channels = int(x.shape[-1])
    g = np.exp(-np.square(np.arange(window) - window // 2) / (2.0 * sigma ** 2))
    g = np.outer(g, g) / np.square(g.sum())
    kernel = np.repeat(g[:, :, None, None], channels, axis=2).astype(np.float32)  # (k, k, C, 1)

    def local(t):
        return ops.depthwise_conv(t, kernel, strides=1, padding="same")

    # Moments about each image's mean: E[x^2] - E[x]^2 then cancels far fewer digits in float32.
    shift = ops.mean(x, axis=(1, 2), keepdims=True)
    x, y = x - shift, y - shift
    mean_x, mean_y = local(x), local(y)
    var_x = local(x * x) - mean_x * mean_x
    var_y = local(y * y) - mean_y * mean_y
    covariance = local(x * y) - mean_x * mean_y
    mean_x, mean_y = mean_x + shift, mean_y + shift
    c1, c2 = k1 ** 2, k2 ** 2
    ssim = ((2 * mean_x * mean_y + c1) * (2 * covariance + c2)) / (
        (mean_x * mean_x + mean_y * mean_y + c1) * (var_x + var_y + c2))
    return ops.mean(ssim, axis=-1)
