"""Chooses the MNIST VAE setting (beta, latent size) on a validation split, never on the test split.

For every normal digit d, each candidate VAE trains on 90% of d's MNIST *training* images and scores a validation
set drawn from the training split only: the held-out 10% of d (about 590 images, label 0) plus as many images of
each other digit (label 1), so anomalies outnumber normals 9:1 as in the test split. The candidate with the best
10-digit mean validation ROC AUC is the one the ``reconstruction`` table reports as the selected VAE. A run
resumes where a stopped one stopped.

    python -m benchmarks vae_validation                      # every candidate, 10 digits, 30 epochs
    python -m benchmarks vae_validation --candidates b0.25_z20 --digits 0 1
"""

from __future__ import annotations

import functools
import time

import numpy as np

from benchmarks import results as store

RESUME = True
EPOCHS = 30
HOLDOUT = 0.1
# name -> VAE keyword arguments (dense 784-400-z encoder, BCE reconstruction, score = reconstruction MSE).
CANDIDATES = {f"b{beta:g}_z{latent}": {"beta": beta, "latent_dim": latent}
              for latent in (20, 8) for beta in (0.1, 0.25, 0.5, 1.0)}


def add_arguments(parser) -> None:
    parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES), choices=list(CANDIDATES))
    parser.add_argument("--digits", nargs="+", type=int, default=list(range(10)))
    parser.add_argument("--epochs", type=int, default=EPOCHS)


def plan(args):
    for digit in args.digits:
        for candidate in args.candidates:
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                yield {"candidate": candidate, "digit": digit, "epochs": args.epochs}, seed


def same_task(a: dict, b: dict) -> bool:
    """A run of a candidate and digit with other epochs supersedes the older one."""
    return (a["candidate"], a["digit"]) == (b["candidate"], b["digit"])


def config_name(candidate: str) -> str:
    """The row name of a candidate in the reconstruction study: vae_beta<b> (latent 20) or vae_beta<b>_z<latent>."""
    kwargs = CANDIDATES[candidate]
    return f"vae_beta{kwargs['beta']:g}" + ("" if kwargs["latent_dim"] == 20 else f"_z{kwargs['latent_dim']}")


def validation_aucs(results: dict) -> dict[str, dict[int, float]]:
    """candidate -> {digit: validation AUC (mean over seeds)}, candidates in CANDIDATES' order."""
    found = {}
    for record in store.current(results):
        c = record["config"]
        found.setdefault(c["candidate"], {}).setdefault(c["digit"], []).append(record["figures"]["val_auc"])
    return {c: {d: float(np.mean(v)) for d, v in sorted(found[c].items())} for c in CANDIDATES if c in found}


def validation_means(results: dict) -> dict[str, tuple[float, int]]:
    """candidate -> (mean validation AUC over the digits run, number of digits run), for candidates with runs."""
    return {c: (float(np.mean(list(aucs.values()))), len(aucs)) for c, aucs in validation_aucs(results).items()}


def selected(results: dict) -> str | None:
    """The candidate with the best mean validation AUC over all 10 digits (None until one has all 10)."""
    complete = {c: mean for c, (mean, n) in validation_means(results).items() if n == 10}
    return max(complete, key=complete.get) if complete else None


@functools.lru_cache(maxsize=1)
def training_images_by_digit(data) -> list[np.ndarray]:
    """The ten digits' MNIST training images, float32 in [0, 1], (N_d, 28, 28, 1) each."""
    from keras_oneclass import datasets

    return [datasets.load_oneclass("mnist", d, path=data, as_numpy=True)[0] for d in range(10)]


def validation_split(by_digit: list[np.ndarray], normal: int, seed: int = 0):
    """(x_fit, x_val, y_val): 90% of the normal digit to fit; held-out 10% + equal counts of each other digit."""
    rng = np.random.default_rng(seed + 100 * normal)
    normal_images = by_digit[normal][rng.permutation(len(by_digit[normal]))]
    n_val = int(round(HOLDOUT * len(normal_images)))
    x_fit, x_val_normal = normal_images[n_val:], normal_images[:n_val]
    others = [by_digit[d][rng.choice(len(by_digit[d]), n_val, replace=False)] for d in range(10) if d != normal]
    x_val = np.concatenate([x_val_normal, *others])
    y_val = np.concatenate([np.zeros(n_val, np.int32), np.ones(9 * n_val, np.int32)])
    return x_fit, x_val, y_val


def measure(config: dict, seed: int, args) -> dict:
    from keras_oneclass import VAE, metrics

    x_fit, x_val, y_val = validation_split(training_images_by_digit(args.data), config["digit"])
    model = VAE((28, 28, 1), seed=seed, **CANDIDATES[config["candidate"]])
    start = time.perf_counter()
    model.fit(x_fit, epochs=config["epochs"], batch_size=128, verbose=0)
    seconds = time.perf_counter() - start
    scores = model.predict(x_val, verbose=0)
    return {"val_auc": 100 * metrics.roc_auc(y_val, scores), "fit_size": len(x_fit), "val_size": len(x_val),
            "train_seconds": seconds}


def render(results: dict) -> str:
    aucs = validation_aucs(results)
    names = list(aucs)
    lines = ["# VAE setting chosen on a validation split of the MNIST training data",
             "",
             "Validation ROC AUC %: each digit's VAE trains on 90% of that digit's training images and scores the "
             "held-out 10% (normal) plus the same number of training images of each other digit (anomalies). "
             f"The MNIST test split is not used. {EPOCHS} epochs, batch 128, seed 0, dense 784-400-z encoder, BCE "
             "reconstruction loss, score = reconstruction MSE.",
             "",
             "| digit | " + " | ".join(names) + " |", "|" + "---|" * (len(names) + 1)]
    for digit in range(10):
        cells = [f"{aucs[c][digit]:.2f}" if digit in aucs[c] else "—" for c in names]
        lines.append(f"| {digit} | " + " | ".join(cells) + " |")
    means = validation_means(results)
    lines.append("| **mean (digits run)** | " + " | ".join(f"**{m:.2f}** ({n})" for m, n in means.values()) + " |")
    best = selected(results)
    if best:
        lines += ["", f"Selected (best 10-digit validation mean): **{best}** ({means[best][0]:.2f}), "
                      f"VAE arguments {CANDIDATES[best]}, reported on the test split as "
                      f"`{config_name(best)}` in reconstruction.md."]
    lines += ["", f"Machine: {results.get('machine', {})}"]
    return "\n".join(lines) + "\n"
