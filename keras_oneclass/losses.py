"""Losses and distances shared by the detectors' training objectives and scores (``keras.ops``, float32 out).

Every function takes batches with the batch axis first and returns one value per sample, (B,), or
per pixel, (B, H, W); detectors average them over the batch for a loss.
"""

from __future__ import annotations

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
