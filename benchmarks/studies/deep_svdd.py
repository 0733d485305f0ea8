"""Deep SVDD, original vs enhanced LeNet nets: CIFAR-10 cat over seeds, and MNIST one-class.

CIFAR-10 class 3 (cat) is the normal class (5,000 training images, the whole 10,000-image test set scored).
Every seed trains both variants on the same data with the same epochs (autoencoder pretraining, then the
one-class objective), alternating which variant runs first so that machine load falls on both alike; the table
gives AUC and training seconds per seed, mean ± std and paired t-tests (enhanced vs original). MNIST: every digit
as normal class, seed 0, both variants. A run resumes where a stopped one stopped (recorded pairs are skipped).

Protocol of Ruff et al. (ICML 2018, sec. 4.1; Deep-SVDD-PyTorch README): GCN (l1) + min-max scaling, Adam 1e-4,
batch 200, weight decay 0.5e-6, Deep SVDD 150 epochs (lr / 10 at 50); autoencoder pretraining 350 epochs
(lr / 10 at 250) on CIFAR-10 and 150 epochs (lr / 10 at 50, weight decay 0.5e-3) on MNIST (``DeepSVDD`` picks
these by input size). A shorter run is the start of that protocol: the milestones stay where they are.

    python -m benchmarks deep_svdd                          # full protocol, 10 seeds
    python -m benchmarks deep_svdd --pretrain-epochs 10 --epochs 20 --seeds 10 --part cat
    python -m benchmarks deep_svdd --quick                  # smoke run, minutes
    python -m benchmarks deep_svdd --part mnist --digits 0 1 --out /tmp/b.json   # a second process
    python -m benchmarks deep_svdd --report --merge /tmp/b.json                  # its records added
"""

from __future__ import annotations

import functools
import time

import numpy as np

from benchmarks.common import epoch_timer
from benchmarks.studies.deep_svdd_table import PAPER, PAPER_MNIST, REFERENCE, VARIANTS, WEIGHT_DECAY, render  # noqa: F401

SEEDS = PAPER["seeds"]
RESUME = True


def add_arguments(parser) -> None:
    parser.add_argument("--part", choices=("cat", "mnist", "all"), default="all")
    parser.add_argument("--epochs", type=int, default=PAPER["epochs"])
    parser.add_argument("--pretrain-epochs", type=int, default=PAPER["pretrain_epochs"])
    parser.add_argument("--mnist-epochs", type=int, default=PAPER_MNIST["epochs"])
    parser.add_argument("--mnist-pretrain-epochs", type=int, default=PAPER_MNIST["pretrain_epochs"])
    parser.add_argument("--digits", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS),
                        help="MNIST part: the variants to run (the cat study always pairs both)")
    parser.add_argument("--limit", type=int, default=None, help="train on the first N images (smoke runs)")


def adjust(args) -> None:
    if args.quick:
        args.seeds, args.epochs, args.pretrain_epochs = 2, 1, 1
        args.mnist_epochs, args.mnist_pretrain_epochs, args.digits, args.limit = 1, 1, [0], 400


def header(args) -> dict:
    from keras_oneclass import precision

    return {"precision": precision.auto(), "reference": REFERENCE}


def plan(args):
    if args.part in ("cat", "all"):
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for variant in VARIANTS if seed % 2 == 0 else VARIANTS[::-1]:
                yield {"part": "cat", "normal_class": 3, "variant": variant, "pretrain_epochs": args.pretrain_epochs,
                       "epochs": args.epochs, "weight_decay": WEIGHT_DECAY}, seed
    if args.part in ("mnist", "all"):
        for digit in args.digits:
            for variant in args.variants:
                yield {"part": "mnist", "normal_class": digit, "variant": variant,
                       "pretrain_epochs": args.mnist_pretrain_epochs, "epochs": args.mnist_epochs,
                       "weight_decay": WEIGHT_DECAY}, 0


@functools.lru_cache(maxsize=1)
def load(part: str, normal_class: int, data, limit):
    from keras_oneclass import datasets

    x_train, (x_test, y_test) = datasets.load_oneclass("cifar10" if part == "cat" else "mnist", normal_class, path=data,
                                                       preprocessing="gcn_minmax", as_numpy=True)
    return subset(x_train, x_test, y_test, limit)


def subset(x_train, x_test, y_test, limit):
    """The first ``limit`` training and 2 * ``limit`` test samples (smoke runs only); all when None."""
    if not limit:
        return x_train, x_test, y_test
    pick = np.random.default_rng(0).permutation(len(x_test))[:2 * limit]
    return x_train[:limit], x_test[pick], y_test[pick]


def measure(config: dict, seed: int, args) -> dict:
    x_train, x_test, y_test = load(config["part"], config["normal_class"], args.data, args.limit)
    figures = run_one(x_train, x_test, y_test, config["variant"], seed, config["epochs"], config["pretrain_epochs"])
    return {**figures, "train_size": len(x_train)} if config["part"] == "cat" else figures


def run_one(x_train, x_test, y_test, variant: str, seed: int, epochs: int, pretrain_epochs: int) -> dict:
    """Train one Deep SVDD and score the test set; AUC and seconds (pretraining + Deep SVDD training)."""
    import keras

    from keras_oneclass import DeepSVDD, metrics

    keras.utils.set_random_seed(seed)
    # the published milestones and pretraining weight decay (DeepSVDD's defaults for the input size) stay as
    # they are: a shorter run is the start of the protocol
    model = DeepSVDD(input_shape=x_train.shape[1:], variant=variant, seed=seed, pretrain_epochs=pretrain_epochs)
    timer = epoch_timer()
    start = time.perf_counter()
    model.compile(learning_rate_milestones=(PAPER["milestone"],))
    if pretrain_epochs:
        model.pretrain(x_train, pretrain_epochs, verbose=0, callbacks=[epoch_timer()])
        model.pretrain_epochs = 0  # done; fit must not pretrain again
    pretrain_seconds = time.perf_counter() - start
    history = model.fit(x_train, epochs=epochs, verbose=0, callbacks=[timer])
    total = time.perf_counter() - start
    scores = model.predict(x_test, verbose=0)
    return {"auc": 100 * metrics.roc_auc(y_test, scores), "train_seconds": total,
            "pretrain_seconds": pretrain_seconds, "svdd_seconds": total - pretrain_seconds,
            "svdd_seconds_per_epoch": float(np.median(timer.seconds)),
            "final_loss": float(history.history["loss"][-1]), "pretrain_weight_decay": model.pretrain_weight_decay,
            "pretrain_milestones": list(model.pretrain_milestones)}
