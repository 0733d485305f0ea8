"""Table 2 of the DASVDD paper (Hojjati & Armanfard, TKDE 2024): MNIST, CIFAR-10 and PIMA.

For each one-class task it trains DASVDD over several seeds and, on the same split in the same run,
the paper's shallow baselines (OC-SVM, KDE, Isolation Forest from scikit-learn). Results are
merged into benchmarks/results/dasvdd_paper.json as they arrive (one task at a time, so a long run
can be resumed or split) and rendered to dasvdd_paper.md.

Usage:
    python benchmarks/dasvdd_paper.py                        # paper protocol: 300 epochs, 10 seeds
    python benchmarks/dasvdd_paper.py --datasets mnist --epochs 30 --seeds 3
    python benchmarks/dasvdd_paper.py --quick                # smoke run: 2 epochs, 1 seed, class 0
    python benchmarks/dasvdd_paper.py --report               # only re-render the markdown
    python benchmarks/dasvdd_paper.py --report --merge benchmarks/results/dasvdd_paper_cifar10.json
    python benchmarks/dasvdd_paper.py --datasets mnist --seeds 2 --first-seed 1 --out /tmp/more.json
    python benchmarks/dasvdd_paper.py --report --merge /tmp/more.json   # adds seeds 1-2 to seed 0's runs
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from _common import RESULTS, EpochTimer, load_json, machine, mean_std, save_json  # first: this checkout's package

import keras
import numpy as np
from scipy import stats
from scipy.special import logsumexp
from sklearn.ensemble import IsolationForest
from sklearn.svm import OneClassSVM

from keras_oneclass import DASVDD, datasets, metrics
from keras_oneclass.scoring import squared_distance
from legacy_sort import pandas_descending_order

PAPER_EPOCHS, PAPER_SEEDS = 300, 10
# Class averages of DASVDD in Table 2 of the paper (per-class figures were not available offline).
PAPER_AVERAGE = {"mnist": 97.7, "cifar10": 66.5, "pima": 72.2}
# Image preprocessing of the authors' reference code: MNIST scaled to [0, 1]; CIFAR-10 with global
# contrast normalisation (l2) per image, no min-max (the Deep SVDD "gcn_minmax" is not used there).
PREPROCESSING = {"mnist": "scale", "cifar10": "gcn_l2"}
JSON_PATH = RESULTS / "dasvdd_paper.json"
MD_PATH = RESULTS / "dasvdd_paper.md"


def load_task(name: str, normal_class: int | None, data: str | None, split_seed: int = 0,
              preprocessing: str | None = None, odds_options: dict | None = None):
    """(x_train, x_test, y_test) numpy arrays for one task, preprocessed as the paper.

    PIMA has no fixed split: ``split_seed`` draws the stratified 60/40 split (train on its normal
    rows, z-scored). Over six splits one DASVDD seed ranged 67.5-75.8 AUC, so a single split
    measures the split more than the method; each seed therefore draws its own.
    """
    odds_options = dict(odds_options or {})
    if name == "pima" and odds_options.pop("split", "stratified") == "label-sorted":
        x_train, x_test, y_test = label_sorted_split(*datasets.read_odds("pima", path=data))
        if odds_options.get("standardize", True):
            mean, std = datasets.fit_standardize(x_train)
            x_train, x_test = datasets.standardize(x_train, mean, std), datasets.standardize(x_test, mean, std)
    elif name == "pima":
        x_train, (x_test, y_test) = datasets.load_odds("pima", path=data, seed=split_seed, **odds_options)
    else:
        x_train, (x_test, y_test) = datasets.load_oneclass(
            name, normal_class, path=data, as_numpy=True,
            preprocessing=preprocessing or PREPROCESSING[name])
    return x_train, x_test, y_test


def label_sorted_split(x, y, test_fraction: float = 0.4):
    """The split of the DASVDD authors' first PIMA loader (``Dataset/DatasetLoader.py``): rows sorted by
    label, outliers first, and the first ``int(0.4 * N)`` rows held out for testing, so the test set is
    every outlier (268) plus 39 normal rows, and training is the other 461 normal rows.

    Which 39 normal rows depends on the order in which pandas' unstable sort left the equal labels;
    ``legacy_sort`` replays that sort as pandas 1.x on NumPy < 1.25 ran it. The split is the same for
    every seed.
    """
    order = pandas_descending_order(y)
    n_test = int(len(y) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return (x[train].astype(np.float32), x[test].astype(np.float32), y[test].astype(np.int32))


def squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) squared Euclidean distances, float64, by one matrix product."""
    return np.maximum((a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T, 0.0)


def gaussian_kde_scores(x_train, x_test, bandwidths, max_fit: int = 3000, seed: int = 0):
    """Negative log-density under a Gaussian KDE, bandwidth chosen by leave-one-out likelihood.

    scikit-learn's tree-based KernelDensity is minutes per task at 784-3072 dimensions; the
    same estimator written as dense matrix products takes seconds.
    """
    rng = np.random.default_rng(seed)
    fit = x_train[rng.permutation(len(x_train))[:max_fit]].astype(np.float64)
    dims = fit.shape[1]
    d_fit = squared_distances(fit, fit)
    np.fill_diagonal(d_fit, np.inf)  # leave one out

    def log_density(d, h):
        return logsumexp(-d / (2 * h * h), axis=1) - dims * np.log(h)

    best = max(bandwidths, key=lambda h: log_density(d_fit, h).mean())
    d_test = squared_distances(x_test.astype(np.float64), x_train.astype(np.float64))
    return -log_density(d_test, best), float(best)


def baselines(x_train, x_test, y_test, seed: int = 0) -> dict[str, float]:
    """ROC AUC (%) of OC-SVM (RBF, nu = 0.1), Gaussian KDE and Isolation Forest, with seconds each."""
    flat_train = x_train.reshape(len(x_train), -1)
    flat_test = x_test.reshape(len(x_test), -1)
    result = {}
    start = time.perf_counter()
    ocsvm = OneClassSVM(kernel="rbf", nu=0.1, gamma="scale").fit(flat_train)
    result["ocsvm"] = 100 * metrics.roc_auc(y_test, -ocsvm.decision_function(flat_test))
    result["ocsvm_seconds"] = time.perf_counter() - start
    start = time.perf_counter()
    spread = float(np.sqrt(flat_train.var(axis=0).sum()))  # bandwidth grid around the data's spread
    scores, result["kde_bandwidth"] = gaussian_kde_scores(flat_train, flat_test, spread * np.logspace(-2, 0, 12))
    result["kde"] = 100 * metrics.roc_auc(y_test, scores)
    result["kde_seconds"] = time.perf_counter() - start
    start = time.perf_counter()
    forest = IsolationForest(n_estimators=100, random_state=seed).fit(flat_train)
    result["isolation_forest"] = 100 * metrics.roc_auc(y_test, -forest.score_samples(flat_test))
    result["isolation_forest_seconds"] = time.perf_counter() - start
    return result


class FirstSampleDASVDD(DASVDD):
    """DASVDD whose training SVDD term is the distance of the batch's first sample only.

    The authors' first trainer (``Source/Trainer.py``) writes ``torch.sum((code - C) ** 2, dim=1)[0]``:
    one sample of each batch, not the batch mean of eq. 5. Their later rewrite takes the mean. The score
    is unchanged (their tester scores one sample per batch, so ``[0]`` is that sample there).
    """

    def svdd_loss(self, z, center):
        return squared_distance(z[:1], center)[0]


class TestAUCAt(keras.callbacks.Callback):
    """Test ROC AUC (%) after the given epochs (1-based), to show how AUC moves during training.

    Scoring time is excluded from the epoch timer (it runs after ``EpochTimer.on_epoch_end``)."""

    def __init__(self, epochs, x_test, y_test):
        super().__init__()
        self.at, self.x_test, self.y_test, self.auc = set(epochs), x_test, y_test, {}

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 in self.at:
            # keras.Model.predict: the detector's own predict refuses to score before fit() returns
            scores = keras.Model.predict(self.model, self.x_test, batch_size=1000, verbose=0)
            self.auc[str(epoch + 1)] = 100 * metrics.roc_auc(self.y_test, scores)


def run_dasvdd(x_train, x_test, y_test, epochs: int, seed: int, checkpoints=(), hidden_units=None,
               batch_size=None, center_lr=1.0, center_lr_decay=0.0, output_activation="auto",
               drop_last=False, svdd_term="mean") -> dict:
    detector = FirstSampleDASVDD if svdd_term == "first" else DASVDD
    model = detector(input_shape=x_train.shape[1:], seed=seed, hidden_units=hidden_units, center_lr=center_lr,
                   center_lr_decay=center_lr_decay, output_activation=output_activation)
    timer = EpochTimer()
    tracker = TestAUCAt([e for e in checkpoints if e < epochs], x_test, y_test)
    start = time.perf_counter()
    model.fit(x_train, epochs=epochs, verbose=0, batch_size=batch_size, drop_remainder=drop_last,
              callbacks=[timer, tracker])
    fit_seconds = time.perf_counter() - start
    scores = model.predict(x_test, verbose=0)
    auc = 100 * metrics.roc_auc(y_test, scores)
    return {"seed": seed, "auc": auc, "gamma": model.gamma, "auc_at_epoch": {**tracker.auc, str(epochs): auc},
            "fit_seconds": fit_seconds,
            # epochs 1-2 include tracing and XLA compilation (full batch, last partial batch,
            # relaxed shape): the median leaves them out
            "seconds_per_epoch": statistics.median(timer.seconds[2:] or timer.seconds),
            "train_size": int(len(x_train))}


def merge_task(ours: dict | None, other: dict) -> dict:
    """``other`` merged into ``ours``: runs are united by seed when both ran the same protocol.

    A task run again with ``--first-seed`` (more seeds of the same protocol) adds its runs; one that
    differs in epochs, variant or preprocessing replaces the old task, as a fresh run would.
    """
    protocol = ("epochs", "tag", "overrides", "preprocessing", "split_per_seed")
    if ours is None or any(ours.get(k) != other.get(k) for k in protocol):
        return other
    if other["split_per_seed"] and not ("baseline_runs" in ours and "baseline_runs" in other):
        raise ValueError(f"cannot merge per-split baselines of {other['dataset']}: an older JSON lacks "
                         "'baseline_runs'")
    merged = {**ours, "runs": sorted({r["seed"]: r for r in ours["runs"] + other["runs"]}.values(),
                                     key=lambda r: r["seed"])}
    if other["split_per_seed"]:
        by_split = {**dict(zip(ours["baseline_seeds"], ours["baseline_runs"])),
                    **dict(zip(other["baseline_seeds"], other["baseline_runs"]))}
        merged["baseline_seeds"], merged["baseline_runs"] = map(list, zip(*sorted(by_split.items())))
        merged["baselines"] = {k: float(np.mean([b[k] for b in merged["baseline_runs"]]))
                               for k in merged["baseline_runs"][0]}
    return merged


def paper_key(key: str) -> str:
    """The paper-protocol task of a variant's key: 'mnist/0@code-net' -> 'mnist/0'."""
    return key.split("@")[0]


def same_epochs_auc(task: dict | None, epochs: int) -> float | None:
    """The paper-protocol task's test AUC after ``epochs`` (mean over its runs that recorded it), or None."""
    runs = (task or {}).get("runs", [])
    values = [r["auc_at_epoch"][str(epochs)] for r in runs if str(epochs) in r.get("auc_at_epoch", {})]
    return float(np.mean(values)) if values else None


def trajectory(runs) -> str:
    """'10: 97.1, 30: 96.0, 300: 98.2': test AUC after those epochs, averaged over the seeds that have it."""
    epochs = sorted({e for r in runs for e in r.get("auc_at_epoch", {})}, key=int)
    return ", ".join(f"{e}: {np.mean([r['auc_at_epoch'][e] for r in runs if e in r['auc_at_epoch']]):.1f}"
                     for e in epochs) or "-"


def render(results: dict) -> str:
    lines = ["# DASVDD: Table 2 of Hojjati & Armanfard (TKDE 2024), reproduced", "",
             "ROC AUC in %, mean ± std over seeds. `paper` is the paper's DASVDD class average "
             "(per-class figures were not available offline). Baselines run on the same split in the "
             "same run (scikit-learn OC-SVM RBF nu=0.1 gamma='scale'; Gaussian KDE, bandwidth by "
             "leave-one-out likelihood on up to 3,000 training samples; Isolation Forest 100 trees). s/epoch: median wall-clock seconds of "
             "an epoch after the first two (which include XLA compilation). PIMA: every seed draws its "
             "own stratified 60/40 split (train on its normal rows, z-scored); DASVDD and the "
             "baselines are averaged over the same splits.", ""]
    for dataset in ("mnist", "cifar10", "pima"):
        every = {k: v for k, v in results.get("tasks", {}).items() if v["dataset"] == dataset}
        tasks = {k: v for k, v in every.items() if not v.get("tag")}
        variants = {k: v for k, v in every.items() if v.get("tag")}
        if not tasks:
            continue
        epochs = sorted({t["epochs"] for t in tasks.values()})
        seeds = sorted({len(t["runs"]) for t in tasks.values()})
        lines += [f"## {dataset}", "",
                  f"Epochs: {epochs} (paper: {PAPER_EPOCHS}); seeds per task: {seeds} (paper: {PAPER_SEEDS}); "
                  f"preprocessing: {sorted({str(t.get('preprocessing')) for t in tasks.values()})}."
                  + ("" if epochs == [PAPER_EPOCHS] and seeds == [PAPER_SEEDS] else
                     " **Fewer epochs or seeds than the paper**: the full protocol does not fit the "
                     "2-core machine's time budget; see the notes below."), "",
                  "| normal class | DASVDD (ours) | paper DASVDD | OC-SVM | KDE | IF | s/epoch | train size | AUC by epoch (seed mean) |",
                  "|---|---|---|---|---|---|---|---|---|"]
        averages = []
        for key in sorted(tasks, key=lambda k: (tasks[k]["normal_class"] is None, tasks[k]["normal_class"] or 0)):
            task = tasks[key]
            aucs = [r["auc"] for r in task["runs"]]
            mean, std = mean_std(aucs)
            averages.append((mean, task["baselines"]))
            per_epoch = statistics.median(r["seconds_per_epoch"] for r in task["runs"])
            b = task["baselines"]
            lines.append(f"| {task['label']} | {mean:.1f} ± {std:.1f} | "
                         f"{'—' if dataset != 'pima' else PAPER_AVERAGE['pima']} | {b['ocsvm']:.1f} | "
                         f"{b['kde']:.1f} | {b['isolation_forest']:.1f} | {per_epoch:.2f} | "
                         f"{task['runs'][0]['train_size']} | {trajectory(task['runs'])} |")
        if dataset != "pima":
            n = len(averages)
            common = set.intersection(*(set(r.get("auc_at_epoch", {})) for t in tasks.values() for r in t["runs"]))
            avg = lambda key: np.mean([b[key] for _, b in averages])
            lines.append(f"| **average ({n} classes)** | **{np.mean([m for m, _ in averages]):.1f}** | "
                         f"**{PAPER_AVERAGE[dataset]}** | {avg('ocsvm'):.1f} | {avg('kde'):.1f} | "
                         f"{avg('isolation_forest'):.1f} | | | "
                         + ", ".join(f"{e}: {np.mean([np.mean([r['auc_at_epoch'][e] for r in t['runs']]) for t in tasks.values()]):.1f}"
                                     for e in sorted(common, key=int)) + " |")
        if variants:
            lines += ["", f"Variants of the protocol ({dataset}), each against the row of the same class above; "
                      "`paper protocol` is that row's AUC after the variant's number of epochs (its trajectory):", "",
                      "| normal class | variant | changes | epochs | seeds | DASVDD | paper protocol | s/epoch |",
                      "|---|---|---|---|---|---|---|---|"]
            pairs = {}  # (tag, epochs) -> [(variant AUC, paper-protocol AUC)] per class, for the summary below
            for key in sorted(variants):
                task = variants[key]
                mean, std = mean_std([r["auc"] for r in task["runs"]])
                reference = same_epochs_auc(tasks.get(paper_key(key)), task["epochs"])
                if reference is not None:
                    pairs.setdefault((task["tag"], task["epochs"]), []).append((mean, reference))
                per_epoch = statistics.median(r["seconds_per_epoch"] for r in task["runs"])
                changes = ", ".join(f"{k} {v}" for k, v in task.get("overrides", {}).items()) or "-"
                lines.append(f"| {task['label']} | {task['tag']} | {changes} | {task['epochs']} | {len(task['runs'])} | "
                             f"{mean:.1f} ± {std:.1f} | {'—' if reference is None else f'{reference:.1f}'} | "
                             f"{per_epoch:.2f} |")
            lines.append("")
            for (tag, epochs), values in sorted(pairs.items()):
                if len(values) >= 2:
                    ours, paper = np.array(values).T
                    test = stats.ttest_rel(ours, paper)
                    lines.append(f"- `{tag}`, {epochs} epochs, over {len(values)} classes: {ours.mean():.1f} against "
                                 f"{paper.mean():.1f} "
                                 f"with the paper's protocol at the same epochs ({(ours - paper).mean():+.1f}; "
                                 f"{int((ours > paper).sum())} of {len(values)} classes higher; paired t over "
                                 f"classes p = {test.pvalue:.2g}).")
        lines.append("")
    lines += [f"Machine: {results.get('machine', {})}", ""]
    if dataset_note := results.get("notes"):
        lines += ["Notes:", "", *[f"- {n}" for n in dataset_note], ""]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["mnist", "cifar10", "pima"],
                        choices=["mnist", "cifar10", "pima"])
    parser.add_argument("--classes", nargs="+", type=int, default=list(range(10)))
    parser.add_argument("--epochs", type=int, default=PAPER_EPOCHS)
    parser.add_argument("--seeds", type=int, default=PAPER_SEEDS)
    parser.add_argument("--first-seed", type=int, default=0,
                        help="run seeds first-seed .. first-seed + seeds - 1 (more seeds for a task: "
                             "write to another JSON, then --merge unites the runs by seed)")
    parser.add_argument("--data", default=None, help="data folder (default: $KERAS_ONECLASS_DATA)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 epochs, 1 seed, class 0")
    parser.add_argument("--report", action="store_true", help="only re-render the markdown table")
    parser.add_argument("--out", type=Path, default=JSON_PATH)
    parser.add_argument("--merge", nargs="+", type=Path, default=[],
                        help="result JSONs of runs split over several processes, merged into --out")
    parser.add_argument("--checkpoints", nargs="*", type=int, default=[10, 30, 100],
                        help="epochs after which the test AUC is also recorded (the trajectory column)")
    parser.add_argument("--preprocessing", default=None,
                        help="override the image preprocessing (default: the authors' per dataset)")
    parser.add_argument("--tag", default=None,
                        help="name of a variant of the protocol: its tasks are keyed <dataset>/<class>@<tag> and "
                             "shown in their own table, never in the paper-protocol averages")
    parser.add_argument("--hidden-units", nargs="+", type=int, default=None,
                        help="variant: the dense encoder's hidden widths (default: the paper's, by input size)")
    parser.add_argument("--batch-size", type=int, default=None, help="variant: batch size (default 200)")
    parser.add_argument("--center-lr", type=float, default=None,
                        help="variant: Adagrad lr of the centre (paper: 1; the authors' notebook: CIFAR-10 0.01, "
                             "PIMA 0.1)")
    parser.add_argument("--center-lr-decay", type=float, default=0.0,
                        help="variant: Adagrad lr decay of the centre (the authors' code: 0.01; paper: none)")
    parser.add_argument("--output-activation", default=None,
                        help="variant: decoder output activation, e.g. leaky_relu (the authors' CIFAR-10 "
                             "code; slope 0.01) or none (linear)")
    parser.add_argument("--odds-train-on", choices=["normal", "all"], default="normal",
                        help="variant: PIMA training rows (all = outliers included, as the authors' code)")
    parser.add_argument("--odds-split", choices=["stratified", "label-sorted"], default="stratified",
                        help="variant: PIMA split; 'label-sorted' is the authors' first loader (every outlier "
                             "and 39 normal rows tested, the same split for every seed)")
    parser.add_argument("--svdd-term", choices=["mean", "first"], default="mean",
                        help="variant: the training SVDD term over the batch (eq. 5) or its first sample only "
                             "(the authors' first trainer)")
    parser.add_argument("--drop-last", action="store_true",
                        help="variant: skip each epoch's last partial batch (the authors' DataLoader(drop_last=True))")
    parser.add_argument("--odds-raw", action="store_true", help="variant: PIMA features not z-scored")
    parser.add_argument("--baselines-from", type=Path, default=None,
                        help="copy the baselines of image tasks from this result JSON instead of refitting them "
                             "(same split; OC-SVM, KDE and IF are invariant to a global rescaling of the data)")
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in (("hidden_units", args.hidden_units), ("batch_size", args.batch_size),
                                   ("center_lr", args.center_lr), ("center_lr_decay", args.center_lr_decay),
                                   ("output_activation", args.output_activation)) if v}
    if args.odds_train_on != "normal":
        overrides["odds_train_on"] = args.odds_train_on
    if args.odds_raw:
        overrides["odds_raw"] = True
    if args.odds_split != "stratified":
        overrides["odds_split"] = args.odds_split
    if args.drop_last:
        overrides["drop_last"] = True
    if args.svdd_term != "mean":
        overrides["svdd_term"] = args.svdd_term
    if overrides and not args.tag:
        parser.error(f"{sorted(overrides)} change the paper's protocol: name the variant with --tag")
    odds_options = {"train_on": args.odds_train_on, "standardize": not args.odds_raw, "split": args.odds_split}
    output_activation = None if args.output_activation == "none" else args.output_activation or "auto"
    if args.quick:
        args.epochs, args.seeds, args.classes = 2, 1, [0]
        args.out = args.out.with_name("dasvdd_paper_quick.json")
    results = load_json(args.out)
    results["machine"] = machine()
    earlier = load_json(args.baselines_from).get("tasks", {}) if args.baselines_from else {}
    for other in args.merge:
        tasks = results.setdefault("tasks", {})
        for key, task in load_json(other).get("tasks", {}).items():
            tasks[key] = merge_task(tasks.get(key), task)
    if args.merge:
        save_json(args.out, results)
    if not args.report:
        for dataset in args.datasets:
            for normal_class in ([None] if dataset == "pima" else args.classes):
                key = f"{dataset}/{normal_class}" + (f"@{args.tag}" if args.tag else "")
                task = {"dataset": dataset, "normal_class": normal_class, "epochs": args.epochs,
                        "label": "outliers" if normal_class is None else str(normal_class),
                        "tag": args.tag, "overrides": overrides,
                        "split_per_seed": dataset == "pima" and args.odds_split == "stratified", "runs": [],
                        "preprocessing": None if dataset == "pima" else (args.preprocessing or PREPROCESSING[dataset])}
                baseline_runs, baseline_seeds = [], []
                # a variant's split is the paper task's split: its baselines are the same
                paper_task = earlier.get(key) or earlier.get(paper_key(key), {})
                reuse = None if dataset == "pima" else paper_task.get("baselines")
                if reuse:
                    baseline_runs.append(reuse)
                    task["baselines_from"] = str(args.baselines_from)
                seeds = range(args.first_seed, args.first_seed + args.seeds)
                for seed in seeds:
                    if seed == seeds[0] or task["split_per_seed"]:
                        x_train, x_test, y_test = load_task(dataset, normal_class, args.data, split_seed=seed,
                                                            preprocessing=task["preprocessing"],
                                                            odds_options=odds_options)
                        split = f" (split {seed})" if task["split_per_seed"] else ""
                        print(f"{key}{split}: train {x_train.shape}, test {x_test.shape}, "
                              f"{y_test.mean():.1%} anomalies", flush=True)
                        if not reuse:
                            baseline_runs.append(baselines(x_train, x_test, y_test, seed=seed))
                            baseline_seeds.append(seed)
                        print(f"  baselines{' (copied)' if reuse else ''}: "
                              f"{ {k: round(v, 3) for k, v in baseline_runs[-1].items()} }", flush=True)
                    run = run_dasvdd(x_train, x_test, y_test, args.epochs, seed, args.checkpoints,
                                     hidden_units=args.hidden_units, batch_size=args.batch_size,
                                     center_lr=args.center_lr or 1.0, center_lr_decay=args.center_lr_decay,
                                     drop_last=args.drop_last, svdd_term=args.svdd_term,
                                     output_activation=output_activation)
                    task["runs"].append(run)
                    print(f"  seed {seed}: AUC {run['auc']:.2f}  {run['seconds_per_epoch']:.3f} s/epoch  "
                          f"gamma {run['gamma']:.4g}", flush=True)
                task["baselines"] = {k: float(np.mean([b[k] for b in baseline_runs])) for k in baseline_runs[0]}
                if task["split_per_seed"]:  # one baseline run per split: kept so that --merge can unite splits
                    task["baseline_runs"], task["baseline_seeds"] = baseline_runs, baseline_seeds
                results.setdefault("tasks", {})[key] = task
                save_json(args.out, results)
                args.out.with_suffix(".md").write_text(render(results))
    args.out.with_suffix(".md").write_text(render(results))
    print(args.out.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
