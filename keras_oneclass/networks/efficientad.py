"""The student and autoencoder networks of ``EfficientAD`` (a small CPU-friendly variant).

Both map (B, H, W, C) images to feature maps on the teacher's grid (B, h, w, ·): the student to
2 * C channels (C imitating the teacher, C imitating the autoencoder), the autoencoder to C.
"""

from __future__ import annotations

from typing import Sequence

import keras


def _he(seed: int | None, offset: int):
    return keras.initializers.HeNormal(seed=None if seed is None else seed + offset)


def efficientad_student(image_shape: Sequence[int], out_channels: int, grid: Sequence[int],
                        seed: int | None = None) -> keras.Model:
    """4 conv blocks (strides 2, 2, 2, 1; overall stride 8), 2 * ``out_channels`` outputs, resized
    (bilinear) to ``grid`` = (h, w) when the strides do not land on it."""
    inputs = keras.Input(tuple(image_shape))
    h = inputs
    for i, (filters, kernel, stride) in enumerate([(32, 4, 2), (64, 4, 2), (128, 3, 2)]):
        h = keras.layers.Conv2D(filters, kernel, strides=stride, padding="same", activation="relu",
                                kernel_initializer=_he(seed, i), name=f"student_conv_{i}")(h)
    h = keras.layers.Conv2D(2 * out_channels, 3, padding="same", kernel_initializer=_he(seed, 3),
                            name="student_out")(h)
    if tuple(h.shape[1:3]) != tuple(grid):
        h = keras.layers.Resizing(*grid, interpolation="bilinear")(h)
    return keras.Model(inputs, h, name="student")


def efficientad_autoencoder(image_shape: Sequence[int], out_channels: int, grid: Sequence[int],
                            seed: int | None = None) -> keras.Model:
    """5 strided convs down to a ~1/32 bottleneck, then bilinear resizes and convs up to ``grid``,
    ``out_channels`` outputs."""
    inputs = keras.Input(tuple(image_shape))
    h = inputs
    for i, filters in enumerate([32, 32, 64, 64, 64]):
        h = keras.layers.Conv2D(filters, 4, strides=2, padding="same", activation="relu",
                                kernel_initializer=_he(seed, 10 + i), name=f"ae_encoder_{i}")(h)
    for i, divisor in enumerate([4, 2, 1]):
        size = (max(1, grid[0] // divisor), max(1, grid[1] // divisor))
        h = keras.layers.Resizing(*size, interpolation="bilinear")(h)
        h = keras.layers.Conv2D(64, 3, padding="same", activation="relu", kernel_initializer=_he(seed, 15 + i),
                                name=f"ae_decoder_{i}")(h)
    h = keras.layers.Conv2D(out_channels, 3, padding="same", kernel_initializer=_he(seed, 19), name="ae_out")(h)
    return keras.Model(inputs, h, name="autoencoder")
