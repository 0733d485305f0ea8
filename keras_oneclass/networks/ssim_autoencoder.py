"""The convolutional autoencoder of Bergmann et al. (VISAPP 2019), table 1.

Encoder: nine convolutions (4x4 stride 2 and 3x3 stride 1, 32-128 filters, leaky ReLU 0.2) down to a
``latent_dim`` code from an 8 x 8 valid convolution; the decoder mirrors it with transposed
convolutions and ends in a sigmoid. A 128 x 128 input gives a 1 x 1 x ``latent_dim`` code; larger
sides (multiples of 16) give a (H/16 - 7) x (W/16 - 7) grid of codes; smaller ones a 1 x 1 code from
a kernel that spans the H/16 x W/16 grid.
"""

from __future__ import annotations

from typing import Sequence

import keras

# (filters, kernel, stride) of the encoder's first eight convolutions; the ninth is 8x8 to latent_dim.
ENCODER = [(32, 4, 2), (32, 4, 2), (32, 3, 1), (64, 4, 2), (64, 3, 1), (128, 4, 2), (64, 3, 1), (32, 3, 1)]


def ssim_autoencoder(input_shape: Sequence[int], latent_dim: int = 100, seed: int | None = None,
                     name: str = "ssim_autoencoder") -> tuple[keras.Model, keras.Model]:
    """(encoder: (B, H, W, C) -> (B, H/16 - 7, W/16 - 7, latent_dim), decoder: back to (B, H, W, C))."""
    height, width, channels = (int(d) for d in input_shape)
    if height % 16 or width % 16:
        raise ValueError(f"the SSIM autoencoder needs sides that are multiples of 16, got {height} x {width}.")
    code_kernel = (min(8, height // 16), min(8, width // 16))
    count = iter(range(100))

    def init():
        return keras.initializers.HeUniform(seed=None if seed is None else seed + next(count))

    def act():
        return keras.layers.LeakyReLU(negative_slope=0.2)

    inputs = keras.Input((height, width, channels))
    h = inputs
    for filters, kernel, stride in ENCODER:
        h = act()(keras.layers.Conv2D(filters, kernel, strides=stride, padding="same", kernel_initializer=init())(h))
    code = keras.layers.Conv2D(latent_dim, code_kernel, padding="valid", kernel_initializer=init(), name="code")(h)
    encoder = keras.Model(inputs, code, name=f"{name}_encoder")

    latent = keras.Input(tuple(code.shape[1:]))
    h = act()(keras.layers.Conv2DTranspose(32, code_kernel, padding="valid", kernel_initializer=init())(latent))
    for (filters, kernel, stride), (next_filters, _, _) in zip(ENCODER[:0:-1], ENCODER[-2::-1]):
        layer = keras.layers.Conv2DTranspose if stride == 2 else keras.layers.Conv2D
        h = act()(layer(next_filters, kernel, strides=stride, padding="same", kernel_initializer=init())(h))
    outputs = keras.layers.Conv2DTranspose(channels, 4, strides=2, padding="same", activation="sigmoid",
                                           kernel_initializer=init())(h)
    decoder = keras.Model(latent, outputs, name=f"{name}_decoder")
    return encoder, decoder
