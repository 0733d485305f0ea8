"""The flagship detectors on real defects (magnetic tiles) and on the synthetic wood.

    python benchmarks/real_defects.py --budget cpu                       # the whole study on this CPU
    python benchmarks/real_defects.py --budget cpu --models efficientad,patchcore
    python -m benchmarks real_defects --part select --models efficientad # choose settings on validation

Each detector trains on ``train/good`` less 10% held out (``read_folder(...).split_validation(0.1)``).
Half of the held-out images get a pasted synthetic defect (``datasets.pasted_defects``): that labelled
validation set chooses the settings (``--part select``) and the threshold (best F1); the test split is
scored once, with the chosen settings. Reported: image ROC AUC, PR AUC, F1 at the calibrated threshold,
pixel ROC AUC, PRO (FPR <= 0.3), validation image ROC AUC, fit seconds, inference images/s at batch 1
and 16. ``--budget cpu`` runs short schedules for 2 CPU cores; ``--budget paper`` the papers' (GPU).
"""

from __future__ import annotations

import math
import os
import tempfile
import time

import numpy as np

from benchmarks.common import balanced_subset, data_root

SEEDS = 1
RESUME = True  # a run skips the (configuration, seed) pairs already recorded
DATASETS = ("magnetic_tile", "wood")
MODELS = ("autoencoder", "ssim_autoencoder", "vae", "ganomaly", "efficientad", "padim", "patchcore")
MEMORY = {"backbone": "mobilenet", "alpha": 0.25, "weights": "imagenet"}
# budget -> model -> settings. "image_size" is the input side; "images" the training images seen, run as
# whole epochs (epochs = round(images / training images), at least 1; EfficientAD: steps = epochs x batches);
# "epochs" or "steps" (paper budget) the papers' schedules.
# CPU settings: the time 2 cores allow sets the image budget, a maximum: the study scores the pasted-defect
# validation set after every epoch, keeps the best epoch (``callbacks.BestValidationEpoch``) and stops PATIENCE
# epochs after it. The input side, batch, learning rate, loss and code are the candidates with the best
# validation image ROC AUC on the magnetic tiles (``--part select``, CANDIDATES, compared at the budgets listed
# there; never the test split), applied to both datasets.
BUDGETS = {
    "cpu": {
        "autoencoder": {"image_size": 64, "images": 6000, "batch_size": 8},
        "ssim_autoencoder": {"image_size": 64, "images": 32000, "learning_rate": 1e-3},
        "vae": {"image_size": 128, "images": 3000, "batch_size": 16},
        "ganomaly": {"image_size": 64, "images": 3200, "batch_size": 8},
        "efficientad": {"image_size": 64, "images": 1200, "batch_size": 1},
        "padim": {"image_size": 128},
        "patchcore": {"image_size": 128, "chunk_size": 20_000},
    },
    "paper": {
        "autoencoder": {"image_size": 256, "epochs": 100},
        "ssim_autoencoder": {"image_size": 256, "epochs": 200},
        "vae": {"image_size": 256, "epochs": 100},
        "ganomaly": {"image_size": 256, "epochs": 15},
        "efficientad": {"image_size": 256, "steps": 70_000, "batch_size": 1},
        "padim": {"image_size": 224},
        "patchcore": {"image_size": 224},
    },
}
# --part select, compared on the pasted-defect validation set of the magnetic tiles (the last epoch; the test
# split is never looked at). The input side: pairs of about equal training time (a 128 px image costs 2-4 64 px
# ones); whole epochs round EfficientAD's pair on the 677 tiles to 677 steps at 128 px and 1,354 at 64 px. Then,
# at the chosen side and budget, one setting at a time: the batch (the defaults of 64-128 images give the VAE and
# GANomaly 6-11 steps an epoch), the learning rate, the loss (the autoencoders' other reconstruction loss), the
# code (a dense bottleneck for the conv autoencoder) and the 256 px grayscale of the wood-surface reference study.
CANDIDATES = {
    "autoencoder": [{"image_size": 64, "images": 3000}, {"image_size": 128, "images": 750},
                    {"image_size": 64, "images": 3000, "batch_size": 8},
                    {"image_size": 64, "images": 3000, "learning_rate": 3e-4},
                    {"image_size": 64, "images": 3000, "batch_size": 8, "learning_rate": 3e-4},
                    {"image_size": 64, "images": 3000, "batch_size": 8, "reconstruction_loss": "mse"},
                    {"image_size": 64, "images": 3000, "latent_dim": 128}],
    "vae": [{"image_size": 64, "images": 3000}, {"image_size": 128, "images": 750},
            {"image_size": 128, "images": 750, "batch_size": 16},
            {"image_size": 128, "images": 750, "batch_size": 16, "learning_rate": 3e-4},
            {"image_size": 128, "images": 750, "batch_size": 16, "reconstruction_loss": "mse"},
            {"image_size": 256, "images": 677, "batch_size": 16},
            {"image_size": 256, "images": 677, "batch_size": 16, "learning_rate": 1e-4}],
    "ganomaly": [{"image_size": 64, "images": 800}, {"image_size": 128, "images": 200},
                 {"image_size": 64, "images": 800, "batch_size": 8},
                 {"image_size": 64, "images": 800, "batch_size": 8, "learning_rate": 5e-5},
                 {"image_size": 256, "images": 677, "batch_size": 16}],
    "ssim_autoencoder": [{"image_size": 128, "images": 2000}, {"image_size": 64, "images": 8000},
                         {"image_size": 128, "patch_size": 64, "images": 8000},  # 64 px patches: 64 px steps
                         {"image_size": 64, "images": 8000, "learning_rate": 1e-3}],
    "efficientad": [{"image_size": 128, "images": 300, "batch_size": 1},
                    {"image_size": 64, "images": 1200, "batch_size": 1}],
}
# Training stops once the best validation epoch lies PATIENCE epochs back (the budget is a maximum).
PATIENCE = 20
PAPER = {"efficientad": "paper: MVTec AD image AUROC 0.988 (EfficientAD-S); anomalib 0.982",
         "patchcore": "paper: MVTec AD 0.991 (WRN-50)", "padim": "paper: MVTec AD 0.953 (WRN-50)"}


def _models(text: str) -> list[str]:
    models = [m.strip() for m in text.split(",") if m.strip()]
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        raise ValueError(f"unknown models {unknown}; choose among {', '.join(MODELS)}")
    return models


def add_arguments(parser) -> None:
    parser.add_argument("--budget", choices=sorted(BUDGETS), default="cpu")
    parser.add_argument("--models", type=_models, default=list(MODELS), help="comma-separated subset")
    parser.add_argument("--datasets", type=lambda s: s.split(","), default=list(DATASETS))
    parser.add_argument("--part", choices=["study", "select"], default="study")


def adjust(args) -> None:
    if args.quick:
        args.datasets = ["wood"]


def plan(args):
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for dataset in args.datasets:
            for model in args.models:
                if args.part == "select":
                    for candidate in CANDIDATES.get(model, []):
                        yield {"part": "select", "dataset": dataset, "model": model, "settings": candidate}, seed
                else:
                    settings = dict(BUDGETS[args.budget][model])
                    if args.quick:
                        settings.update(image_size=128 if model == "ssim_autoencoder" else 64, images=24)
                    yield {"part": "study", "dataset": dataset, "model": model, "budget": args.budget,
                           "settings": settings, "quick": bool(args.quick)}, seed


_SPLITS: dict = {}


def split(dataset: str, image_size: int, seed: int, args):
    """(train, validation normal, labelled validation, test) at ``image_size`` px."""
    from keras_oneclass import datasets

    key = (dataset, image_size, seed)
    if key not in _SPLITS:
        if dataset == "wood":
            root = datasets.synthetic_wood(os.path.join(tempfile.gettempdir(), f"keras_oneclass_wood_{seed}"),
                                           seed=seed)
        else:
            root = data_root(args.data) / dataset
        data = datasets.read_folder(root, image_size=image_size)
        train, held = data.split_validation(0.1, seed=seed)
        test = data.test
        if args.quick:
            test = balanced_subset(test, 8)
            train = train[:24]
        _SPLITS[key] = (train, held, datasets.pasted_defects(held, 0.5, seed=seed), test)
    return _SPLITS[key]


def build(model: str, shape, settings: dict, seed: int, args):
    import keras_oneclass as ko

    options = {k: settings[k] for k in ("latent_dim", "reconstruction_loss") if k in settings}  # else the defaults
    if model == "efficientad":
        penalty = data_root(args.data) / "cifar10" / "train"
        return ko.EfficientAD(shape, penalty_images=str(penalty) if penalty.is_dir() else None, seed=seed)
    if model == "padim":
        return ko.PaDiM(shape, **MEMORY, seed=seed)
    if model == "patchcore":
        return ko.PatchCore(shape, **MEMORY, coreset_ratio=0.01, chunk_size=settings.get("chunk_size"), seed=seed)
    if model == "ssim_autoencoder":
        return ko.SSIMAutoencoder(shape, patch_size=settings.get("patch_size"), seed=seed)
    if model == "autoencoder":
        return ko.ConvAutoencoder(shape, scoring="map_max", seed=seed, **options)
    if model == "vae":
        return ko.VAE(shape, architecture="conv", scoring="map_max", seed=seed, **options)
    return ko.GANomaly(shape, scoring="map_max", seed=seed)


def epochs_for(settings: dict, train_images: int) -> int:
    """Whole epochs of ``train_images`` for the settings' image budget ("images"), or their "epochs"."""
    if "images" in settings:
        return max(1, round(settings["images"] / train_images))
    if "steps" in settings:
        return max(1, math.ceil(settings["steps"] / math.ceil(train_images / settings["batch_size"])))
    return settings["epochs"]


def fit(model, name: str, train, held, settings: dict, validation=None) -> dict:
    """Train with ``settings``; returns the schedule actually run. With a labelled ``validation`` set the
    epoch with the best validation image ROC AUC is kept (``callbacks.BestValidationEpoch``)."""
    from keras_oneclass.callbacks import BestValidationEpoch

    if name in ("padim", "patchcore"):
        model.fit(train, verbose=0)
        return {}
    epochs = epochs_for(settings, len(train))
    choose = [] if validation is None else [
        BestValidationEpoch(validation.images, validation.labels, normal=held if name == "efficientad" else None,
                            patience=PATIENCE)]
    if name == "efficientad":
        # Whole epochs of the paper's batch 1.
        batch = settings["batch_size"]
        steps = epochs * math.ceil(len(train) / batch)
        model.compile(total_steps=steps)
        history = model.fit(train, batch_size=batch, epochs=epochs, validation_data=held, callbacks=choose,
                            verbose=2)
        ran = len(history.history["loss"])  # fewer than planned when patience stopped training
        schedule = {"epochs": ran, "steps": steps * ran // epochs, **losses(history)}
    else:
        if "learning_rate" in settings:
            model.compile(learning_rate=settings["learning_rate"])
        history = model.fit(train, epochs=epochs, batch_size=settings.get("batch_size"), callbacks=choose, verbose=2)
        schedule = {"epochs": len(history.history["loss"]), **losses(history)}
    if choose:
        schedule.update(kept_epoch=choose[0].best_epoch, validation_curve=[[e, a] for e, a in choose[0].curve])
    return schedule


def losses(history) -> dict:
    """The training loss of the first and of the last epoch."""
    values = history.history.get("loss", [])
    return {"loss_first_epoch": float(values[0]), "loss_last_epoch": float(values[-1])} if values else {}


def images_per_second(model, images, batch: int) -> float:
    """Median over 3 repeats of images/s of ``predict`` at ``batch`` (after one warm-up call)."""
    images = images[:max(batch, 16)]
    model.predict(images[:batch], batch_size=batch, verbose=0)
    times = []
    for _ in range(3):
        start = time.perf_counter()
        model.predict(images, batch_size=batch, verbose=0)
        times.append(time.perf_counter() - start)
    return float(len(images) / np.median(times))


def measure(config: dict, seed: int, args) -> dict:
    import keras

    from keras_oneclass import TrainingDiverged, metrics

    keras.utils.set_random_seed(seed)
    began = time.perf_counter()
    settings, name = config["settings"], config["model"]
    train, held, validation, test = split(config["dataset"], settings["image_size"], seed, args)
    model = build(name, train.shape[1:], settings, seed, args)
    load = os.getloadavg()[0]
    start = time.perf_counter()
    try:
        schedule = fit(model, name, train, held, settings, validation if config["part"] == "study" else None)
    except TrainingDiverged as error:  # a NaN or inf loss: a candidate's result
        if config["part"] != "select":
            raise
        return {"fit_seconds": time.perf_counter() - start, "load_average": load, "validation_image_roc_auc": None,
                "diverged": str(error).split(";")[0]}
    figures = {"fit_seconds": time.perf_counter() - start, "load_average": load, **schedule,
               "train_images": len(train)}
    validation_scores = model.predict(validation.images, verbose=0)
    figures["validation_image_roc_auc"] = metrics.roc_auc(validation.labels, validation_scores)
    if config["part"] == "select":
        return figures
    threshold = model.calibrate(validation.images, validation.labels, method="f1")
    scores, maps = model.score_and_map(test.images)
    figures.update(image_roc_auc=metrics.roc_auc(test.labels, scores), image_pr_auc=metrics.pr_auc(test.labels, scores),
                   threshold=threshold, f1=metrics.f1_score(test.labels, scores, threshold),
                   pixel_roc_auc=metrics.pixel_roc_auc(test.masks, maps) if test.has_masks else None,
                   pro=metrics.pro_score(test.masks, maps) if test.has_masks else None,
                   images_per_s_batch1=images_per_second(model, test.images, 1),
                   images_per_s_batch16=images_per_second(model, test.images, 16), test_images=len(test))
    figures["seconds"] = time.perf_counter() - began  # the whole record: data, fit, scoring, timing
    return figures


def same_task(a: dict, b: dict) -> bool:
    return {k: v for k, v in a.items() if k != "settings"} == {k: v for k, v in b.items() if k != "settings"} \
        and a.get("part") == "study"


def _number(value, digits=3):
    return "-" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _epochs(count: int) -> str:
    return f"{count} epoch" + ("" if count == 1 else "s")


def _losses(figures: dict) -> str:
    if "loss_first_epoch" not in figures:
        return "-"
    return f"{figures['loss_first_epoch']:.4g} / {figures['loss_last_epoch']:.4g}"


def render(results: dict) -> str:
    from benchmarks import results as store

    records = store.current(results)
    lines = ["# Real defects: seven detectors on the magnetic tiles and the synthetic wood", "",
             "Trained on the defect-free training images less 10% held out; half of the held-out images get a pasted "
             "synthetic defect (CutPaste patch or scratch) to form the labelled validation set that set the threshold "
             "(best F1); the test split was scored once. `cpu` budget: the time a 2-core CPU allows sets each trained "
             "detector's image budget (`images`: training images seen, run as whole epochs), a maximum: the validation "
             "set was scored after every epoch, the epoch with the best validation image AUROC kept (`kept epoch`) and "
             f"training stopped {PATIENCE} epochs after it. The input side, batch, learning rate, loss and code are the "
             "candidates with the best validation image AUROC on the magnetic tiles (`--part select`, table below, "
             "compared at the budgets listed there; unlisted settings are the detectors' defaults), applied to both "
             "datasets. CPU, 2 cores; "
             "`load` is the 1-minute load average at the start. images/s: `predict` at batch 1 / batch 16, median of 3.",
             "",
             "| dataset | model | budget | settings | image AUROC | PR AUC | F1 | pixel AUROC | PRO | validation AUROC "
             "| fit s | training loss, first / last epoch | images/s (1 / 16) | load | reference |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in records:
        c, f = r["config"], r["figures"]
        if c["part"] != "study":
            continue
        settings = ", ".join(f"{k} {v}" for k, v in c["settings"].items())
        ran = f"{f['steps']} steps" if "steps" in f else \
            _epochs(f['epochs']) if "epochs" in f and "epochs" not in c["settings"] else None
        if ran:
            kept = f", kept epoch {f['kept_epoch']} of {f['epochs']}" if "kept_epoch" in f else ""
            settings += f" (ran {ran}{kept})"
        lines.append(f"| {c['dataset']} | {c['model']} | {c['budget']}{' QUICK' if c.get('quick') else ''} | {settings} "
                     f"| {_number(f['image_roc_auc'])} | {_number(f['image_pr_auc'])} | {_number(f['f1'])} "
                     f"| {_number(f['pixel_roc_auc'])} | {_number(f['pro'])} | {_number(f['validation_image_roc_auc'])} "
                     f"| {f['fit_seconds']:.0f} | {_losses(f)} | {f['images_per_s_batch1']:.1f} / {f['images_per_s_batch16']:.1f} "
                     f"| {_number(f['load_average'], 1)} | {PAPER.get(c['model'], '-')} |")
    for budget in sorted({r["config"]["budget"] for r in records if r["config"]["part"] == "study"}):
        timed = [r["figures"].get("seconds") for r in records
                 if r["config"]["part"] == "study" and r["config"]["budget"] == budget]
        if timed and None not in timed:
            lines += ["", f"Whole `{budget}` study: {sum(timed) / 60:.1f} minutes (the sum of its {len(timed)} records' "
                          "wall times: data, fit, scoring and speed measurement)."]
    selection = [r for r in records if r["config"]["part"] == "select"]
    if selection:
        lines += ["", "## Settings chosen on the validation set (`--part select`)", "",
                  "| dataset | model | settings | ran | validation image AUROC | chosen | fit s | load |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        best = {}
        for r in selection:
            key = (r["config"]["dataset"], r["config"]["model"])
            best[key] = max(best.get(key, -1.0), r["figures"]["validation_image_roc_auc"] or -1.0)
        for r in selection:
            c, f = r["config"], r["figures"]
            ran = f"{f['steps']} steps" if "steps" in f else _epochs(f['epochs']) if "epochs" in f else \
                f"diverged: {f['diverged']}"
            chosen = "yes" if f["validation_image_roc_auc"] == best[(c["dataset"], c["model"])] else ""
            lines.append(f"| {c['dataset']} | {c['model']} | {', '.join(f'{k} {v}' for k, v in c['settings'].items())} "
                         f"| {ran} | {_number(f['validation_image_roc_auc'])} | {chosen} | {f['fit_seconds']:.0f} "
                         f"| {_number(f['load_average'], 1)} |")
    lines += [""] + [f"Note: {n}" for n in results.get("notes", [])] + [""]
    return "\n".join(lines)


def summary_lines(results: dict, models, datasets) -> list[str]:
    """``<name> image_roc_auc=<value> images_per_s=<value>`` per detector and dataset of this run."""
    from benchmarks import results as store

    lines = []
    for r in store.current(results):
        c, f = r["config"], r["figures"]
        if c["part"] == "study" and c["model"] in models and c["dataset"] in datasets:
            lines.append(f"{c['model']} image_roc_auc={f['image_roc_auc']:.4f} "
                         f"images_per_s={f['images_per_s_batch16']:.1f} dataset={c['dataset']}")
    return lines
