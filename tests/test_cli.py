"""keras-oneclass fit | score | evaluate on a tiny synthetic_wood set, and its error messages."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest

import keras_oneclass
from keras_oneclass import cli, datasets, metrics

FIT = ["--model", "DASVDD", "--param", "architecture=conv", "--epochs", "1", "--image-size", "16"]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A tiny wood set and a DASVDD(architecture="conv") fitted on it by the command line."""
    base = tmp_path_factory.mktemp("cli")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERAS_ONECLASS_CACHE", str(base / "cache"))
        root = datasets.synthetic_wood(base / "wood", n_train=20, n_test_good=6, n_test_defect_per_type=2,
                                       image_size=32, defect_types=("knot", "stain"))
        model_file = base / "model.keras"
        assert cli.main(["fit", *FIT, "--data", str(root), "--out", str(model_file)]) == 0
    return root, model_file


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_ONECLASS_CACHE", str(tmp_path / "cache"))


def _rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_model_names_resolve_generically(monkeypatch):
    assert cli.resolve_model("dasvdd") is keras_oneclass.DASVDD
    assert cli.resolve_model("DASVDD") is keras_oneclass.DASVDD

    class ToyConvDetector(keras_oneclass.Detector):
        pass

    monkeypatch.setattr(keras_oneclass, "ToyConvDetector", ToyConvDetector, raising=False)
    assert cli.resolve_model("toy_conv_detector") is ToyConvDetector  # a detector merged later needs no CLI edit
    assert cli.resolve_model("ToyConvDetector") is ToyConvDetector
    with pytest.raises(cli.CommandError, match="available: .*DASVDD"):
        cli.resolve_model("nosuchmodel")


def test_fit_saves_a_calibrated_detector(fitted):
    root, model_file = fitted
    model = keras.models.load_model(model_file)
    assert isinstance(model, keras_oneclass.DASVDD) and model.is_fitted
    assert model.sample_shape == (16, 16, 3) and model.architecture == "conv"
    # the threshold is the 95th percentile of the 10% held out (2 of 20 images, seed 0)
    images = cli.read_training_images(str(root), 16)
    held_out = images[np.sort(np.random.default_rng(0).permutation(20)[:2])]
    assert model.threshold == pytest.approx(np.percentile(model.predict(held_out, verbose=0), 95), rel=1e-5)


def test_score_writes_file_score_flag(fitted, capsys, tmp_path):
    root, model_file = fitted
    assert cli.main(["score", "--model", str(model_file), "--data", str(root)]) == 0
    rows = _rows(capsys.readouterr().out)
    assert len(rows) == 6 + 2 * 2 and set(rows[0]) == {"file", "score", "flag"}
    threshold = keras.models.load_model(model_file).threshold
    assert all(int(r["flag"]) == int(float(r["score"]) > threshold) for r in rows)
    assert sum("/test/knot/" in r["file"] for r in rows) == 2

    out = tmp_path / "flat.csv"  # a flat folder of images works too
    assert cli.main(["score", "--model", str(model_file), "--data", str(root / "test" / "stain"), "--out", str(out)]) == 0
    flat = _rows(out.read_text())
    assert [Path(r["file"]).name for r in flat] == ["000.png", "001.png"]
    knot_scores = {r["file"]: r["score"] for r in rows}
    # same images, same scores (to float32 rounding: the batches differ, and so may the conv kernels' sums)
    assert [float(r["score"]) for r in flat] == pytest.approx([float(knot_scores[r["file"]]) for r in flat], rel=1e-5)


def test_evaluate_prints_metrics_matching_the_scores(fitted, capsys, tmp_path):
    root, model_file = fitted
    assert cli.main(["score", "--model", str(model_file), "--data", str(root)]) == 0
    rows = _rows(capsys.readouterr().out)
    labels = np.array(["/test/good/" not in r["file"] for r in rows], int)
    scores = np.array([float(r["score"]) for r in rows])
    out = tmp_path / "metrics.json"
    assert cli.main(["evaluate", "--model", str(model_file), "--data", str(root), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "image_roc_auc" in printed and "f1" in printed and "pixel_roc_auc" not in printed  # DASVDD has no map
    result = json.loads(out.read_text())
    assert result["images"] == 10 and result["defective"] == 4
    assert result["image_roc_auc"] == pytest.approx(metrics.roc_auc(labels, scores), abs=1e-6)
    threshold = keras.models.load_model(model_file).threshold
    assert result["f1"] == pytest.approx(metrics.f1_score(labels, scores, threshold), abs=1e-6)


def test_pixel_metric_when_the_model_has_maps(fitted):
    root, model_file = fitted
    model = keras.models.load_model(model_file)
    test = datasets.read_folder(root, image_size=16).test
    assert "pixel_roc_auc" not in cli.evaluate_detector(model, test, verbose=0)  # DASVDD draws no maps
    model.localizes = True
    model.anomaly_map = lambda x: test.masks.astype("float32") + 0.1  # a perfect map
    assert cli.evaluate_detector(model, test, verbose=0)["pixel_roc_auc"] == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    maps = rng.uniform(size=test.masks.shape)
    expected = metrics.roc_auc(test.masks.reshape(-1).astype(int), maps.reshape(-1))
    assert metrics.pixel_roc_auc(test.masks, maps) == pytest.approx(expected, abs=1e-4)


def _error(capsys, argv) -> str:
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith("keras-oneclass: error:") and "Traceback" not in err
    return err


def test_clear_errors(fitted, tmp_path, capsys):
    root, model_file = fitted
    fit = ["fit", *FIT, "--out", str(tmp_path / "m.keras"), "--data"]
    assert "does not exist" in _error(capsys, fit + [str(tmp_path / "missing")])
    (tmp_path / "empty").mkdir()
    assert "holds no images" in _error(capsys, fit + [str(tmp_path / "empty")])
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "a.png").write_bytes(b"not a png at all")
    assert "a.png" in _error(capsys, fit + [str(tmp_path / "broken")])
    (tmp_path / "broken" / "b.png").write_bytes((root / "train/good/000.png").read_bytes())
    assert "a.png" in _error(capsys, ["score", "--model", str(model_file), "--data", str(tmp_path / "broken")])
    broken_set = tmp_path / "broken_set"  # an unreadable image inside an MVTec-layout folder
    datasets.synthetic_wood(broken_set, n_train=2, n_test_good=2, n_test_defect_per_type=1, image_size=32,
                            defect_types=("hole",))
    (broken_set / "test" / "hole" / "000.png").write_bytes(b"truncated")
    assert "000.png" in _error(capsys, ["evaluate", "--model", str(model_file), "--data", str(broken_set)])

    text_file = tmp_path / "notes.keras"
    text_file.write_text("hello")
    assert "is damaged" in _error(capsys, ["score", "--model", str(text_file), "--data", str(root)])
    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    plain.save(tmp_path / "plain.keras")
    assert "not a keras_oneclass detector" in _error(
        capsys, ["evaluate", "--model", str(tmp_path / "plain.keras"), "--data", str(root)])
    assert "does not exist" in _error(capsys, ["score", "--model", str(tmp_path / "nope.keras"), "--data", str(root)])
    assert "not in the MVTec AD layout" in _error(
        capsys, ["evaluate", "--model", str(model_file), "--data", str(root / "test" / "knot")])
    assert "unknown model" in _error(capsys, ["fit", "--model", "nosuch", "--data", str(root), "--out", "x.keras"])


def test_module_entry_point_exits_cleanly():
    done = subprocess.run([sys.executable, "-m", "keras_oneclass.cli", "evaluate", "--model", "none.keras",
                           "--data", "nowhere"], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 1
    assert "keras-oneclass: error:" in done.stderr and "Traceback" not in done.stderr


def _one_error_line(capsys, argv) -> str:
    """The command fails with status 1 and exactly one line on stderr, without a traceback."""
    err = _error(capsys, argv)
    assert len(err.strip().splitlines()) == 1, err
    return err


@pytest.fixture
def no_data_read(monkeypatch):
    """Fails the test if a command reads its data or loads its model (checks must come first)."""
    def must_not_run(*args, **kwargs):
        raise AssertionError("the command went on to read data or load a model before failing")

    for name in ("read_training_images", "read_test_set", "load_detector"):
        monkeypatch.setattr(cli, name, must_not_run)


def _blocked_path(tmp_path) -> Path:
    """A path whose folder cannot be created: its parent is a regular file (unwritable even for root)."""
    (tmp_path / "a_file").write_text("x")
    return tmp_path / "a_file" / "sub" / "model.keras"


BAD_FIT_ARGUMENTS = {
    "image size 0": (["--image-size", "0"], "--image-size must be a positive"),
    "image size -5": (["--image-size", "-5"], "--image-size must be a positive"),
    "epochs 0": (["--epochs", "0"], "--epochs must be at least 1"),
    "epochs -1": (["--epochs", "-1"], "--epochs must be at least 1"),
    "batch size 0": (["--batch-size", "0"], "--batch-size must be at least 1"),
    "percentile 0": (["--percentile", "0"], "--percentile must be in (0, 100]"),
    "percentile 101": (["--percentile", "101"], "--percentile must be in (0, 100]"),
    "percentile nan": (["--percentile", "nan"], "--percentile must be in (0, 100]"),
    "validation fraction 1": (["--validation-fraction", "1"], "--validation-fraction must be in (0, 1)"),
    "seed -1": (["--seed", "-1"], "--seed must be a non-negative"),
}


@pytest.mark.parametrize("case", sorted(BAD_FIT_ARGUMENTS))
def test_fit_rejects_bad_values_before_reading_data(case, tmp_path, capsys, no_data_read):
    extra, message = BAD_FIT_ARGUMENTS[case]
    out = tmp_path / "m.keras"
    start = time.perf_counter()
    err = _one_error_line(capsys, ["fit", "--model", "DASVDD", "--data", str(tmp_path / "data"), "--out", str(out),
                                   *extra])
    assert message in err and time.perf_counter() - start < 10
    assert not out.exists()


def test_fit_rejects_bad_values_on_real_data_without_training(fitted, tmp_path, capsys):
    root, _ = fitted
    for extra in (["--image-size", "0"], ["--image-size", "-5"], ["--epochs", "0"], ["--percentile", "0"]):
        out = tmp_path / "m.keras"
        start = time.perf_counter()
        err = _one_error_line(capsys, ["fit", *FIT, "--data", str(root), "--out", str(out), *extra])
        assert "keras-oneclass: error: --" in err and time.perf_counter() - start < 10
        assert not out.exists()


def test_fit_checks_the_output_before_reading_data(tmp_path, capsys, no_data_read):
    fit = ["fit", "--model", "DASVDD", "--data", str(tmp_path / "data"), "--out"]
    err = _one_error_line(capsys, fit + [str(_blocked_path(tmp_path))])
    assert "cannot create the folder" in err
    (tmp_path / "folder.keras").mkdir()
    assert "is a folder" in _one_error_line(capsys, fit + [str(tmp_path / "folder.keras")])
    assert "must end in .keras" in _one_error_line(capsys, fit + [str(tmp_path / "m.h5")])
    nested = tmp_path / "new" / "deeper" / "m.keras"  # a missing folder is created, then the data is read
    with pytest.raises(AssertionError, match="read data"):
        cli.main(fit + [str(nested)])
    assert nested.parent.is_dir() and list(nested.parent.iterdir()) == []  # the probe file is gone


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can write in read-only folders")
def test_fit_rejects_a_read_only_output_folder(tmp_path, capsys, no_data_read):
    folder = tmp_path / "read_only"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        err = _one_error_line(capsys, ["fit", "--model", "DASVDD", "--data", str(tmp_path), "--out",
                                       str(folder / "m.keras")])
    finally:
        folder.chmod(0o700)
    assert "cannot write in the folder" in err


def test_fit_rejects_a_folder_it_cannot_write_in(tmp_path, capsys, no_data_read, monkeypatch):
    def denied(*args, **kwargs):  # what a read-only folder answers (root may write anywhere, so simulated)
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cli.tempfile, "NamedTemporaryFile", denied)
    err = _one_error_line(capsys, ["fit", "--model", "DASVDD", "--data", str(tmp_path), "--out",
                                   str(tmp_path / "m.keras")])
    assert "cannot write in the folder" in err and "Permission denied" in err


def test_score_and_evaluate_check_the_output_before_loading(tmp_path, capsys, no_data_read):
    blocked = str(_blocked_path(tmp_path).with_suffix(".csv"))
    for command in ("score", "evaluate"):
        err = _one_error_line(capsys, [command, "--model", "m.keras", "--data", str(tmp_path), "--out", blocked])
        assert "cannot create the folder" in err


def test_unwritable_output_after_scoring_is_one_line(fitted, tmp_path, capsys, monkeypatch):
    root, model_file = fitted
    monkeypatch.setattr(cli, "check_output", lambda *args, **kwargs: None)  # the folder vanishes after the check
    err = _error(capsys, ["score", "--model", str(model_file), "--data", str(root),
                          "--out", str(_blocked_path(tmp_path).with_suffix(".csv"))])
    assert "Not a directory" in err.splitlines()[-1]  # (the lines above it are progress messages)


def test_one_pass_detectors_fit_one_epoch_by_default(fitted, tmp_path, capsys, monkeypatch):
    root, _ = fitted
    seen = []
    original = keras_oneclass.PatchCore.fit

    def recording_fit(self, x, *args, **kwargs):
        seen.append(kwargs.get("epochs"))
        return original(self, x, *args, **kwargs)

    monkeypatch.setattr(keras_oneclass.PatchCore, "fit", recording_fit)
    out = tmp_path / "patchcore.keras"
    argv = ["fit", "--model", "patchcore", "--data", str(root), "--out", str(out), "--image-size", "32",
            "--param", "weights=null", "--param", "alpha=0.25"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert cli.main(argv) == 0
    assert seen == [1] and out.is_file()
    assert not [w for w in caught if "epochs" in str(w.message)], [str(w.message) for w in caught]
    assert cli.one_pass(keras_oneclass.PaDiM) and not cli.one_pass(keras_oneclass.DASVDD)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="export traces with TensorFlow")
def test_export_writes_an_artifact_that_flags_like_score(fitted, tmp_path, capsys):
    pytest.importorskip("onnxruntime", reason="onnx export needs the export extra")
    pytest.importorskip("tf2onnx", reason="onnx export needs the export extra")
    from keras_oneclass import export as export_lib

    root, model_file = fitted
    out = tmp_path / "model.onnx"
    assert cli.main(["export", "--model", str(model_file), "--out", str(out),
                     "--check-data", str(root / "test" / "good")]) == 0
    assert "Exported DASVDD" in capsys.readouterr().out and out.is_file()
    assert cli.main(["score", "--model", str(model_file), "--data", str(root)]) == 0
    rows = _rows(capsys.readouterr().out)
    model = keras.models.load_model(model_file)
    images = cli.read_test_set(str(root), model, labelled=False).images
    outputs = export_lib.load_artifact(out)(images)
    np.testing.assert_allclose(outputs["score"], [float(r["score"]) for r in rows], rtol=1e-4)
    assert outputs["is_anomaly"].astype(int).tolist() == [int(r["flag"]) for r in rows]
    assert cli.main(["export", "--model", str(model_file), "--out", str(tmp_path / "m.onnx"), "--format", "litert"]) == 1
    assert ".tflite" in capsys.readouterr().err


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="export traces with TensorFlow")
def test_the_serving_example_scores_a_folder_without_keras(fitted, tmp_path):
    pytest.importorskip("onnxruntime", reason="onnx export needs the export extra")
    pytest.importorskip("tf2onnx", reason="onnx export needs the export extra")
    from PIL import Image

    root, model_file = fitted
    model = keras.models.load_model(model_file)
    artifact = model.export(tmp_path / "model.onnx", format="onnx", verbose=False)
    images = np.round(cli.read_test_set(str(root), model, labelled=False).images * 255).astype(np.uint8)
    folder = tmp_path / "line"
    folder.mkdir()
    for i, image in enumerate(images):
        Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(folder / f"board_{i:02d}.png")
    script = ("import runpy, sys\n"
              "sys.modules['keras'] = sys.modules['keras_oneclass'] = None  # the example must not need them\n"
              f"sys.argv = ['serve.py', '--artifact', {str(artifact)!r}, '--images', {str(folder)!r}]\n"
              f"runpy.run_path({str(Path(__file__).parents[1] / 'examples' / 'serve.py')!r}, run_name='__main__')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = _rows(done.stdout)
    assert [r["file"] for r in rows] == [f"board_{i:02d}.png" for i in range(len(images))]
    expected = model.predict(images.astype(np.float32) / 255.0, verbose=0)
    np.testing.assert_allclose([float(r["score"]) for r in rows], expected, rtol=1e-4)
    assert [int(r["flag"]) for r in rows] == (expected > model.threshold).astype(int).tolist()
