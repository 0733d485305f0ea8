"""Image folders in the MVTec AD layout: defect-free training images, a test set with pixel masks.

Layout (MVTec AD, the shared magnetic-tile set, `datasets.synthetic_wood`)::

    root/train/good/*.png|jpg
    root/test/good/*            defect-free test images (label 0, empty mask)
    root/test/<type>/*          defective test images (label 1), one folder per defect type
    root/ground_truth/<type>/<name>_mask.png   pixel masks of the defective images (optional)

Images are decoded with TensorFlow, or Pillow when TensorFlow is not installed (``datasets.image_folder``),
resized to ``image_size`` (bilinear, antialiased) and scaled to [0, 1]; masks are
resized the same way and binarised at a quarter coverage (so thin cracks survive down-scaling). Decoded arrays are cached like class-per-folder sets
(``$KERAS_ONECLASS_CACHE``), so a second load only reads the cache.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from keras_oneclass import backends
from keras_oneclass.datasets.image_folder import (
    IMAGE_EXTENSIONS,
    as_image_size,
    cached_arrays,
    decoder_key,
    _decode_images,
)

_CACHE_VERSION = 2
GOOD = "good"


@dataclass
class LabelledImages:
    """Test (or validation) images with labels and pixel masks.

    Attributes:
        images: (N, H, W, C) float32 in [0, 1].
        labels: (N,) int32, 1 = defective.
        masks: (N, H, W) bool, True on defective pixels (all False for good images, and for every
            image when the folder has no ``ground_truth``).
        types: (N,) str, the defect folder of each image (``"good"`` for defect-free ones).
        files: (N,) str, the image paths.
        has_masks: whether pixel masks were found (pixel metrics are meaningful only then).
    """

    images: np.ndarray
    labels: np.ndarray
    masks: np.ndarray
    types: np.ndarray
    files: np.ndarray
    has_masks: bool = True

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class FolderData:
    """An MVTec-layout folder read into memory: ``train`` (N, H, W, C) float32 in [0, 1] and ``test``."""

    train: np.ndarray
    train_files: np.ndarray
    test: LabelledImages
    root: str
    color_mode: str

    def split_validation(self, fraction: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Hold out a random ``fraction`` of the training images: returns (train, validation)."""
        if not 0.0 <= fraction < 1.0:
            raise ValueError(f"`fraction` must be in [0, 1), got {fraction}.")
        order = np.random.default_rng(seed).permutation(len(self.train))
        n_validation = int(round(fraction * len(self.train)))
        if fraction > 0 and n_validation == 0:
            n_validation = 1
        if n_validation >= len(self.train):
            raise ValueError(f"`fraction`={fraction} leaves no training images out of {len(self.train)}.")
        keep = np.sort(order[n_validation:])
        held = np.sort(order[:n_validation])
        return self.train[keep], self.train[held]


def _images_in(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith("."))


def _detect_color_mode(file: str) -> str:
    """"grayscale" when the image file stores one channel, else "rgb"."""
    if not backends.tensorflow_installed():
        from PIL import Image

        with Image.open(file) as image:  # reads the header only
            # "P" (palette) has one band but decodes to RGB, as TensorFlow's decoder expands it
            return "grayscale" if len(image.getbands()) == 1 and image.mode != "P" else "rgb"
    import tensorflow as tf

    image = tf.io.decode_image(tf.io.read_file(file), channels=0, expand_animations=False)
    return "grayscale" if image.shape[-1] == 1 else "rgb"


def _mask_file(root: Path, defect_type: str, image_file: str) -> Path | None:
    stem = Path(image_file).stem
    folder = root / "ground_truth" / defect_type
    for name in (f"{stem}_mask.png", f"{stem}.png", f"{stem}_mask.jpg", f"{stem}.jpg", f"{stem}_mask.bmp"):
        if (folder / name).is_file():
            return folder / name
    return None


def read_folder(root: str | os.PathLike, image_size: int | tuple[int, int] = 256,
                color_mode: str = "auto", cache: bool = True) -> FolderData:
    """Read an MVTec-layout folder into arrays (see the module docstring for the layout).

    Args:
        root: the category folder holding ``train/good`` and ``test/``.
        image_size: int or (height, width) every image and mask is resized to.
        color_mode: ``"rgb"``, ``"grayscale"`` or ``"auto"`` (the channel count of the first
            training image).
        cache: read and write the decoded-array cache.

    Returns:
        FolderData with ``train`` (N, H, W, C) float32 in [0, 1] and ``test`` (LabelledImages).

    Example:
        >>> data = read_folder("../shared/data/magnetic_tile", image_size=224)  # doctest: +SKIP
        >>> data.train.shape, data.test.labels.mean()  # doctest: +SKIP
        ((752, 224, 224, 1), 0.66)
    """
    size = as_image_size(image_size)
    if size is None:
        raise ValueError("`image_size` is required for MVTec-layout folders (their images differ in size).")
    if color_mode not in ("auto", "rgb", "grayscale"):
        raise ValueError(f"`color_mode` must be 'auto', 'rgb' or 'grayscale'; got {color_mode!r}.")
    root = Path(root).expanduser().resolve()
    layout = "root/train/good/*.png, root/test/<good|defect type>/*, root/ground_truth/<type>/<name>_mask.png"
    if not root.is_dir():
        raise FileNotFoundError(f"`root` {str(root)!r} is not a folder; expected the MVTec AD layout: {layout}.")
    train_dir, test_dir = root / "train" / GOOD, root / "test"
    if not train_dir.is_dir() or not test_dir.is_dir():
        raise FileNotFoundError(f"{str(root)!r} lacks train/good or test/; expected the MVTec AD layout: {layout}.")
    train_files = _images_in(train_dir)
    if not train_files:
        raise ValueError(f"{train_dir} holds no images ({', '.join(IMAGE_EXTENSIONS)}).")
    test_files, types = [], []
    for type_dir in sorted(p for p in test_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = _images_in(type_dir)
        test_files += files
        types += [type_dir.name] * len(files)
    if not test_files:
        raise ValueError(f"{test_dir} holds no images in its sub-folders; expected test/<good|defect type>/*.")
    has_masks = (root / "ground_truth").is_dir()
    mask_files = []
    if has_masks:
        for file, defect_type in zip(test_files, types):
            if defect_type == GOOD:
                continue
            mask = _mask_file(root, defect_type, file)
            if mask is None:
                raise FileNotFoundError(
                    f"No mask for {file}: expected {root / 'ground_truth' / defect_type / (Path(file).stem + '_mask.png')}.")
            mask_files.append(str(mask))
    if color_mode == "auto":
        color_mode = _detect_color_mode(train_files[0])
    every_file = train_files + test_files + mask_files
    latest = max(os.stat(f).st_mtime for f in every_file)
    key = repr((_CACHE_VERSION, str(root), len(every_file), latest, size, color_mode) + decoder_key())

    def decode():
        masks = (_decode_images(mask_files, size, "grayscale", root / "ground_truth")[..., 0]
                 if mask_files else np.zeros((0, *size), np.uint8))
        return {"train": _decode_images(train_files, size, color_mode, train_dir),
                "test": _decode_images(test_files, size, color_mode, test_dir),
                "defect_masks": masks}

    arrays = cached_arrays("mvtec_folder", key, decode, cache)
    types = np.asarray(types)
    labels = (types != GOOD).astype(np.int32)
    masks = np.zeros((len(test_files), *size), bool)
    if has_masks:
        # Antialiased down-scaling turns thin defects into faint lines: a pixel is defective when at
        # least a quarter of it was (64 of 255), so cracks survive small image sizes.
        masks[labels == 1] = arrays["defect_masks"] >= 64
    test = LabelledImages(images=arrays["test"].astype(np.float32) / 255.0, labels=labels, masks=masks,
                          types=types, files=np.asarray(test_files), has_masks=has_masks)
    return FolderData(train=arrays["train"].astype(np.float32) / 255.0, train_files=np.asarray(train_files),
                      test=test, root=str(root), color_mode=color_mode)


def load_folder(root: str | os.PathLike, image_size: int | tuple[int, int] = 256, color_mode: str = "auto",
                batch_size: int = 32, shuffle: bool = True, seed: int = 0, cache: bool = True):
    """An MVTec-layout folder as ``(train_ds, test)`` (docs/design.md, "The detector contract").

    Args:
        root, image_size, color_mode, cache: as in ``read_folder``.
        batch_size: batch size of ``train_ds``.
        shuffle: reshuffle the training images every epoch (seeded).
        seed: shuffle seed.

    Returns:
        ``train_ds``: tf.data.Dataset of (B, H, W, C) float32 batches of defect-free images in [0, 1];
        without TensorFlow installed (JAX or PyTorch backend), the (N, H, W, C) float32 array of those
        images instead (``batch_size``, ``shuffle`` and ``seed`` are then left to ``fit``);
        ``test``: LabelledImages (images, labels 1 = defective, masks, types).

    Example:
        >>> train_ds, test = load_folder("../shared/data/magnetic_tile", image_size=224)  # doctest: +SKIP
        >>> model.fit(train_ds); scores = model.predict(test.images)  # doctest: +SKIP
    """
    data = read_folder(root, image_size, color_mode, cache)
    if not backends.tensorflow_installed():
        return data.train, data.test
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices(data.train)
    if shuffle:
        dataset = dataset.shuffle(len(data.train), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE), data.test
