"""Exported artifacts (TensorFlow SavedModel, ONNX, LiteRT) score and map like the detector they came from."""

from __future__ import annotations

import json
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_oneclass import PatchCore
from keras_oneclass import export as export_lib
from keras_oneclass.detector import NotFittedError
from detector_rows import tiny_mobilenet

tensorflow_only = pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                                     reason="export traces the detector with TensorFlow (KERAS_BACKEND=tensorflow)")

RUNTIMES = {"tf_saved_model": "tensorflow", "onnx": "onnxruntime", "litert": "ai_edge_litert"}


def artifact_path(tmp, name: str, format: str):
    return tmp / f"{name}{export_lib.SUFFIXES.get(format, '_saved_model')}"


@tensorflow_only
@pytest.mark.parametrize("format", export_lib.FORMATS)
def test_exported_artifacts_score_like_the_detector(trained, format):
    pytest.importorskip(RUNTIMES[format], reason=f"{format} needs the export extra: pip install 'keras_oneclass[export]'")
    if format == "onnx":
        pytest.importorskip("tf2onnx", reason="onnx export needs tf2onnx: pip install 'keras_oneclass[export]'")
    model, x_test = trained["model"], trained["x_test"][:12]
    expected = model.predict(x_test, verbose=0)
    old = model.threshold
    model.threshold = float(np.median(expected))
    try:
        path = model.export(artifact_path(trained["tmp"], trained["name"], format), format=format,
                            check_data=trained["x_test"][-4:], verbose=False)
        outputs = export_lib.load_artifact(path)(x_test)
        threshold = model.threshold
    finally:
        model.threshold = old
    assert export_lib.relative_difference(outputs["score"], expected) <= 1e-4
    assert outputs["score"].shape == (len(x_test),) and outputs["score"].dtype == np.float32
    np.testing.assert_array_equal(outputs["is_anomaly"], expected > threshold)
    if model.localizes:
        maps = model.anomaly_map(x_test)
        assert outputs["anomaly_map"].shape == maps.shape == (len(x_test), *trained["shape"][:2])
        assert export_lib.relative_difference(outputs["anomaly_map"], maps) <= 1e-4
    else:
        assert "anomaly_map" not in outputs


def _fitted_patchcore(**settings):
    x = np.random.default_rng(0).uniform(0, 1, (24, 32, 32, 1)).astype("float32")
    model = PatchCore((32, 32, 1), backbone=tiny_mobilenet(), **settings)
    model.fit(x, verbose=0)
    return model, x


@tensorflow_only
def test_an_export_that_differs_raises_and_leaves_nothing(tmp_path, monkeypatch):
    model, x = _fitted_patchcore()
    original = type(model).serving_outputs

    def drifted(self, images):
        outputs = original(self, images)
        return {**outputs, "score": outputs["score"] * 1.01}

    monkeypatch.setattr(type(model), "serving_outputs", drifted)
    path = tmp_path / "drifted"
    with pytest.raises(export_lib.ExportParityError, match="score"):
        model.export(path, check_data=x[:4], verbose=False)
    assert not path.exists()


@tensorflow_only
def test_export_refuses_what_it_cannot_reproduce(tmp_path):
    with pytest.raises(NotFittedError, match="before fit"):
        PatchCore((32, 32, 1), backbone=tiny_mobilenet()).export(tmp_path / "unfitted")
    model, x = _fitted_patchcore(index="ivfpq")
    with pytest.raises(ValueError, match="approximate search"):
        model.export(tmp_path / "ivfpq")
    model, x = _fitted_patchcore()
    with pytest.raises(ValueError, match=r"\.onnx"):
        model.export(tmp_path / "model.bin", format="onnx")
    with pytest.raises(ValueError, match="format must be one of"):
        model.export(tmp_path / "m", format="openvino")
    with pytest.raises(ValueError, match="check_data"):
        model.export(tmp_path / "m", check_data=x[:2, :16])


@tensorflow_only
def test_the_saved_model_runs_without_faiss_or_keras_oneclass(tmp_path):
    model, x = _fitted_patchcore(coreset_ratio=0.5)
    path = model.export(tmp_path / "patchcore", check_data=x[:4], verbose=False)
    np.save(tmp_path / "x.npy", x[:6])
    script = (
        "import sys, json; import numpy as np\n"
        "sys.modules['faiss'] = None  # importing faiss would fail\n"
        "import tensorflow as tf\n"
        f"loaded = tf.saved_model.load({str(path)!r})\n"
        f"outputs = loaded.serve(np.load({str(tmp_path / 'x.npy')!r}))\n"
        "assert sorted(outputs) == ['anomaly_map', 'score'], sorted(outputs)  # no threshold: no flags\n"
        "print(json.dumps(outputs['score'].numpy().tolist()))\n"
        "assert not any(m.startswith(('keras_oneclass', 'faiss')) for m in sys.modules if sys.modules[m] is not None)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    scores = np.asarray(json.loads(done.stdout.strip().splitlines()[-1]), np.float32)
    assert export_lib.relative_difference(scores, model.predict(x[:6])) <= 1e-4


@pytest.mark.skipif(keras.backend.backend() == "tensorflow", reason="the TensorFlow backend exports")
def test_other_backends_say_how_to_export(tmp_path):
    model, _ = _fitted_patchcore()
    with pytest.raises(RuntimeError, match="KERAS_BACKEND=tensorflow.*keras-oneclass export"):
        model.export(tmp_path / "m")
    assert not (tmp_path / "m").exists()
