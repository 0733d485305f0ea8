"""Serving an exported detector: latency, throughput, size and parity of SavedModel, ONNX Runtime and LiteRT.

Every detector at 224 x 224 grayscale on the magnetic tiles, except DASVDD and Deep SVDD at 32 x 32 (the
image sizes of their papers; DASVDD's conv network at 224 px has 103 million weights and its ONNX
conversion ran out of this machine's 24 GiB), in one process per run so the runtimes compare as ratios:

- ``python``: the detector itself, ``score_and_map`` for the detectors that localise (the artifact
  computes the map too), ``predict`` otherwise;
- ``tf_saved_model`` (``tf.saved_model.load(p).serve``), ``onnx`` (ONNX Runtime, CPU provider) and
  ``litert`` (ai-edge-litert interpreter with XNNPACK; a LiteRT artifact takes batches of 1, so batch 32
  is 32 steps).

Latency: the median of 20 single-image calls (2 warm-up calls first). Throughput: images/s of the
median of 3 calls on 32 images (1 warm-up). Size: the artifact on disk (and the ``.keras`` file).
Parity: the largest score and map difference on 32 test images the detector did not train on,
relative to the largest value. Weights: the trained detectors are fitted for 1 epoch on 64 training
images (latency does not depend on the weights); PaDiM and PatchCore on all 752 training images
(PatchCore: MobileNet 0.25, coreset 1%, ``chunk_size=20000``, ``chunk_oversampling=4``).

PatchCore's exported SavedModel is also scored on all 592 test images in a process where faiss cannot
be imported (and keras_oneclass is not), against ``predict``: image ROC AUC of both.

    python -m benchmarks serving
    python -m benchmarks serving --detectors patchcore padim
    python -m benchmarks serving --quick      # 2 detectors, 4 images, fewer repeats
"""

from __future__ import annotations

import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import REPO, data_root

IMAGE_SIZE = 224
RUNTIMES = ("python", "tf_saved_model", "onnx", "litert")
DETECTORS = ("dasvdd", "deep_svdd", "dense_autoencoder", "conv_autoencoder", "vae", "ganomaly", "efficientad",
             "padim", "patchcore")
BACKBONE = {"backbone": "mobilenet", "alpha": 0.25}
RESUME = True


def add_arguments(parser) -> None:
    parser.add_argument("--detectors", nargs="+", choices=DETECTORS, default=list(DETECTORS))
    parser.add_argument("--repeats", type=int, default=20, help="single-image calls timed per runtime")


def adjust(args) -> None:
    if args.quick:
        args.detectors = [d for d in args.detectors if d in ("conv_autoencoder", "patchcore")]
        args.repeats = 3


def header(args) -> dict:
    import keras

    return {"date": time.strftime("%Y-%m-%d"), "keras": keras.__version__, "quick": bool(args.quick)}


def plan(args):
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for name in args.detectors:
            yield {"detector": name, "image_size": 32 if name in ("dasvdd", "deep_svdd") else IMAGE_SIZE}, seed


def build(name: str, size: int, seed: int):
    import keras_oneclass as ko

    shape = (size, size, 1)
    makers = {
        "dasvdd": lambda: ko.DASVDD(input_shape=shape, architecture="conv", seed=seed),
        "deep_svdd": lambda: ko.DeepSVDD(input_shape=shape, seed=seed),
        "dense_autoencoder": lambda: ko.DenseAutoencoder(input_shape=shape, seed=seed),
        "conv_autoencoder": lambda: ko.ConvAutoencoder(input_shape=shape, seed=seed),
        "vae": lambda: ko.VAE(input_shape=shape, architecture="conv", seed=seed),
        "ganomaly": lambda: ko.GANomaly(input_shape=shape, seed=seed),
        "efficientad": lambda: ko.EfficientAD(shape, seed=seed),
        "padim": lambda: ko.PaDiM(shape, **BACKBONE, seed=seed),
        "patchcore": lambda: ko.PatchCore(shape, **BACKBONE, coreset_ratio=0.01, chunk_size=20000,
                                          chunk_oversampling=4.0, seed=seed),
    }
    return makers[name]()


def size_on_disk(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def timings(run, images: np.ndarray, repeats: int) -> dict:
    """Median single-image latency (ms) and batch-32 throughput (images/s) of ``run``."""
    for i in range(2):
        run(images[i:i + 1])
    single = []
    for i in range(repeats):
        start = time.perf_counter()
        run(images[i % len(images):i % len(images) + 1])
        single.append(time.perf_counter() - start)
    batch = images[:32]
    run(batch)
    whole = []
    for _ in range(3):
        start = time.perf_counter()
        run(batch)
        whole.append(time.perf_counter() - start)
    return {"latency_ms": 1000 * statistics.median(single), "batch": len(batch),
            "images_per_second": len(batch) / statistics.median(whole)}


def measure(config: dict, seed: int, args) -> dict:
    from keras_oneclass import datasets, metrics
    from keras_oneclass import export as export_lib

    os.environ.setdefault("KERAS_ONECLASS_DATA", str(data_root(args.data)))
    name, size = config["detector"], config["image_size"]
    data = datasets.read_folder(data_root(args.data) / "magnetic_tile", image_size=size, color_mode="grayscale")
    train, test = data.train, data.test
    images = test.images[np.random.default_rng(seed).permutation(len(test))[:4 if args.quick else 32]]
    model = build(name, size, seed)
    memory = name in ("padim", "patchcore")
    fit_images = (train[:32] if args.quick else train) if memory else train[:64]
    start = time.perf_counter()
    model.fit(fit_images, **({} if memory else {"epochs": 1}), verbose=0)
    fit_seconds = time.perf_counter() - start
    model.calibrate(train[-32:])
    load = os.getloadavg()[0]
    row = {"fit_images": int(len(fit_images)), "fit_seconds": fit_seconds, "load_average": load,
           "localizes": bool(model.localizes), "quick": bool(args.quick)}
    if model.localizes:
        python = lambda x: model.score_and_map(x, batch_size=32)  # noqa: E731
    else:
        python = lambda x: model.predict(x, batch_size=32, verbose=0)  # noqa: E731
    row["python"] = timings(python, images, args.repeats)
    with tempfile.TemporaryDirectory() as folder:
        keras_file = Path(folder) / "model.keras"
        model.save(keras_file)
        row["keras_bytes"] = keras_file.stat().st_size
        if model.localizes:
            expected = dict(zip(("score", "anomaly_map"), model.score_and_map(images)))
        else:
            expected = {"score": model.predict(images, verbose=0)}
        for format in RUNTIMES[1:]:
            path = Path(folder) / f"model{export_lib.SUFFIXES.get(format, '')}"
            start = time.perf_counter()
            try:
                model.export(path, format=format, check_data=images[:4], verbose=False)
            except Exception as error:  # noqa: BLE001 - reported in the table
                row[format] = {"error": f"{type(error).__name__}: {' '.join(str(error).split())[:300]}"}
                continue
            export_seconds = time.perf_counter() - start
            run = export_lib.load_artifact(path)
            outputs = run(images)
            figures = {"export_seconds": export_seconds, "bytes": size_on_disk(path),
                       **{f"{key}_difference": export_lib.relative_difference(outputs[key], value)
                          for key, value in expected.items()}}
            figures.update(timings(run, images, args.repeats))
            row[format] = figures
            del run, outputs
            gc.collect()
            if name == "patchcore" and format == "tf_saved_model":
                row["auc"] = patchcore_auc(model, path, test, metrics, quick=args.quick)
    return row


def patchcore_auc(model, path: Path, test, metrics, quick: bool) -> dict:
    """Image ROC AUC of ``predict`` and of the SavedModel run in a process without faiss or keras_oneclass."""
    keep = np.r_[np.flatnonzero(test.labels == 0)[:8], np.flatnonzero(test.labels == 1)[:8]] if quick else \
        np.arange(len(test))
    images, labels = test.images[keep], test.labels[keep]
    scores = model.predict(images, verbose=0)
    with tempfile.TemporaryDirectory() as folder:
        np.save(Path(folder) / "images.npy", images)
        script = ("import sys, numpy as np\n"
                  "sys.modules['faiss'] = None\n"
                  "import tensorflow as tf\n"
                  f"loaded = tf.saved_model.load({str(path)!r})\n"
                  f"images = np.load({str(Path(folder) / 'images.npy')!r})\n"
                  "scores = np.concatenate([loaded.serve(images[i:i + 16])['score'].numpy() for i in range(0, len(images), 16)])\n"
                  "assert not any(m.startswith(('faiss', 'keras_oneclass')) for m, v in sys.modules.items() if v is not None)\n"
                  f"np.save({str(Path(folder) / 'scores.npy')!r}, scores)\n")
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=folder)
        if done.returncode != 0:
            return {"error": done.stderr[-500:]}
        exported = np.load(Path(folder) / "scores.npy")
    return {"images": int(len(labels)), "predict_roc_auc": metrics.roc_auc(labels, scores),
            "saved_model_roc_auc": metrics.roc_auc(labels, exported),
            "score_difference": float(np.abs(exported - scores).max() / np.abs(scores).max())}


# ----------------------------------------------------------------------------------------- report
def _cell(figures: dict | None, key: str, digits: int) -> str:
    if not figures or key not in figures:
        return "-"
    return f"{figures[key]:.{digits}f}"


def render(results: dict) -> str:
    from benchmarks import results as store

    records = sorted(store.current(results), key=lambda r: DETECTORS.index(r["config"]["detector"]))
    lines = ["# Serving exported detectors: latency, throughput, size, parity", "",
             f"CPU, 2 cores; keras {results.get('keras', '?')}, measured {results.get('date', '?')}. Magnetic tiles, "
             "grayscale, 224 x 224 (DASVDD and Deep SVDD 32 x 32, their papers' sizes). One process; `load`: 1-minute load average when the detector "
             "started. python = the detector in Python (`score_and_map` when it localises, else `predict`); "
             "SavedModel = `tf.saved_model.load(p).serve`; ONNX = ONNX Runtime (CPU); LiteRT = ai-edge-litert "
             "with XNNPACK, artifacts of batch 1 (batch 32 runs as 32 steps). Latency: median of 20 single-image "
             "calls; throughput: 32 images per call, median of 3. Parity: largest |artifact - detector| over 32 test "
             "images, relative to the largest value, scores / maps. Trained detectors: weights from 1 epoch on 64 "
             "images (timing does not depend on them); PaDiM and PatchCore fitted on the 752 training tiles.", "",
             "| detector | runtime | latency ms (batch 1) | images/s (batch 32) | size MB | score parity | map parity | "
             "export s | load | notes |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in records:
        f, name = r["figures"], r["config"]["detector"]
        note = "QUICK smoke run" if f.get("quick") else ""
        for runtime in RUNTIMES:
            g = f.get(runtime)
            if g is None:
                continue
            if "error" in g:
                lines.append(f"| {name} | {runtime} | - | - | - | - | - | - | {f['load_average']:.1f} | FAILED: {g['error']} |")
                continue
            size = f["keras_bytes"] if runtime == "python" else g["bytes"]
            lines.append(
                f"| {name} | {runtime}{' (.keras)' if runtime == 'python' else ''} | {g['latency_ms']:.1f} | "
                f"{g['images_per_second']:.1f} | {size / 2**20:.2f} | "
                f"{'-' if runtime == 'python' else format(g['score_difference'], '.1e')} | "
                f"{format(g['anomaly_map_difference'], '.1e') if 'anomaly_map_difference' in g else '-'} | "
                f"{_cell(g, 'export_seconds', 1)} | {f['load_average']:.1f} | {note} |")
    auc = [r for r in records if "auc" in r["figures"]]
    if auc:
        lines += ["", "## PatchCore's SavedModel without faiss", "",
                  "The SavedModel scored every test tile in a separate process in which `import faiss` fails and "
                  "keras_oneclass is not imported; `predict` used faiss.", "",
                  "| images | predict image ROC AUC | SavedModel image ROC AUC | difference | largest score difference (relative) |",
                  "| --- | --- | --- | --- | --- |"]
        for r in auc:
            a = r["figures"]["auc"]
            if "error" in a:
                lines.append(f"| - | - | - | - | FAILED: {' '.join(a['error'].split())[:200]} |")
                continue
            lines.append(f"| {a['images']} | {a['predict_roc_auc']:.4f} | {a['saved_model_roc_auc']:.4f} | "
                         f"{a['saved_model_roc_auc'] - a['predict_roc_auc']:+.4f} | {a['score_difference']:.1e} |")
            lines.append("")
            met = abs(a['saved_model_roc_auc'] - a['predict_roc_auc']) <= 0.001
            lines.append(f"Bar: the same image ROC AUC within 0.001: {'met' if met else 'NOT met'}.")
    lines.append("")
    for note in results.get("notes", []):
        lines.append(f"Note: {note}")
    return "\n".join(lines) + "\n"
