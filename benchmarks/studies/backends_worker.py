"""A worker of the ``backends`` study: one part on the backend KERAS_BACKEND names, in a process of its own.

Run as a script (``python benchmarks/studies/backends_worker.py PART EPOCHS QUICK SEED...``) with the package
under test on PYTHONPATH, so that an earlier checkout can be timed too; prints one JSON line.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

def data_root() -> Path:
    return Path(os.environ.get("KERAS_ONECLASS_DATA") or Path(__file__).resolve().parents[3] / "shared" / "data")


def epoch_timer(times: list):
    import keras

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    return Timer()


def mnist_zero(quick: bool):
    from keras_oneclass import datasets

    x_train, (x_test, y_test) = datasets.load_oneclass("mnist", 0, path=data_root(), as_numpy=True)
    return (x_train[:1024], x_test[:2000], y_test[:2000]) if quick else (x_train, x_test, y_test)


def dasvdd_worker(seeds, epochs: int, quick: bool) -> list[dict]:
    """DASVDD runs in this process (on the backend KERAS_BACKEND names)."""
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    elif keras.backend.backend() == "torch":
        import torch

        torch.set_num_threads(1)
    from keras_oneclass import DASVDD, metrics

    x_train, x_test, y_test = mnist_zero(quick)
    rows = []
    for seed in seeds:
        keras.utils.set_random_seed(seed)
        model = DASVDD(input_shape=x_train.shape[1:], hidden_units=(1024, 256), seed=seed)
        times = []
        model.fit(x_train, epochs=epochs, batch_size=128, verbose=0, callbacks=[epoch_timer(times)])
        auc = 100 * metrics.roc_auc(y_test, model.predict(x_test, verbose=0))
        rows.append({"seed": seed, "auc": auc, "epoch_s": statistics.median(times[1:]), "first_epoch_s": times[0]})
        print(json.dumps({"dasvdd": rows[-1]}), flush=True)
    return rows


def plain_torch_dasvdd(seeds, epochs: int, quick: bool) -> list[dict]:
    """The same network and two-phase step in plain PyTorch, one thread: Adam(1e-3, weight decay 1e-7)
    on the first 90% of each batch, Adagrad(lr 1) on the centre with the rest."""
    import numpy as np
    import torch
    from torch import nn

    from keras_oneclass import metrics

    torch.set_num_threads(1)
    x_train, x_test, y_test = mnist_zero(quick)
    x = torch.from_numpy(x_train.reshape(len(x_train), -1))
    test = torch.from_numpy(x_test.reshape(len(x_test), -1))
    rows = []
    for seed in seeds:
        torch.manual_seed(seed)
        sizes = [784, 1024, 256, 256]
        encoder = nn.Sequential(*[m for a, b in zip(sizes, sizes[1:]) for m in (nn.Linear(a, b), nn.LeakyReLU())])
        back = sizes[::-1]
        decoder = nn.Sequential(*[m for a, b in zip(back[:-1], back[1:-1]) for m in (nn.Linear(a, b), nn.LeakyReLU())],
                                nn.Linear(back[-2], back[-1]), nn.Sigmoid())
        center = nn.Parameter(torch.randn(256))
        network = list(encoder.parameters()) + list(decoder.parameters())
        adam = torch.optim.Adam(network, lr=1e-3, weight_decay=1e-7)
        adagrad = torch.optim.Adagrad([center], lr=1.0)
        with torch.no_grad():  # gamma (eq. 6) from one random network, as a cost comparable to ours
            z = encoder(x[:2000])
            gamma = float(((decoder(z) - x[:2000]) ** 2).mean(1).mean() / (z ** 2).sum(1).mean())
        times = []
        for _ in range(epochs):
            start = time.perf_counter()
            order = torch.randperm(len(x))
            for i in range(0, len(x), 128):
                batch = x[order[i:i + 128]]
                cut = int(np.ceil(0.9 * len(batch)))
                part, rest = batch[:cut], batch[cut:]
                adam.zero_grad()
                z = encoder(part)
                loss = ((decoder(z) - part) ** 2).mean(1).mean() + gamma * ((z - center.detach()) ** 2).sum(1).mean()
                loss.backward()
                adam.step()
                if len(rest):
                    adagrad.zero_grad()
                    ((encoder(rest).detach() - center) ** 2).sum(1).mean().backward()
                    adagrad.step()
            times.append(time.perf_counter() - start)
        with torch.no_grad():
            z = encoder(test)
            scores = ((decoder(z) - test) ** 2).mean(1) + gamma * ((z - center) ** 2).sum(1)
        rows.append({"seed": seed, "auc": 100 * metrics.roc_auc(y_test, scores.numpy()),
                     "epoch_s": statistics.median(times[1:]), "first_epoch_s": times[0]})
        print(json.dumps({"plain_torch": rows[-1]}), flush=True)
    return rows


def patchcore_worker(quick: bool) -> dict:
    from keras_oneclass import PatchCore, datasets, metrics

    folder = datasets.read_folder(data_root() / "magnetic_tile", image_size=128)
    train, test = folder.train, folder.test
    if quick:
        train = train[:64]
    model = PatchCore((128, 128, train.shape[-1]), backbone="mobilenet", alpha=0.25, weights="imagenet",
                      weights_dir=str(data_root() / "keras_models"), layers=["conv_pw_5_relu", "conv_pw_11_relu"],
                      coreset_ratio=0.01, seed=0)
    start = time.perf_counter()
    model.fit(train, verbose=0)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    scores = model.predict(test.images, verbose=0)
    score_s = time.perf_counter() - start
    return {"auc": 100 * metrics.roc_auc(test.labels, scores), "fit_s": fit_s, "score_s": score_s,
            "train_images": int(len(train)), "test_images": int(len(test.images)), "search": model.search}


def main(part: str, epochs: int, quick: bool, seeds: list[int]) -> dict:
    output = {"dasvdd": lambda: {"runs": dasvdd_worker(seeds, epochs, quick)},
              "plain_torch": lambda: {"runs": plain_torch_dasvdd(seeds, epochs, quick)},
              "patchcore": lambda: patchcore_worker(quick)}[part]()
    return {**output, "load_average": os.getloadavg()[0]}


if __name__ == "__main__":
    part, epochs, quick, *seeds = sys.argv[1:]
    print(json.dumps(main(part, int(epochs), quick == "quick", [int(s) for s in seeds])), flush=True)
