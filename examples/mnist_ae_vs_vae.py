"""MNIST digit 0 as the normal class: a dense autoencoder against a VAE.

Both train on the training images of digit 0 only, score the whole test split (the other nine digits
are anomalies), set their threshold at the 95th percentile of the training scores, and are compared by
ROC AUC and F1. A PNG shows each model's test-score histograms (normal vs anomalous) with the threshold.

Usage:
    python examples/mnist_ae_vs_vae.py                 # 10 epochs each
    python examples/mnist_ae_vs_vae.py --epochs 1      # smoke run
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package first

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from keras_oneclass import VAE, DenseAutoencoder, datasets, metrics


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--normal-class", type=int, default=0)
    parser.add_argument("--beta", type=float, default=1.0, help="VAE KL weight")
    parser.add_argument("--data", default=None, help="data folder (default: $KERAS_ONECLASS_DATA)")
    parser.add_argument("--output", default="mnist_ae_vs_vae.png")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    x_train, (x_test, y_test) = datasets.load_oneclass("mnist", args.normal_class, path=args.data, as_numpy=True)
    models = {"Autoencoder": DenseAutoencoder(input_shape=(28, 28, 1), seed=args.seed),
              f"VAE (beta={args.beta:g})": VAE(input_shape=(28, 28, 1), beta=args.beta, seed=args.seed)}

    figure, axes = plt.subplots(1, len(models), figsize=(6 * len(models), 4))
    for axis, (name, model) in zip(axes, models.items()):
        model.fit(x_train, epochs=args.epochs, verbose=2)
        threshold = model.calibrate(x_train, percentile=95)
        scores = model.predict(x_test, verbose=0)
        result = metrics.evaluate(y_test, scores, threshold=threshold)
        print(f"{name}: ROC AUC {result['roc_auc']:.4f}  F1 at the 95th percentile {result['f1']:.4f}")
        bins = np.linspace(scores.min(), np.percentile(scores, 99.5), 80)
        axis.hist(scores[y_test == 0], bins=bins, alpha=0.6, density=True, label=f"digit {args.normal_class} (normal)")
        axis.hist(scores[y_test == 1], bins=bins, alpha=0.6, density=True, label="other digits (anomalies)")
        axis.axvline(threshold, color="black", linestyle="--", label="95th percentile of training scores")
        axis.set(title=f"{name}: AUC {result['roc_auc']:.3f}, F1 {result['f1']:.3f}",
                 xlabel="anomaly score (reconstruction MSE)", ylabel="density")
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(args.output, dpi=120)
    print(f"saved {args.output}")


if __name__ == "__main__":
    main()
