"""Writes the small data subset the GPU benchmark suite carries to the lent GPU machine.

Reads ``../shared/data`` (or ``$KERAS_ONECLASS_DATA``) and writes into ``.gpu_data/`` (git-ignored):

- ``mnist.npz``: full MNIST, uint8 ``x_train`` (60000, 28, 28), ``y_train``, ``x_test``, ``y_test``.
- ``cifar10_cat.npz``: CIFAR-10 ``x_train`` = the 5,000 training images of class "cat" (uint8
  32x32x3), ``x_test`` = all 10,000 test images, ``y_test`` uint8 labels, ``class_names``
  (sorted folder names = the package's ``CIFAR10_CLASSES`` order; ``normal_class`` = 3).
  As uint8 arrays this file would take 34 MiB even LZMA-compressed (JPEG-decoded pixels compress
  badly), so it stores the original JPEG files' bytes (``x_train_jpeg`` / ``x_test_jpeg``, uint8,
  with ``*_offsets``; 13 MiB) and the SHA-1 of the decoded arrays: read it with ``load("cifar10_cat")``,
  which decodes with Pillow (about 2 s) and checks the SHA-1, giving exactly the arrays above.
- ``magnetic_tile.npz``: magnetic tile ``x_train`` (752 good) and ``x_test`` (592), grayscale uint8
  resized to SIZE x SIZE (256, or 128 when 256 would push ``.gpu_data`` past the size budget),
  ``y_test`` (1 = defective), ``test_types`` and ``test_masks`` (bool, binarised at 64/255 as
  ``keras_oneclass.datasets.folder`` does).

``load(name)`` returns any of the three as a dict of numpy arrays.

Images are decoded with Pillow (no TensorFlow on the GPU machine). Files are read in sorted order,
as the package's loaders read them. Arrays are stored LZMA-compressed inside the npz zip (``numpy.load``
reads them like any npz). Runs are idempotent: a file whose stored source key matches is kept;
``--force`` rewrites. ``--compare N`` also decodes N images with the package's TensorFlow loader
(needs TensorFlow) and prints the largest absolute pixel difference.

Usage, from the repository root: ``.venv/bin/python -m benchmarks.gpu_data [--force] [--compare 100]``
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import sys
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OUT_DIR = REPO / ".gpu_data"
BUDGET_MIB = 35.0
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
_VERSION = 1


def data_root() -> Path:
    value = os.environ.get("KERAS_ONECLASS_DATA")
    root = Path(value).expanduser() if value else REPO.parent / "shared" / "data"
    if not root.is_dir():
        sys.exit(f"No data folder at {root}; set KERAS_ONECLASS_DATA.")
    return root.resolve()


def images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith("."))


def source_key(files) -> str:
    """Version, file count, total bytes and latest mtime of the inputs."""
    stats = [os.stat(f) for f in files]
    return repr((_VERSION, len(stats), sum(s.st_size for s in stats), max(s.st_mtime_ns for s in stats)))


def stored_key(path: Path) -> str | None:
    try:
        with np.load(path, allow_pickle=False) as stored:
            return str(stored["source_key"].item())
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None


def save_npz(path: Path, **arrays) -> None:
    """An npz whose members are LZMA-compressed (readable by numpy.load); atomic, deterministic."""
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_LZMA) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asanyarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_LZMA
            archive.writestr(info, buffer.getvalue())
    os.replace(partial, path)


def decode_rgb(file: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(file) as image:
        return np.asarray(image.convert("RGB"), dtype=np.uint8)


def decode_gray_resized(file: Path, size: int) -> np.ndarray:
    """Grayscale, bilinear antialiased resize in float, rounded: as the package's TF pipeline."""
    from PIL import Image

    with Image.open(file) as image:
        if image.mode != "L":
            rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
            gray = Image.fromarray(rgb @ np.float32([0.2989, 0.5870, 0.1140]), mode="F")
        else:
            gray = image.convert("F")
        resized = np.asarray(gray.resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32)
    return np.clip(np.round(resized), 0, 255).astype(np.uint8)


def decode_mask_resized(file: Path, size: int) -> np.ndarray:
    return decode_gray_resized(file, size) >= 64


def mib(path: Path) -> float:
    return path.stat().st_size / 2**20


def build_mnist(root: Path, force: bool) -> Path:
    source = root / "mnist" / "mnist.npz"
    path = OUT_DIR / "mnist.npz"
    key = source_key([source])
    if not force and path.is_file() and stored_key(path) == key:
        return path
    with np.load(source) as data:
        arrays = {name: np.asarray(data[name], dtype=np.uint8)
                  for name in ("x_train", "y_train", "x_test", "y_test")}
    assert arrays["x_train"].shape == (60000, 28, 28) and arrays["x_test"].shape == (10000, 28, 28)
    save_npz(path, source_key=np.asarray(key), **arrays)
    return path


def cifar_files(root: Path):
    base = root / "cifar10"
    for split in ("train", "test"):
        found = sorted(e.name for e in os.scandir(base / split) if e.is_dir() and not e.name.startswith("."))
        if tuple(found) != CIFAR10_CLASSES:
            sys.exit(f"CIFAR-10 class folders {found} under {base / split} differ from {CIFAR10_CLASSES}.")
    train = images_in(base / "train" / "cat")
    test, labels = [], []
    for label, name in enumerate(CIFAR10_CLASSES):
        files = images_in(base / "test" / name)
        test += files
        labels += [label] * len(files)
    return train, test, np.asarray(labels, dtype=np.uint8)


def pack_files(files) -> tuple[np.ndarray, np.ndarray]:
    """The files' bytes concatenated (uint8) and the offsets (int64, len(files) + 1)."""
    blobs = [Path(f).read_bytes() for f in files]
    offsets = np.cumsum([0] + [len(b) for b in blobs], dtype=np.int64)
    return np.frombuffer(b"".join(blobs), dtype=np.uint8), offsets


def decode_packed(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Pillow-decodes packed JPEG bytes to one uint8 (N, H, W, 3) array."""
    from PIL import Image

    def one(i):
        with Image.open(io.BytesIO(data[offsets[i]:offsets[i + 1]].tobytes())) as image:
            return np.asarray(image.convert("RGB"), dtype=np.uint8)

    return np.stack([one(i) for i in range(len(offsets) - 1)])


def sha1(array: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(array).tobytes()).hexdigest()


def build_cifar(root: Path, force: bool) -> Path:
    train, test, y_test = cifar_files(root)
    path = OUT_DIR / "cifar10_cat.npz"
    key = source_key(train + test)
    if not force and path.is_file() and stored_key(path) == key:
        return path
    x_train = np.stack([decode_rgb(f) for f in train])
    x_test = np.stack([decode_rgb(f) for f in test])
    assert x_train.shape == (5000, 32, 32, 3) and x_test.shape == (10000, 32, 32, 3)
    train_bytes, train_offsets = pack_files(train)
    test_bytes, test_offsets = pack_files(test)
    # The packed bytes must decode to exactly the arrays decoded from the files.
    assert np.array_equal(decode_packed(train_bytes, train_offsets), x_train)
    save_npz(path, source_key=np.asarray(key),
             x_train_jpeg=train_bytes, x_train_offsets=train_offsets, x_train_sha1=np.asarray(sha1(x_train)),
             x_test_jpeg=test_bytes, x_test_offsets=test_offsets, x_test_sha1=np.asarray(sha1(x_test)),
             y_test=y_test, class_names=np.asarray(CIFAR10_CLASSES), normal_class=np.asarray(3, dtype=np.uint8))
    return path


def load(name: str, folder: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """``"mnist"``, ``"cifar10_cat"`` or ``"magnetic_tile"`` from ``.gpu_data`` as a dict of arrays.

    Packed JPEG members (``<x>_jpeg`` + ``<x>_offsets``) are decoded to uint8 ``<x>`` and checked
    against the stored SHA-1 (a mismatch, e.g. from another libjpeg, warns and keeps the pixels).
    """
    path = Path(folder or OUT_DIR) / f"{name}.npz"
    with np.load(path, allow_pickle=False) as stored:
        arrays = {key: stored[key] for key in stored.files if key != "source_key"}
    for key in [k[: -len("_jpeg")] for k in arrays if k.endswith("_jpeg")]:
        images = decode_packed(arrays.pop(f"{key}_jpeg"), arrays.pop(f"{key}_offsets"))
        expected = str(arrays.pop(f"{key}_sha1"))
        if sha1(images) != expected:
            print(f"warning: {path} {key}: Pillow decode differs from the stored SHA-1", file=sys.stderr)
        arrays[key] = images
    return arrays


def tile_files(root: Path):
    base = root / "magnetic_tile"
    train = images_in(base / "train" / "good")
    test, types, masks = [], [], []
    for type_dir in sorted(p for p in (base / "test").iterdir() if p.is_dir() and not p.name.startswith(".")):
        for file in images_in(type_dir):
            test.append(file)
            types.append(type_dir.name)
            if type_dir.name != "good":
                mask = base / "ground_truth" / type_dir.name / f"{file.stem}_mask.png"
                if not mask.is_file():
                    sys.exit(f"No mask {mask}.")
                masks.append(mask)
    return train, test, np.asarray(types), masks


def build_tile(root: Path, force: bool, size: int) -> Path:
    train, test, types, mask_files = tile_files(root)
    path = OUT_DIR / "magnetic_tile.npz"
    key = source_key(train + test + mask_files) + f"|size={size}"
    if not force and path.is_file() and stored_key(path) == key:
        return path
    x_train = np.stack([decode_gray_resized(f, size) for f in train])[..., None]
    x_test = np.stack([decode_gray_resized(f, size) for f in test])[..., None]
    y_test = (types != "good").astype(np.uint8)
    masks = np.zeros((len(test), size, size), bool)
    masks[y_test == 1] = np.stack([decode_mask_resized(f, size) for f in mask_files])
    save_npz(path, source_key=np.asarray(key), x_train=x_train, x_test=x_test, y_test=y_test,
             test_types=types, test_masks=masks, image_size=np.asarray(size))
    return path


def compare_with_package(root: Path, count: int) -> None:
    """Max |stored pixels - package (TensorFlow) decode| on `count` CIFAR and magnetic-tile images."""
    from keras_oneclass.datasets.image_folder import _decode_images

    train, test, _ = cifar_files(root)
    cifar = load("cifar10_cat")
    half = count // 2
    test_index = np.linspace(0, len(test) - 1, count - half).astype(int)  # every class
    files = train[:half] + [test[i] for i in test_index]
    ours = np.concatenate([cifar["x_train"][:half], cifar["x_test"][test_index]])
    theirs = _decode_images([str(f) for f in files], None, "rgb", root / "cifar10")
    diff = np.abs(ours.astype(int) - theirs.astype(int))
    print(f"cifar10 {len(files)} images: max |Pillow - package TF decode| = {diff.max()}, "
          f"pixels differing = {int((diff > 0).sum())} of {diff.size}")
    tiles, _, _, _ = tile_files(root)
    tile = load("magnetic_tile")
    size, n = int(tile["image_size"]), min(count, len(tiles))
    theirs = _decode_images([str(f) for f in tiles[:n]], (size, size), "grayscale", root / "magnetic_tile")
    diff = np.abs(tile["x_train"][:n].astype(int) - theirs.astype(int))
    print(f"magnetic_tile {n} images at {size}px: max |Pillow - package TF decode+resize| = "
          f"{diff.max()}, mean = {diff.mean():.4f}, pixels differing = {int((diff > 0).sum())} of {diff.size}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rewrite every file")
    parser.add_argument("--compare", type=int, default=0, metavar="N",
                        help="compare N Pillow decodes with the package's TensorFlow loader")
    args = parser.parse_args(argv)
    root = data_root()
    OUT_DIR.mkdir(exist_ok=True)
    written = [build_mnist(root, args.force), build_cifar(root, args.force)]
    used = sum(mib(p) for p in written)
    tile = OUT_DIR / "magnetic_tile.npz"
    existing = stored_key(tile) if tile.is_file() and not args.force else None
    if existing is not None and existing.endswith("|size=128"):
        size = 128  # 256 was over the budget when this file was written
    else:
        size = 256
        build_tile(root, args.force, 256)
        if used + mib(tile) > BUDGET_MIB:
            print(f"magnetic tile at 256x256 takes {mib(tile):.2f} MiB: over the {BUDGET_MIB:.0f} MiB "
                  "budget, storing 128x128")
            size = 128
    build_tile(root, args.force, size)
    written.append(tile)
    for path in written:
        print(f"{path.relative_to(REPO)}: {mib(path):.2f} MiB")
    total = sum(mib(p) for p in written)
    print(f"total .gpu_data: {total:.2f} MiB (magnetic tile at {size}x{size})")
    if args.compare:
        compare_with_package(root, args.compare)


if __name__ == "__main__":
    main()
