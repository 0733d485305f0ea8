"""MNIST one-class study of the reconstruction family: AE (dense, conv), VAE (beta 0.5, 1, 2, 4), GANomaly.

For every normal digit, each configuration trains on that digit's training images and scores the whole test split
(other digits = anomalies). Reported per class: ROC AUC and F1 at the threshold set to the 95th percentile of the
training scores (``model.calibrate(x_train, percentile=95)``), with the reference figures (Table 2 of the DASVDD
paper, MNIST class averages) beside ours. The VAE bar is judged on the VAE setting that the ``vae_validation``
study chose on a validation split of the MNIST training data; the best VAE row on the test split is shown too,
marked as picked on test. Conv AE and GANomaly read MNIST zero-padded to 32x32 (as GANomaly's own MNIST setup);
the dense models read 28x28.

    python -m benchmarks reconstruction                         # default epochs, 10 classes, 1 seed
    python -m benchmarks reconstruction --classes 0 --epochs 5  # reduced run (labelled in the table)
    python -m benchmarks reconstruction --quick                 # smoke run: 1 epoch, class 0, 2000 images
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks import results as store
from benchmarks.common import epoch_timer, mean_std
from benchmarks.runner import result_path
from benchmarks.studies import vae_validation

# Reference MNIST class averages (ROC AUC %), Table 2 of Hojjati & Armanfard (DASVDD, TKDE 2024).
REFERENCE = {"AE": 91.9, "VAE": 96.9, "DAGMM": 50.6, "AnoGAN": 91.3, "OCGAN": 97.5}
VAE_BETAS = (0.5, 1, 2, 4)  # latent 20
# name -> (detector, its keyword arguments, padded to 32x32, default epochs, batch size, reference epochs + source)
CONFIGS = {
    "ae_dense": ("DenseAutoencoder", {}, False, 30, 128, "n/a (AE of Table 2: not given)"),
    # A dense 32-unit code (the fully convolutional default keeps a 4x4x128 code for 32x32 inputs, more units than
    # pixels). Trained with the class default, per-pixel BCE: with MSE its sigmoid output collapsed to zeros (AUC
    # 24.2 on digit 0 after 5 epochs, kept as a superseded record).
    "ae_conv": ("ConvAutoencoder", {"latent_dim": 32}, True, 30, 128, "n/a (AE of Table 2: not given)"),
    **{f"vae_beta{b:g}": ("VAE", {"beta": b}, False, 30, 128, "n/a (VAE of Table 2: not given)") for b in VAE_BETAS},
    # The other candidates of vae_validation (beta, latent size), run on the test split only once chosen there.
    **{vae_validation.config_name(c): ("VAE", kwargs, False, 30, 128, "n/a (VAE of Table 2: not given)")
       for c, kwargs in vae_validation.CANDIDATES.items()
       if vae_validation.config_name(c) not in {f"vae_beta{b:g}" for b in VAE_BETAS}},
    # The best beta trained twice as long (the 30-epoch rows stay beside it).
    "vae_beta0.5_60ep": ("VAE", {"beta": 0.5}, False, 60, 128, "n/a (VAE of Table 2: not given)"),
    # base_filters 16 instead of the paper's 64 (16x fewer conv FLOPs): 64 took ~90 s per 2,000 images on the
    # shared 2-core CPU. Pass --ganomaly-filters 64 for the paper's width.
    "ganomaly": ("GANomaly", {}, True, 15, 64, "15 (Akcay et al. 2018, sec. 4.2)"),
}
FAMILY = {"ae_dense": "AE", "ae_conv": "AE", "ganomaly": None, **{k: "VAE" for k in CONFIGS if k.startswith("vae")}}


def add_arguments(parser) -> None:
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--classes", nargs="+", type=int, default=list(range(10)))
    parser.add_argument("--epochs", type=int, default=None, help="override every configuration's default epochs")
    parser.add_argument("--ganomaly-filters", type=int, default=16, help="GANomaly base_filters (paper: 64)")
    parser.add_argument("--limit", type=int, default=None, help="train on the first N images (smoke runs)")


def adjust(args) -> None:
    if args.quick:
        args.classes, args.epochs, args.limit = [0], 1, 2000


def same_task(a: dict, b: dict) -> bool:
    """A run of a configuration and digit with other epochs supersedes the older one."""
    return (a["model"], a["normal_class"]) == (b["model"], b["normal_class"])


def plan(args):
    for normal_class in args.classes:
        for name in args.configs:
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                yield {"model": name, "normal_class": normal_class, "epochs": args.epochs or CONFIGS[name][3]}, seed


def measure(config: dict, seed: int, args) -> dict:
    import keras_oneclass
    from keras_oneclass import datasets, metrics

    detector, kwargs, padded, _, batch_size, _ = CONFIGS[config["model"]]
    if detector == "GANomaly":
        kwargs = {**kwargs, "base_filters": args.ganomaly_filters}
    x_train, (x_test, y_test) = datasets.load_oneclass("mnist", config["normal_class"], path=args.data, as_numpy=True)
    x_train = x_train[:args.limit] if args.limit else x_train
    if padded:  # zero-padded to 32x32
        x_train, x_test = (np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0))) for x in (x_train, x_test))
    model = getattr(keras_oneclass, detector)(x_train.shape[1:], seed=seed, **kwargs)
    timer = epoch_timer()
    start = time.perf_counter()
    history = model.fit(x_train, epochs=config["epochs"], batch_size=batch_size, callbacks=[timer], verbose=0)
    train_seconds = time.perf_counter() - start
    threshold = model.calibrate(x_train, percentile=95)
    scores = model.predict(x_test, verbose=0)
    f1 = metrics.precision_recall_f1(y_test, scores, threshold)["f1"]
    return {"auc": 100 * metrics.roc_auc(y_test, scores), "f1_p95": 100 * f1, "epochs": config["epochs"],
            "batch_size": batch_size, "train_seconds": train_seconds,
            "s_per_epoch": float(np.median(timer.seconds[2:] or timer.seconds)),
            "final_loss": float(history.history["loss"][-1]), "train_size": len(x_train),
            **({"base_filters": kwargs["base_filters"]} if detector == "GANomaly" else {})}


def runs_by_key(results: dict) -> dict:
    """'<config>/<digit>/<seed>' -> figures (with the seed) of the current records."""
    found = {f"{r['config']['model']}/{r['config']['normal_class']}/{r['seed']}": {**r["figures"], "seed": r["seed"]}
             for r in store.current(results)}
    return dict(sorted(found.items()))


def render(results: dict) -> str:
    rows = runs_by_key(results)
    configs = [c for c in CONFIGS if any(key.startswith(c + "/") for key in rows)]
    lines = ["# Reconstruction family on MNIST one-class (ROC AUC % and F1 % at the 95th percentile of training scores)",
             "",
             "Each cell: AUC / F1, mean over seeds. Normal digit = row; the other nine digits of the MNIST test "
             "split are anomalies. Conv AE and GANomaly read MNIST zero-padded to 32x32.",
             ""]
    header = "| normal digit | " + " | ".join(configs) + " |"
    lines += [header, "|" + "---|" * (len(configs) + 1)]
    per_config: dict[str, list[float]] = {c: [] for c in configs}
    for digit in range(10):
        cells, any_cell = [], False
        for config in configs:
            runs = [r for key, r in rows.items() if key.startswith(f"{config}/{digit}/")]
            if runs:
                auc, _ = mean_std([r["auc"] for r in runs])
                f1, _ = mean_std([r["f1_p95"] for r in runs])
                per_config[config].append(auc)
                cells.append(f"{auc:.1f} / {f1:.1f}")
                any_cell = True
            else:
                cells.append("—")
        if any_cell:
            label = f"**{digit}** (headline)" if digit == 0 else str(digit)
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("| **average AUC (classes run)** | " + " | ".join(
        f"**{np.mean(v):.1f}** ({len(v)})" if v else "—" for v in per_config.values()) + " |")
    complete = {c: float(np.mean(v)) for c, v in per_config.items() if len(v) == 10}
    vaes = {c: a for c, a in complete.items() if FAMILY[c] == "VAE"}
    status = []
    if "ae_conv" in complete:
        status.append(f"conv AE average {complete['ae_conv']:.2f} vs {REFERENCE['AE']}: "
                      f"{'met' if complete['ae_conv'] >= REFERENCE['AE'] else 'NOT met'}")
    choice = vae_validation.selected(store.load(result_path("vae_validation")))
    chosen = vae_validation.config_name(choice) if choice else None
    if chosen in vaes:
        status.append(f"VAE chosen on the validation split ({chosen}, see vae_validation.md) average "
                      f"{vaes[chosen]:.2f} vs {REFERENCE['VAE']}: "
                      f"{'met' if vaes[chosen] >= REFERENCE['VAE'] else 'NOT met'}")
    if vaes:
        best = max(vaes, key=vaes.get)
        status.append(f"best VAE row on the test split ({best}, picked on test, so optimistic) average "
                      f"{vaes[best]:.2f}")
    lines += ["", "Bars (10-class averages, 2 decimals): " + ("; ".join(status) or "no complete row yet") + "."]
    lines += ["", "| config | epochs run | reference epochs | batch | s/epoch (median) | seeds |", "|---|---|---|---|---|---|"]
    for config in configs:
        runs = [r for key, r in rows.items() if key.startswith(config + "/")]
        epochs = sorted({r["epochs"] for r in runs})
        lines.append(f"| {config} | {epochs} | {CONFIGS[config][5]} | {runs[0]['batch_size']} | "
                     f"{np.median([r['s_per_epoch'] for r in runs]):.2f} | {sorted({r['seed'] for r in runs})} |")
    lines += ["", "Reference MNIST class averages (Table 2 of the DASVDD paper, Hojjati & Armanfard 2024): "
              + ", ".join(f"{k} {v}" for k, v in REFERENCE.items()) + ". Those are averages over all 10 classes; "
              "our averages are over the classes that ran (count in brackets).", "",
              "Notes, one per run that set one (oldest first):", ""] + [f"- {note}" for note in results.get("notes", [])] + [
              "", f"Machine: {results.get('machine', {})}"]
    return "\n".join(lines) + "\n"

