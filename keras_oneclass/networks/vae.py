"""Encoders with a Gaussian posterior head (z_mean, z_log_var) and matching decoders, for the VAE."""

from __future__ import annotations

import math
from typing import Sequence

import keras

from keras_oneclass.networks.dense import dense_decoder, dense_stack
from keras_oneclass.networks.initializers import SeedSequence, torch_default
from keras_oneclass.networks.padding import crop_to, pad_to_multiple, padded_size


def _gaussian_head(h, fan_in: int, latent_dim: int, seeds: SeedSequence):
    z_mean = keras.layers.Dense(latent_dim, name="z_mean", dtype="float32", **torch_default(fan_in, seeds.next()))(h)
    z_log_var = keras.layers.Dense(latent_dim, name="z_log_var", dtype="float32",
                                   **torch_default(fan_in, seeds.next()))(h)
    return [z_mean, z_log_var]


def dense_vae_networks(input_shape: Sequence[int], hidden_units: Sequence[int] = (400,), latent_dim: int = 20,
                       output_activation: str | None = "sigmoid", seed: int | None = None):
    """The MLP VAE of Kingma & Welling (2014, app. C) as in the PyTorch example: 784-400-(20, 20)-400-784.

    Returns:
        (encoder: (B, *input_shape) -> [z_mean (B, latent_dim), z_log_var (B, latent_dim)],
         decoder: (B, latent_dim) -> (B, *input_shape))
    """
    seeds = SeedSequence(seed)
    inputs = keras.Input(tuple(input_shape), name="x")
    h = keras.layers.Flatten()(inputs)
    h, fan_in = dense_stack(h, hidden_units, int(math.prod(input_shape)), 0.0, seeds, "encoder_dense")
    encoder = keras.Model(inputs, _gaussian_head(h, fan_in, latent_dim, seeds), name="vae_encoder")
    decoder = dense_decoder(latent_dim, list(reversed(list(hidden_units))), input_shape, output_activation,
                            0.0, seeds, name="vae_decoder")
    return encoder, decoder


def conv_vae_networks(input_shape: Sequence[int], filters: Sequence[int] = (32, 64, 128, 256),
                      latent_dim: int = 128, kernel_size: int = 4, negative_slope: float = 0.2,
                      output_activation: str | None = "sigmoid", seed: int | None = None):
    """Strided-conv VAE: len(filters) x (conv stride 2 + BatchNorm + LeakyReLU), dense Gaussian head;
    the decoder mirrors it with transposed convolutions and ends in a 3x3 conv to the input channels.

    Args:
        input_shape: (H, W, C) (256x256 in the wood-surface study). Sides not divisible by
            2 ** len(filters) (16 by default) are zero-padded inside the encoder and cropped back at the
            decoder's output.
    Returns:
        (encoder: (B, H, W, C) -> [z_mean, z_log_var], decoder: (B, latent_dim) -> (B, H, W, C))
    """
    height, width, channels = (int(d) for d in input_shape)
    factor = 2 ** len(filters)
    seeds = SeedSequence(seed)

    def block(h, layer, name):
        h = layer(h)
        h = keras.layers.BatchNormalization(name=f"{name}_bn")(h)
        return keras.layers.LeakyReLU(negative_slope=negative_slope, name=f"{name}_act")(h)

    inputs = keras.Input((height, width, channels), name="x")
    h, fan_in = pad_to_multiple(inputs, factor, "encoder_padding"), channels
    for i, f in enumerate(filters):
        h = block(h, keras.layers.Conv2D(f, kernel_size, strides=2, padding="same", name=f"encoder_conv_{i}",
                                         **torch_default(fan_in * kernel_size ** 2, seeds.next())), f"encoder_conv_{i}")
        fan_in = f
    grid = (padded_size(height, factor) // factor, padded_size(width, factor) // factor, int(filters[-1]))
    h = keras.layers.Flatten()(h)
    encoder = keras.Model(inputs, _gaussian_head(h, math.prod(grid), latent_dim, seeds), name="vae_encoder")

    latent = keras.Input((latent_dim,), name="z")
    h = block(latent, keras.layers.Dense(math.prod(grid), name="decoder_dense",
                                         **torch_default(latent_dim, seeds.next())), "decoder_dense")
    h = keras.layers.Reshape(grid)(h)
    fan_in = grid[-1]
    for i, f in enumerate(reversed(list(filters))):
        h = block(h, keras.layers.Conv2DTranspose(f, kernel_size, strides=2, padding="same",
                                                  name=f"decoder_deconv_{i}",
                                                  **torch_default(fan_in * kernel_size ** 2, seeds.next())),
                  f"decoder_deconv_{i}")
        fan_in = f
    # Only the final activation runs in float32: a float32 output conv would keep the largest convolution
    # out of float16 under mixed precision (measured on an H200, Keras-JAX at 256 px: 2.3k -> 5.5k images/s).
    h = keras.layers.Conv2D(channels, 3, padding="same", name="reconstruction",
                            **torch_default(fan_in * 9, seeds.next()))(h)
    h = crop_to(h, height, width, factor, "decoder_cropping")
    outputs = keras.layers.Activation(output_activation or "linear", dtype="float32", name="reconstruction_act")(h)
    return encoder, keras.Model(latent, outputs, name="vae_decoder")
