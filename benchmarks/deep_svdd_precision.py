"""Deep SVDD training time under float32 and mixed_float16, original vs enhanced net (CIFAR-10 cat).

The reference study reports the enhanced variant's training time falling 23% with mixed precision on
a GPU (p = 5e-15). This script measures that change here: for each repeat, each variant trains
under both policies on the same data and seed (pretraining + Deep SVDD epochs, order alternating
between repeats), and the paired t-test (scipy.stats.ttest_rel) compares mixed_float16 against
float32 seconds per variant. AUC is recorded too, so a speed-up that costs accuracy shows.

On a CPU float16 is emulated and slower; the table says which device ran it. Writes
benchmarks/results/deep_svdd_precision.{json,md} (``--quick``: deep_svdd_precision_quick.*).

Usage:
    python benchmarks/deep_svdd_precision.py                       # 5 repeats, 2 + 5 epochs
    python benchmarks/deep_svdd_precision.py --repeats 10 --pretrain-epochs 5 --epochs 20
    python benchmarks/deep_svdd_precision.py --quick               # smoke run: 400 images, 1 + 1 epochs
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import keras
import numpy as np
from scipy import stats

from _common import RESULTS, load_json, machine, mean_std, save_json  # first: this checkout's package
from deep_svdd_cifar10_cat import VARIANTS, run_one, subset
from keras_oneclass import datasets

POLICIES = ("float32", "mixed_float16")
REFERENCE_CHANGE = "-23% (p = 5e-15), enhanced variant, GPU"


def run_repeats(args, results: dict) -> None:
    x_train, (x_test, y_test) = datasets.load_oneclass("cifar10", 3, path=args.data, preprocessing="gcn_minmax",
                                                       as_numpy=True)
    x_train, x_test, y_test = subset(x_train, x_test, y_test, args.limit)
    key = f"pretrain{args.pretrain_epochs}_train{args.epochs}_n{len(x_train)}"
    block = results.setdefault("blocks", {}).setdefault(key, {
        "pretrain_epochs": args.pretrain_epochs, "epochs": args.epochs, "train_size": len(x_train),
        "device": machine()["gpus"] or ["cpu"], "runs": {}})
    for repeat in range(args.repeats):
        order = POLICIES if repeat % 2 == 0 else POLICIES[::-1]
        for variant in VARIANTS:
            for policy in order:
                runs = block["runs"].setdefault(f"{variant}/{policy}", {})
                if str(repeat) in runs:
                    continue
                keras.mixed_precision.set_global_policy(policy)
                try:
                    result = run_one(x_train, x_test, y_test, variant, repeat, args.epochs, args.pretrain_epochs)
                finally:
                    keras.mixed_precision.set_global_policy("float32")
                runs[str(repeat)] = result
                print(f"repeat {repeat} {variant} {policy}: AUC {result['auc']:.2f}  "
                      f"{result['train_seconds']:.1f} s", flush=True)
                save_json(args.out, results)


def render(results: dict) -> str:
    lines = ["# Deep SVDD: float32 vs mixed_float16 training time (CIFAR-10 cat)", "",
             "Seconds = autoencoder pretraining + Deep SVDD training, wall-clock, per run; paired over repeats "
             "(same seed and data for both policies). Change = mean of per-repeat (mixed / float32 - 1). "
             f"Reference study: {REFERENCE_CHANGE}.", ""]
    for key, block in results.get("blocks", {}).items():
        lines += [f"## {block['pretrain_epochs']} + {block['epochs']} epochs, {block['train_size']} training images, "
                  f"device {', '.join(block['device'])}", "",
                  "| variant | float32 s | mixed_float16 s | change | p (time) | AUC float32 | AUC mixed | repeats |",
                  "|---|---|---|---|---|---|---|---|"]
        for variant in VARIANTS:
            full, mixed = (block["runs"].get(f"{variant}/{p}", {}) for p in POLICIES)
            repeats = sorted(set(full) & set(mixed), key=int)
            if not repeats:
                continue
            seconds = {p: np.array([r[k]["train_seconds"] for k in repeats]) for p, r in zip(POLICIES, (full, mixed))}
            aucs = {p: [r[k]["auc"] for k in repeats] for p, r in zip(POLICIES, (full, mixed))}
            change = float(np.mean(seconds["mixed_float16"] / seconds["float32"] - 1))
            p_time = stats.ttest_rel(seconds["mixed_float16"], seconds["float32"]).pvalue if len(repeats) > 1 else np.nan
            cell = lambda v: "{:.1f} ± {:.1f}".format(*mean_std(v))  # noqa: E731
            lines.append(f"| {variant} | {cell(seconds['float32'])} | {cell(seconds['mixed_float16'])} | "
                         f"{100 * change:+.0f}% | {p_time:.3g} | {cell(aucs['float32'])} | "
                         f"{cell(aucs['mixed_float16'])} | {len(repeats)} |")
        lines.append("")
    lines += [f"Machine: {results.get('machine')}", f"Command(s): {results.get('commands')}", ""]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--pretrain-epochs", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--data", default=None, help="data folder (default: $KERAS_ONECLASS_DATA)")
    parser.add_argument("--limit", type=int, default=None, help="train on the first N images (smoke runs)")
    parser.add_argument("--out", default=str(RESULTS / "deep_svdd_precision.json"))
    parser.add_argument("--quick", action="store_true", help="smoke run: 400 images, 1 + 1 epochs, 2 repeats")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.pretrain_epochs, args.epochs, args.limit = 2, 1, 1, 400
        args.out = str(RESULTS / "deep_svdd_precision_quick.json")
    args.out = Path(args.out)
    results = load_json(args.out)
    results["machine"] = machine()
    command = "python benchmarks/deep_svdd_precision.py " + " ".join(argv if argv is not None else sys.argv[1:])
    results["commands"] = sorted(set(results.get("commands", [])) | {command})
    run_repeats(args, results)
    save_json(args.out, results)
    args.out.with_suffix(".md").write_text(render(results))
    print(args.out.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
