"""Export a fitted detector as a standalone inference artifact: TensorFlow SavedModel, ONNX or LiteRT.

The artifact holds the whole inference path of ``predict`` and ``score_and_map``: the backbone's
preprocessing, the network, the memory look-up (PatchCore's exact nearest neighbour with its
reweighting, PaDiM's Mahalanobis distance), the upsampling and blur of the anomaly map and the
calibrated threshold. Its one endpoint, ``serve``, takes float32 samples (N, H, W, C) in [0, 1]
(or (N, features) for tables) and returns a dict:

- ``score``: (N,) float32, the scores of ``predict``;
- ``anomaly_map``: (N, H, W) float32, the maps of ``anomaly_map``, for the detectors that localise;
- ``is_anomaly``: (N,) bool, ``score > threshold``, when the detector has a threshold.

The ONNX model and the LiteRT signature use the same input name (``images``, or ``features`` for
tables) and output names. Export traces the graph with TensorFlow, so it runs under the TensorFlow
backend; a detector trained under JAX or PyTorch is saved to ``.keras`` and exported from a
TensorFlow process (``keras-oneclass export`` does this). After writing, the artifact is run on
check samples and compared with the detector; a difference above ``tolerance`` deletes the
artifact and raises, so an export never leaves a silently different model behind.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import keras
import numpy as np

FORMATS = ("tf_saved_model", "onnx", "litert")
ENDPOINT = "serve"
SUFFIXES = {"onnx": ".onnx", "litert": ".tflite"}
TOLERANCE = 1e-4


class ExportParityError(ValueError):
    """The exported artifact's outputs differ from the detector's beyond the tolerance."""


def input_name(detector) -> str:
    """``images`` for (H, W, C) samples, ``features`` for vectors."""
    return "images" if len(detector.sample_shape) == 3 else "features"


def _require_tensorflow(what: str):
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            f"{what} traces the detector with TensorFlow and needs the TensorFlow backend (the active one is "
            f"{keras.backend.backend()!r}). Save the detector (model.save('m.keras')) and export it from a "
            "process started with KERAS_BACKEND=tensorflow, e.g. `keras-oneclass export --model m.keras "
            "--out m_savedmodel`.")
    import tensorflow as tf

    return tf


def serving_function(detector):
    """The ``serve`` computation of ``detector`` as a function of a (N, *sample_shape) float32 tensor.

    Returns a dict of tensors (see the module docstring). The threshold is read when this function is
    made, and is a constant of the graph.
    """
    threshold = detector.threshold

    def serve(samples):
        outputs = dict(detector.serving_outputs(keras.ops.cast(samples, "float32")))
        outputs["score"] = keras.ops.cast(keras.ops.reshape(outputs["score"], (-1,)), "float32")
        if "anomaly_map" in outputs:
            outputs["anomaly_map"] = keras.ops.cast(outputs["anomaly_map"], "float32")
        if threshold is not None:
            outputs["is_anomaly"] = keras.ops.greater(outputs["score"], np.float32(threshold))
        return outputs

    return serve


def _check_exportable(detector) -> None:
    if not detector.is_fitted:
        from keras_oneclass.detector import NotFittedError

        raise NotFittedError(f"{type(detector).__name__}.export() was called before fit(): an unfitted detector "
                             "has nothing to export.")
    policy = detector.dtype_policy.name
    if policy != "float32":
        raise ValueError(f"export needs the float32 dtype policy; this detector uses {policy!r}. Load it under "
                         "keras.config.set_dtype_policy('float32') (weights are kept) and export again.")
    reason = getattr(detector, "export_blocker", lambda: None)()
    if reason:
        raise ValueError(reason)


def export_detector(detector, path, format: str = "tf_saved_model", check_data=None,
                    tolerance: float = TOLERANCE, verbose: bool = True) -> Path:
    """Write ``detector``'s inference path to ``path`` and check that it scores like the detector.

    Args:
        detector: a fitted keras_oneclass detector.
        path: a folder (``tf_saved_model``) or a file (``.onnx``, ``.tflite``).
        format: "tf_saved_model" (default), "onnx" or "litert".
        check_data: (N, *sample_shape) samples the artifact is checked on; default 4 seeded uniform
            samples in [0, 1]. Use data the detector did not train on.
        tolerance: largest allowed difference of scores (and maps), relative to the largest absolute
            value of the detector's own scores (maps).
        verbose: print where the artifact went and the differences measured.
    Returns:
        The path written.
    Raises:
        ExportParityError: the artifact differs beyond ``tolerance`` (nothing is left at ``path``).
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}.")
    tf = _require_tensorflow("export")
    _check_exportable(detector)
    path = Path(path)
    if format in SUFFIXES and path.suffix.lower() != SUFFIXES[format]:
        raise ValueError(f"a {format} artifact is one file ending in {SUFFIXES[format]}, got {str(path)!r}.")
    if check_data is None:
        check_data = np.random.default_rng(0).uniform(0.0, 1.0, size=(4, *detector.sample_shape))
    check_data = np.asarray(check_data, dtype=np.float32)
    if check_data.shape[1:] != tuple(detector.sample_shape):
        raise ValueError(f"check_data must be (N, {', '.join(map(str, detector.sample_shape))}), "
                         f"got shape {check_data.shape}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    detector.prepare_serving()
    spec = tf.TensorSpec((None, *detector.sample_shape), tf.float32, name=input_name(detector))
    serve = serving_function(detector)
    with tempfile.TemporaryDirectory() as folder:
        saved = Path(folder) / "saved_model" if format != "tf_saved_model" else path
        _write_saved_model(detector, serve, spec, saved, tf)
        if format == "onnx":
            _write_onnx(serve, spec, path, tf)
        elif format == "litert":
            fixed = Path(folder) / "saved_model_batch_1"
            _write_saved_model(detector, serve, tf.TensorSpec((1, *spec.shape[1:]), tf.float32, name=spec.name), fixed, tf)
            _write_litert(fixed, path, tf)
    try:
        differences = check_parity(detector, path, check_data, tolerance)
    except ExportParityError:
        _remove(path)
        raise
    if verbose:
        measured = ", ".join(f"{k} {v:.1e}" for k, v in differences.items())
        print(f"Exported {type(detector).__name__} to {path} ({format}); largest relative differences on "
              f"{len(check_data)} check samples: {measured}.")
    return path


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        path.unlink()


def _write_saved_model(detector, serve, spec, path: Path, tf) -> None:
    archive = keras.export.ExportArchive()
    archive.track(detector)
    archive.add_endpoint(ENDPOINT, tf.function(serve, input_signature=[spec], autograph=False))
    archive.write_out(str(path), verbose=False)


def _write_onnx(serve, spec, path: Path, tf) -> None:
    try:
        import tf2onnx
    except ImportError as error:
        raise ImportError("format='onnx' needs tf2onnx and onnxruntime: pip install 'keras_oneclass[export]'.") from error
    from keras.src.export.tf2onnx_lib import patch_tf2onnx

    patch_tf2onnx()
    function = tf.function(serve, input_signature=[spec], autograph=False)
    tf2onnx.convert.from_function(function, input_signature=[spec], opset=17, output_path=str(path))


def _write_litert(saved: Path, path: Path, tf) -> None:
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved), signature_keys=[ENDPOINT])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    path.write_bytes(converter.convert())


# ----------------------------------------------------------------------------------------- running artifacts
def load_artifact(path):
    """A function ``run(samples) -> dict of numpy arrays`` over an exported artifact.

    The format is read from the path: a folder is a SavedModel (TensorFlow), ``.onnx`` runs with ONNX
    Runtime, ``.tflite`` with the LiteRT interpreter. Nothing of keras_oneclass is needed to run it.
    """
    path = Path(path)
    if path.is_dir():
        import tensorflow as tf

        loaded = tf.saved_model.load(str(path))  # kept alive with the function: it owns the variables
        return lambda samples: {k: v.numpy() for k, v in loaded.serve(tf.constant(samples, tf.float32)).items()}
    if path.suffix.lower() == ".onnx":
        import onnxruntime

        ort = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        name = ort.get_inputs()[0].name
        outputs = [o.name for o in ort.get_outputs()]
        return lambda samples: dict(zip(outputs, ort.run(outputs, {name: np.asarray(samples, np.float32)})))
    if path.suffix.lower() == ".tflite":
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=str(path))
        runner = interpreter.get_signature_runner(ENDPOINT)
        name, details = next(iter(runner.get_input_details().items()))
        batch = int(details["shape"][0])  # the LiteRT graph has a fixed batch (1): larger inputs run in steps

        def run(samples):
            samples = np.asarray(samples, np.float32)
            steps = [runner(**{name: samples[i:i + batch]}) for i in range(0, len(samples), batch)]
            return {k: np.concatenate([step[k] for step in steps]) for k in steps[0]}

        return run
    raise ValueError(f"{str(path)!r} is not an exported artifact (a SavedModel folder, .onnx or .tflite).")


def relative_difference(artifact_values, detector_values) -> float:
    """max |a - d| / max |d| (0 when both are 0)."""
    a = np.asarray(artifact_values, np.float64)
    d = np.asarray(detector_values, np.float64)
    if a.shape != d.shape:
        return float("inf")
    scale = np.abs(d).max() if d.size else 0.0
    largest = np.abs(a - d).max() if d.size else 0.0
    return float(largest / scale) if scale > 0 else float(largest)


def check_parity(detector, path, samples, tolerance: float = TOLERANCE) -> dict[str, float]:
    """Run the artifact at ``path`` and the detector on ``samples``; the relative differences.

    Raises ExportParityError when scores, maps or flags differ beyond ``tolerance``.
    """
    outputs = load_artifact(path)(samples)
    if detector.localizes:
        scores, maps = detector.score_and_map(samples)
        expected = {"score": scores, "anomaly_map": maps}
    else:
        expected = {"score": detector.predict(samples, verbose=0)}
    differences = {}
    for key, value in expected.items():
        if key not in outputs:
            raise ExportParityError(f"the exported artifact has no {key!r} output (it has {sorted(outputs)}).")
        differences[key] = relative_difference(outputs[key], value)
    if detector.threshold is not None:
        flags = np.asarray(outputs.get("is_anomaly"))
        expected_flags = expected["score"] > detector.threshold
        near = np.abs(expected["score"] - detector.threshold) <= tolerance * max(abs(detector.threshold), 1e-12)
        differences["is_anomaly"] = float(np.mean((flags.reshape(-1) != expected_flags)[~near])) if (~near).any() else 0.0
    worst = {k: v for k, v in differences.items() if not v <= tolerance}
    if worst:
        raise ExportParityError(
            f"the exported {type(detector).__name__} differs from the detector beyond {tolerance:g} "
            f"(relative to the largest value): {', '.join(f'{k} {v:.2e}' for k, v in worst.items())}. "
            "Nothing was written. Please report this with the detector's configuration.")
    return differences

