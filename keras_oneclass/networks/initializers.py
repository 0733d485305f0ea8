"""PyTorch's default initialisation, so published PyTorch methods start from the same distribution."""

from __future__ import annotations

import math

import keras


def torch_default(fan_in: int, seed: int | None) -> dict:
    """Kernel and bias initializers of ``torch.nn.Linear`` / ``Conv2d``: U(-1/sqrt(fan_in), +).

    Returns:
        keyword arguments ``kernel_initializer`` and ``bias_initializer`` for a Dense/Conv layer.
    """
    bound = 1.0 / math.sqrt(fan_in)
    other = None if seed is None else seed + 1
    return {
        "kernel_initializer": keras.initializers.RandomUniform(-bound, bound, seed=seed),
        "bias_initializer": keras.initializers.RandomUniform(-bound, bound, seed=other),
    }


class SeedSequence:
    """Hands out distinct seeds derived from one base seed (None stays None)."""

    def __init__(self, seed: int | None):
        self.seed = seed
        self.count = 0

    def next(self) -> int | None:
        self.count += 2
        return None if self.seed is None else self.seed * 1000 + self.count
