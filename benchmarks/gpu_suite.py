"""The GPU suite: training speed per detector and precision, plain-PyTorch references, and the Deep SVDD
CIFAR-10 cat study at its full protocol, in one command on one GPU.

Runs through Keras' JAX backend (the lent GPU machine has JAX and PyTorch, no TensorFlow) from the
working tree alone: the package, the wheels of keras/optree/namex in ``.whl`` and the data subset that
``benchmarks.gpu_data`` writes to ``.gpu_data``. Sections, in this order (each one skipped when the
time budget is spent, and then reported as not run):

1. ``torch``: plain PyTorch on the same networks (``benchmarks.gpu_torch_reference``): the DASVDD
   dense autoencoder, the package's ConvAutoencoder at 256 px (float32 with TF32, fp16 and bf16
   autocast), Deep SVDD's CIFAR-10 LeNet; data on the GPU, the fastest each can be.
2. ``throughput``: every trained detector in float32 and in ``mixed_float16``, paired in one process:
   median seconds per step and images per second over the timed epochs (the first epoch, which
   compiles, is left out) and the test AUC the short run reaches.
3. ``cat``: Deep SVDD on CIFAR-10 cat, original against enhanced, 350 pretraining + 150 training
   epochs (Ruff et al.), paired seeds spread over worker processes that share the GPU, as many as the
   budget fits; both variants under ``precision.auto()`` (mixed_float16 on a GPU).

Usage:
    python -m benchmarks.gpu_suite --quick                      # CPU, tiny sizes, under 3 minutes
    python -m benchmarks.gpu_suite --out-dir $OUT --budget 500  # the GPU run (writes JSON there)
    python -m benchmarks.gpu_suite --report RUN_DIR             # JSON + markdown into benchmarks/results

Run it from the repository root (``-m``: the package and ``benchmarks`` are found there).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
# JAX takes 75% of the GPU's memory by default; the cat study's workers share what this process leaves.
os.environ.setdefault("XLA_PYTHON_CLIENT_MEM_FRACTION", "0.1")
HERE = Path(__file__).resolve().parent
REPO = HERE.parent

import numpy as np  # noqa: E402

RESULTS = HERE / "results"
CAT_PROTOCOL = {"pretrain_epochs": 350, "epochs": 150, "milestone": 50}
CAT_REFERENCE = {"original": 57.69, "enhanced": 59.55, "p": 0.0002}


# ----------------------------------------------------------------------------------------------- data
def synthetic(n: int, shape, seed: int = 0, anomalies: int = 0):
    """Normal samples around 0.5 and, with ``anomalies``, shifted ones: (x_train, x_test, y_test)."""
    rng = np.random.default_rng(seed)
    normal = np.clip(rng.normal(0.5, 0.1, (2 * n, *shape)), 0, 1).astype("float32")
    shifted = np.clip(rng.normal(0.5, 0.1, (anomalies, *shape)) + 0.3, 0, 1).astype("float32")
    return normal[:n], np.concatenate([normal[n:], shifted]), np.r_[np.zeros(n), np.ones(anomalies)].astype(int)


def load_sets(quick: bool, rehearse: bool = False) -> dict:
    """name -> (x_train, x_test, y_test, description); real subsets on the GPU, synthetic with --quick,
    the first 256 training and 512 test samples of the real ones with --rehearse."""
    if rehearse:  # CPU convolutions at 256 px are too slow to rehearse: images cut to their top-left 64 px
        pick = lambda n: np.random.default_rng(0).permutation(n)[:512]  # noqa: E731 (both labels in the subset)
        cut = lambda x: x[:, :64, :64] if x.shape[1] > 64 else x  # noqa: E731
        return {name: (cut(x[:256 if x.shape[1] <= 64 else 32]), cut(xt[pick(len(xt))]), yt[pick(len(xt))],
                       f"{text}; rehearsal subset")
                for name, (x, xt, yt, text) in load_sets(False).items()}
    if quick:
        return {"mnist0": (*synthetic(256, (28, 28, 1), anomalies=64), "synthetic 28x28"),
                "cifar_cat": (*synthetic(200, (32, 32, 3), anomalies=50), "synthetic 32x32x3"),
                "tile256": (*synthetic(16, (32, 32, 1), anomalies=8), "synthetic 32x32 (quick)"),
                "tile128": (*synthetic(16, (32, 32, 1), anomalies=8), "synthetic 32x32 (quick)")}
    from benchmarks.gpu_data import load

    from keras_oneclass.datasets import preprocessing

    mnist = load("mnist")
    x_train = mnist["x_train"][mnist["y_train"] == 0][..., None].astype("float32") / 255.0
    x_test = mnist["x_test"][..., None].astype("float32") / 255.0
    sets = {"mnist0": (x_train, x_test, (mnist["y_test"] != 0).astype(int), "MNIST digit 0 (5,923 train, 10,000 test)")}
    cat = load("cifar10_cat")
    train = preprocessing.global_contrast_normalization(cat["x_train"].astype("float32") / 255.0, "l1")
    test = preprocessing.global_contrast_normalization(cat["x_test"].astype("float32") / 255.0, "l1")
    low, high = preprocessing.fit_min_max(train)
    sets["cifar_cat"] = (preprocessing.min_max_scale(train, low, high), preprocessing.min_max_scale(test, low, high),
                         (cat["y_test"] != 3).astype(int), "CIFAR-10 cat, GCN-l1 + min-max (5,000 train, 10,000 test)")
    tile = load("magnetic_tile")
    channel = (lambda x: x if x.ndim == 4 else x[..., None])  # noqa: E731
    tile_train = channel(tile["x_train"]).astype("float32") / 255.0
    tile_test = channel(tile["x_test"]).astype("float32") / 255.0
    sets["tile128"] = (tile_train, tile_test, tile["y_test"].astype(int), "magnetic tile 128 px (752 train, 592 test)")
    up = lambda x: np.repeat(np.repeat(x, 2, axis=1), 2, axis=2)  # noqa: E731 (128 -> 256 px, nearest)
    sets["tile256"] = (up(tile_train), up(tile_test), tile["y_test"].astype(int),
                       "magnetic tile 128 px upsampled to 256 px (752 train, 592 test)")
    return sets


# ----------------------------------------------------------------------------------------------- timing
class Deadline:
    """Seconds left of the suite's budget."""

    def __init__(self, budget: float):
        self.end = time.monotonic() + budget

    def left(self) -> float:
        return self.end - time.monotonic()


def timed_fit(model, x, epochs: int, batch_size: int) -> dict:
    """Fit ``epochs`` + 1 epochs (the first compiles) and time the rest; median seconds per epoch."""
    import keras

    times = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    history = model.fit(x, epochs=epochs + 1, batch_size=batch_size, verbose=0, callbacks=[Timer()])
    epoch_s = statistics.median(times[1:])
    steps = math.ceil(len(x) / batch_size)
    return {"epoch_s": epoch_s, "step_ms": 1000 * epoch_s / steps, "images_per_s": len(x) / epoch_s,
            "first_epoch_s": times[0], "timed_epochs": epochs, "batch_size": batch_size,
            "final_loss": float(history.history["loss"][-1])}


def detector_specs(quick: bool, sets: dict) -> list[dict]:
    """The trained detectors of the throughput section: builder, data set, batch size, epochs."""
    from keras_oneclass import DASVDD, VAE, ConvAutoencoder, DeepSVDD, DenseAutoencoder, EfficientAD, GANomaly

    e = (lambda gpu, cpu=1: cpu if quick else gpu)  # noqa: E731
    return [
        {"name": "DASVDD", "data": "mnist0", "batch": 128, "epochs": e(20),
         "build": lambda shape: DASVDD(input_shape=shape, hidden_units=(1024, 256), seed=0)},
        {"name": "DenseAutoencoder", "data": "mnist0", "batch": 128, "epochs": e(10),
         "build": lambda shape: DenseAutoencoder(input_shape=shape, seed=0)},
        {"name": "VAE", "data": "mnist0", "batch": 128, "epochs": e(10),
         "build": lambda shape: VAE(input_shape=shape, seed=0)},
        {"name": "ConvAutoencoder 256 px", "data": "tile256", "batch": 32, "epochs": e(5),
         "build": lambda shape: ConvAutoencoder(input_shape=shape, seed=0)},
        {"name": "GANomaly", "data": "cifar_cat", "batch": 64, "epochs": e(5),
         "build": lambda shape: GANomaly(input_shape=shape, seed=0, **({"base_filters": 8, "latent_dim": 16}
                                                                      if quick else {}))},
        {"name": "DeepSVDD original", "data": "cifar_cat", "batch": 200, "epochs": e(10),
         "build": lambda shape: DeepSVDD(input_shape=shape, pretrain_epochs=e(10), seed=0)},
        {"name": "DeepSVDD enhanced", "data": "cifar_cat", "batch": 200, "epochs": e(10),
         "build": lambda shape: DeepSVDD(input_shape=shape, variant="enhanced", pretrain_epochs=e(10), seed=0)},
        {"name": "EfficientAD 128 px", "data": "tile128", "batch": 8, "epochs": e(3),
         "build": lambda shape: EfficientAD(input_shape=shape, seed=0)},
    ]


def run_throughput(quick: bool, sets: dict, deadline: Deadline, log, names=None) -> list[dict]:
    """Both policies for each detector of ``detector_specs`` (those in ``names`` when given)."""
    import keras

    from keras_oneclass import metrics

    rows = []
    for spec in detector_specs(quick, sets):
        if names is not None and spec["name"] not in names:
            continue
        x_train, x_test, y_test, description = sets[spec["data"]]
        for policy in ("float32", "mixed_float16"):
            row = {"detector": spec["name"], "policy": policy, "data": description}
            if deadline.left() < 20:
                rows.append({**row, "skipped": "time budget spent"})
                continue
            keras.mixed_precision.set_global_policy(policy)
            keras.utils.set_random_seed(0)
            try:
                model = spec["build"](x_train.shape[1:])
                row.update(timed_fit(model, x_train, spec["epochs"], spec["batch"]))
                row["auc"] = 100 * metrics.roc_auc(y_test, model.predict(x_test, verbose=0))
            except Exception as error:  # report and go on: one detector must not sink the suite
                row["error"] = f"{type(error).__name__}: {error}"[:500]
            finally:
                keras.mixed_precision.set_global_policy("float32")
            rows.append(row)
            log(f"throughput {row}")
    return rows


def run_torch(quick: bool, sets: dict, deadline: Deadline, log) -> list[dict]:
    from benchmarks import gpu_torch_reference as ref

    device = "cpu" if quick else None
    small = dict(epochs=1, warmup=1) if quick else dict(epochs=3, warmup=1)
    rows = []
    jobs = [("DASVDD", lambda: ref.dense_autoencoder(sets["mnist0"][0][:, :, :, 0], device=device, **small))]
    tile = sets["tile256"][0]
    for precision in ("float32", "float16", "bfloat16"):
        jobs.append(("ConvAutoencoder 256 px", lambda p=precision: ref.package_conv_autoencoder(
            tile, batch_size=32, precision=p, device=device, **small)))
    jobs.append(("DeepSVDD original", lambda: ref.deep_svdd_lenet(sets["cifar_cat"][0], device=device, **small)))
    for name, job in jobs:
        if deadline.left() < 20:
            rows.append({"detector": name, "skipped": "time budget spent"})
            continue
        try:
            row = {"detector": name, **job()}
        except Exception as error:
            row = {"detector": name, "error": f"{type(error).__name__}: {error}"[:500]}
        rows.append(row)
        log(f"torch {row}")
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return rows


# ----------------------------------------------------------------------------------------------- cat study
def cat_worker(args) -> None:
    """One worker process: the paired seeds ``args.worker_seeds``, both variants each, one JSON line a run."""
    import keras

    from keras_oneclass import DeepSVDD, metrics, precision

    policy = precision.auto()
    sets = load_sets(args.quick, args.rehearse)
    x_train, x_test, y_test, _ = sets["cifar_cat"]
    protocol = quick_cat_protocol() if args.quick or args.rehearse else CAT_PROTOCOL
    end = time.monotonic() + args.worker_budget
    last = None
    for seed in args.worker_seeds:
        order = ("original", "enhanced") if seed % 2 == 0 else ("enhanced", "original")
        if last is not None and end - time.monotonic() < 2.3 * last:
            break  # a pair would not finish in time: leave the seed out rather than half-run it
        started = time.monotonic()
        for variant in order:
            keras.utils.set_random_seed(seed)
            model = DeepSVDD(input_shape=x_train.shape[1:], variant=variant, seed=seed,
                             pretrain_epochs=protocol["pretrain_epochs"])
            model.compile(learning_rate_milestones=(protocol["milestone"],))
            begin = time.perf_counter()
            model.fit(x_train, epochs=protocol["epochs"], verbose=0)
            seconds = time.perf_counter() - begin
            auc = 100 * metrics.roc_auc(y_test, model.predict(x_test, verbose=0))
            line = {"seed": seed, "variant": variant, "auc": auc, "train_seconds": seconds, "policy": policy,
                    **protocol}
            with open(args.cat_file, "a") as handle:
                handle.write(json.dumps(line) + "\n")
            print(f"cat {line}", flush=True)
        last = time.monotonic() - started


def quick_cat_protocol() -> dict:
    return {"pretrain_epochs": 1, "epochs": 1, "milestone": 50}


def run_cat(args, deadline: Deadline, log) -> dict:
    """Start ``args.workers`` processes over ``args.seeds`` paired seeds; wait for them within the budget."""
    cat_file = Path(args.out_dir) / "cat_runs.jsonl"
    cat_file.unlink(missing_ok=True)
    budget = max(deadline.left() - 15, 0)
    if budget < 60 and not args.quick:
        return {"skipped": "time budget spent", "runs": []}
    env = {**os.environ, "XLA_PYTHON_CLIENT_MEM_FRACTION": f"{0.8 / args.workers:.3f}"}
    workers = []
    for worker in range(args.workers):
        seeds = list(range(worker, args.seeds, args.workers))
        if not seeds:
            continue
        command = [sys.executable, "-m", "benchmarks.gpu_suite", "--cat-worker", "--cat-file", str(cat_file),
                   "--worker-budget", str(budget), "--worker-seeds", *map(str, seeds)]
        command += ["--quick"] * args.quick + ["--rehearse"] * args.rehearse
        workers.append(subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True))
    for process in workers:
        try:
            output, _ = process.communicate(timeout=max(deadline.left(), 1))
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        log(f"cat worker exit {process.returncode}: " + output[-1500:])
    runs = [json.loads(line) for line in cat_file.read_text().splitlines()] if cat_file.exists() else []
    return {"protocol": quick_cat_protocol() if args.quick or args.rehearse else CAT_PROTOCOL, "workers": args.workers,
            "seeds_requested": args.seeds, "runs": runs}


# ----------------------------------------------------------------------------------------------- report
def paired_cat(runs: list[dict]) -> dict:
    """Mean AUCs of the seeds that ran both variants, and the paired t-test (enhanced vs original)."""
    by_seed = {}
    for run in runs:
        by_seed.setdefault(run["seed"], {})[run["variant"]] = run
    seeds = sorted(s for s, pair in by_seed.items() if len(pair) == 2)
    original = [by_seed[s]["original"]["auc"] for s in seeds]
    enhanced = [by_seed[s]["enhanced"]["auc"] for s in seeds]
    result = {"seeds": seeds, "original": original, "enhanced": enhanced}
    if len(seeds) >= 2:
        from scipy import stats

        test = stats.ttest_rel(enhanced, original)
        result.update(t=float(test.statistic), p=float(test.pvalue))
    return result


def fmt(value, digits=1):
    return "-" if value is None else f"{value:,.{digits}f}"


def render(results: dict) -> str:
    lines = ["# GPU suite", "",
             f"Measured {results['date']} on {results['machine']['gpu']} through Keras {results['machine']['keras']} "
             f"on the {results['backend']} backend (jax {results['machine'].get('jax', '-')}, torch "
             f"{results['machine'].get('torch', '-')}), by `python -m benchmarks.gpu_suite`"
             + (" **--quick on a CPU: tiny synthetic sizes, no figure here means anything.**" if results["quick"] else ".")
             + f" Budget {results['budget_s']:.0f} s; the suite ran {results['elapsed_s']:.0f} s.", ""]
    torch_rows = [r for r in results.get("torch", []) if "images_per_s" in r]
    best_torch = {}
    for row in torch_rows:
        best_torch[row["detector"]] = max(best_torch.get(row["detector"], 0), row["images_per_s"])
    lines += ["## Training speed per detector: float32 against mixed_float16", "",
              "Images per second are the median over the timed epochs after the first (which compiles). AUC (%) is "
              "what the short run of the table reaches, not a tuned or paper-length result. The plain-PyTorch "
              "column is the fastest precision of the same network in plain PyTorch (next section); ratio = "
              "the faster Keras policy / that.", "",
              "| detector | data | batch | epochs timed | float32 img/s | mixed img/s | mixed / float32 | "
              "AUC float32 | AUC mixed | plain PyTorch img/s | Keras / PyTorch |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    by_name = {}
    for row in results.get("throughput", []):
        by_name.setdefault(row["detector"], {})[row["policy"]] = row
    for name, pair in by_name.items():
        f32, mixed = pair.get("float32", {}), pair.get("mixed_float16", {})
        any_row = f32 or mixed
        speeds = [r.get("images_per_s") for r in (f32, mixed) if r.get("images_per_s")]
        torch_speed = best_torch.get(name)
        ratio = f"{max(speeds) / torch_speed:.2f}" if speeds and torch_speed else "-"
        speedup = (f"{mixed['images_per_s'] / f32['images_per_s']:.2f}"
                   if f32.get("images_per_s") and mixed.get("images_per_s") else "-")
        note = "; ".join(r.get("error") or r.get("skipped") for r in (f32, mixed) if r.get("error") or r.get("skipped"))
        lines.append(f"| {name} | {any_row.get('data', '-')} | {any_row.get('batch_size', '-')} | "
                     f"{any_row.get('timed_epochs', '-')} | {fmt(f32.get('images_per_s'), 0)} | "
                     f"{fmt(mixed.get('images_per_s'), 0)} | {speedup} | {fmt(f32.get('auc'))} | "
                     f"{fmt(mixed.get('auc'))} | {fmt(torch_speed, 0)} | {ratio} |" + (f" {note}" if note else ""))
    lines += ["", "## Plain PyTorch on the same networks", "",
              "Data on the GPU, one warm-up epoch, median of the timed epochs; float32 allows TF32; fp16 with a "
              "GradScaler; mixed precisions in channels_last.", "",
              "| network | precision | batch | images | img/s | ms/step |", "|---|---|---|---|---|---|"]
    for row in results.get("torch", []):
        if "images_per_s" in row:
            lines.append(f"| {row['detector']} ({row['model']}) | {row['precision']} | {row['batch_size']} | "
                         f"{row['n_images']} | {fmt(row['images_per_s'], 0)} | {row['step_ms']:.2f} |")
        else:
            lines.append(f"| {row['detector']} | - | - | - | {row.get('error') or row.get('skipped')} | - |")
    cat = results.get("cat", {})
    lines += ["", "## Deep SVDD, CIFAR-10 cat: original against enhanced", ""]
    if cat.get("runs"):
        protocol = cat["protocol"]
        paired = paired_cat(cat["runs"])
        policies = sorted({r["policy"] for r in cat["runs"]})
        lines += [f"Protocol: {protocol['pretrain_epochs']} pretraining + {protocol['epochs']} training epochs "
                  f"(learning rate / 10 at epoch {protocol['milestone']}), Ruff et al.'s settings as `DeepSVDD` "
                  f"defaults; policy {', '.join(policies)}; {cat['workers']} worker processes shared the GPU; "
                  f"{len(paired['seeds'])} of {cat['seeds_requested']} paired seeds finished inside the budget.", "",
                  "| seed | AUC original | AUC enhanced | s original | s enhanced |", "|---|---|---|---|---|"]
        seconds = {(r["seed"], r["variant"]): r["train_seconds"] for r in cat["runs"]}
        for seed, o, e in zip(paired["seeds"], paired["original"], paired["enhanced"]):
            lines.append(f"| {seed} | {o:.2f} | {e:.2f} | {seconds[(seed, 'original')]:.0f} | "
                         f"{seconds[(seed, 'enhanced')]:.0f} |")
        if paired["seeds"]:
            lines.append(f"| **mean** | **{np.mean(paired['original']):.2f}** | **{np.mean(paired['enhanced']):.2f}** "
                         "| | |")
        lines += ["", f"Paired t-test, enhanced vs original: t = {fmt(paired.get('t'), 2)}, "
                      f"p = {fmt(paired.get('p'), 4)} over {len(paired['seeds'])} seeds. The reference seed study "
                      f"reported {CAT_REFERENCE['enhanced']} against {CAT_REFERENCE['original']} "
                      f"(p = {CAT_REFERENCE['p']}, 10 seeds)."]
    else:
        lines.append(f"Not run: {cat.get('skipped', 'no runs finished')}.")
    return "\n".join(lines) + "\n"


def machine() -> dict:
    info = {"platform": platform.platform(), "cpus": os.cpu_count(), "gpu": "CPU only"}
    import keras

    info["keras"] = keras.__version__
    try:
        import jax

        info["jax"] = jax.__version__
        gpus = [d for d in jax.devices() if d.platform == "gpu"]
        if gpus:
            info["gpu"] = gpus[0].device_kind
    except ImportError:
        pass
    try:
        import torch

        info["torch"] = torch.__version__
        if torch.cuda.is_available() and info["gpu"] == "CPU only":
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return info


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny synthetic sizes on the CPU")
    parser.add_argument("--rehearse", action="store_true", help="the real data subsets, cut small, with --quick's epochs")
    parser.add_argument("--parts", default="torch,throughput,cat", help="comma-separated sections to run")
    parser.add_argument("--budget", type=float, default=500.0, help="seconds the suite may take in all")
    parser.add_argument("--seeds", type=int, default=10, help="paired seeds of the cat study")
    parser.add_argument("--workers", type=int, default=5, help="processes sharing the GPU in the cat study")
    parser.add_argument("--out-dir", default=None, help="where the JSON and log go (default benchmarks/results)")
    parser.add_argument("--report", default=None, help="render RUN_DIR/gpu_suite.json into benchmarks/results")
    parser.add_argument("--cat-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cat-file", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--worker-budget", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--worker-seeds", type=int, nargs="*", default=[], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.cat_worker:
        cat_worker(args)
        return 0
    suffix = "_quick" if args.quick or args.rehearse else ""
    if args.report:
        results = json.loads((Path(args.report) / "gpu_suite.json").read_text())
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"gpu_suite{suffix}.json").write_text(json.dumps(results, indent=1, sort_keys=True))
        (RESULTS / f"gpu_suite{suffix}.md").write_text(render(results))
        print(render(results))
        return 0
    if args.quick or args.rehearse:
        args.seeds, args.workers = min(args.seeds, 2), min(args.workers, 2)
    out_dir = Path(args.out_dir or RESULTS)
    out_dir.mkdir(parents=True, exist_ok=True)
    log_file = out_dir / f"gpu_suite{suffix}.log"

    def log(message: str) -> None:
        print(message, flush=True)
        with open(log_file, "a") as handle:
            handle.write(message + "\n")

    quick = args.quick or args.rehearse
    if not quick and machine()["gpu"] == "CPU only":
        log("no GPU is visible to JAX: run with --quick or --rehearse on a CPU")
        return 2
    started = time.monotonic()
    deadline = Deadline(args.budget)
    parts = set(args.parts.split(","))
    sets = load_sets(args.quick, args.rehearse)
    results = {"date": time.strftime("%Y-%m-%d"), "quick": quick, "budget_s": args.budget,
               "machine": machine(), "backend": os.environ["KERAS_BACKEND"], "parts": sorted(parts),
               "throughput": []}

    def save() -> None:
        results["elapsed_s"] = time.monotonic() - started
        (out_dir / f"gpu_suite{suffix}.json").write_text(json.dumps(results, indent=1, sort_keys=True))
        (out_dir / f"gpu_suite{suffix}.md").write_text(render(results))

    # What the bars need first (the PyTorch references, the conv autoencoder, the cat study), then the rest.
    first = ("ConvAutoencoder 256 px", "DASVDD", "DeepSVDD original", "DeepSVDD enhanced")
    if "torch" in parts:
        results["torch"] = run_torch(quick, sets, deadline, log)
        save()
    if "throughput" in parts:
        results["throughput"] += run_throughput(quick, sets, deadline, log, names=first)
        save()
    if "cat" in parts:
        args.out_dir = str(out_dir)
        results["cat"] = run_cat(args, deadline, log)
        save()
    if "throughput" in parts:
        rest = [spec["name"] for spec in detector_specs(quick, sets) if spec["name"] not in first]
        results["throughput"] += run_throughput(quick, sets, deadline, log, names=rest)
    save()
    log(f"done in {results['elapsed_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
