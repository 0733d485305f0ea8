"""The GPU suite's --quick run on this CPU: the same code as on the GPU, tiny synthetic sizes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow",
                    reason="runs once, from the TensorFlow pass (the suite itself runs on JAX)")
def test_quick_suite_measures_every_section(tmp_path):
    pytest.importorskip("jax")
    pytest.importorskip("torch")
    cache = Path(tempfile.gettempdir()) / "keras_oneclass_jax_cache"
    # as on the GPU machine: `python -m benchmarks.gpu_suite` from the repository root, nothing else on the path
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": "", "TF_CPP_MIN_LOG_LEVEL": "3",
           "JAX_COMPILATION_CACHE_DIR": str(cache), "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
           "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "-1"}
    result = subprocess.run([sys.executable, "-m", "benchmarks.gpu_suite", "--quick", "--out-dir", str(tmp_path)],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    results = json.loads((tmp_path / "gpu_suite_quick.json").read_text())
    assert results["quick"] and results["backend"] == "jax"
    torch_rows = [row for row in results["torch"] if "images_per_s" in row]
    assert {row["detector"] for row in torch_rows} == {"DASVDD", "ConvAutoencoder 256 px", "DeepSVDD original"}
    measured = [row for row in results["throughput"] if row.get("images_per_s", 0) > 0 and "auc" in row]
    assert len(measured) == 16, [row for row in results["throughput"] if row not in measured]
    assert {row["policy"] for row in measured} == {"float32", "mixed_float16"}
    runs = results["cat"]["runs"]
    assert {(run["seed"], run["variant"]) for run in runs} == {(s, v) for s in (0, 1) for v in ("original", "enhanced")}
    table = (tmp_path / "gpu_suite_quick.md").read_text()
    assert "Paired t-test" in table and "| ConvAutoencoder 256 px |" in table
