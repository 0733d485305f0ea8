"""Quick start: DASVDD on MNIST with digit 0 as the normal class.

    python examples/dasvdd_mnist.py [--normal-class 0] [--epochs 10] [--data DIR]

Data: --data, else $KERAS_ONECLASS_DATA (e.g. ../shared/data), else the Keras download.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_oneclass import DASVDD, datasets, metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--normal-class", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--data", default=None)
    parser.add_argument("--out", default="out/dasvdd_mnist.keras")
    args = parser.parse_args()

    train_ds, (x_test, y_test) = datasets.load_oneclass("mnist", normal_class=args.normal_class, path=args.data)
    x_normal, _ = datasets.load_oneclass("mnist", normal_class=args.normal_class, path=args.data, as_numpy=True)
    model = DASVDD(input_shape=(28, 28, 1), seed=0)
    start = time.perf_counter()
    model.fit(train_ds, epochs=args.epochs)
    print(f"trained in {time.perf_counter() - start:.1f} s; gamma = {model.gamma:.4f}")

    model.calibrate(x_normal, percentile=95)
    scores = model.predict(x_test, verbose=0)
    result = metrics.evaluate(y_test, scores, threshold=model.threshold)
    print("test metrics at the 95th percentile of normal training scores:")
    for name, value in result.items():
        print(f"  {name:>9}: {value:.4f}")

    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    model.save(args.out)
    print(f"saved to {args.out} (keras.models.load_model restores identical scores and the threshold)")


if __name__ == "__main__":
    main()
