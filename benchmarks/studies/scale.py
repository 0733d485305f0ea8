"""PatchCore and PaDiM on thousands of images in bounded memory: streaming coreset, float16 bank, IVF-PQ index.

Three parts:

- ``scale``: 1,000, 5,000 and 10,000 synthetic-wood boards (seed 0) at 224 px, drawn on the fly by
  ``datasets.wood_boards`` (never stored), fitted from a Python generator of batches of 16. PatchCore
  (MobileNet alpha 0.25, default layers, ``coreset_ratio=0.01``) with the streaming coreset
  (``chunk_size=20000``), the one-shot reference (``chunk_size=None``: every patch held until one greedy coreset over
  all of them, as in the paper's reference code) and PaDiM (same backbone, default ``n_features``). Each
  configuration runs in its own process: fit seconds (board drawing included, and reported apart), peak RSS
  (VmHWM of the process, also polled from outside so that a process stopped at the time limit still has a
  figure), scoring images/s (64 other boards, batches of 16) and the ``.keras`` size.
- ``quality``: the magnetic tiles (752 train, 592 test images, 224 px) and the synthetic wood set (seed 0, 200
  training boards, 90 test boards, 224 px): PatchCore (MobileNet 0.25, coreset 1%) with the one-shot coreset,
  the streaming coreset (``chunk_size=20000``; and twice the rows per chunk then a coreset of the union), and, on the
  streaming bank, the float16 bank and the IVF-PQ index: image and pixel ROC AUC, and recall@1 of every test
  patch's nearest bank row against the exact float32 search.
- ``bank``: a bank beyond half a million rows (all 589,568 training patches of the magnetic tiles, no coreset):
  IVF-PQ against the exact flat search on 10,000 random test patches: recall@1, build seconds, queries/s.

    python -m benchmarks scale --quick
    python -m benchmarks scale --part scale
    python -m benchmarks scale --part quality bank

A run skips the (configuration, seed) pairs already recorded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import results as store
from benchmarks.common import REPO, data_root

SIZES = (1000, 5000, 10000)
IMAGE_SIZE = 224
BACKBONE = {"backbone": "mobilenet", "alpha": 0.25}
CORESET = 0.01
TEST_BOARDS = 64
BANK_QUERIES = 10_000
RESUME = True
PARTS = ("scale", "quality", "bank")
STREAMING_CHUNK = 20_000  # patches per greedy chunk of the streaming rows
CORESETS = {  # quality part: PatchCore settings of each coreset variant
    "one_shot": {"chunk_size": None},
    "streaming": {"chunk_size": STREAMING_CHUNK},
    "streaming_x2": {"chunk_size": STREAMING_CHUNK, "chunk_oversampling": 2.0},
    "streaming_x4": {"chunk_size": STREAMING_CHUNK, "chunk_oversampling": 4.0},
    "streaming_100k": {"chunk_size": 100_000},
    "streaming_100k_x2": {"chunk_size": 100_000, "chunk_oversampling": 2.0},
}


def add_arguments(parser) -> None:
    parser.add_argument("--part", nargs="+", choices=["all", *PARTS], default=["all"])
    parser.add_argument("--sizes", nargs="+", type=int, default=list(SIZES), help="numbers of boards (scale part)")
    parser.add_argument("--limit", type=float, default=1800.0, help="seconds allowed to one scale configuration")
    parser.add_argument("--one-shot-limit", type=float, default=900.0,
                        help="seconds allowed to one one-shot reference configuration")
    parser.add_argument("--one-shot-sizes", nargs="+", type=int, default=[1000, 5000],
                        help="numbers of boards of the one-shot reference (scale part)")
    parser.add_argument("--scale-coresets", nargs="+", default=["streaming"], choices=[c for c in CORESETS if c != "one_shot"],
                        help="streaming coreset variants of the scale part")
    parser.add_argument("--datasets", nargs="+", default=["magnetic_tile", "wood_seed0"])
    parser.add_argument("--coresets", nargs="+", default=["one_shot", "streaming", "streaming_x2"],
                        choices=list(CORESETS), help="coreset variants of the quality part")


def adjust(args) -> None:
    if args.quick:
        args.sizes = args.one_shot_sizes = [32, 64]
        args.limit = args.one_shot_limit = 300.0


def header(args) -> dict:
    return {"plot": "scale_quick_memory.png" if args.quick else "scale_memory.png"}


def plan(args):
    parts = PARTS if "all" in args.part else args.part
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        if "scale" in parts:
            for n in args.sizes:  # the bars' configuration first, then the others, the reference last
                for coreset in args.scale_coresets:
                    yield {"part": "scale", "method": "patchcore", "coreset": coreset, "images": n}, seed
                yield {"part": "scale", "method": "padim", "images": n}, seed
            for n in args.one_shot_sizes:
                yield {"part": "scale", "method": "patchcore", "coreset": "one_shot", "images": n}, seed
        if "quality" in parts:
            for dataset in args.datasets:
                for coreset in args.coresets:
                    yield {"part": "quality", "dataset": dataset, "coreset": coreset}, seed
        if "bank" in parts:
            yield {"part": "bank", "dataset": "magnetic_tile", "queries": BANK_QUERIES}, seed


def measure(config: dict, seed: int, args) -> dict:
    if config["part"] == "scale":
        return run_worker(config, seed, args)
    if config["part"] == "quality":
        return quality(config, seed, args)
    return large_bank(config, seed, args)


# ----------------------------------------------------------------------------------------- scale part
def high_water_mark(pid: int | str = "self") -> int:
    """Peak resident set size (VmHWM) of a process, in bytes; 0 when it cannot be read."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_worker(config: dict, seed: int, args) -> dict:
    """Run ``config`` in a child process; its figures, or how far it got before the time limit."""
    limit = args.one_shot_limit if config.get("coreset") == "one_shot" else args.limit
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "figures.json"
        env = dict(os.environ, KERAS_ONECLASS_DATA=str(data_root(args.data)), TF_CPP_MIN_LOG_LEVEL="2")
        command = [sys.executable, "-m", "benchmarks.studies.scale", json.dumps(config), str(seed), str(out)]
        load = os.getloadavg()[0]
        start = time.perf_counter()
        child = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL)
        peak, stopped = 0, False
        while child.poll() is None:
            peak = max(peak, high_water_mark(child.pid))
            if time.perf_counter() - start > limit:
                peak = max(peak, high_water_mark(child.pid))
                child.kill()
                stopped = True
                break
            time.sleep(0.5)
        child.wait()
        seconds = time.perf_counter() - start
        if stopped or child.returncode != 0 or not out.exists():
            progress = json.loads(out.with_suffix(".progress").read_text()) if out.with_suffix(".progress").exists() else {}
            return {"finished": False, "stopped_after_seconds": seconds, "limit_seconds": limit,
                    "return_code": child.returncode, "peak_rss_bytes_at_least": peak, "load_average": load,
                    "progress": progress, "quick": bool(args.quick)}
        figures = json.loads(out.read_text())
    figures["peak_rss_bytes"] = max(figures["peak_rss_bytes"], peak)
    return {**figures, "finished": True, "load_average": load, "quick": bool(args.quick)}


def worker(config: dict, seed: int, out: Path) -> None:
    """The child process of one scale configuration: writes its figures as JSON to ``out``."""
    import keras

    from keras_oneclass import PaDiM, PatchCore
    from keras_oneclass.datasets import wood_boards

    progress = out.with_suffix(".progress")
    shape = (IMAGE_SIZE, IMAGE_SIZE, 3)
    if config["method"] == "padim":
        model = PaDiM(shape, **BACKBONE, seed=seed)
    else:
        model = PatchCore(shape, **BACKBONE, coreset_ratio=CORESET, seed=seed, **CORESETS[config["coreset"]])
    rss_built = high_water_mark()
    drawing = [0.0, 0]

    def boards():
        iterator = wood_boards(config["images"], image_size=IMAGE_SIZE, batch_size=16, seed=0)
        while True:
            start = time.perf_counter()
            batch = next(iterator, None)
            drawing[0] += time.perf_counter() - start
            if batch is None:
                progress.write_text(json.dumps({"boards_drawn": drawing[1], "all_read": True}))
                return
            drawing[1] += len(batch)
            if drawing[1] % 128 == 0:
                progress.write_text(json.dumps({"boards_drawn": drawing[1]}))
            yield batch

    start = time.perf_counter()
    history = model.fit(boards(), verbose=0)
    fit_seconds = time.perf_counter() - start
    progress.write_text(json.dumps({"boards_drawn": drawing[1], "fit_seconds": fit_seconds}))
    rss_fit = high_water_mark()
    test = np.concatenate(list(wood_boards(TEST_BOARDS, image_size=IMAGE_SIZE, batch_size=16, seed=0,
                                           start=config["images"])))
    model.score_and_map(test[:16])  # compile
    start = time.perf_counter()
    model.score_and_map(test, batch_size=16)
    images_per_second = len(test) / (time.perf_counter() - start)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.keras"
        model.save(path)
        keras_bytes = path.stat().st_size
    logs = {k: float(v[-1]) for k, v in history.history.items()}
    figures = {"fit_seconds": fit_seconds, "drawing_seconds": drawing[0], "boards": drawing[1],
               "peak_rss_bytes": high_water_mark(), "rss_after_build_bytes": rss_built, "rss_after_fit_bytes": rss_fit,
               "images_per_second": images_per_second, "keras_bytes": keras_bytes, "fit_logs": logs,
               "keras": keras.__version__}
    if config["method"] == "patchcore":
        figures.update(memory_size=model.memory_size, feature_dim=model.feature_dim, chunk_size=model.chunk_size,
                       chunk_oversampling=model.chunk_oversampling, fit_rows=dict(model.fit_rows),
                       selection_seconds=dict(model.selection_seconds))
    out.write_text(json.dumps(figures))


# ----------------------------------------------------------------------------------------- quality part
def dataset(name: str, data):
    from keras_oneclass import datasets

    if name == "magnetic_tile":
        return datasets.read_folder(data_root(data) / "magnetic_tile", image_size=IMAGE_SIZE)
    seed = int(name.removeprefix("wood_seed"))
    root = datasets.synthetic_wood(Path(tempfile.gettempdir()) / f"keras_oneclass_backbones_wood_seed{seed}", seed=seed)
    return datasets.read_folder(root, image_size=IMAGE_SIZE)


def quick_subset(data):
    from keras_oneclass.datasets.folder import LabelledImages

    test = data.test
    keep = np.r_[np.flatnonzero(test.labels == 0)[:8], np.flatnonzero(test.labels == 1)[:8]]
    return data.train[:32], LabelledImages(test.images[keep], test.labels[keep], test.masks[keep],
                                           test.types[keep], test.files[keep], test.has_masks)


def variant_of(model, **changes):
    """A copy of a fitted PatchCore with other settings (``bank_dtype``, ``index``) and the same bank rows."""
    from keras_oneclass import PatchCore

    config = dict(model.get_config(), **changes, memory_size=model.memory_size)
    copy = PatchCore.from_config(config)
    copy.extractor.set_weights(model.extractor.get_weights())
    copy.memory_bank.assign(np.asarray(model.memory_bank.numpy()).astype(copy.bank_dtype))
    copy._fitted.assign(1.0)
    return copy


def keras_size(model) -> int:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.keras"
        model.save(path)
        return path.stat().st_size


def evaluate(model, test) -> dict:
    from keras_oneclass import metrics

    start = time.perf_counter()
    scores, maps = model.score_and_map(test.images)
    seconds = time.perf_counter() - start
    return {"image_roc_auc": metrics.roc_auc(test.labels, scores),
            "pixel_roc_auc": metrics.pixel_roc_auc(test.masks, maps) if test.has_masks else None,
            "images_per_second": len(test) / seconds, "scores": scores}


def quality(config: dict, seed: int, args) -> dict:
    from keras_oneclass import PatchCore

    data = dataset(config["dataset"], args.data)
    train, test = quick_subset(data) if args.quick else (data.train, data.test)
    coreset = config["coreset"]
    settings = dict(CORESETS[coreset])
    if args.quick and coreset != "one_shot":
        settings["chunk_size"] = 2000
    model = PatchCore(train.shape[1:], **BACKBONE, coreset_ratio=CORESET, seed=seed, **settings)
    load = os.getloadavg()[0]
    start = time.perf_counter()
    history = model.fit(train, verbose=0)
    fit_seconds = time.perf_counter() - start
    exact = evaluate(model, test)
    row = {"image_roc_auc": exact["image_roc_auc"], "pixel_roc_auc": exact["pixel_roc_auc"],
           "fit_seconds": fit_seconds, "images_per_second": exact["images_per_second"],
           "memory_size": model.memory_size, "chunk_size": model.chunk_size,
           "chunk_oversampling": model.chunk_oversampling, "keras_bytes": keras_size(model),
           "fit_logs": {k: float(v[-1]) for k, v in history.history.items()}, "train_images": int(len(train)),
           "test_images": int(len(test)), "load_average": load, "quick": bool(args.quick)}
    if coreset != "streaming":
        return row
    variants = {"float16": variant_of(model, bank_dtype="float16"), "ivfpq": variant_of(model, index="ivfpq")}
    hits = {name: 0 for name in variants}
    patches = 0
    for first in range(0, len(test), 32):
        embeddings = model.embeddings_of(test.images[first:first + 32]).reshape(-1, model.feature_dim)
        _, ids = model.neighbours().search(embeddings, k=1)
        for name, other in variants.items():
            hits[name] += int((other.neighbours().search(embeddings, k=1)[1][:, 0] == ids[:, 0]).sum())
        patches += len(embeddings)
    for name, other in variants.items():
        figures = evaluate(other, test)
        difference = np.abs(figures["scores"] - exact["scores"]) / np.abs(exact["scores"]).max()
        row[name] = {"image_roc_auc": figures["image_roc_auc"], "pixel_roc_auc": figures["pixel_roc_auc"],
                     "recall_at_1": hits[name] / patches, "query_patches": patches,
                     "max_score_difference_relative": float(difference.max()),
                     "images_per_second": figures["images_per_second"], "keras_bytes": keras_size(other)}
    return row


# ----------------------------------------------------------------------------------------- bank part
def large_bank(config: dict, seed: int, args) -> dict:
    from keras_oneclass import PatchCore
    from keras_oneclass.memory.index import NearestNeighbours

    data = dataset(config["dataset"], args.data)
    train, test = quick_subset(data) if args.quick else (data.train, data.test)
    model = PatchCore(train.shape[1:], **BACKBONE, coreset_ratio=1.0, seed=seed)
    bank = np.concatenate([model.embeddings_of(train[i:i + 32]) for i in range(0, len(train), 32)])
    bank = bank.reshape(-1, model.feature_dim)
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(len(test) * model.grid[0] * model.grid[1],
                                size=min(config["queries"], len(test) * 784), replace=False))
    per_image = model.grid[0] * model.grid[1]
    queries = []
    for first in range(0, len(test), 32):
        embeddings = model.embeddings_of(test.images[first:first + 32]).reshape(-1, model.feature_dim)
        inside = chosen[(chosen >= first * per_image) & (chosen < (first + 32) * per_image)] - first * per_image
        queries.append(embeddings[inside])
    queries = np.concatenate(queries)
    load = os.getloadavg()[0]
    row = {"bank_rows": int(len(bank)), "feature_dim": int(bank.shape[1]), "queries": int(len(queries)),
           "load_average": load, "quick": bool(args.quick)}
    results = {}
    for kind in ("flat", "ivfpq"):
        start = time.perf_counter()
        index = NearestNeighbours(bank, index=kind)
        build = time.perf_counter() - start
        start = time.perf_counter()
        distances, ids = index.search(queries, k=1)
        search = time.perf_counter() - start
        results[kind] = (distances[:, 0], ids[:, 0])
        row[kind] = {"build_seconds": build, "queries_per_second": len(queries) / search,
                     "index_type": type(index.index).__name__}
    row["ivfpq"]["recall_at_1"] = float((results["ivfpq"][1] == results["flat"][1]).mean())
    excess = results["ivfpq"][0] - results["flat"][0]
    row["ivfpq"]["distance_excess_mean_relative"] = float((excess / np.maximum(results["flat"][0], 1e-12)).mean())
    return row


# ----------------------------------------------------------------------------------------- report
def fmt(value, digits=3):
    return "-" if value is None else (f"{value:.{digits}f}" if isinstance(value, float) else str(value))


def gib(value) -> str:
    return "-" if value is None else f"{value / 2**30:.2f}"


def plot(records, path: Path) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines = {}
    for r in records:
        c, f = r["config"], r["figures"]
        label = "PaDiM" if c["method"] == "padim" else f"PatchCore, {c['coreset'].replace('_', '-')} coreset"
        value = f.get("peak_rss_bytes") if f.get("finished") else f.get("peak_rss_bytes_at_least")
        if value:
            lines.setdefault(label, []).append((c["images"], value / 2**30, f.get("finished")))
    if not lines:
        return False
    figure, axis = plt.subplots(figsize=(6, 4))
    for label, points in sorted(lines.items()):
        points.sort()
        line, = axis.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)
        unfinished = [p for p in points if not p[2]]
        if unfinished:
            axis.scatter([p[0] for p in unfinished], [p[1] for p in unfinished], marker="^", s=80,
                         color=line.get_color(), label=f"{label}: stopped at the time limit (at least)")
    axis.axhline(3.0, color="grey", linestyle=":", label="3 GiB")
    axis.set_ylim(bottom=0)
    axis.set_xlabel("training images (224 px synthetic wood, streamed from a generator)")
    axis.set_ylabel("peak RSS of the process (GiB)")
    axis.set_title("Peak memory of fit + scoring + save (MobileNet 0.25, CPU)", fontsize=10)
    axis.legend(fontsize=7)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return True


def render(results: dict) -> str:
    records = [r for r in store.current(results)]
    lines = ["# PatchCore and PaDiM on thousands of images, in bounded memory", "",
             "CPU, 2 cores shared with other jobs (`load`: 1-minute load average when the configuration started, so "
             "seconds are indicative). MobileNet (alpha 0.25, ImageNet weights, default layers conv_pw_5 + conv_pw_11: "
             "192 channels on a 28 x 28 grid at 224 px, 784 patches per image). One seed (0).", ""]
    scale = [r for r in records if r["config"]["part"] == "scale"]
    if scale:
        lines += ["## Fit in bounded memory: 1,000 to 10,000 boards streamed from a generator", "",
                  "Protocol: `datasets.wood_boards(n, image_size=224, batch_size=16, seed=0)` draws the training boards "
                  "of `synthetic_wood(seed=0)` on the fly (never stored); `fit` reads that Python generator once. One "
                  "process per row. `fit s` includes drawing the boards (`drawing s`, about 60 boards/s here). `peak "
                  "RSS` is the process's VmHWM at the end (fit, then scoring 64 other boards, then saving); `after "
                  "build` is the VmHWM once the model is built (TensorFlow, Keras and the backbone). PatchCore: "
                  f"coreset_ratio={CORESET}; streaming = `chunk_size=20000` (patches per greedy chunk), each chunk "
                  "keeping its 1% share (`chunk_oversampling=1`); streaming_x4 = `chunk_size=20000, "
                  "chunk_oversampling=4` (the default oversampling): each chunk keeps 4%, then a greedy coreset of "
                  "their union keeps a quarter (`final greedy s`: the seconds of that last selection, within fit s); "
                  "one-shot = `chunk_size=None`, every patch in memory until one greedy coreset over all of them "
                  "(the reference). PaDiM: default n_features (100), float64 running sums. A row that did not finish "
                  "within its time limit says so and gives the peak RSS it had reached (a lower bound).", "",
                  "| method | coreset | images | fit s | drawing s | final greedy s | peak RSS GiB | after build GiB | "
                  "bank rows | scoring images/s | .keras MB | load | status |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for r in sorted(scale, key=lambda r: (r["config"]["method"], r["config"].get("coreset", ""), r["config"]["images"])):
            c, f = r["config"], r["figures"]
            if f.get("finished"):
                status = "QUICK smoke run" if f.get("quick") else "done"
                final = f.get("selection_seconds", {}).get("final")
                lines.append(f"| {c['method']} | {c.get('coreset', '-')} | {c['images']:,} | {fmt(f['fit_seconds'], 0)} | "
                             f"{fmt(f['drawing_seconds'], 0)} | {fmt(final, 0)} | {gib(f['peak_rss_bytes'])} | "
                             f"{gib(f['rss_after_build_bytes'])} | {fmt(f.get('memory_size'))} | "
                             f"{fmt(f['images_per_second'], 1)} | {f['keras_bytes'] / 2**20:.1f} | "
                             f"{fmt(f['load_average'], 1)} | {status} |")
            else:
                progress = f.get("progress", {})
                where = (f"fit finished after {progress['fit_seconds']:.0f} s" if "fit_seconds" in progress else
                         "all boards read, coreset selection running" if progress.get("all_read") else
                         f"at least {progress.get('boards_drawn', 0):,} boards read" if progress else "no progress file")
                lines.append(f"| {c['method']} | {c.get('coreset', '-')} | {c['images']:,} | > {f['stopped_after_seconds']:.0f} "
                             f"| - | - | >= {gib(f['peak_rss_bytes_at_least'])} | - | - | - | - | {fmt(f['load_average'], 1)} | "
                             f"NOT finished: stopped at the {f['limit_seconds']:.0f} s limit ({where}; return code "
                             f"{f['return_code']}){' QUICK' if f.get('quick') else ''} |")
        missing = [n for n in SIZES if not any(r["config"]["images"] == n and r["config"]["method"] == m
                                               and r["figures"].get("finished") for r in scale for m in ("patchcore",))]
        if missing and not all(r["figures"].get("quick") for r in scale):
            lines += ["", f"Not measured to the end (PatchCore streaming or reference): {', '.join(f'{n:,}' for n in missing)} "
                          "boards for at least one PatchCore row; see the status column."]
        bar = [r for r in scale if r["config"]["method"] == "patchcore" and r["config"].get("coreset") != "one_shot"
               and r["config"]["images"] == 5000 and r["figures"].get("finished")]
        for r in sorted(bar, key=lambda r: r["config"]["coreset"]):
            f = r["figures"]
            met = f["peak_rss_bytes"] < 3 * 2**30 and f["fit_seconds"] < 20 * 60
            lines += ["", f"Bar: PatchCore {r['config']['coreset']} on 5,000 boards from a generator, peak RSS under 3 GiB "
                          f"and fit under 20 minutes: {gib(f['peak_rss_bytes'])} GiB, {f['fit_seconds'] / 60:.1f} min "
                          f"(load {fmt(f['load_average'], 1)}): {'met' if met else 'NOT met'}."]
        if results.get("plot") and plot(scale, store.RESULTS / results["plot"]):
            lines += ["", f"![peak RSS against the number of training images]({results['plot']})"]
        lines.append("")
    quality_rows = [r for r in records if r["config"]["part"] == "quality"]
    if quality_rows:
        lines += ["## What streaming, a float16 bank and IVF-PQ cost in ROC AUC", "",
                  "Protocol: PatchCore, MobileNet 0.25, coreset_ratio=0.01, 224 px. Magnetic tiles: 752 training "
                  "images, 592 test images (200 good, 392 defective with masks). Wood: synthetic_wood(seed=0) written at "
                  "256 px and read at 224 px, 200 training boards, 90 test boards (40 good, 50 defective with masks). "
                  "one-shot: `chunk_size=None`; streaming: `chunk_size=20000`, each chunk keeping its 1% share; "
                  "streaming x2: each chunk keeps 2%, then a greedy coreset of the union keeps half (x4: 4%, a quarter kept); 100k: chunks of "
                  "100,000 patches. float16 and IVF-PQ "
                  "are the streaming bank stored as float16 (`bank_dtype=\"float16\"`) or searched with "
                  "`index=\"ivfpq\"` (IVF-PQ codes, D/8 bytes per row, sqrt(M) cells of which 8 probed, the 8k best re-ranked exactly); "
                  "recall@1: the share of all test patches whose nearest bank row is the exact float32 search's; "
                  "score diff: the largest |score - exact score| over the test images, relative to the largest score.", "",
                  "| dataset | bank | image AUROC | pixel AUROC | image AUROC - one-shot | fit s | bank rows | recall@1 | "
                  "score diff | .keras MB | load | notes |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        order = list(CORESETS)
        for r in sorted(quality_rows, key=lambda r: (r["config"]["dataset"], order.index(r["config"]["coreset"]))):
            c, f = r["config"], r["figures"]
            base = next((o["figures"]["image_roc_auc"] for o in quality_rows if o["config"]["dataset"] == c["dataset"]
                         and o["config"]["coreset"] == "one_shot"), None)
            delta = None if base is None else f["image_roc_auc"] - base
            note = "QUICK smoke run" if f.get("quick") else ""
            lines.append(f"| {c['dataset']} | {c['coreset']} | {fmt(f['image_roc_auc'], 4)} | {fmt(f['pixel_roc_auc'], 4)} | "
                         f"{'-' if delta is None else f'{delta:+.4f}'} | {fmt(f['fit_seconds'], 0)} | {f['memory_size']:,} | "
                         f"1 (exact) | 0 | {f['keras_bytes'] / 2**20:.2f} | {fmt(f['load_average'], 1)} | {note} |")
            for name in ("float16", "ivfpq"):
                if name in f:
                    v = f[name]
                    d = None if base is None else v["image_roc_auc"] - base
                    lines.append(f"| {c['dataset']} | streaming, {name} | {fmt(v['image_roc_auc'], 4)} | "
                                 f"{fmt(v['pixel_roc_auc'], 4)} | {'-' if d is None else f'{d:+.4f}'} | - | "
                                 f"{f['memory_size']:,} | {v['recall_at_1']:.4f} | {v['max_score_difference_relative']:.1e} | "
                                 f"{v['keras_bytes'] / 2**20:.2f} | - | {note} |")
        tiles = {r["config"]["coreset"]: r["figures"] for r in quality_rows if r["config"]["dataset"] == "magnetic_tile"}
        if "one_shot" in tiles and "streaming" in tiles:
            verdicts = []
            for name in [n for n in CORESETS if n != "one_shot" and n in tiles]:
                gap = abs(tiles[name]["image_roc_auc"] - tiles["one_shot"]["image_roc_auc"])
                verdicts.append(f"{name} {'(chunk_size=20000) ' if name == 'streaming' else ''}|difference| = {gap:.4f}, "
                                f"{'met' if gap <= 0.005 else 'NOT met'}")
            lines += ["", "Bar: on the magnetic tiles the streaming coreset's image ROC AUC within 0.005 of the one-shot "
                          f"coreset's: {'; '.join(verdicts)}{' (QUICK smoke run)' if tiles['streaming'].get('quick') else ''}."]
        lines.append("")
    bank = [r for r in records if r["config"]["part"] == "bank"]
    if bank:
        lines += ["## A bank beyond half a million rows: IVF-PQ against exact search", "",
                  "Protocol: every training patch of the magnetic tiles (752 images x 784 patches, no coreset) as the "
                  f"bank; {BANK_QUERIES:,} test patches drawn at random (seed 0) as queries; faiss IndexFlatL2 (exact) "
                  "against `NearestNeighbours(index=\"ivfpq\")` (about sqrt(M) cells, 8 probed, D/8 bytes per code, "
                  "8 candidates per neighbour re-ranked by exact distance). Build includes training the IVF-PQ. The "
                  "image and pixel AUC with such a bank were not measured (exact search of all 464,128 test patches in "
                  "589,568 rows is beyond this CPU's time); the AUC effect of IVF-PQ is in the table above, on the 1% bank.", "",
                  "| bank rows | D | queries | flat build s | flat queries/s | IVF-PQ build s | IVF-PQ queries/s | "
                  "recall@1 | mean distance excess | load | notes |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for r in bank:
            f = r["figures"]
            lines.append(f"| {f['bank_rows']:,} | {f['feature_dim']} | {f['queries']:,} | {f['flat']['build_seconds']:.1f} | "
                         f"{f['flat']['queries_per_second']:.0f} | {f['ivfpq']['build_seconds']:.1f} | "
                         f"{f['ivfpq']['queries_per_second']:.0f} | {f['ivfpq']['recall_at_1']:.4f} | "
                         f"{f['ivfpq']['distance_excess_mean_relative']:.1e} | {fmt(f['load_average'], 1)} | "
                         f"{'QUICK smoke run' if f.get('quick') else ''} |")
        lines.append("")
    for note in results.get("notes", []):
        lines.append(f"Note: {note}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    worker(json.loads(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]))
