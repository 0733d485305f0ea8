"""The same detectors on the TensorFlow, JAX and PyTorch backends of Keras, on this CPU.

- DASVDD on MNIST digit 0 (network 784-1024-256-256 as the authors' released code, batch 128, 20 epochs, seeds
  0-2): test AUC and the median seconds per epoch (epochs 2-20; the first compiles), each backend in its own
  process limited to one thread, beside a plain-PyTorch loop of the same network and two-phase step (one thread)
  measured in the same run, so speeds compare as ratios.
- PatchCore on the magnetic tiles at 128 px (MobileNet alpha 0.25 ImageNet weights, conv_pw_5 + conv_pw_11, 1%
  coreset): image AUC, fit seconds and scoring seconds; all threads.

    python -m benchmarks backends                     # writes benchmarks/results/backends.{json,md}
    python -m benchmarks backends --quick             # a smoke run (2 epochs, 1 seed, small subsets)
"""

from __future__ import annotations

import functools
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import results as store
from benchmarks.common import REPO

SEEDS = 3
BACKENDS = ("tensorflow", "jax", "torch")
WORKER = Path(__file__).resolve().with_name("backends_worker.py")
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1",
              "TF_NUM_INTEROP_THREADS": "1",
              "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"}


def add_arguments(parser) -> None:
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--baseline", default=None,
                        help="a checkout of an earlier version of the package: its DASVDD is timed on TensorFlow too")
    parser.add_argument("--backends", nargs="*", default=list(BACKENDS), help="run these backends only")


def adjust(args) -> None:
    if args.quick:
        args.epochs, args.seeds = 2, 1


def header(args) -> dict:
    import keras

    return {"date": time.strftime("%Y-%m-%d"), "quick": args.quick, "epochs": args.epochs,
            "seeds": list(range(args.first_seed, args.first_seed + args.seeds)), "keras": keras.__version__}


def same_task(a: dict, b: dict) -> bool:
    """A part of a backend run with other epochs (or another baseline commit) supersedes the older records."""
    return (a["part"], a.get("backend")) == (b["part"], b.get("backend"))


def plan(args):
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    yield from (({"part": "plain_torch", "epochs": args.epochs}, seed) for seed in seeds)
    if args.baseline:
        commit = subprocess.run(["git", "-C", args.baseline, "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
        yield from (({"part": "baseline", "commit": commit, "epochs": args.epochs}, seed) for seed in seeds)
    for backend in args.backends:
        yield from (({"part": "dasvdd", "backend": backend, "epochs": args.epochs}, seed) for seed in seeds)
        yield {"part": "patchcore", "backend": backend}, 0


def measure(config: dict, seed: int, args) -> dict:
    """One seed of a worker's runs: the worker runs every seed of the run at once, in a process of its own."""
    part, backend = config["part"], config.get("backend", "tensorflow")
    if part == "baseline":
        part, root = "dasvdd", args.baseline
    else:
        root, backend = str(REPO), "torch" if part == "plain_torch" else backend
    seeds = tuple(range(args.first_seed, args.first_seed + args.seeds))
    output = worker(part, backend, root, args.epochs, args.quick, seeds)
    if "runs" not in output:
        return output  # patchcore's figures, or a worker's error
    run = next(r for r in output["runs"] if r["seed"] == seed)
    return {**{k: v for k, v in run.items() if k != "seed"}, "load_average": output["load_average"]}


@functools.lru_cache(maxsize=None)
def worker(part: str, backend: str, package_root: str, epochs: int, quick: bool, seeds: tuple) -> dict:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": package_root}
    if part in ("dasvdd", "plain_torch"):
        env.update(ONE_THREAD)
    command = [sys.executable, str(WORKER), part, str(epochs), "quick" if quick else "full", *map(str, seeds)]
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode:
        return {"error": result.stderr[-1500:]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def parts(results: dict) -> dict:
    """The current records in the shape of the table: dasvdd / patchcore by backend, plain_torch, baseline."""
    found = {"dasvdd": {}, "patchcore": {}, "plain_torch": {}, "baseline": {}}
    for record in sorted(store.current(results), key=lambda r: r["seed"]):
        c, figures = record["config"], dict(record["figures"])
        if c["part"] == "patchcore":
            found["patchcore"][c["backend"]] = figures
            continue
        block = found[c["part"]].setdefault(c["backend"], {}) if c["part"] == "dasvdd" else found[c["part"]]
        if "error" in figures:
            block["error"] = figures["error"]
            continue
        block["load_average"] = figures.pop("load_average", None)
        block.setdefault("runs", []).append({**figures, "seed": record["seed"]})
        if c["part"] == "baseline":
            block["commit"] = c["commit"]
    return found


def per_seed(runs) -> str:
    return ", ".join(f"{run['auc']:.2f}" for run in runs)


def render(results: dict) -> str:
    results = {**results, **parts(results)}
    plain = results["plain_torch"]
    plain_epoch = statistics.median(r["epoch_s"] for r in plain["runs"]) if "runs" in plain else None
    lines = ["# One code, three Keras backends (CPU)", "",
             f"Measured {results['date']} on this project's 2-core CPU machine, Keras {results['keras']}, "
             f"by `python -m benchmarks backends`{' **(--quick: a smoke run)**' if results['quick'] else ''}. "
             "DASVDD: MNIST digit 0 (5,923 training images, the 10,000 test images), network 784-1024-256-256 "
             f"as the authors' released code, batch 128, {results['epochs']} epochs, seeds "
             f"{', '.join(map(str, results['seeds']))}; each backend in its own process on one thread; seconds per "
             "epoch are the median of epochs 2 onwards (the first compiles). The plain-PyTorch row runs the same "
             "network and two-phase step in a hand-written loop, in the same run, so speeds compare as ratios. "
             "PatchCore: magnetic tiles at 128 px, MobileNet alpha 0.25 (ImageNet), conv_pw_5 + conv_pw_11, 1% "
             "coreset, all threads. The machine was shared with other jobs at times: the 1-minute load average at the "
             "end of each DASVDD worker was "
             + ", ".join(f"{b} {(results['dasvdd'].get(b, {}).get('load_average') or float('nan')):.1f}" for b in BACKENDS)
             + ".", "",
             "| backend | DASVDD AUC (mean of seeds) | per seed | s / epoch | / plain PyTorch | PatchCore image AUC | "
             "PatchCore fit s | scoring s |", "|---|---|---|---|---|---|---|---|"]
    for backend in BACKENDS:
        runs = results["dasvdd"].get(backend, {}).get("runs", [])
        patch = results["patchcore"].get(backend, {})
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

