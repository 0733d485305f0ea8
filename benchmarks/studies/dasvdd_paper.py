"""Table 2 of the DASVDD paper (Hojjati & Armanfard, TKDE 2024): MNIST, CIFAR-10 and PIMA.

For each one-class task it trains DASVDD over several seeds and, on the same split in the same run, the paper's
shallow baselines (OC-SVM, KDE, Isolation Forest from scikit-learn). A configuration is one task (data set,
normal class) under one protocol (epochs, variant tag and its overrides, preprocessing); records of more seeds
add up, and a record of another protocol of the same task and tag supersedes the older ones.

    python -m benchmarks dasvdd_paper                          # paper protocol: 300 epochs, 10 seeds
    python -m benchmarks dasvdd_paper --datasets mnist --epochs 30 --seeds 3
    python -m benchmarks dasvdd_paper --quick                  # smoke run: 2 epochs, 1 seed, class 0
    python -m benchmarks dasvdd_paper --datasets mnist --seeds 2 --first-seed 1 --out /tmp/more.json
    python -m benchmarks dasvdd_paper --report --merge /tmp/more.json   # adds seeds 1-2 to seed 0's records
"""

from __future__ import annotations

import functools
import json
import statistics
import time

import keras
import numpy as np

from benchmarks import results as store
from benchmarks.baselines import shallow_baselines
from benchmarks.common import epoch_timer
from benchmarks.legacy_sort import pandas_descending_order
from benchmarks.studies.dasvdd_paper_table import PAPER_EPOCHS, PAPER_SEEDS, render  # noqa: F401 (the study's table)
from keras_oneclass import DASVDD, datasets, metrics
from keras_oneclass.losses import squared_distance

SEEDS = PAPER_SEEDS
# Image preprocessing of the authors' reference code: MNIST scaled to [0, 1]; CIFAR-10 with global
# contrast normalisation (l2) per image, no min-max (the Deep SVDD "gcn_minmax" is not used there).
PREPROCESSING = {"mnist": "scale", "cifar10": "gcn_l2"}


def add_arguments(parser) -> None:
    parser.add_argument("--datasets", nargs="+", default=["mnist", "cifar10", "pima"],
                        choices=["mnist", "cifar10", "pima"])
    parser.add_argument("--classes", nargs="+", type=int, default=list(range(10)))
    parser.add_argument("--epochs", type=int, default=PAPER_EPOCHS)
    parser.add_argument("--checkpoints", nargs="*", type=int, default=[10, 30, 100],
                        help="epochs after which the test AUC is also recorded (the trajectory column)")
    parser.add_argument("--preprocessing", default=None,
                        help="override the image preprocessing (default: the authors' per dataset)")
    parser.add_argument("--tag", default=None,
                        help="name of a variant of the protocol: shown in its own table, never in the paper-protocol "
                             "averages")
    parser.add_argument("--hidden-units", nargs="+", type=int, default=None,
                        help="variant: the dense encoder's hidden widths (default: the paper's, by input size)")
    parser.add_argument("--batch-size", type=int, default=None, help="variant: batch size (default 200)")
    parser.add_argument("--center-lr", type=float, default=None,
                        help="variant: Adagrad rate of the centre, compile(center_learning_rate=...) (paper: 1; the "
                             "authors' notebook: CIFAR-10 0.01, PIMA 0.1)")
    parser.add_argument("--center-lr-decay", type=float, default=0.0,
                        help="variant: the centre's rate decay, compile(center_learning_rate_decay=...) (the authors' "
                             "code: 0.01; paper: none)")
    parser.add_argument("--output-activation", default=None,
                        help="variant: decoder output activation, e.g. leaky_relu (the authors' CIFAR-10 code) or "
                             "none (linear)")
    parser.add_argument("--odds-train-on", choices=["normal", "all"], default="normal",
                        help="variant: PIMA training rows (all = outliers included, as the authors' code)")
    parser.add_argument("--odds-split", choices=["stratified", "label-sorted"], default="stratified",
                        help="variant: PIMA split; 'label-sorted' is the authors' first loader")
    parser.add_argument("--svdd-term", choices=["mean", "first"], default="mean",
                        help="variant: the training SVDD term over the batch (eq. 5) or its first sample only")
    parser.add_argument("--drop-last", action="store_true", help="variant: skip each epoch's last partial batch")
    parser.add_argument("--odds-raw", action="store_true", help="variant: PIMA features not z-scored")
    parser.add_argument("--baselines-from", default=None,
                        help="copy the baselines of image tasks from this result JSON instead of refitting them "
                             "(same split; OC-SVM, KDE and IF are invariant to a global rescaling of the data)")


def overrides(args) -> dict:
    """The settings by which a variant differs from the paper's protocol, as stored in its configuration."""
    found = {k: v for k, v in (("hidden_units", args.hidden_units), ("batch_size", args.batch_size),
                               ("center_lr", args.center_lr), ("center_lr_decay", args.center_lr_decay),
                               ("output_activation", args.output_activation)) if v}
    found.update({k: v for k, v, default in (("odds_train_on", args.odds_train_on, "normal"),
                                             ("odds_raw", args.odds_raw, False),
                                             ("odds_split", args.odds_split, "stratified"),
                                             ("drop_last", args.drop_last, False),
                                             ("svdd_term", args.svdd_term, "mean")) if v != default})
    return found


def adjust(args) -> None:
    if overrides(args) and not args.tag:
        raise SystemExit(f"{sorted(overrides(args))} change the paper's protocol: name the variant with --tag")
    if args.quick:
        args.epochs, args.seeds, args.classes = 2, 1, [0]


def same_task(a: dict, b: dict) -> bool:
    return (a["dataset"], a["normal_class"], a.get("tag")) == (b["dataset"], b["normal_class"], b.get("tag"))


def plan(args):
    for dataset in args.datasets:
        for normal_class in [None] if dataset == "pima" else args.classes:
            config = {"dataset": dataset, "normal_class": normal_class, "epochs": args.epochs, "tag": args.tag,
                      "overrides": overrides(args),
                      "preprocessing": None if dataset == "pima" else args.preprocessing or PREPROCESSING[dataset],
                      "split_per_seed": dataset == "pima" and args.odds_split == "stratified"}
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                yield config, seed


@functools.lru_cache(maxsize=2)
def load_task(dataset: str, normal_class, data, split_seed: int, preprocessing, odds_options: str):
    """(x_train, x_test, y_test) of one task, preprocessed as the paper (``odds_options``: JSON of PIMA's).

    PIMA has no fixed split: ``split_seed`` draws the stratified 60/40 split (train on its normal rows,
    z-scored). Over six splits one DASVDD seed ranged 67.5-75.8 AUC, so each seed draws its own.
    """
    options = json.loads(odds_options)
    if dataset == "pima" and options.pop("split") == "label-sorted":
        x_train, x_test, y_test = label_sorted_split(*datasets.read_odds("pima", path=data))
        if options.get("standardize", True):
            mean, std = datasets.fit_standardize(x_train)
            x_train, x_test = datasets.standardize(x_train, mean, std), datasets.standardize(x_test, mean, std)
        return x_train, x_test, y_test
    if dataset == "pima":
        x_train, (x_test, y_test) = datasets.load_odds("pima", path=data, seed=split_seed, **options)
    else:
        x_train, (x_test, y_test) = datasets.load_oneclass(dataset, normal_class, path=data, as_numpy=True,
                                                           preprocessing=preprocessing)
    return x_train, x_test, y_test


def label_sorted_split(x, y, test_fraction: float = 0.4):
    """The split of the DASVDD authors' first PIMA loader (``Dataset/DatasetLoader.py``): rows sorted by label,
    outliers first, and the first ``int(0.4 * N)`` rows held out for testing (every outlier plus 39 normal rows).

    Which 39 normal rows depends on the order in which pandas' unstable sort left the equal labels;
    ``legacy_sort`` replays that sort as pandas 1.x on NumPy < 1.25 ran it. The split is the same for every seed.
    """
    order = pandas_descending_order(y)
    n_test = int(len(y) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return x[train].astype(np.float32), x[test].astype(np.float32), y[test].astype(np.int32)


def measure(config: dict, seed: int, args) -> dict:
    """DASVDD of one seed on its task; the baselines too on the run's first seed (every seed for per-seed splits)."""
    odds = {"train_on": args.odds_train_on, "standardize": not args.odds_raw, "split": args.odds_split}
    x_train, x_test, y_test = load_task(config["dataset"], config["normal_class"], args.data,
                                        seed if config["split_per_seed"] else args.first_seed,
                                        config["preprocessing"], json.dumps(odds))
    figures = run_dasvdd(x_train, x_test, y_test, config["epochs"], seed, args)
    if config["split_per_seed"] or seed == args.first_seed:
        copied = None if config["dataset"] == "pima" else copied_baselines(config, args.baselines_from)
        figures["baselines"] = copied or shallow_baselines(x_train, x_test, y_test, seed=seed)
        if copied:
            figures["baselines_from"] = str(args.baselines_from)
    return figures


def copied_baselines(config: dict, path) -> dict | None:
    """The baselines of the same task (same tag, else the paper protocol's) in the result file ``path``."""
    if not path:
        return None
    records = store.current(store.load(path))
    for tag in (config["tag"], None):
        for record in sorted(records, key=lambda r: r["seed"]):
            c = record["config"]
            if (c["dataset"], c["normal_class"], c.get("tag")) == (config["dataset"], config["normal_class"], tag) \
                    and "baselines" in record["figures"]:
                return record["figures"]["baselines"]
    return None


class FirstSampleDASVDD(DASVDD):
    """DASVDD whose training SVDD term is the distance of the batch's first sample only.

    The authors' first trainer (``Source/Trainer.py``) writes ``torch.sum((code - C) ** 2, dim=1)[0]``: one sample
    of each batch, not the batch mean of eq. 5. The score is unchanged.
    """

    def svdd_loss(self, z, center):
        return squared_distance(z[:1], center)[0]


class TestAUCAt(keras.callbacks.Callback):
    """Test ROC AUC (%) after the given epochs (1-based); runs after the epoch timer, so it is not timed."""

    def __init__(self, epochs, x_test, y_test):
        super().__init__()
        self.at, self.x_test, self.y_test, self.auc = set(epochs), x_test, y_test, {}

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 in self.at:
            # keras.Model.predict: the detector's own predict refuses to score before fit() returns
            scores = keras.Model.predict(self.model, self.x_test, batch_size=1000, verbose=0)
            self.auc[str(epoch + 1)] = 100 * metrics.roc_auc(self.y_test, scores)


def run_dasvdd(x_train, x_test, y_test, epochs: int, seed: int, args) -> dict:
    detector = FirstSampleDASVDD if args.svdd_term == "first" else DASVDD
    activation = None if args.output_activation == "none" else args.output_activation or "auto"
    model = detector(input_shape=x_train.shape[1:], seed=seed, hidden_units=args.hidden_units,
                     output_activation=activation)
    model.compile(center_learning_rate=args.center_lr or 1.0, center_learning_rate_decay=args.center_lr_decay)
    timer = epoch_timer()
    tracker = TestAUCAt([e for e in args.checkpoints if e < epochs], x_test, y_test)
    start = time.perf_counter()
    model.fit(x_train, epochs=epochs, verbose=0, batch_size=args.batch_size, drop_remainder=args.drop_last,
              callbacks=[timer, tracker])
    fit_seconds = time.perf_counter() - start
    auc = 100 * metrics.roc_auc(y_test, model.predict(x_test, verbose=0))
    return {"auc": auc, "gamma": model.gamma, "auc_at_epoch": {**tracker.auc, str(epochs): auc},
            "fit_seconds": fit_seconds,
            # epochs 1-2 include tracing and XLA compilation: the median leaves them out
            "seconds_per_epoch": statistics.median(timer.seconds[2:] or timer.seconds),
            "train_size": int(len(x_train))}
