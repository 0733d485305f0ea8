"""What the input checks cost per epoch (``keras_oneclass.inputs``: NaN/inf per batch, dtypes, emptiness).

MNIST digit 0 (5,923 training images, 28x28): DASVDD (dense, batch 200) and ConvAutoencoder (batch 32), each fed
a ``tf.data`` dataset of batches and a ``keras.utils.PyDataset``, trained with the checks and with them
bypassed, alternating in one process so the seconds compare as ratios. Seconds per epoch are the median of epochs
2 onwards (the first compiles). Arrays are checked once, in full, before training: the seconds of that check
are measured on the same images.

    python -m benchmarks input_checks            # writes benchmarks/results/input_checks.{json,md}
    python -m benchmarks input_checks --quick    # 3 epochs, 1 seed
"""

from __future__ import annotations

import contextlib
import statistics
import time

from benchmarks import results as store
from benchmarks.common import data_root, epoch_timer

SEEDS = 3
MODELS = ("dasvdd", "conv_autoencoder")
FEEDS = ("tf.data", "PyDataset")


def add_arguments(parser) -> None:
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--feeds", nargs="+", choices=FEEDS, default=list(FEEDS))


def adjust(args) -> None:
    if args.quick:
        args.epochs, args.seeds = 3, 1


def header(args) -> dict:
    import keras

    return {"date": time.strftime("%Y-%m-%d"), "quick": args.quick, "epochs": args.epochs, "keras": keras.__version__}


def plan(args):
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for model in args.models:
            for feed in args.feeds:
                yield {"model": model, "feed": feed, "epochs": args.epochs}, seed
        yield {"model": "array_check"}, seed


@contextlib.contextmanager
def checks_bypassed():
    """``InputChecker.prepare`` returning its input untouched: training as it would run without the checks."""
    from keras_oneclass import inputs

    original = inputs.InputChecker.prepare
    inputs.InputChecker.prepare = lambda self, x, name="x": x
    try:
        yield
    finally:
        inputs.InputChecker.prepare = original


def mnist_zero(args):
    from keras_oneclass import datasets

    x_train, _ = datasets.load_oneclass("mnist", 0, path=data_root(args.data), as_numpy=True)
    return x_train


def feed(x, kind: str, batch_size: int):
    import keras
    import tensorflow as tf

    if kind == "tf.data":
        return tf.data.Dataset.from_tensor_slices(x).batch(batch_size).prefetch(tf.data.AUTOTUNE)

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return -(-len(x) // batch_size)

        def __getitem__(self, index):
            return x[index * batch_size:(index + 1) * batch_size]

    return Batches()


def build(name: str, seed: int):
    from keras_oneclass import DASVDD, ConvAutoencoder

    if name == "dasvdd":
        return DASVDD(input_shape=(28, 28, 1), gamma=1.0, seed=seed), 200
    return ConvAutoencoder(input_shape=(28, 28, 1), seed=seed), 32


def epoch_seconds(model_name: str, kind: str, x, seed: int, epochs: int, bypass: bool) -> float:
    model, batch_size = build(model_name, seed)
    timer = epoch_timer()
    with checks_bypassed() if bypass else contextlib.nullcontext():
        model.fit(feed(x, kind, batch_size), epochs=epochs, verbose=0, callbacks=[timer])
    return statistics.median(timer.seconds[1:])


def measure(config: dict, seed: int, args) -> dict:
    import numpy as np

    from keras_oneclass import inputs

    x = mnist_zero(args)
    if config["model"] == "array_check":
        checker = inputs.InputChecker((28, 28, 1), (0.0, 1.0))
        seconds = []
        for _ in range(5):
            start = time.perf_counter()
            checker.prepare(x, "x")
            seconds.append(time.perf_counter() - start)
        return {"check_s": statistics.median(seconds), "images": int(len(x)), "bytes": int(np.asarray(x).nbytes)}
    checked, bypassed = [], []
    for _ in range(2):  # alternate, so both see the same machine load
        checked.append(epoch_seconds(config["model"], config["feed"], x, seed, config["epochs"], bypass=False))
        bypassed.append(epoch_seconds(config["model"], config["feed"], x, seed, config["epochs"], bypass=True))
    return {"checked_s": statistics.median(checked), "bypassed_s": statistics.median(bypassed)}


def render(results: dict) -> str:
    records = store.current(results)
    lines = ["# What the input checks cost per epoch", "",
             f"Measured {results.get('date')} on this project's 2-core CPU machine, Keras {results.get('keras')}, by "
             f"`python -m benchmarks input_checks`{' **(--quick: a smoke run)**' if results.get('quick') else ''}. "
             f"MNIST digit 0 (5,923 images, 28x28), {results.get('epochs')} epochs a fit; seconds per epoch are the "
             "median of epochs 2 onwards, with the checks and with them bypassed, alternating in one process; the "
             "table gives the median over seeds of the seconds and of the cost, checked / bypassed - 1 within each "
             "seed (each seed's cost in brackets).", "",
             "| detector | feed | s / epoch checked | s / epoch bypassed | cost | seeds |", "|---|---|---|---|---|---|"]
    for model in MODELS:
        for kind in FEEDS:
            runs = [r["figures"] for r in records if r["config"].get("model") == model and r["config"].get("feed") == kind]
            if not runs:
                continue
            checked = statistics.median(r["checked_s"] for r in runs)
            bypassed = statistics.median(r["bypassed_s"] for r in runs)
            cost = statistics.median(r["checked_s"] / r["bypassed_s"] - 1 for r in runs)  # paired within a seed
            per_seed = ", ".join(f"{100 * (r['checked_s'] / r['bypassed_s'] - 1):+.0f}%" for r in runs)
            lines.append(f"| {model} | {kind} | {checked:.3f} | {bypassed:.3f} | {100 * cost:+.1f}% ({per_seed}) | "
                         f"{len(runs)} |")
    arrays = [r["figures"] for r in records if r["config"].get("model") == "array_check"]
    if arrays:
        seconds = statistics.median(r["check_s"] for r in arrays)
        lines += ["", f"Arrays are checked once before training: {seconds:.3f} s for the {arrays[0]['images']:,} "
                      f"images ({arrays[0]['bytes'] / 2 ** 20:.0f} MiB), median of 5 repeats per seed."]
    lines += [""] + [f"Note: {note}" for note in results.get("notes", [])]
    return "\n".join(lines).rstrip() + "\n"
