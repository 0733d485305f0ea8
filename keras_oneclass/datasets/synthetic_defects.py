"""Synthetic defects pasted into normal images: a labelled validation set from defect-free images.

Settings (input side, epochs, layers, thresholds) must be chosen without the test split. When only
normal images are at hand, ``pasted_defects`` turns held-out normal images into a labelled validation
set: a random half get one CutPaste-style defect (Li et al., CVPR 2021) - a patch cut from another image
of the set, its contrast scaled and pasted elsewhere - or a thin bright or dark scratch; the rest stay good.
"""

from __future__ import annotations

import numpy as np

from keras_oneclass.datasets.folder import LabelledImages


def _patch_defect(image, donor, rng):
    height, width = image.shape[:2]
    h, w = (max(2, int(side * rng.uniform(0.05, 0.2))) for side in (height, width))
    y0, x0 = rng.integers(0, height - h + 1), rng.integers(0, width - w + 1)
    y1, x1 = rng.integers(0, height - h + 1), rng.integers(0, width - w + 1)
    patch = donor[y0:y0 + h, x0:x0 + w]
    patch = np.clip((patch - patch.mean()) * rng.uniform(1.5, 3.0) + patch.mean() + rng.uniform(-0.2, 0.2), 0, 1)
    mask = np.zeros((height, width), bool)
    image[y1:y1 + h, x1:x1 + w] = patch
    mask[y1:y1 + h, x1:x1 + w] = True
    return mask


def _scratch_defect(image, rng):
    height, width = image.shape[:2]
    length = rng.uniform(0.1, 0.4) * min(height, width)
    angle = rng.uniform(0, np.pi)
    cy, cx = rng.uniform(0.2, 0.8) * height, rng.uniform(0.2, 0.8) * width
    t = np.linspace(-length / 2, length / 2, int(4 * length) + 2)
    ys = np.clip(np.round(cy + t * np.sin(angle)).astype(int), 0, height - 1)
    xs = np.clip(np.round(cx + t * np.cos(angle)).astype(int), 0, width - 1)
    mask = np.zeros((height, width), bool)
    thickness = max(1, int(round(min(height, width) / 128)))
    for dy in range(thickness):
        mask[np.clip(ys + dy, 0, height - 1), xs] = True
    level = image.mean() + (0.35 if rng.random() < 0.5 else -0.35)
    image[mask] = np.clip(level, 0.0, 1.0)
    return mask


def pasted_defects(images: np.ndarray, fraction: float = 0.5, seed: int = 0) -> LabelledImages:
    """Normal images (N, H, W, C) in [0, 1] -> a labelled set, ``fraction`` of them with one synthetic defect.

    Returns ``LabelledImages`` with labels (N,) 1 = pasted defect, masks (N, H, W), types "good",
    "patch" or "scratch", and files "" (no files).
    """
    images = np.array(images, dtype=np.float32, copy=True)
    if images.ndim != 4 or len(images) < 2:
        raise ValueError(f"images must be (N, H, W, C) with N >= 2, got {images.shape}.")
    rng = np.random.default_rng(seed)
    labels = np.zeros(len(images), np.int32)
    labels[rng.permutation(len(images))[:int(round(fraction * len(images)))]] = 1
    masks = np.zeros(images.shape[:3], bool)
    types = np.array(["good"] * len(images), dtype=object)
    for i in np.flatnonzero(labels):
        if rng.random() < 0.5:
            donor = images[(i + rng.integers(1, len(images))) % len(images)]
            masks[i] = _patch_defect(images[i], donor, rng)
            types[i] = "patch"
        else:
            masks[i] = _scratch_defect(images[i], rng)
            types[i] = "scratch"
    return LabelledImages(images, labels, masks, types.astype(str), np.array([""] * len(images)), True)
