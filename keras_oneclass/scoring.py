"""Per-sample distances shared by the detectors' losses and scores (float32 out)."""

from __future__ import annotations

from keras import ops


def squared_error_per_sample(x, x_hat):
    """Mean squared reconstruction error of each sample.

    Args:
        x, x_hat: (B, ...) tensors of the same shape.
    Returns:
        (B,) float32: mean over all non-batch axes of (x_hat - x)^2.
    """
    diff = ops.cast(x_hat, "float32") - ops.cast(x, "float32")
    return ops.mean(ops.reshape(ops.square(diff), (ops.shape(diff)[0], -1)), axis=-1)


def squared_distance(z, center):
    """Squared Euclidean distance of each embedding to a centre.

    Args:
        z: (B, D) embeddings.
        center: (D,) centre.
    Returns:
        (B,) float32: ||z - center||^2.
    """
    return ops.sum(ops.square(ops.cast(z, "float32") - ops.cast(center, "float32")), axis=-1)
