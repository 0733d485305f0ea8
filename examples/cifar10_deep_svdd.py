"""Deep SVDD on CIFAR-10 cats: the original and the enhanced LeNet net, ROC curves in one PNG.

    python examples/cifar10_deep_svdd.py                       # paper protocol: 350 + 150 epochs (hours on a CPU)
    python examples/cifar10_deep_svdd.py --pretrain-epochs 2 --epochs 8
    python examples/cifar10_deep_svdd.py --quick               # smoke run: 1 + 1 epochs on 500 images

Data: --data, else $KERAS_ONECLASS_DATA (e.g. ../shared/data), else the Keras download. Images are
global-contrast-normalised and min-max scaled as in Ruff et al. (ICML 2018).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import roc_curve

from keras_oneclass import DeepSVDD, datasets, metrics, precision


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--normal-class", default="cat", help="CIFAR-10 class name or index (default cat)")
    parser.add_argument("--epochs", type=int, default=150, help="Deep SVDD epochs (paper: 150)")
    parser.add_argument("--pretrain-epochs", type=int, default=350, help="autoencoder epochs (paper: 350)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=None)
    parser.add_argument("--quick", action="store_true", help="1 + 1 epochs on 500 training / 2,000 test images")
    parser.add_argument("--out", default="out/cifar10_deep_svdd_roc.png")
    args = parser.parse_args()
    normal_class = int(args.normal_class) if args.normal_class.isdigit() else args.normal_class

    print("precision policy:", precision.auto())  # mixed_float16 on a recent GPU, float32 otherwise
    x_train, (x_test, y_test) = datasets.load_oneclass("cifar10", normal_class, path=args.data,
                                                       preprocessing="gcn_minmax", as_numpy=True)
    if args.quick:
        args.epochs, args.pretrain_epochs = 1, 1
        pick = np.random.default_rng(0).permutation(len(x_test))[:2000]
        x_train, x_test, y_test = x_train[:500], x_test[pick], y_test[pick]

    fig, ax = plt.subplots(figsize=(5, 5))
    for variant in ("original", "enhanced"):
        model = DeepSVDD(input_shape=(32, 32, 3), variant=variant, pretrain_epochs=args.pretrain_epochs,
                         seed=args.seed)
        start = time.perf_counter()
        model.fit(x_train, epochs=args.epochs, verbose=2)
        seconds = time.perf_counter() - start
        scores = model.predict(x_test, verbose=0)
        auc = metrics.roc_auc(y_test, scores)
        print(f"{variant}: AUC {100 * auc:.2f}, trained in {seconds:.0f} s "
              f"({args.pretrain_epochs} pretraining + {args.epochs} epochs)")
        fpr, tpr, _ = roc_curve(y_test, scores)
        ax.plot(fpr, tpr, label=f"{variant} (AUC {100 * auc:.1f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1),
           title=f"Deep SVDD, CIFAR-10 '{normal_class}' normal\n{args.pretrain_epochs} + {args.epochs} epochs")
    ax.legend(loc="lower right")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print("ROC curves written to", out)


if __name__ == "__main__":
    main()
