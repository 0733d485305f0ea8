"""The ``keras-oneclass`` command line: fit a detector on a folder, score images, evaluate on a test set.

::

    keras-oneclass fit --model patchcore --data DIR --out model.keras [--epochs N] [--image-size S]
                       [--param key=value ...]
    keras-oneclass score --model model.keras --data DIR [--out scores.csv]
    keras-oneclass evaluate --model model.keras --data DIR [--out metrics.json]
    keras-oneclass export --model model.keras --out m.onnx [--format onnx] [--check-data DIR]
    keras-oneclass models

``--data`` is a folder in the MVTec AD layout (``train/good``, ``test/<type>``, ``ground_truth``):
``fit`` trains on ``train/good``, ``score`` and ``evaluate`` use ``test/``. ``fit`` and ``score`` also
take a flat folder of images (all normal, for ``fit``). ``fit`` holds out a validation fraction of the
training images and sets the threshold to a percentile (95th by default) of their scores before
saving, so the saved model flags images on its own. ``score`` and ``evaluate`` read images at the
size and colour mode of the saved model.

``export`` writes a standalone inference artifact (``keras_oneclass.export``): a SavedModel folder,
``.onnx`` or ``.tflite`` (the format follows from ``--out`` unless ``--format`` is given), checked to
score like the model on ``--check-data`` images (default: seeded random images). It runs under the
TensorFlow backend, whatever backend the model was trained on.

``--model NAME`` is any detector class exported by ``keras_oneclass`` (case-insensitive, with or
without underscores: ``ConvAutoencoder``, ``conv_autoencoder``, ``patchcore``); ``--param`` passes
constructor arguments (values read as JSON when they parse, e.g. ``latent_dim=64``, else as text).

``--epochs`` defaults to 10, and to 1 for the detectors that build a memory in one pass (PaDiM,
PatchCore). Models are loaded with ``keras_oneclass.load_detector``.

Errors the user can fix (missing or empty folder, unreadable image, a file that is not a detector or
is damaged, an unknown model name, a value out of range, an output path that cannot be written) print
one line to stderr and exit with status 1, without a traceback. Arguments and output paths are
checked before any data is read or any model trained.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import inspect
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

PROG = "keras-oneclass"


class CommandError(Exception):
    """A problem with the user's input: reported as one line, exit status 1."""


# ----------------------------------------------------------------------------------------- models
def _normalise(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


def detector_classes() -> dict[str, type]:
    """Every ``keras_oneclass.Detector`` subclass exported by the package, by normalised name."""
    import keras_oneclass

    found = {}
    for name in dir(keras_oneclass):
        value = getattr(keras_oneclass, name)
        if (inspect.isclass(value) and issubclass(value, keras_oneclass.Detector)
                and value is not keras_oneclass.Detector and not inspect.isabstract(value)):
            found[_normalise(value.__name__)] = value
    return found


def resolve_model(name: str) -> type:
    """The detector class called ``name`` (``PatchCore``, ``patchcore``, ``conv_autoencoder``...)."""
    classes = detector_classes()
    cls = classes.get(_normalise(name))
    if cls is None:
        available = ", ".join(sorted(c.__name__ for c in classes.values()))
        raise CommandError(f"unknown model {name!r}; available: {available}.")
    return cls


def _parse_params(pairs: Sequence[str]) -> dict:
    params = {}
    for pair in pairs or ():
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise CommandError(f"--param expects KEY=VALUE, got {pair!r}.")
        try:
            params[key.strip()] = json.loads(text)
        except ValueError:
            params[key.strip()] = text
    return params


def load_detector(path: str):
    """``keras_oneclass.load_detector(path)``: its errors (missing, damaged, not a detector) as one line."""
    from keras_oneclass.saving import load_detector as load

    try:
        return load(path)
    except (FileNotFoundError, ValueError) as error:
        raise CommandError(" ".join(str(error).split())) from None


# ----------------------------------------------------------------------------------------- arguments
def _require(condition: bool, message: str) -> None:
    if not condition:
        raise CommandError(message)


def check_output(path: str, option: str = "--out", suffix: str | None = None) -> Path:
    """The output file ``path``, checked before any work: its folder is created if needed and a
    temporary file is written there, so that a result is never lost to an unwritable path."""
    out = Path(path).expanduser()
    if suffix is not None and out.suffix != suffix:
        raise CommandError(f"{option} must end in {suffix}, got {path!r}.")
    if out.is_dir():
        raise CommandError(f"{option} {path!r} is a folder; expected a file name.")
    folder = out.parent
    blocker = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise CommandError(f"{option} {path!r}: cannot create the folder {str(folder)!r} "
                           f"({str(blocker)!r} is a file).")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CommandError(f"{option} {path!r}: cannot create the folder {str(folder)!r} "
                           f"({error.strerror or error}).") from None
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".keras-oneclass-", suffix=".tmp"):
            pass
    except OSError as error:
        raise CommandError(f"{option} {path!r}: cannot write in the folder {str(folder)!r} "
                           f"({error.strerror or error}).") from None
    if out.exists() and not os.access(out, os.W_OK):
        raise CommandError(f"{option} {path!r} exists and cannot be overwritten (permission denied).")
    return out


def one_pass(cls: type) -> bool:
    """Whether ``cls`` builds its memory in one pass over the data (PaDiM, PatchCore): one epoch."""
    from keras_oneclass.memory.detector import FeatureMemoryDetector

    return issubclass(cls, FeatureMemoryDetector)


# ----------------------------------------------------------------------------------------- images
def _image_files(folder: Path) -> list[str]:
    from keras_oneclass.datasets.image_folder import IMAGE_EXTENSIONS

    return sorted(str(p) for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith("."))


def _check_folder(path: str) -> Path:
    root = Path(path).expanduser()
    if not root.exists():
        raise CommandError(f"data folder {path!r} does not exist.")
    if not root.is_dir():
        raise CommandError(f"--data {path!r} is a file; expected a folder of images or the MVTec AD layout.")
    return root


def _is_mvtec(root: Path) -> bool:
    return (root / "train" / "good").is_dir() or (root / "test").is_dir()


def _first_unreadable(files) -> str | None:
    from PIL import Image

    for file in files:
        try:
            with Image.open(file) as image:
                image.load()
        except Exception:  # noqa: BLE001 - any decoding failure
            return str(file)
    return None


@contextlib.contextmanager
def _naming_unreadable_images(files):
    """Turn a failed batch decode into an error that names the first unreadable file."""
    try:
        yield
    except ValueError as error:
        if "decode" not in str(error).lower():
            raise
        bad = _first_unreadable(files() if callable(files) else files)
        if bad is None:
            raise
        raise CommandError(f"could not read the image {bad!r} (not a valid image file).") from None


def _read_files(files: list[str], image_size, color_mode: str, root: Path) -> np.ndarray:
    from keras_oneclass.datasets.folder import _detect_color_mode
    from keras_oneclass.datasets.image_folder import _decode_images

    if color_mode == "auto":
        try:
            color_mode = _detect_color_mode(files[0])
        except Exception:  # noqa: BLE001 - TensorFlow's decode errors
            raise CommandError(f"could not read the image {files[0]!r} (not a valid image file).") from None
    with _naming_unreadable_images(files):
        return _decode_images(files, image_size, color_mode, root).astype(np.float32) / 255.0


def read_training_images(path: str, image_size: int, color_mode: str = "auto") -> np.ndarray:
    """(N, S, S, C) float32 in [0, 1]: ``train/good`` of an MVTec folder, or a flat folder of images."""
    root = _check_folder(path)
    folder = root / "train" / "good" if _is_mvtec(root) else root
    if not folder.is_dir():
        raise CommandError(f"{str(root)!r} has test/ but no train/good folder to train on.")
    files = _image_files(folder)
    if not files:
        raise CommandError(f"{str(folder)!r} holds no images (.png, .jpg, .jpeg, .bmp).")
    return _read_files(files, (image_size, image_size), color_mode, folder)


def _model_image_format(model) -> tuple[tuple[int, int], str]:
    shape = model.sample_shape
    if len(shape) != 3 or shape[-1] not in (1, 3):
        raise CommandError(f"this model takes samples of shape {shape}, not images (H, W, 1 or 3).")
    return (shape[0], shape[1]), "grayscale" if shape[-1] == 1 else "rgb"


def read_test_set(path: str, model, labelled: bool):
    """The images to score at the model's size: ``test/`` of an MVTec folder (LabelledImages) or a flat
    folder of images (then an object with ``images`` and ``files`` only). ``labelled`` demands the former."""
    from keras_oneclass.datasets import read_folder

    root = _check_folder(path)
    size, color_mode = _model_image_format(model)
    if _is_mvtec(root):
        if not (root / "test").is_dir():
            raise CommandError(f"{str(root)!r} has no test/ folder to score.")
        every_image = lambda: [p for p in sorted(root.rglob("*")) if p.is_file() and p.suffix.lower() in
                               (".png", ".jpg", ".jpeg", ".bmp")]  # noqa: E731
        with _naming_unreadable_images(every_image):
            return read_folder(root, image_size=size, color_mode=color_mode).test
    if labelled:
        raise CommandError(f"{str(root)!r} is not in the MVTec AD layout (test/good, test/<defect>): "
                           f"evaluate needs labelled test images.")
    files = _image_files(root)
    if not files:
        raise CommandError(f"{str(root)!r} holds no images (.png, .jpg, .jpeg, .bmp).")
    return argparse.Namespace(images=_read_files(files, size, color_mode, root), files=np.asarray(files))


# ----------------------------------------------------------------------------------------- metrics
def evaluate_detector(model, test, verbose="auto") -> dict:
    """Image ROC AUC, PR AUC, precision/recall/F1 at the model's threshold, pixel ROC AUC when possible."""
    from keras_oneclass import metrics

    labels = np.asarray(test.labels)
    if labels.min() == labels.max():
        raise CommandError("the test set needs both good and defective images to compute metrics.")
    scores = model.predict(test.images, verbose=verbose)
    result = {"images": int(len(labels)), "defective": int(labels.sum()),
              "image_roc_auc": metrics.roc_auc(labels, scores), "image_pr_auc": metrics.pr_auc(labels, scores)}
    if model.threshold is not None:
        result["threshold"] = model.threshold
        result.update(metrics.precision_recall_f1(labels, scores, model.threshold))
    if model.localizes and getattr(test, "has_masks", False) and test.masks.any():
        result["pixel_roc_auc"] = float(metrics.pixel_roc_auc(test.masks, model.anomaly_map(test.images)))
    return result


# ----------------------------------------------------------------------------------------- commands
def command_fit(args) -> int:
    cls = resolve_model(args.model)
    params = _parse_params(args.param)
    _require(args.image_size > 0, f"--image-size must be a positive number of pixels, got {args.image_size}.")
    _require(args.epochs is None or args.epochs > 0, f"--epochs must be at least 1, got {args.epochs}.")
    _require(args.batch_size is None or args.batch_size > 0, f"--batch-size must be at least 1, got {args.batch_size}.")
    _require(0 < args.validation_fraction < 1,
             f"--validation-fraction must be in (0, 1), got {args.validation_fraction}.")
    _require(0 < args.percentile <= 100, f"--percentile must be in (0, 100], got {args.percentile}.")
    _require(args.seed >= 0, f"--seed must be a non-negative integer, got {args.seed}.")
    out = check_output(args.out, "--out", suffix=".keras")
    epochs = args.epochs if args.epochs is not None else 1 if one_pass(cls) else 10
    images = read_training_images(args.data, args.image_size, args.color_mode)
    if len(images) < 2:
        raise CommandError(f"{args.data!r} holds {len(images)} training image; need at least 2 "
                           f"(some are held out to calibrate the threshold).")
    order = np.random.default_rng(args.seed).permutation(len(images))
    n_validation = min(max(1, int(round(args.validation_fraction * len(images)))), len(images) - 1)
    train, validation = images[np.sort(order[n_validation:])], images[np.sort(order[:n_validation])]
    try:
        model = cls(input_shape=train.shape[1:], seed=args.seed, **params)
    except TypeError as error:
        raise CommandError(f"{cls.__name__}: {error}") from None
    print(f"{cls.__name__}: training on {len(train)} images {train.shape[1:]}, "
          f"{len(validation)} held out for the threshold")
    fit_kwargs = {"epochs": epochs}
    if args.batch_size is not None:
        fit_kwargs["batch_size"] = args.batch_size
    model.fit(train, **fit_kwargs)
    threshold = model.calibrate(validation, percentile=args.percentile)
    print(f"threshold = {threshold:.6g} ({args.percentile:g}th percentile of {len(validation)} held-out images)")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        model.save(out)
    except OSError as error:
        raise CommandError(f"could not save the model to {str(out)!r} ({error.strerror or error}).") from None
    print(f"saved {out}")
    return 0


def command_score(args) -> int:
    if args.out:
        check_output(args.out)
    model = load_detector(args.model)
    with contextlib.redirect_stdout(sys.stderr):  # progress messages must not mix with the CSV
        test = read_test_set(args.data, model, labelled=False)
        scores = model.predict(test.images, verbose=0)
    threshold = model.threshold
    if threshold is None:
        print(f"{PROG}: warning: the model has no threshold (calibrate it); the flag column is empty.",
              file=sys.stderr)
    handle = open(args.out, "w", newline="") if args.out else sys.stdout
    try:
        writer = csv.writer(handle)
        writer.writerow(["file", "score", "flag"])
        for file, score in zip(test.files, scores):
            writer.writerow([file, f"{score:.8g}", "" if threshold is None else int(score > threshold)])
    finally:
        if args.out:
            handle.close()
    return 0


def format_table(result: dict) -> str:
    width = max(len(k) for k in result)
    return "\n".join(f"{key:<{width}}  {value:.4f}" if isinstance(value, float) else f"{key:<{width}}  {value}"
                     for key, value in result.items())


def command_evaluate(args) -> int:
    if args.out:
        check_output(args.out)
    model = load_detector(args.model)
    test = read_test_set(args.data, model, labelled=True)
    result = evaluate_detector(model, test, verbose=0)
    print(format_table(result))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    return 0


EXPORT_FORMATS = {".onnx": "onnx", ".tflite": "litert"}


def command_export(args) -> int:
    from keras_oneclass import export as export_lib

    format = args.format or EXPORT_FORMATS.get(Path(args.out).suffix.lower(), "tf_saved_model")
    suffix = export_lib.SUFFIXES.get(format)
    if suffix is not None:
        check_output(args.out, suffix=suffix)
    else:
        _require(not Path(args.out).suffix.lower() in EXPORT_FORMATS,
                 f"--out {args.out!r} names a file; a tf_saved_model is a folder (or use --format onnx|litert).")
        _require(not Path(args.out).is_file(), f"--out {args.out!r} is a file; a tf_saved_model is a folder.")
    model = load_detector(args.model)
    check = None
    if args.check_data:
        with contextlib.redirect_stdout(sys.stderr):
            check = read_test_set(args.check_data, model, labelled=False).images
    try:
        model.export(args.out, format=format, check_data=check)
    except ImportError as error:
        raise CommandError(str(error)) from None
    except RuntimeError as error:
        raise CommandError(" ".join(str(error).split())) from None
    return 0


def command_models(args) -> int:
    for cls in sorted(detector_classes().values(), key=lambda c: c.__name__):
        print(cls.__name__)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="One-class anomaly detection on image folders.")
    commands = parser.add_subparsers(dest="command", required=True)

    fit = commands.add_parser("fit", help="train a detector on normal images and save it (.keras)")
    fit.add_argument("--model", required=True, help="detector class name, e.g. patchcore, conv_autoencoder")
    fit.add_argument("--data", required=True, help="MVTec-layout folder (train/good is used) or a folder of images")
    fit.add_argument("--out", required=True, help="where to save the model, e.g. model.keras")
    fit.add_argument("--epochs", type=int, default=None,
                     help="training epochs (default 10; 1 for one-pass detectors: PaDiM, PatchCore)")
    fit.add_argument("--image-size", type=int, default=256, help="images are resized to S x S (default 256)")
    fit.add_argument("--color-mode", choices=("auto", "rgb", "grayscale"), default="auto")
    fit.add_argument("--batch-size", type=int, default=None, help="default: the detector's own")
    fit.add_argument("--validation-fraction", type=float, default=0.1,
                     help="training images held out to set the threshold (default 0.1)")
    fit.add_argument("--percentile", type=float, default=95.0, help="threshold percentile (default 95)")
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                     help="constructor argument of the detector (repeatable)")
    fit.set_defaults(run=command_fit)

    score = commands.add_parser("score", help="write a CSV of file, score, flag")
    score.add_argument("--model", required=True, help="a model saved by fit (.keras)")
    score.add_argument("--data", required=True, help="MVTec-layout folder (test/ is used) or a folder of images")
    score.add_argument("--out", default=None, help="CSV file (default: stdout)")
    score.set_defaults(run=command_score)

    evaluate = commands.add_parser("evaluate", help="print image (and pixel) metrics on an MVTec test set")
    evaluate.add_argument("--model", required=True, help="a model saved by fit (.keras)")
    evaluate.add_argument("--data", required=True, help="MVTec-layout folder with test/ (and ground_truth/)")
    evaluate.add_argument("--out", default=None, help="also write the metrics as JSON")
    evaluate.set_defaults(run=command_evaluate)

    export = commands.add_parser("export", help="write a SavedModel, ONNX or LiteRT artifact of a saved model")
    export.add_argument("--model", required=True, help="a model saved by fit (.keras)")
    export.add_argument("--out", required=True, help="a folder (SavedModel), m.onnx or m.tflite")
    export.add_argument("--format", choices=("tf_saved_model", "onnx", "litert"), default=None,
                        help="default: from --out (.onnx, .tflite; otherwise a SavedModel folder)")
    export.add_argument("--check-data", default=None,
                        help="images the artifact must score like the model (default: seeded random images)")
    export.set_defaults(run=command_export)

    models = commands.add_parser("models", help="list the detector names --model accepts")
    models.set_defaults(run=command_models)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 success, 1 input error, 2 usage error)."""
    args = build_parser().parse_args(argv)
    if args.command == "export" and "keras" not in sys.modules:
        os.environ["KERAS_BACKEND"] = "tensorflow"  # export traces with TensorFlow, whatever trained the model
    try:
        return args.run(args)
    except CommandError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as error:  # raised by the readers and detectors with clear messages
        if isinstance(error, OSError) and error.strerror and error.filename:
            message = f"{error.strerror}: {str(error.filename)!r}"
        else:
            message = " ".join(str(error).split()) or type(error).__name__
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
