"""Dense (MLP) encoder/decoder pairs built from a width spec."""

from __future__ import annotations

import math
from typing import Sequence

import keras

from keras_oneclass.networks.initializers import SeedSequence, torch_default


def _dense(h, units: int, fan_in: int, negative_slope: float, seeds: SeedSequence, name: str):
    h = keras.layers.Dense(units, name=name, **torch_default(fan_in, seeds.next()))(h)
    return keras.layers.LeakyReLU(negative_slope=negative_slope, name=f"{name}_act")(h)


def dense_autoencoder(
    input_shape: Sequence[int],
    hidden_units: Sequence[int],
    latent_dim: int,
    output_activation: str | None = None,
    negative_slope: float = 0.01,
    seed: int | None = None,
    name: str = "autoencoder",
) -> tuple[keras.Model, keras.Model]:
    """An MLP encoder and its mirrored decoder with leaky-ReLU activations.

    The encoder flattens (B, *input_shape) and maps it through ``hidden_units`` to a
    ``latent_dim`` code (leaky ReLU on the code too, as the DASVDD reference nets); the decoder
    mirrors the widths and reshapes back to ``input_shape``. Its output layer computes in float32
    so reconstructions stay exact under ``mixed_float16``.

    Returns:
        (encoder: (B, *input_shape) -> (B, latent_dim), decoder: (B, latent_dim) -> (B, *input_shape))
    """
    seeds = SeedSequence(seed)
    n_features = int(math.prod(input_shape))

    inputs = keras.Input(tuple(input_shape), name="x")
    h = keras.layers.Flatten()(inputs)
    fan_in = n_features
    for i, units in enumerate(hidden_units):
        h = _dense(h, units, fan_in, negative_slope, seeds, f"encoder_dense_{i}")
        fan_in = units
    code = _dense(h, latent_dim, fan_in, negative_slope, seeds, "code")
    encoder = keras.Model(inputs, code, name=f"{name}_encoder")

    latent = keras.Input((latent_dim,), name="z")
    h, fan_in = latent, latent_dim
    for i, units in enumerate(reversed(list(hidden_units))):
        h = _dense(h, units, fan_in, negative_slope, seeds, f"decoder_dense_{i}")
        fan_in = units
    h = keras.layers.Dense(n_features, activation=output_activation, name="reconstruction", dtype="float32",
                           **torch_default(fan_in, seeds.next()))(h)
    outputs = keras.layers.Reshape(tuple(input_shape), dtype="float32")(h)
    decoder = keras.Model(latent, outputs, name=f"{name}_decoder")
    return encoder, decoder
