"""Dense (MLP) encoder/decoder pairs built from a width spec."""

from __future__ import annotations

import math
from typing import Sequence

import keras

from keras_oneclass.networks.initializers import SeedSequence, torch_default


def _dense(h, units: int, fan_in: int, negative_slope: float, seeds: SeedSequence, name: str):
    h = keras.layers.Dense(units, name=name, **torch_default(fan_in, seeds.next()))(h)
    return keras.layers.LeakyReLU(negative_slope=negative_slope, name=f"{name}_act")(h)


def dense_stack(h, hidden_units: Sequence[int], fan_in: int, negative_slope: float, seeds: SeedSequence,
                prefix: str):
    """Dense + leaky-ReLU layers of ``hidden_units`` applied to the symbolic tensor ``h``.

    Returns:
        (output tensor, its width) so the caller can add the next layer with the right fan-in.
    """
    for i, units in enumerate(hidden_units):
        h = _dense(h, int(units), fan_in, negative_slope, seeds, f"{prefix}_{i}")
        fan_in = int(units)
    return h, fan_in


def dense_decoder(
    latent_dim: int,
    hidden_units: Sequence[int],
    output_shape: Sequence[int],
    output_activation: str | None = None,
    negative_slope: float = 0.01,
    seeds: SeedSequence | None = None,
    name: str = "decoder",
) -> keras.Model:
    """(B, latent_dim) -> (B, *output_shape): ``hidden_units`` (leaky ReLU) then a float32 output layer.

    ``output_activation="leaky_relu"`` uses ``negative_slope`` (torch's 0.01, as the hidden layers),
    not Keras' default slope of 0.2 for that name; the DASVDD authors' CIFAR-10 net ends so.
    """
    seeds = seeds or SeedSequence(None)
    n_features = int(math.prod(output_shape))
    latent = keras.Input((latent_dim,), name="z")
    h, fan_in = dense_stack(latent, hidden_units, latent_dim, negative_slope, seeds, "decoder_dense")
    leaky = output_activation == "leaky_relu"
    h = keras.layers.Dense(n_features, activation=None if leaky else output_activation, name="reconstruction",
                           dtype="float32", **torch_default(fan_in, seeds.next()))(h)
    if leaky:
        h = keras.layers.LeakyReLU(negative_slope=negative_slope, name="reconstruction_act", dtype="float32")(h)
    outputs = keras.layers.Reshape(tuple(output_shape), dtype="float32")(h)
    return keras.Model(latent, outputs, name=name)


def dense_autoencoder(
    input_shape: Sequence[int],
    hidden_units: Sequence[int],
    latent_dim: int,
    output_activation: str | None = None,
    negative_slope: float = 0.01,
    seed: int | None = None,
    name: str = "autoencoder",
    linear_code: bool = False,
) -> tuple[keras.Model, keras.Model]:
    """An MLP encoder and its mirrored decoder with leaky-ReLU activations.

    The encoder flattens (B, *input_shape) and maps it through ``hidden_units`` to a
    ``latent_dim`` code (leaky ReLU on the code too, as the DASVDD reference nets, unless
    ``linear_code``); the decoder mirrors the widths and reshapes back to ``input_shape``. Its
    output layer computes in float32 so reconstructions stay exact under ``mixed_float16``.
    ``negative_slope=0`` gives plain ReLU.

    Returns:
        (encoder: (B, *input_shape) -> (B, latent_dim), decoder: (B, latent_dim) -> (B, *input_shape))
    """
    seeds = SeedSequence(seed)
    n_features = int(math.prod(input_shape))

    inputs = keras.Input(tuple(input_shape), name="x")
    h = keras.layers.Flatten()(inputs)
    h, fan_in = dense_stack(h, hidden_units, n_features, negative_slope, seeds, "encoder_dense")
    if linear_code:
        code = keras.layers.Dense(latent_dim, name="code", **torch_default(fan_in, seeds.next()))(h)
    else:
        code = _dense(h, latent_dim, fan_in, negative_slope, seeds, "code")
    encoder = keras.Model(inputs, code, name=f"{name}_encoder")
    decoder = dense_decoder(latent_dim, list(reversed(list(hidden_units))), input_shape, output_activation,
                            negative_slope, seeds, name=f"{name}_decoder")
    return encoder, decoder
