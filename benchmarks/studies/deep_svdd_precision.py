"""Deep SVDD training time under float32 and mixed_float16, original vs enhanced net (CIFAR-10 cat).

The reference study reports the enhanced variant's training time falling 23% with mixed precision on a GPU
(p = 5e-15). Each seed (a repeat) trains each variant under both policies on the same data (pretraining + Deep
SVDD epochs, policy order alternating between seeds); the paired t-test compares mixed_float16 against float32
seconds per variant. AUC is recorded too, so a speed-up that costs accuracy shows. On a CPU float16 is emulated
and slower; the table says which device ran it.

    python -m benchmarks deep_svdd_precision                       # 5 seeds, 2 + 5 epochs
    python -m benchmarks deep_svdd_precision --seeds 10 --pretrain-epochs 5 --epochs 20
    python -m benchmarks deep_svdd_precision --quick               # smoke run: 400 images, 1 + 1 epochs
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from benchmarks import results as store
from benchmarks.common import machine, mean_std
from benchmarks.studies import deep_svdd

SEEDS = 5
RESUME = True
POLICIES = ("float32", "mixed_float16")
REFERENCE_CHANGE = "-23% (p = 5e-15), enhanced variant, GPU"


def add_arguments(parser) -> None:
    parser.add_argument("--pretrain-epochs", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--limit", type=int, default=None, help="train on the first N images (smoke runs)")


def adjust(args) -> None:
    if args.quick:
        args.seeds, args.pretrain_epochs, args.epochs, args.limit = 2, 1, 1, 400


def plan(args):
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for variant in deep_svdd.VARIANTS:
            for policy in POLICIES if seed % 2 == 0 else POLICIES[::-1]:
                yield {"variant": variant, "policy": policy, "pretrain_epochs": args.pretrain_epochs,
                       "epochs": args.epochs, "limit": args.limit}, seed


def measure(config: dict, seed: int, args) -> dict:
    import keras

    x_train, x_test, y_test = deep_svdd.load("cat", 3, args.data, config["limit"])
    keras.mixed_precision.set_global_policy(config["policy"])
    try:
        figures = deep_svdd.run_one(x_train, x_test, y_test, config["variant"], seed, config["epochs"],
                                    config["pretrain_epochs"])
    finally:
        keras.mixed_precision.set_global_policy("float32")
    return {**figures, "train_size": len(x_train), "device": machine()["gpus"] or ["cpu"]}


def render(results: dict) -> str:
    lines = ["# Deep SVDD: float32 vs mixed_float16 training time (CIFAR-10 cat)", "",
             "Seconds = autoencoder pretraining + Deep SVDD training, wall-clock, per run; paired over seeds "
             "(same seed and data for both policies). Change = mean of per-seed (mixed / float32 - 1). "
             f"Reference study: {REFERENCE_CHANGE}.", ""]
    settings = lambda c: (c["pretrain_epochs"], c["epochs"], c["limit"])  # noqa: E731
    for (pretrain, epochs, _), records in store.group(store.current(results), settings).items():
        figures = records[0]["figures"]
        lines += [f"## {pretrain} + {epochs} epochs, {figures['train_size']} training images, "
                  f"device {', '.join(figures['device'])}", "",
                  "| variant | float32 s | mixed_float16 s | change | p (time) | AUC float32 | AUC mixed | seeds |",
                  "|---|---|---|---|---|---|---|---|"]
        for variant in deep_svdd.VARIANTS:
            runs = {p: {r["seed"]: r["figures"] for r in records
                        if r["config"]["variant"] == variant and r["config"]["policy"] == p} for p in POLICIES}
            seeds = sorted(set(runs["float32"]) & set(runs["mixed_float16"]))
            if not seeds:
                continue
            seconds = {p: np.array([runs[p][s]["train_seconds"] for s in seeds]) for p in POLICIES}
            aucs = {p: [runs[p][s]["auc"] for s in seeds] for p in POLICIES}
            change = float(np.mean(seconds["mixed_float16"] / seconds["float32"] - 1))
            p_time = stats.ttest_rel(seconds["mixed_float16"], seconds["float32"]).pvalue if len(seeds) > 1 else np.nan
            cell = lambda v: "{:.1f} ± {:.1f}".format(*mean_std(v))  # noqa: E731
            lines.append(f"| {variant} | {cell(seconds['float32'])} | {cell(seconds['mixed_float16'])} | "
                         f"{100 * change:+.0f}% | {p_time:.3g} | {cell(aucs['float32'])} | "
                         f"{cell(aucs['mixed_float16'])} | {len(seeds)} |")
        lines.append("")
    lines += [f"Machine: {results.get('machine')}", f"Command(s): {results.get('commands')}", ""]
    return "\n".join(lines)
