"""Loading a saved detector with errors that say what is wrong with the file.

``keras.models.load_model`` reports a zero-byte or truncated ``.keras`` file as "File not found" even
though it exists, and loads any Keras model. ``load_detector`` checks, in order, that the file exists,
that it is an intact ``.keras`` archive (a zip holding Keras' ``config.json`` and weights), that it
loads, and that it holds a ``keras_oneclass`` detector::

    model.save("model.keras")
    model = keras_oneclass.load_detector("model.keras")
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from pathlib import Path

CONFIG_FILE = "config.json"
WEIGHTS_PREFIX = "model.weights"  # model.weights.h5 (or .npz)


class _Damaged(Exception):
    pass


def _check_names(names, where: str) -> None:
    if CONFIG_FILE not in names:
        raise _Damaged(f"{CONFIG_FILE} is missing from {where}")
    if not any(name.startswith(WEIGHTS_PREFIX) for name in names):
        raise _Damaged(f"the weights ({WEIGHTS_PREFIX}.h5) are missing from {where}")


def _check_config(text: bytes | str) -> None:
    try:
        config = json.loads(text)
    except ValueError as error:
        raise _Damaged(f"{CONFIG_FILE} is not valid JSON ({error})") from None
    if not isinstance(config, dict) or "class_name" not in config:
        raise _Damaged(f"{CONFIG_FILE} does not describe a Keras model")


def _check_archive(file: Path) -> None:
    """Raise _Damaged naming what is wrong with a ``.keras`` zip (or an unzipped ``.keras`` folder)."""
    if file.is_dir():
        _check_names(os.listdir(file), "the folder")
        _check_config((file / CONFIG_FILE).read_bytes())
        return
    size = file.stat().st_size
    if size == 0:
        raise _Damaged("the file is empty (0 bytes)")
    if not zipfile.is_zipfile(file):
        raise _Damaged(f"not a .keras zip archive ({size} bytes; truncated, or not a saved Keras model)")
    try:
        with zipfile.ZipFile(file) as archive:
            _check_names(archive.namelist(), "the archive")
            bad = archive.testzip()  # reads every member and checks its CRC
            if bad is not None:
                raise _Damaged(f"{bad} inside the archive is corrupt")
            _check_config(archive.read(CONFIG_FILE))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError) as error:
        raise _Damaged(f"the zip archive cannot be read ({error})") from None


def load_detector(path, custom_objects=None, compile: bool = True, safe_mode: bool = True):
    """Load a detector saved with ``model.save("model.keras")``, checking the file first.

    Args:
        path: a ``.keras`` file (or a folder saved with ``zipped=False``).
        custom_objects, compile, safe_mode: as for ``keras.models.load_model``.
    Returns:
        the ``keras_oneclass.Detector``, with its fitted state and threshold.
    Raises:
        FileNotFoundError: nothing at ``path``.
        ValueError: the file is damaged (empty, truncated, not a zip, config.json or weights missing),
            does not load, or holds a Keras model that is not a keras_oneclass detector.
    """
    import keras

    from keras_oneclass.detector import Detector

    file = Path(path).expanduser()
    if not file.exists():
        raise FileNotFoundError(f"model file {str(path)!r} does not exist.")
    if str(file).lower().endswith((".h5", ".hdf5")):
        raise ValueError(f"{str(path)!r} is a legacy HDF5 file; keras_oneclass detectors are saved and loaded "
                         f"as .keras files (model.save('model.keras')).")
    try:
        _check_archive(file)
    except _Damaged as error:
        raise ValueError(f"{str(path)!r} is damaged: {error}.") from None
    except OSError as error:
        raise ValueError(f"{str(path)!r} cannot be read: {error.strerror or error}.") from None
    try:
        model = keras.models.load_model(file, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)
    except Exception as error:  # noqa: BLE001 - any failure to rebuild the model from an intact archive
        lines = str(error).strip().splitlines()
        raise ValueError(f"{str(path)!r} could not be loaded as a Keras model: "
                         f"{lines[0] if lines else type(error).__name__}") from None
    if not isinstance(model, Detector):
        raise ValueError(f"{str(path)!r} holds a {type(model).__name__}, not a keras_oneclass detector.")
    return model
