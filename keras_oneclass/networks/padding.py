"""Zero padding of images whose sides a network's poolings cannot divide, and the crop back.

A network that halves its feature maps n times needs sides divisible by 2**n. Instead of refusing
other sizes, the encoder pads its input with zeros (split evenly between both borders, the extra
pixel at the bottom/right) up to the next multiple, and the decoder crops its output back to the
input size, so losses, scores and maps only ever see the real pixels.
"""

from __future__ import annotations

import keras


def padded_size(side: int, factor: int) -> int:
    """The smallest multiple of ``factor`` that is >= ``side``."""
    return -(-int(side) // int(factor)) * int(factor)


def _borders(side: int, factor: int) -> tuple[int, int]:
    extra = padded_size(side, factor) - int(side)
    return extra // 2, extra - extra // 2


def pad_to_multiple(h, factor: int, name: str):
    """(B, H, W, C) -> (B, H', W', C) with H', W' the next multiples of ``factor`` (identity when they divide)."""
    height, width = int(h.shape[1]), int(h.shape[2])
    padding = (_borders(height, factor), _borders(width, factor))
    if padding == ((0, 0), (0, 0)):
        return h
    return keras.layers.ZeroPadding2D(padding, name=name)(h)


def crop_to(h, height: int, width: int, factor: int, name: str):
    """Undo ``pad_to_multiple``: crop (B, H', W', C) back to (B, height, width, C)."""
    cropping = (_borders(height, factor), _borders(width, factor))
    if cropping == ((0, 0), (0, 0)):
        return h
    return keras.layers.Cropping2D(cropping, name=name)(h)
