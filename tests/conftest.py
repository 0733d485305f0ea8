"""Shared fixtures: small data the tests make, the shared data folder, and a clean dtype policy."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


# `make test` runs the backend-neutral tests again on JAX and PyTorch with TensorFlow made unfindable, as
# where it is not installed.
if os.environ.get("KERAS_ONECLASS_BLOCK_TENSORFLOW") == "1":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import block_tensorflow  # noqa: E402,F401

import keras  # noqa: E402 (after the block above)
import numpy as np  # noqa: E402
import pytest  # noqa: E402

if keras.backend.backend() == "jax":
    # Detectors rebuilt with other seeds compile to the same XLA program: a persistent cache makes every
    # compilation after the first a look-up (the contract tests build each detector several times).
    import tempfile

    import jax

    jax.config.update("jax_compilation_cache_dir", str(Path(tempfile.gettempdir()) / "keras_oneclass_jax_cache"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

try:
    import tensorflow as tf
except ImportError:  # JAX or PyTorch without TensorFlow
    tf = None

def _detector_rows():
    import detector_rows  # tests/ is on the path of pytest's conftest imports

    return detector_rows


needs_tensorflow = pytest.mark.skipif(tf is None, reason="needs TensorFlow (tf.data), not installed or blocked here")


def shared_data(relative: str) -> Path:
    """Path inside ../shared/data, or skip the test with the reason when it is not there."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"shared data not found at {path} (the tests expect ../shared/data beside the checkout)")
    return path


@pytest.fixture(autouse=True)
def float32_policy():
    """Every test starts and ends under the float32 policy, whatever it changed."""
    keras.mixed_precision.set_global_policy("float32")
    yield
    keras.mixed_precision.set_global_policy("float32")


def blobs(n_normal: int = 256, n_anomalous: int = 64, shape=(8,), seed: int = 0):
    """Normal samples near one point, anomalies shifted away: (x_train, x_test, y_test) float32/int."""
    rng = np.random.default_rng(seed)
    normal = rng.normal(0.5, 0.05, size=(2 * n_normal, *shape))
    anomalous = rng.normal(0.5, 0.05, size=(n_anomalous, *shape)) + rng.choice([-0.3, 0.3], size=(n_anomalous, *shape))
    x_train = normal[:n_normal].astype("float32")
    x_test = np.concatenate([normal[n_normal:], anomalous]).astype("float32")
    y_test = np.r_[np.zeros(n_normal, int), np.ones(n_anomalous, int)]
    return x_train, x_test, y_test


@pytest.fixture(params=sorted(_detector_rows().DETECTORS), scope="session")
def trained(request, tmp_path_factory):
    """One fitted detector per row of ``detector_rows.DETECTORS`` (no compile(): defaults apply), shared by
    the contract and bad-input tests of a run."""
    factory, shape, epochs = _detector_rows().DETECTORS[request.param]
    x_train, x_test, y_test = blobs(shape=shape)
    model = factory(0)
    history = model.fit(x_train, epochs=epochs, verbose=0)
    return {"name": request.param, "factory": factory, "shape": shape, "epochs": epochs, "model": model,
            "history": history, "x_train": x_train, "x_test": x_test, "y_test": y_test,
            "tmp": tmp_path_factory.mktemp(request.param)}
