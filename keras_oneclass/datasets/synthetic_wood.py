"""An embedded wood-surface dataset: procedural planed boards with five kinds of defect and their masks.

``synthetic_wood(root)`` writes, from a fixed seed and in a few seconds, an MVTec-AD-layout folder
(the layout ``datasets.read_folder`` reads) so that examples and tests run on a fresh machine with
no download::

    root/train/good/000.png ...                 defect-free boards
    root/test/good/000.png ...                  defect-free test boards (no mask files)
    root/test/<type>/000.png ...                crack, hole, knot, scratch, stain
    root/ground_truth/<type>/000_mask.png       exact pixel mask (0 / 255) of each defect
    root/synthetic_wood.json                    the parameters (a folder is reused when they match)

The boards are drawn with numpy only (vectorised, one pass per layer):

- growth rings: contours of an elongated distance to an off-centre pith, so that each board shows
  straight grain or "cathedral" arches; within a ring the wood darkens slowly (earlywood to
  latewood) and lightens abruptly at the next ring;
- low-frequency warping noise bends the rings and the grain;
- fine grain streaks and short pore dashes run along the vertical axis;
- every board has its own colour (pine to oak), ring spacing, pith, tilt and lighting.

Defects are drawn with a coverage ``alpha`` per pixel (soft edges); the mask is exactly the pixels
where ``alpha >= 0.5``. Knots bend the surrounding grain around them; cracks are thin dark fissures
along the grain with tapered ends; holes are small dark pits; scratches are thin light lines across
the grain; stains are soft-edged blobs of moderate contrast in a blue-grey or dark-brown tint.
"""

from __future__ import annotations

import json
import os
import shutil
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import ndimage

DEFECT_TYPES = ("crack", "hole", "knot", "scratch", "stain")
MANIFEST = "synthetic_wood.json"
_VERSION = 1
_SPLITS = {"train": 0, "test_good": 1}  # defect type i uses stream 2 + i


# ----------------------------------------------------------------------------------------- noise
@lru_cache(maxsize=64)
def _interpolation_matrix(size: int, cells: int, order: int) -> np.ndarray:
    """(size, cells + 3) weights that resample a random grid to ``size`` points (cubic B-spline or linear)."""
    position = np.linspace(1.0, cells + 1.0, size)
    offset = position[:, None] - np.arange(cells + 3)[None, :]
    d = np.abs(offset)
    if order == 1:
        return np.clip(1.0 - d, 0.0, None)
    return np.where(d < 1, 2 / 3 - d ** 2 + d ** 3 / 2, np.where(d < 2, (2 - d) ** 3 / 6, 0.0))


def _value_noise(rng: np.random.Generator, size: int, cells: tuple[int, int], order: int = 3) -> np.ndarray:
    """(size, size) smooth noise of zero mean: a random (cells) grid resampled separably (B-spline)."""
    grid = rng.uniform(-1.0, 1.0, size=(cells[0] + 3, cells[1] + 3))
    noise = _interpolation_matrix(size, cells[0], order) @ grid @ _interpolation_matrix(size, cells[1], order).T
    return noise / (noise.std() + 1e-9) * 0.5


def _smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


# ----------------------------------------------------------------------------------------- boards
def _board(rng: np.random.Generator, size: int, extra_warp: np.ndarray | None = None) -> np.ndarray:
    """One defect-free board, (size, size, 3) float in [0, 1]; grain runs along the rows axis (down)."""
    v, u = np.mgrid[0:size, 0:size].astype(np.float64) / size  # v: along the grain, u: across
    tilt = rng.uniform(-0.06, 0.06)
    u = u + tilt * (v - 0.5)
    warp = rng.uniform(0.02, 0.05) * _value_noise(rng, size, (2, 3))
    warp += 0.006 * _value_noise(rng, size, (6, 10))
    if extra_warp is not None:
        warp = warp + extra_warp
    uw = u + warp

    # growth rings around a pith outside or near the board; along the grain they stretch by 1/k
    pith_u = rng.choice([-1.0, 1.0]) * rng.uniform(0.35, 1.2) + 0.5
    pith_v = rng.uniform(-1.5, 2.5)
    stretch = rng.uniform(0.08, 0.25)
    distance = np.sqrt((uw - pith_u) ** 2 + (stretch * (v - pith_v)) ** 2)
    rings_per_unit = rng.uniform(7.0, 14.0)
    phase = distance * rings_per_unit + 0.15 * _value_noise(rng, size, (3, 3))
    t = phase - np.floor(phase)
    latewood = t ** rng.uniform(3.0, 6.0) * (1.0 - _smoothstep(0.94, 1.0, t))

    # fine streaks and pores follow the warped grain
    n_cols = 3 * size
    streak_profile = ndimage.gaussian_filter1d(rng.normal(size=n_cols), 0.8, mode="wrap")
    streak_profile /= streak_profile.std() + 1e-9
    streak_pos = np.mod(uw * size * 1.5 + n_cols / 3, n_cols)
    streaks = np.interp(streak_pos, np.arange(n_cols), streak_profile)
    streaks *= 0.6 + 0.4 * _value_noise(rng, size, (6, 2))
    pores = _value_noise(rng, size, (max(size // 12, 4), max(size // 3, 8)))
    pores = np.clip((pores - 0.6) / 0.6, 0.0, 1.0)
    pore_shift = np.clip(np.rint(warp * size).astype(int), -size, size)
    cols = np.mod(np.arange(size)[None, :] + pore_shift, size)
    pores = np.take_along_axis(pores, cols, axis=1)

    darkness = (rng.uniform(0.35, 0.6) * latewood + rng.uniform(0.03, 0.06) * streaks
                + rng.uniform(0.15, 0.3) * pores)
    darkness = np.clip(darkness, 0.0, 1.0)[..., None]

    # colour: pine (light, yellow) to oak (darker, redder); latewood is darker and more saturated
    mix = rng.uniform()
    light = (1 - mix) * np.array([0.87, 0.72, 0.52]) + mix * np.array([0.76, 0.56, 0.37])
    light = light * rng.uniform(0.9, 1.06) * (1.0 + rng.normal(0.0, 0.02) * np.array([1.0, 0.0, -1.0]))
    dark = light * np.array([0.70, 0.58, 0.46])
    image = light * (1.0 - darkness) + dark * darkness
    lighting = 1.0 + 0.05 * _value_noise(rng, size, (2, 2))
    image = image * lighting[..., None] + rng.normal(0.0, 0.008, (size, size, 1))
    return np.clip(image, 0.0, 1.0)


# ----------------------------------------------------------------------------------------- geometry
def _ellipse_radius(x, y, cx, cy, rx, ry, rng, roughness: float, lobes: int = 5) -> np.ndarray:
    """Normalised radius of an irregular ellipse: <= 1 inside. The edge wobbles by ``roughness``."""
    dx, dy = (x - cx) / rx, (y - cy) / ry
    angle = np.arctan2(dy, dx)
    edge = np.ones_like(angle)
    for k in range(2, 2 + lobes):
        edge += roughness / k * np.sin(k * angle + rng.uniform(0, 2 * np.pi))
    return np.sqrt(dx ** 2 + dy ** 2) / edge


def _polyline_distance(x, y, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance of every pixel to a polyline, and the arc-length position (0..1) of its nearest point."""
    best = np.full(x.shape, np.inf)
    position = np.zeros(x.shape)
    lengths = np.linalg.norm(np.diff(points, axis=0), axis=1)
    starts = np.r_[0.0, np.cumsum(lengths)] / max(lengths.sum(), 1e-9)
    for i, ((x0, y0), (x1, y1)) in enumerate(zip(points[:-1], points[1:])):
        dx, dy = x1 - x0, y1 - y0
        s = np.clip(((x - x0) * dx + (y - y0) * dy) / max(dx * dx + dy * dy, 1e-9), 0.0, 1.0)
        d = np.hypot(x - x0 - s * dx, y - y0 - s * dy)
        closer = d < best
        best = np.where(closer, d, best)
        position = np.where(closer, starts[i] + s * (starts[i + 1] - starts[i]), position)
    return best, position


def _line_alpha(x, y, points, width_max: float, taper: bool) -> tuple[np.ndarray, np.ndarray]:
    """Coverage of a stroke along ``points`` (tapered ends if asked) and its mask (alpha >= 0.5)."""
    distance, position = _polyline_distance(x, y, points)
    width = width_max * (np.clip(np.sin(np.pi * position), 0.0, 1.0) ** 0.6 if taper else np.ones_like(position))
    alpha = np.clip(width / 2 + 0.5 - distance, 0.0, 1.0)
    return alpha, alpha >= 0.5


# ----------------------------------------------------------------------------------------- defects
def _knot_geometry(rng, size):
    scale = size / 256
    rx = rng.uniform(9, 20) * scale
    ry = rx * rng.uniform(1.0, 1.6)
    margin = 2 * ry
    return rng.uniform(margin, size - margin), rng.uniform(margin, size - margin), rx, ry


def _knot_warp(geometry, size) -> np.ndarray:
    """Grain deflection around a knot: rows near it are pushed sideways, away from its centre."""
    cx, cy, rx, ry = geometry
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    bump = np.exp(-(((x - cx) / (2.2 * rx)) ** 2 + ((y - cy) / (3.0 * ry)) ** 2))
    return np.tanh((x - cx) / rx) * bump * (1.3 * rx / size)


def _paint_knot(image, rng, geometry):
    size = image.shape[0]
    cx, cy, rx, ry = geometry
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    rho = _ellipse_radius(x, y, cx, cy, rx, ry, rng, roughness=0.12)
    alpha = np.clip(0.5 + (1.0 - rho) * rx / 1.5, 0.0, 1.0)
    base = image.mean(axis=(0, 1))
    rings = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(2.5, 4.5) * rho + rng.uniform(0, 2 * np.pi))
    shade = (rng.uniform(0.4, 0.65) + 0.12 * rings - 0.12 * _smoothstep(0.75, 1.0, rho)
             + 0.04 * _value_noise(rng, size, (12, 12)))
    knot = base * np.array([0.95, 0.82, 0.70]) * shade[..., None]
    halo = 0.10 * np.exp(-((rho - 1.0) / 0.35) ** 2) * (rho > 1)
    image = image * (1 - halo[..., None])
    return image * (1 - alpha[..., None]) + knot * alpha[..., None], rho <= 1.0


def _paint_crack(image, rng):
    size = image.shape[0]
    scale = size / 256
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    length = rng.uniform(0.2, 0.5) * size
    angle = np.pi / 2 + rng.uniform(-0.25, 0.25)  # along the grain, give or take 15 degrees
    n = 9
    steps = np.linspace(0, 1, n)
    start = rng.uniform([0.15 * size, 0.1 * size], [0.85 * size, 0.9 * size - length * 0.8])
    jitter = np.cumsum(rng.normal(0, 1.2 * scale, n)) + rng.normal(0, 0.6 * scale, n)
    points = np.stack([start[0] + steps * length * np.cos(angle) + jitter * np.sin(angle),
                       start[1] + steps * length * np.sin(angle) - jitter * np.cos(angle)], axis=1)
    alpha, mask = _line_alpha(x, y, points, rng.uniform(1.6, 3.0) * scale, taper=True)
    depth = rng.uniform(0.55, 0.75)
    fissure = image * np.array([0.55, 0.45, 0.40]) * 0.6
    blend = (depth * alpha)[..., None]
    return image * (1 - blend) + fissure * blend, mask


def _paint_holes(image, rng):
    size = image.shape[0]
    scale = size / 256
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    mask = np.zeros((size, size), bool)
    for _ in range(rng.integers(1, 4)):
        r = rng.uniform(2.5, 5.5) * scale
        cx, cy = rng.uniform(0.08 * size, 0.92 * size, 2)
        rho = _ellipse_radius(x, y, cx, cy, r, r * rng.uniform(1.0, 1.4), rng, roughness=0.08)
        alpha = np.clip(0.5 + (1.0 - rho) * r / 1.0, 0.0, 1.0)
        shadow = 0.18 + 0.25 * np.clip((x - cx + y - cy) / (2.5 * r) + 0.5, 0, 1)  # lit from the top left
        pit = image * (shadow * rng.uniform(0.6, 1.0))[..., None]
        image = image * (1 - alpha[..., None]) + pit * alpha[..., None]
        mask |= rho <= 1.0
    return image, mask


def _paint_scratch(image, rng):
    size = image.shape[0]
    scale = size / 256
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    mask = np.zeros((size, size), bool)
    light = np.zeros((size, size))
    angle = rng.uniform(-0.6, 0.6)  # across the grain
    for _ in range(rng.integers(1, 3)):
        length = rng.uniform(0.3, 0.6) * size
        centre = rng.uniform(0.25 * size, 0.75 * size, 2)
        direction = np.array([np.cos(angle), np.sin(angle)])
        normal = np.array([-direction[1], direction[0]])
        steps = np.linspace(-0.5, 0.5, 7)[:, None]
        bend = rng.uniform(-0.04, 0.04) * length * (1 - 4 * steps ** 2)
        points = centre + steps * length * direction + bend * normal
        alpha, stroke = _line_alpha(x, y, points, rng.uniform(1.2, 2.0) * scale, taper=True)
        light = np.maximum(light, alpha)
        mask |= stroke
        angle += rng.uniform(-0.1, 0.1)
    strength = rng.uniform(0.25, 0.4)
    return image + (strength * light)[..., None] * (1.0 - image), mask


def _paint_stain(image, rng):
    size = image.shape[0]
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    r = rng.uniform(0.07, 0.15) * size
    cx, cy = rng.uniform(r + 4, size - r - 4, 2)
    rho = _ellipse_radius(x, y, cx, cy, r, r * rng.uniform(0.7, 1.4), rng, roughness=0.25)
    rho = rho * (1.0 + 0.12 * _value_noise(rng, size, (8, 8)))
    softness = rng.uniform(0.2, 0.4)
    alpha = 1.0 - _smoothstep(1.0 - softness, 1.0 + softness, rho)  # 0.5 exactly at rho == 1
    tint = (np.array([0.78, 0.82, 0.88]) if rng.uniform() < 0.5  # blue-grey (fungal / iron stain)
            else np.array([0.80, 0.70, 0.60]))  # dark brown (water / oil)
    strength = rng.uniform(0.4, 0.75)
    tide = 0.08 * np.exp(-((rho - 1.0) / 0.06) ** 2) * (rng.uniform() < 0.5)  # a water-stain rim, or none
    factor = 1.0 - strength * alpha[..., None] * (1.0 - tint) - tide[..., None]
    return image * factor, rho <= 1.0


def _defect_image(rng, size, defect_type):
    if defect_type == "knot":
        geometry = _knot_geometry(rng, size)
        return _paint_knot(_board(rng, size, _knot_warp(geometry, size)), rng, geometry)
    board = _board(rng, size)
    painter = {"crack": _paint_crack, "hole": _paint_holes, "scratch": _paint_scratch, "stain": _paint_stain}
    return painter[defect_type](board, rng)


# ----------------------------------------------------------------------------------------- writing
def _to_uint8(image: np.ndarray, color: bool) -> np.ndarray:
    if not color:
        image = image @ np.array([0.299, 0.587, 0.114])
    return np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)


def _save_png(path: Path, array: np.ndarray) -> None:
    from PIL import Image  # Pillow comes with matplotlib

    Image.fromarray(array).save(path, compress_level=1)


def _rng(seed: int, stream: int, index: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), stream, index])


def _expected_files(params: dict) -> int:
    n_defect = params["n_test_defect_per_type"] * len(params["defect_types"])
    return params["n_train"] + params["n_test_good"] + 2 * n_defect


def synthetic_wood(root: str | os.PathLike, n_train: int = 200, n_test_good: int = 40,
                   n_test_defect_per_type: int = 10, image_size: int = 256, color: bool = True,
                   seed: int = 0, defect_types=DEFECT_TYPES, overwrite: bool = False) -> Path:
    """Write (or reuse) the embedded wood-surface dataset in the MVTec AD layout; return its root.

    Every image has its own random stream drawn from (seed, split, index), so the same seed gives
    byte-identical files, and changing one count leaves the other images unchanged. About 4 s for
    the defaults (290 images of 256x256) on one CPU core.

    Args:
        root: folder to write; created if missing. Reused as is when its ``synthetic_wood.json``
            records the same parameters.
        n_train: defect-free training boards (``train/good``).
        n_test_good: defect-free test boards (``test/good``, no mask files).
        n_test_defect_per_type: test boards per defect type (``test/<type>`` with masks in
            ``ground_truth/<type>/<name>_mask.png``).
        image_size: side of the square images in pixels.
        color: RGB images when True, grayscale (one channel) when False.
        seed: seed of every random choice.
        defect_types: a subset of ``DEFECT_TYPES`` ("crack", "hole", "knot", "scratch", "stain").
        overwrite: regenerate even when ``root`` holds this set or another one (only what this
            function writes is removed: train/, test/, ground_truth/ and the manifest).

    Returns:
        ``Path`` of ``root``.

    Raises:
        ValueError: bad counts, size or defect types, or ``root`` holds something else and
            ``overwrite`` is False.

    Example:
        >>> from keras_oneclass import datasets
        >>> root = datasets.synthetic_wood("data/wood")            # doctest: +SKIP
        >>> data = datasets.read_folder(root, image_size=128)      # doctest: +SKIP
        >>> data.train.shape, data.test.labels.sum()               # doctest: +SKIP
        ((200, 128, 128, 3), 50)
    """
    for name, value, low in (("n_train", n_train, 1), ("n_test_good", n_test_good, 0),
                             ("n_test_defect_per_type", n_test_defect_per_type, 0), ("image_size", image_size, 32)):
        if int(value) != value or value < low:
            raise ValueError(f"`{name}` must be an integer >= {low}, got {value!r}.")
    defect_types = tuple(defect_types)
    unknown = sorted(set(defect_types) - set(DEFECT_TYPES))
    if unknown or len(set(defect_types)) != len(defect_types):
        raise ValueError(f"`defect_types` must be distinct names among {DEFECT_TYPES}, got {defect_types}.")
    params = {"generator": "keras_oneclass.datasets.synthetic_wood", "version": _VERSION,
              "n_train": int(n_train), "n_test_good": int(n_test_good),
              "n_test_defect_per_type": int(n_test_defect_per_type), "image_size": int(image_size),
              "color": bool(color), "seed": int(seed), "defect_types": list(defect_types)}
    root = Path(root).expanduser()
    manifest = root / MANIFEST
    if manifest.is_file():
        try:
            existing = json.loads(manifest.read_text())
        except ValueError:
            existing = None
        if existing == params and not overwrite:
            return root
        if not overwrite:
            raise ValueError(f"{root} holds a synthetic_wood set with other parameters ({existing}); "
                             f"pass overwrite=True to regenerate it, or choose another folder.")
    elif root.is_dir() and any(root.iterdir()) and not overwrite:
        raise ValueError(f"{root} is not empty and was not written by synthetic_wood; "
                         f"choose an empty or new folder, or pass overwrite=True.")
    for part in ("train", "test", "ground_truth", MANIFEST):
        target = root / part
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()

    with _single_threaded_blas():  # tiny matrix products: BLAS threads only add overhead
        _write_all(root, params)
    manifest.write_text(json.dumps(params, indent=1) + "\n")  # last: a half-written folder is never reused
    return root


def _single_threaded_blas():
    try:
        from threadpoolctl import threadpool_limits  # installed with scikit-learn
    except ImportError:  # pragma: no cover
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _write_all(root: Path, params: dict) -> None:
    size, color, seed = params["image_size"], params["color"], params["seed"]
    n_train, n_test_good = params["n_train"], params["n_test_good"]
    n_test_defect_per_type, defect_types = params["n_test_defect_per_type"], params["defect_types"]
    folders = [root / "train" / "good", root / "test" / "good"]
    folders += [root / sub / kind for kind in defect_types for sub in ("test", "ground_truth")]
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    for split, count, folder in (("train", n_train, folders[0]), ("test_good", n_test_good, folders[1])):
        for index in range(int(count)):
            board = _board(_rng(seed, _SPLITS[split], index), size)
            _save_png(folder / f"{index:03d}.png", _to_uint8(board, color))
    for kind in defect_types:
        stream = 2 + DEFECT_TYPES.index(kind)
        for index in range(int(n_test_defect_per_type)):
            rng = _rng(seed, stream, index)
            image, mask = _defect_image(rng, size, kind)
            while mask.sum() < 4:  # a defect too thin to leave a mask pixel: draw it again
                image, mask = _defect_image(rng, size, kind)
            _save_png(root / "test" / kind / f"{index:03d}.png", _to_uint8(image, color))
            _save_png(root / "ground_truth" / kind / f"{index:03d}_mask.png", mask.astype(np.uint8) * 255)


def wood_boards(n: int, image_size: int = 256, batch_size: int = 16, color: bool = True, seed: int = 0,
                start: int = 0):
    """Yield ``n`` defect-free training boards in batches, drawn on the fly and never written to disk.

    Board ``i`` is the image ``synthetic_wood(root, n_train > i, image_size=image_size, color=color,
    seed=seed)`` writes to ``train/good/{i:03d}.png``, read back in [0, 1] (the same 8-bit rounding),
    so a generator of 5,000 boards holds one batch at a time: (batch_size, size, size, 3) float32,
    about 9.6 MB for 16 boards of 224 px. About 15 ms per 256 px board on one CPU core.

    Args:
        n: number of boards.
        image_size: side of the square boards in pixels.
        batch_size: boards per yielded batch (the last one may be smaller).
        color: (size, size, 3) RGB boards when True, (size, size, 1) grayscale when False.
        seed: seed of the set (the same streams as ``synthetic_wood``).
        start: index of the first board (to draw boards ``start .. start + n - 1``).

    Yields:
        (B, image_size, image_size, C) float32 arrays in [0, 1].

    Example:
        >>> batches = wood_boards(40, image_size=64, batch_size=16)
        >>> [b.shape for b in batches]
        [(16, 64, 64, 3), (16, 64, 64, 3), (8, 64, 64, 3)]
    """
    if int(n) != n or n < 0 or int(batch_size) < 1 or int(image_size) < 32:
        raise ValueError(f"need n >= 0, batch_size >= 1 and image_size >= 32, got {n}, {batch_size}, {image_size}.")
    size = int(image_size)
    for first in range(int(start), int(start) + int(n), int(batch_size)):
        last = min(first + int(batch_size), int(start) + int(n))
        with _single_threaded_blas():  # per batch: the limit must not hold while the consumer runs
            batch = [_to_uint8(_board(_rng(seed, _SPLITS["train"], index), size), color) for index in range(first, last)]
        images = np.stack(batch).astype(np.float32) / np.float32(255.0)
        yield images if color else images[..., None]
