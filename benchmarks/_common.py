"""Helpers shared by the benchmark scripts: timing callback, seeds, JSON + markdown output."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

# Scripts here import _common first: it puts this checkout's package ahead of any installed copy.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


class EpochTimer(keras.callbacks.Callback):
    """Wall-clock seconds of every epoch."""

    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def machine() -> dict:
    import tensorflow as tf
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "tensorflow": tf.__version__,
            "keras": keras.__version__, "gpus": [d.name for d in tf.config.list_physical_devices("GPU")]}


def load_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def save_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True))


def mean_std(values) -> tuple[float, float]:
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else 0.0


def names_with_rows(names, rows: dict) -> list[str]:
    """The names (in their order) that have at least one result keyed ``<name>/...`` in ``rows``."""
    return [name for name in names if any(key.startswith(name + "/") for key in rows)]
