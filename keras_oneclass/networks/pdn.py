"""EfficientAD's networks, as in the appendix of Batzner, Heckler & Koenig (WACV 2024).

- ``patch_description_network(size)``: the PDN-S (``"small"``, 4 convs) or PDN-M (``"medium"``, 6 convs)
  of the paper's tables 6 and 7. A (B, H, W, 3) image gives (B, H/4, W/4, channels) features, each from
  a 33 x 33 pixel patch. Teacher and student are PDNs; the student has 2 x channels outputs.
- ``efficientad_autoencoder``: the paper's table 8: six strided convs down to a 1 x 1 x 64 bottleneck,
  seven bilinear resizes and convs up (dropout 0.2) to (B, H/4, W/4, channels). The resize sizes are
  the paper's for 256 px inputs (3, 8, 15, 32, 63, 127, 64) and are scaled in proportion for others.

Padding follows the paper (zero padding, average pooling counts the padded zeros, as PyTorch's
``AvgPool2d`` does). Inputs are images normalised with the ImageNet mean and standard deviation.
"""

from __future__ import annotations

from typing import Sequence

import keras

# (filters, kernel, padding, relu, pool after) per conv, from the paper's tables 6 and 7.
PDN_LAYERS = {
    "small": [(128, 4, 3, True, True), (256, 4, 3, True, True), (256, 3, 1, True, False), (None, 4, 0, False, False)],
    "medium": [(256, 4, 3, True, True), (512, 4, 3, True, True), (512, 1, 0, True, False),
               (512, 3, 1, True, False), (None, 4, 0, True, False), (None, 1, 0, False, False)],
}
AUTOENCODER_RESIZES_256 = (3, 8, 15, 32, 63, 127)  # the decoder's resize sizes for 256 px inputs


def _conv(h, filters, kernel, padding, relu, name, seed, stride=1):
    if padding:
        h = keras.layers.ZeroPadding2D(padding, name=f"{name}_pad")(h)
    init = keras.initializers.HeUniform(seed=seed)
    return keras.layers.Conv2D(filters, kernel, strides=stride, activation="relu" if relu else None,
                               kernel_initializer=init, name=name)(h)


def patch_description_network(size: str = "small", channels: int = 384, input_shape=(256, 256, 3),
                              seed: int | None = None, name: str = "pdn") -> keras.Model:
    """PDN-S or PDN-M: (B, H, W, 3) -> (B, H/4, W/4, ``channels``) (H, W multiples of 4).

    Args:
        size: "small" (PDN-S, 2.7 M weights at 384 channels) or "medium" (PDN-M, 8.0 M).
        channels: output channels (384 in the paper; the teacher's feature size).
        input_shape: (H, W, 3); None sides give a fully convolutional network.
        seed: seed of the He-uniform initialisers.
    """
    if size not in PDN_LAYERS:
        raise ValueError(f"size must be one of {sorted(PDN_LAYERS)}, got {size!r}.")
    inputs = keras.Input(tuple(input_shape))
    h = inputs
    for i, (filters, kernel, padding, relu, pool) in enumerate(PDN_LAYERS[size]):
        h = _conv(h, filters or channels, kernel, padding, relu, f"{name}_conv{i + 1}",
                  None if seed is None else seed + i)
        if pool:
            h = keras.layers.ZeroPadding2D(1, name=f"{name}_pool{i + 1}_pad")(h)
            h = keras.layers.AveragePooling2D(2, name=f"{name}_pool{i + 1}")(h)
    return keras.Model(inputs, h, name=name)


def efficientad_autoencoder(input_shape: Sequence[int] = (256, 256, 3), channels: int = 384,
                            seed: int | None = None, name: str = "autoencoder") -> keras.Model:
    """The paper's autoencoder: (B, H, W, 3) -> (B, H/4, W/4, ``channels``); H, W multiples of 32."""
    height, width = int(input_shape[0]), int(input_shape[1])
    if height % 32 or width % 32:
        raise ValueError(f"EfficientAD's autoencoder needs sides that are multiples of 32, got {height} x {width}.")
    inputs = keras.Input((height, width, int(input_shape[2])))
    h = inputs
    for i, filters in enumerate([32, 32, 64, 64, 64]):
        h = _conv(h, filters, 4, 1, True, f"{name}_enc{i + 1}", None if seed is None else seed + i, stride=2)
    h = keras.layers.Conv2D(64, (height // 32, width // 32), kernel_initializer=keras.initializers.HeUniform(
        seed=None if seed is None else seed + 5), name=f"{name}_enc6")(h)
    for i, side in enumerate(AUTOENCODER_RESIZES_256):
        size = (max(1, round(side * height / 256)), max(1, round(side * width / 256)))
        h = keras.layers.Resizing(*size, interpolation="bilinear", name=f"{name}_up{i + 1}")(h)
        h = _conv(h, 64, 4, 2, True, f"{name}_dec{i + 1}", None if seed is None else seed + 10 + i)
        h = keras.layers.Dropout(0.2, seed=None if seed is None else seed + 20 + i, name=f"{name}_drop{i + 1}")(h)
    h = keras.layers.Resizing(height // 4, width // 4, interpolation="bilinear", name=f"{name}_up7")(h)
    h = _conv(h, 64, 3, 1, True, f"{name}_dec7", None if seed is None else seed + 17)
    h = _conv(h, channels, 3, 1, False, f"{name}_dec8", None if seed is None else seed + 18)
    return keras.Model(inputs, h, name=name)
