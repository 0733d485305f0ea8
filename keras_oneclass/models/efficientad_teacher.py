"""EfficientAD's teacher: a patch description network (PDN) distilled from a pretrained backbone.

As in the paper's appendix (Batzner et al., WACV 2024): the PDN learns, with a mean squared error, to
reproduce per 33 x 33 patch the features of a pretrained network, normalised per channel, on natural
images. The paper distils WideResNet-101 (layers 2 and 3, ImageNet, 60,000 steps of batch 16). Here
the backbone is any ``networks.backbones`` family: it sees the image at twice the PDN's side (as the
paper's 512 px against 256 px), its two default layers (strides 8 and 16) are resized to the first's
grid, concatenated and averaged over 3 x 3 neighbourhoods (PatchCore's local aggregation), which puts
them on the PDN's stride-4 grid.

``distill_teacher`` trains one; ``teacher_record`` reads the weights and record of the shipped
``DEFAULT_TEACHER`` or of a saved file. A teacher is saved as ``<name>.npz`` (the PDN's weights in float16, half the bytes of float32)
beside ``<name>.json`` (size, channels and how it was distilled).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import keras
import numpy as np
from keras import ops

from keras_oneclass.networks.backbones import FeatureExtractor
from keras_oneclass.networks.pdn import patch_description_network

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
TEACHERS_DIR = Path(__file__).resolve().parent.parent / "weights"
DEFAULT_TEACHER = "pdn_small_mobilenet025_cifar10"


def imagenet_normalised(images):
    """(B, H, W, C) in [0, 1], C in {1, 3} -> (B, H, W, 3) normalised with ImageNet's mean and std."""
    images = ops.cast(images, "float32")
    if images.shape[-1] == 1:
        images = ops.concatenate([images, images, images], axis=-1)
    return (images - IMAGENET_MEAN) / IMAGENET_STD


def backbone_targets(side: int, backbone: str = "mobilenet", alpha: float = 0.25, weights="imagenet",
                     weights_dir=None) -> keras.Model:
    """(B, side, side, 3) images in [0, 1] -> (B, side/4, side/4, D) aggregated backbone features."""
    inputs = keras.Input((side, side, 3))
    extractor = FeatureExtractor(backbone, (2 * side, 2 * side, 3), weights=weights, alpha=alpha,
                                 weights_dir=weights_dir)
    features = extractor(ops.image.resize(inputs, (2 * side, 2 * side), interpolation="bilinear"))
    grid = tuple(features[0].shape[1:3])
    features = [f if tuple(f.shape[1:3]) == grid else ops.image.resize(f, grid, interpolation="bilinear")
                for f in features]
    features = ops.concatenate(features, axis=-1)
    outputs = keras.layers.AveragePooling2D(3, strides=1, padding="same")(features)
    return keras.Model(inputs, outputs, name=f"{backbone}_targets")


def _natural_batches(images: np.ndarray, side: int, batch_size: int, grayscale: float, rng):
    """Endless (B, side, side, 3) float32 batches in [0, 1]: random images, flips and grayscale."""
    while True:
        batch = images[rng.integers(0, len(images), batch_size)].astype(np.float32) / 255.0
        if batch.shape[-1] == 1:
            batch = np.repeat(batch, 3, axis=-1)
        flip = rng.random(batch_size) < 0.5
        batch[flip] = batch[flip, :, ::-1]
        gray = rng.random(batch_size) < grayscale
        batch[gray] = batch[gray].mean(axis=-1, keepdims=True)
        if batch.shape[1] != side:
            batch = ops.convert_to_numpy(ops.image.resize(batch, (side, side), interpolation="bilinear"))
        yield np.clip(batch, 0.0, 1.0)


def distill_teacher(images: np.ndarray, size: str = "small", backbone: str = "mobilenet", alpha: float = 0.25,
                    weights="imagenet", weights_dir=None, side: int = 64, steps: int = 60_000, batch_size: int = 16,
                    learning_rate: float = 1e-4, weight_decay: float = 1e-5, grayscale: float = 0.3,
                    seconds: float | None = None, seed: int = 0, verbose: int = 1) -> tuple[keras.Model, dict]:
    """Distil a PDN teacher from a pretrained backbone on natural images.

    Args:
        images: (N, h, w, 3 or 1) uint8 natural images (e.g. CIFAR-10's training set); resized to ``side``.
        size: "small" (PDN-S) or "medium" (PDN-M).
        backbone, alpha, weights, weights_dir: the backbone family whose features are distilled.
        side: the PDN's training input side in pixels (the backbone sees 2 x side).
        steps, batch_size: Adam steps and batch (the paper: 60,000 of 16).
        learning_rate, weight_decay: Adam's (the paper: 1e-4, 1e-5).
        grayscale: probability of converting a training image to grayscale.
        seconds: stop after this many seconds of training, whatever ``steps`` says (None: no limit).
        seed: seed of the initialisation and the image draws.
    Returns:
        (pdn, record): the fully convolutional PDN ((B, H, W, 3) ImageNet-normalised images ->
        (B, H/4, W/4, D)) and a dict of settings, steps done, seconds and the last losses.
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.dtype != np.uint8:
        raise ValueError(f"images must be (N, h, w, C) uint8, got {images.shape} {images.dtype}.")
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    targets = backbone_targets(side, backbone, alpha, weights, weights_dir)
    channels = int(targets.output.shape[-1])
    batches = _natural_batches(images, side, batch_size, grayscale, rng)
    # Per-channel normalisation of the targets, from 1,024 images (the paper: over ImageNet).
    sample = np.concatenate([ops.convert_to_numpy(targets.predict_on_batch(next(batches)))
                             for _ in range(max(1, 1024 // batch_size))]).reshape(-1, channels)
    mean, std = sample.mean(axis=0), np.maximum(sample.std(axis=0), 1e-6)
    pdn = patch_description_network(size, channels, (None, None, 3), seed=seed, name="teacher")
    pdn.compile(keras.optimizers.Adam(learning_rate, weight_decay=weight_decay), loss="mse", jit_compile="auto")
    progress = keras.utils.Progbar(steps, verbose=1 if verbose == 1 else 0, stateful_metrics=["loss"])
    start, losses = time.perf_counter(), []
    for step in range(steps):
        batch = next(batches)
        target = (ops.convert_to_numpy(targets.predict_on_batch(batch)) - mean) / std
        loss = float(pdn.train_on_batch(imagenet_normalised(batch), target))
        losses.append(loss)
        progress.update(step + 1, [("loss", float(np.mean(losses[-100:])))])
        if verbose == 2 and (step + 1) % 250 == 0:
            print(f"step {step + 1}: loss {np.mean(losses[-250:]):.4f}, {time.perf_counter() - start:.0f} s", flush=True)
        if seconds is not None and time.perf_counter() - start > seconds:
            break
    record = {"size": size, "backbone": backbone, "alpha": alpha, "channels": channels, "side": side,
              "steps": len(losses), "steps_requested": steps, "batch_size": batch_size,
              "learning_rate": learning_rate, "weight_decay": weight_decay, "grayscale": grayscale,
              "seed": seed, "seconds": round(time.perf_counter() - start, 1),
              "loss_first_100": float(np.mean(losses[:100])), "loss_last_100": float(np.mean(losses[-100:]))}
    return pdn, record


def save_teacher(pdn: keras.Model, record: dict, path: str | os.PathLike) -> Path:
    """Write the PDN's weights as float16 ``<path>.npz`` and its record as ``<path>.json``."""
    path = Path(str(path).removesuffix(".npz"))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(f"{path}.npz", *[w.astype(np.float16) for w in pdn.get_weights()])
    Path(f"{path}.json").write_text(json.dumps(record, indent=2) + "\n")
    return Path(f"{path}.npz")


def teacher_record(teacher: str | os.PathLike) -> tuple[list[np.ndarray], dict]:
    """(float32 PDN weights, record) of a shipped teacher name or a saved ``.npz`` path."""
    path = Path(str(teacher).removesuffix(".npz"))
    if not Path(f"{path}.npz").is_file() and (TEACHERS_DIR / f"{teacher}.npz").is_file():
        path = TEACHERS_DIR / str(teacher)
    if not Path(f"{path}.npz").is_file():
        shipped = sorted(p.stem for p in TEACHERS_DIR.glob("*.npz"))
        raise FileNotFoundError(f"no EfficientAD teacher {str(teacher)!r}: expected a saved .npz "
                                f"(distill_teacher + save_teacher) or one of the shipped {shipped}.")
    with np.load(f"{path}.npz") as arrays:
        weights = [arrays[f"arr_{i}"].astype(np.float32) for i in range(len(arrays.files))]
    return weights, json.loads(Path(f"{path}.json").read_text())
