"""The same detectors on the TensorFlow, JAX and PyTorch backends of Keras, on this CPU.

- DASVDD on MNIST digit 0 (network 784-1024-256-256 as the authors' released code, batch 128,
  20 epochs, seeds 0-2): test AUC and the median seconds per epoch (epochs 2-20; the first compiles),
  each backend in its own process limited to one thread, beside a plain-PyTorch loop of the same
  network and two-phase step (one thread) measured in the same run, so speeds compare as ratios.
- PatchCore on the magnetic tiles at 128 px (MobileNet alpha 0.25 ImageNet weights, conv_pw_5 +
  conv_pw_11, 1% coreset): image AUC, fit seconds and scoring seconds; all threads.

Usage:
    python benchmarks/backends.py                     # writes benchmarks/results/backends.{json,md}
    python benchmarks/backends.py --quick             # a smoke run (2 epochs, 1 seed, small subsets)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results"
BACKENDS = ("tensorflow", "jax", "torch")
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1",
              "TF_NUM_INTEROP_THREADS": "1",
              "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"}


def data_root() -> Path:
    return Path(os.environ.get("KERAS_ONECLASS_DATA", REPO.parent / "shared" / "data"))


def epoch_timer(times: list):
    import keras

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    return Timer()


def mnist_zero(quick: bool):
    from keras_oneclass import datasets

    x_train, (x_test, y_test) = datasets.load_oneclass("mnist", 0, path=data_root(), as_numpy=True)
    return (x_train[:1024], x_test[:2000], y_test[:2000]) if quick else (x_train, x_test, y_test)


def dasvdd_worker(seeds, epochs: int, quick: bool) -> list[dict]:
    """DASVDD runs in this process (on the backend KERAS_BACKEND names)."""
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    elif keras.backend.backend() == "torch":
        import torch

        torch.set_num_threads(1)
    from keras_oneclass import DASVDD, metrics

    x_train, x_test, y_test = mnist_zero(quick)
    rows = []
    for seed in seeds:
        keras.utils.set_random_seed(seed)
        model = DASVDD(input_shape=x_train.shape[1:], hidden_units=(1024, 256), seed=seed)
        times = []
        model.fit(x_train, epochs=epochs, batch_size=128, verbose=0, callbacks=[epoch_timer(times)])
        auc = 100 * metrics.roc_auc(y_test, model.predict(x_test, verbose=0))
        rows.append({"seed": seed, "auc": auc, "epoch_s": statistics.median(times[1:]), "first_epoch_s": times[0]})
        print(json.dumps({"dasvdd": rows[-1]}), flush=True)
    return rows


def plain_torch_dasvdd(seeds, epochs: int, quick: bool) -> list[dict]:
    """The same network and two-phase step in plain PyTorch, one thread: Adam(1e-3, weight decay 1e-7)
    on the first 90% of each batch, Adagrad(lr 1) on the centre with the rest."""
    import numpy as np
    import torch
    from torch import nn

    from keras_oneclass import metrics

    torch.set_num_threads(1)
    x_train, x_test, y_test = mnist_zero(quick)
    x = torch.from_numpy(x_train.reshape(len(x_train), -1))
    test = torch.from_numpy(x_test.reshape(len(x_test), -1))
    rows = []
    for seed in seeds:
        torch.manual_seed(seed)
        sizes = [784, 1024, 256, 256]
        encoder = nn.Sequential(*[m for a, b in zip(sizes, sizes[1:]) for m in (nn.Linear(a, b), nn.LeakyReLU())])
        back = sizes[::-1]
        decoder = nn.Sequential(*[m for a, b in zip(back[:-1], back[1:-1]) for m in (nn.Linear(a, b), nn.LeakyReLU())],
                                nn.Linear(back[-2], back[-1]), nn.Sigmoid())
        center = nn.Parameter(torch.randn(256))
        network = list(encoder.parameters()) + list(decoder.parameters())
        adam = torch.optim.Adam(network, lr=1e-3, weight_decay=1e-7)
        adagrad = torch.optim.Adagrad([center], lr=1.0)
        with torch.no_grad():  # gamma (eq. 6) from one random network, as a cost comparable to ours
            z = encoder(x[:2000])
            gamma = float(((decoder(z) - x[:2000]) ** 2).mean(1).mean() / (z ** 2).sum(1).mean())
        times = []
        for _ in range(epochs):
            start = time.perf_counter()
            order = torch.randperm(len(x))
            for i in range(0, len(x), 128):
                batch = x[order[i:i + 128]]
                cut = int(np.ceil(0.9 * len(batch)))
                part, rest = batch[:cut], batch[cut:]
                adam.zero_grad()
                z = encoder(part)
                loss = ((decoder(z) - part) ** 2).mean(1).mean() + gamma * ((z - center.detach()) ** 2).sum(1).mean()
                loss.backward()
                adam.step()
                if len(rest):
                    adagrad.zero_grad()
                    ((encoder(rest).detach() - center) ** 2).sum(1).mean().backward()
                    adagrad.step()
            times.append(time.perf_counter() - start)
        with torch.no_grad():
            z = encoder(test)
            scores = ((decoder(z) - test) ** 2).mean(1) + gamma * ((z - center) ** 2).sum(1)
        rows.append({"seed": seed, "auc": 100 * metrics.roc_auc(y_test, scores.numpy()),
                     "epoch_s": statistics.median(times[1:]), "first_epoch_s": times[0]})
        print(json.dumps({"plain_torch": rows[-1]}), flush=True)
    return rows


def patchcore_worker(quick: bool) -> dict:
    from keras_oneclass import PatchCore, datasets, metrics

    folder = datasets.read_folder(data_root() / "magnetic_tile", image_size=128)
    train, test = folder.train, folder.test
    if quick:
        train = train[:64]
    model = PatchCore((128, 128, train.shape[-1]), backbone="mobilenet", alpha=0.25, weights="imagenet",
                      weights_dir=str(data_root() / "keras_models"), layers=["conv_pw_5_relu", "conv_pw_11_relu"],
                      coreset_ratio=0.01, seed=0)
    start = time.perf_counter()
    model.fit(train, verbose=0)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    scores = model.predict(test.images, verbose=0)
    score_s = time.perf_counter() - start
    return {"auc": 100 * metrics.roc_auc(test.labels, scores), "fit_s": fit_s, "score_s": score_s,
            "train_images": int(len(train)), "test_images": int(len(test.images)), "search": model.search}


def run_backend(backend: str, part: str, args, package_root: Path = REPO) -> dict:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(package_root),
           "BACKENDS_PACKAGE_ROOT": str(package_root)}
    if part in ("dasvdd", "plain_torch"):
        env.update(ONE_THREAD)
    command = [sys.executable, __file__, "--worker", part, "--epochs", str(args.epochs),
               "--seeds", *map(str, args.seeds)] + ["--quick"] * args.quick
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode:
        return {"error": result.stderr[-1500:]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def per_seed(runs) -> str:
    return ", ".join(f"{run['auc']:.2f}" for run in runs)


def render(results: dict) -> str:
    plain = results["plain_torch"]
    plain_epoch = statistics.median(r["epoch_s"] for r in plain["runs"]) if "runs" in plain else None
    lines = ["# One code, three Keras backends (CPU)", "",
             f"Measured {results['date']} on this project's 2-core CPU machine, Keras {results['keras']}, "
             f"by `benchmarks/backends.py`{' **(--quick: a smoke run)**' if results['quick'] else ''}. "
             "DASVDD: MNIST digit 0 (5,923 training images, the 10,000 test images), network 784-1024-256-256 "
             f"as the authors' released code, batch 128, {results['epochs']} epochs, seeds "
             f"{', '.join(map(str, results['seeds']))}; each backend in its own process on one thread; seconds per "
             "epoch are the median of epochs 2 onwards (the first compiles). The plain-PyTorch row runs the same "
             "network and two-phase step in a hand-written loop, in the same run, so speeds compare as ratios. "
             "PatchCore: magnetic tiles at 128 px, MobileNet alpha 0.25 (ImageNet), conv_pw_5 + conv_pw_11, 1% "
             "coreset, all threads. The machine was shared with other jobs at times: the 1-minute load average at the "
             "end of each DASVDD worker was "
             + ", ".join(f"{b} {results['dasvdd'][b].get('load_average', float('nan')):.1f}" for b in BACKENDS)
             + ".", "",
             "| backend | DASVDD AUC (mean of seeds) | per seed | s / epoch | / plain PyTorch | PatchCore image AUC | "
             "PatchCore fit s | scoring s |", "|---|---|---|---|---|---|---|---|"]
    for backend in BACKENDS:
        runs = results["dasvdd"][backend].get("runs", [])
        patch = results["patchcore"][backend]
        epoch = statistics.median(r["epoch_s"] for r in runs) if runs else None
        lines.append(
            f"| {backend} | {statistics.mean(r['auc'] for r in runs):.2f} | "
            f"{per_seed(runs)} | {epoch:.2f} | "
            f"{epoch / plain_epoch:.2f} | {patch.get('auc', float('nan')):.2f} | {patch.get('fit_s', float('nan')):.1f} | "
            f"{patch.get('score_s', float('nan')):.1f} |" if runs else f"| {backend} | failed: see JSON | | | | | | |")
    baseline = results.get("baseline", {})
    if baseline.get("runs"):
        epoch = statistics.median(r["epoch_s"] for r in baseline["runs"])
        lines.append(f"| tensorflow, the package at commit {baseline['commit']} (before the shared engine) | "
                     f"{statistics.mean(r['auc'] for r in baseline['runs']):.2f} | "
                     f"{per_seed(baseline['runs'])} | {epoch:.2f} | "
                     f"{epoch / plain_epoch:.2f} | - | - | - |")
    if plain_epoch:
        lines.append(f"| plain PyTorch loop | {statistics.mean(r['auc'] for r in plain['runs']):.2f} | "
                     f"{per_seed(plain['runs'])} | {plain_epoch:.2f} | 1.00 | - | - | - |")
    lines += [""] + [f"- {note}" for note in results.get("notes", [])]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--baseline", default=None,
                        help="a checkout of an earlier version of the package: its DASVDD is timed on TensorFlow too")
    parser.add_argument("--backends", nargs="*", default=list(BACKENDS),
                        help="run these backends only and keep the others' rows of the existing results file")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.seeds = 2, args.seeds[:1]
    if args.worker:
        sys.path.insert(0, os.environ.get("BACKENDS_PACKAGE_ROOT", str(REPO)))
        output = {"dasvdd": lambda: {"runs": dasvdd_worker(args.seeds, args.epochs, args.quick)},
                  "plain_torch": lambda: {"runs": plain_torch_dasvdd(args.seeds, args.epochs, args.quick)},
                  "patchcore": lambda: patchcore_worker(args.quick)}[args.worker]()
        output["load_average"] = os.getloadavg()[0]
        print(json.dumps(output), flush=True)
        return 0
    import keras

    suffix = "_quick" if args.quick else ""
    path = RESULTS / f"backends{suffix}.json"
    results = json.loads(path.read_text()) if path.exists() and set(args.backends) != set(BACKENDS) else {}
    results.update({"date": time.strftime("%Y-%m-%d"), "quick": args.quick, "epochs": args.epochs,
                    "seeds": args.seeds, "keras": keras.__version__})
    results.setdefault("dasvdd", {})
    results.setdefault("patchcore", {})
    results["plain_torch"] = run_backend("torch", "plain_torch", args)
    if args.baseline:
        commit = subprocess.run(["git", "-C", args.baseline, "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
        results["baseline"] = {"commit": commit, **run_backend("tensorflow", "dasvdd", args, Path(args.baseline))}
        print("baseline", results["baseline"], flush=True)
    for backend in args.backends:
        results["dasvdd"][backend] = run_backend(backend, "dasvdd", args)
        results["patchcore"][backend] = run_backend(backend, "patchcore", args)
        print(backend, results["dasvdd"][backend], results["patchcore"][backend], flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"backends{suffix}.json").write_text(json.dumps(results, indent=1, sort_keys=True))
    (RESULTS / f"backends{suffix}.md").write_text(render(results))
    print(render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
