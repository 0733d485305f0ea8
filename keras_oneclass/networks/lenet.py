"""The LeNet-type networks of Deep SVDD (Ruff et al., ICML 2018, sec. 4.1) and an enhanced variant.

``variant="original"`` follows the authors' PyTorch reference code (Deep-SVDD-PyTorch,
``networks/mnist_LeNet.py`` and ``networks/cifar10_LeNet.py``):

- encoder: per stage a 5x5 convolution without bias (padding 2), BatchNorm without affine
  parameters (eps 1e-4), leaky ReLU (PyTorch's default slope 0.01) and 2x2 max-pooling; then a
  dense layer without bias to the representation (MNIST: 8-4 filters, 32 units; CIFAR-10: 32-64-128
  filters, 128 units). No bias anywhere, so the one-class objective cannot collapse onto a constant
  (Ruff et al., Proposition 2).
- decoder (autoencoder pretraining only): the code is reshaped to a 4x4 grid, then 5x5 transposed
  convolutions without bias, BatchNorm, leaky ReLU and nearest-neighbour upsampling by 2
  (``F.interpolate(scale_factor=2)``), a sigmoid output. The CIFAR-10 autoencoder normalises the code
  with a non-affine BatchNorm (``bn1d``); the MNIST one does not.

``variant="enhanced"`` (the reference study this package reproduces) changes: 3x3 kernels with
padding "same", BatchNorm with affine parameters after the convolutions, 3x3 transposed convolutions
with explicit bilinear upsampling by 2, and BatchNorm on the dense code of the autoencoder for both
datasets. The dense representation that Deep SVDD trains is left un-normalised in both variants: a
batch-normalised output has unit variance per unit within every batch, so the one-class loss would
be constant during training (and an affine one could shrink to a point, the collapse the paper
rules out).

Inputs of 28x28 (MNIST layout) and 32x32 (CIFAR-10 layout) are supported, with any channel count.
"""

from __future__ import annotations

from typing import Sequence

import keras

from keras_oneclass.networks.initializers import SeedSequence, torch_default

VARIANTS = ("original", "enhanced")

# Per input size: encoder filters, representation size, decoder grid (from the code), whether the
# decoder upsamples before its first transposed conv, decoder filters and the cropping after each.
PRESETS = {
    (28, 28): {"filters": (8, 4), "rep_dim": 32, "grid": (4, 4), "upsample_first": True,
               "decoder_filters": (4, 8), "crops": (0, 1), "code_norm": False},
    (32, 32): {"filters": (32, 64, 128), "rep_dim": 128, "grid": (4, 4), "upsample_first": False,
               "decoder_filters": (128, 64, 32), "crops": (0, 0, 0), "code_norm": True},
}
BN_EPSILON = 1e-4      # Deep-SVDD-PyTorch: nn.BatchNorm2d(..., eps=1e-04)
BN_MOMENTUM = 0.9      # PyTorch's momentum 0.1 in Keras' convention
NEGATIVE_SLOPE = 0.01  # F.leaky_relu's default, used throughout the reference code


def lenet_preset(input_shape: Sequence[int]) -> dict:
    """The preset for ``input_shape`` (H, W, C): MNIST-size (28, 28) or CIFAR-size (32, 32)."""
    shape = tuple(int(d) for d in input_shape)
    if len(shape) != 3 or shape[:2] not in PRESETS:
        raise ValueError(f"The Deep SVDD LeNet nets take images of 28x28 (MNIST) or 32x32 (CIFAR-10) with "
                         f"any channel count, input_shape=(H, W, C); got {tuple(input_shape)}.")
    return PRESETS[shape[:2]]


def _check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}.")


class _Blocks:
    """Layer factories shared by encoder and decoder for one variant."""

    def __init__(self, variant: str, negative_slope: float, seed: int | None):
        self.enhanced = variant == "enhanced"
        self.kernel = 3 if self.enhanced else 5
        self.negative_slope = negative_slope
        self.seeds = SeedSequence(seed)

    def conv(self, filters: int, fan_in: int, name: str, transpose: bool = False, dtype=None):
        layer = keras.layers.Conv2DTranspose if transpose else keras.layers.Conv2D
        init = torch_default(fan_in * self.kernel ** 2, self.seeds.next())
        return layer(filters, self.kernel, padding="same", use_bias=False, name=name, dtype=dtype,
                     kernel_initializer=init["kernel_initializer"])

    def norm(self, name: str, affine: bool | None = None):
        affine = self.enhanced if affine is None else affine
        return keras.layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, center=affine,
                                               scale=affine, name=name)

    def act(self, name: str):
        return keras.layers.LeakyReLU(negative_slope=self.negative_slope, name=name)

    def upsample(self, name: str):
        return keras.layers.UpSampling2D(2, interpolation="bilinear" if self.enhanced else "nearest", name=name)


def lenet_encoder(input_shape: Sequence[int], variant: str = "original", negative_slope: float = NEGATIVE_SLOPE,
                  seed: int | None = None, name: str = "lenet_encoder") -> keras.Model:
    """The Deep SVDD network phi: (B, H, W, C) -> (B, rep_dim) float32 (32 for 28x28, 128 for 32x32).

    Args:
        input_shape: (28, 28, C) or (32, 32, C).
        variant: "original" (Ruff et al.) or "enhanced" (3x3 kernels, affine BatchNorm).
        negative_slope: slope of the leaky ReLU (0.01, the reference code's default).
        seed: seed of the (PyTorch-default) weight initialisation.

    Example:
        >>> phi = lenet_encoder((32, 32, 3), variant="enhanced", seed=0)
        >>> phi(np.zeros((2, 32, 32, 3), "float32")).shape
        TensorShape([2, 128])
    """
    _check_variant(variant)
    preset = lenet_preset(input_shape)
    blocks = _Blocks(variant, negative_slope, seed)
    inputs = keras.Input(tuple(int(d) for d in input_shape), name="x")
    h, fan_in = inputs, int(input_shape[-1])
    for i, filters in enumerate(preset["filters"]):
        h = blocks.conv(filters, fan_in, f"conv_{i}")(h)
        h = blocks.norm(f"conv_{i}_bn")(h)
        h = blocks.act(f"conv_{i}_act")(h)
        h = keras.layers.MaxPooling2D(2, name=f"pool_{i}")(h)
        fan_in = filters
    h = keras.layers.Flatten(name="flatten")(h)
    # The representation is computed in float32 so that distances stay exact under mixed_float16.
    representation = keras.layers.Dense(
        preset["rep_dim"], use_bias=False, name="representation", dtype="float32",
        kernel_initializer=torch_default(int(h.shape[-1]), blocks.seeds.next())["kernel_initializer"])(h)
    return keras.Model(inputs, representation, name=name)


def lenet_decoder(input_shape: Sequence[int], variant: str = "original", negative_slope: float = NEGATIVE_SLOPE,
                  seed: int | None = None, name: str = "lenet_decoder") -> keras.Model:
    """The mirrored decoder used for autoencoder pretraining: (B, rep_dim) -> (B, H, W, C) in [0, 1].

    The code is normalised first (non-affine BatchNorm) where the reference autoencoder does so
    (CIFAR-10) and always in the enhanced variant; the output layer computes in float32.
    """
    _check_variant(variant)
    preset = lenet_preset(input_shape)
    blocks = _Blocks(variant, negative_slope, None if seed is None else seed + 500)
    grid_h, grid_w = preset["grid"]
    rep_dim = preset["rep_dim"]
    code = keras.Input((rep_dim,), name="z")
    h = code
    if preset["code_norm"] or blocks.enhanced:
        h = blocks.norm("code_bn", affine=False)(h)
    h = keras.layers.Reshape((grid_h, grid_w, rep_dim // (grid_h * grid_w)), name="grid")(h)
    h = blocks.act("grid_act")(h)
    if preset["upsample_first"]:
        h = blocks.upsample("grid_up")(h)
    for i, (filters, crop) in enumerate(zip(preset["decoder_filters"], preset["crops"])):
        # torch's ConvTranspose2d counts out_channels * k * k as its fan-in
        h = blocks.conv(filters, filters, f"deconv_{i}", transpose=True)(h)
        if crop:
            h = keras.layers.Cropping2D(crop, name=f"deconv_{i}_crop")(h)
        h = blocks.norm(f"deconv_{i}_bn")(h)
        h = blocks.act(f"deconv_{i}_act")(h)
        h = blocks.upsample(f"deconv_{i}_up")(h)
    channels = int(input_shape[-1])
    # Only the final activation runs in float32: a float32 output conv would keep the largest convolution
    # out of float16 under mixed precision (measured on an H200, Keras-JAX at 256 px: 2.3k -> 5.5k images/s).
    h = blocks.conv(channels, channels, "reconstruction", transpose=True)(h)
    outputs = keras.layers.Activation("sigmoid", dtype="float32", name="sigmoid")(h)
    return keras.Model(code, outputs, name=name)


def lenet_autoencoder(input_shape: Sequence[int], variant: str = "original",
                      negative_slope: float = NEGATIVE_SLOPE, seed: int | None = None,
                      encoder: keras.Model | None = None) -> tuple[keras.Model, keras.Model]:
    """(encoder, autoencoder): the autoencoder shares the encoder's layers, so pretraining it
    initialises the Deep SVDD network in place (the reference code copies the same weights).

    Returns:
        encoder (B, H, W, C) -> (B, rep_dim); autoencoder (B, H, W, C) -> (B, H, W, C).
    """
    encoder = encoder or lenet_encoder(input_shape, variant, negative_slope, seed)
    decoder = lenet_decoder(input_shape, variant, negative_slope, seed)
    inputs = keras.Input(tuple(int(d) for d in input_shape), name="x")
    autoencoder = keras.Model(inputs, decoder(encoder(inputs)), name="lenet_autoencoder")
    return encoder, autoencoder
