"""ODDS tabular outlier sets (Rayana 2016, http://odds.cs.stonybrook.edu) in .mat or .npz files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from keras_oneclass.datasets.locate import find_local, missing_data_error, search_locations
from keras_oneclass.datasets import preprocessing as _preprocessing

TRAIN_ON = ("normal", "all")


def _read_table(file: Path) -> tuple[np.ndarray, np.ndarray]:
    """Reads `X` (N, D) and `y` (N,) from an ODDS .mat (MATLAB v5 or v7.3) or .npz file."""
    if file.suffix == ".npz":
        with np.load(file, allow_pickle=False) as stored:
            if "X" not in stored.files or "y" not in stored.files:
                raise ValueError(f"{file} must hold arrays 'X' and 'y'; found {stored.files}.")
            return stored["X"], stored["y"]
    if file.suffix != ".mat":
        raise ValueError(f"ODDS file {file} must end in .mat or .npz; got {file.suffix!r}.")
    import scipy.io

    try:
        stored = scipy.io.loadmat(file)
    except NotImplementedError:  # MATLAB v7.3 files are HDF5 (e.g. ODDS http, smtp)
        try:
            import h5py
        except ImportError:
            raise ValueError(f"{file} is a MATLAB v7.3 (HDF5) file; install h5py to read it.")
        with h5py.File(file, "r") as handle:
            # HDF5 stores MATLAB matrices transposed.
            stored = {key: np.asarray(handle[key]).T for key in ("X", "y") if key in handle}
    if "X" not in stored or "y" not in stored:
        raise ValueError(f"{file} must hold variables 'X' and 'y'; found {sorted(stored)}.")
    return stored["X"], stored["y"]


def _locate(name_or_path, path) -> Path:
    given = Path(os.fspath(name_or_path)).expanduser()
    if given.is_file():
        return given
    if given.suffix in (".mat", ".npz") or len(given.parts) > 1:
        raise FileNotFoundError(
            f"`name_or_path` {str(given)!r} is not a file; expected an ODDS .mat/.npz file or a "
            "dataset name such as 'pima'."
        )
    name = given.name.lower()
    candidates = [f"odds/{name}.mat", f"odds/{name}.npz", f"{name}.mat", f"{name}.npz"]
    found = find_local(candidates, path, accept=Path.is_file)
    if found is None:
        raise missing_data_error(
            f"odds/{name}", search_locations(candidates, path),
            f"odds/{name}.mat  (MATLAB: X (N, D), y (N, 1) with 1 = outlier)\n"
            f"  or odds/{name}.npz  (numpy: X, y), from http://odds.cs.stonybrook.edu",
        )
    return found


def read_odds(name_or_path: str | os.PathLike, path: str | os.PathLike | None = None):
    """Reads a whole ODDS table, rows in the file's order, checked but not split or scaled.

    Args:
        name_or_path, path: as in `load_odds`.

    Returns:
        `(x, y)`: float64 (N, D) and int32 (N,) with 1 = outlier.
    """
    file = _locate(name_or_path, path)
    x, y = _read_table(file)
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y).reshape(-1)
    if x.ndim != 2 or len(x) != len(y) or len(x) == 0:
        raise ValueError(
            f"{file}: expected X of shape (N, D) and y of shape (N,); got {x.shape} and {y.shape}."
        )
    if not np.all(np.isin(y, (0, 1))):
        raise ValueError(
            f"{file}: y must hold only 0 (inlier) and 1 (outlier); got {np.unique(y)}."
        )
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{file}: X contains NaN or inf values.")
    return x, y.astype(np.int32)


def load_odds(
    name_or_path: str | os.PathLike,
    path: str | os.PathLike | None = None,
    test_fraction: float = 0.4,
    seed: int = 42,
    standardize: bool = True,
    train_on: str = "normal",
):
    """Loads an ODDS table and splits it for one-class training.

    The rows are shuffled with `seed` and a stratified `test_fraction` is held out as the test
    set. The training set is the normal rows of the rest (`train_on="normal"`), or all of the
    rest, outliers included (`train_on="all"`, the contaminated protocol of the DASVDD
    authors' code). With `standardize`, a per-feature z-score fitted on the training rows is
    applied to train and test.

    Args:
        name_or_path: a file (`.mat` with `X`, `y`, or `.npz`), or a name such as `"pima"`,
            `"arrhythmia"`, `"thyroid"` looked up as `odds/<name>.mat|.npz` or `<name>.mat|.npz`
            in `path`, then in `$KERAS_ONECLASS_DATA` (there is no download).
        path: a data folder (or the file itself).
        test_fraction: fraction of rows held out for testing, in (0, 1).
        seed: seed of the shuffle and split.
        standardize: z-score features with statistics of the training rows.
        train_on: `"normal"` or `"all"`.

    Returns:
        `(x_train, (x_test, y_test))`: float32 (N_train, D), float32 (N_test, D) and int32
        (N_test,) with 1 = outlier.

    Example:
        >>> x_train, (x_test, y_test) = load_odds("pima", path="data")  # doctest: +SKIP
        >>> x_train.shape[1], x_test.shape[0]  # doctest: +SKIP
        (8, 308)
    """
    from sklearn.model_selection import train_test_split

    if isinstance(test_fraction, bool) or not isinstance(test_fraction, (float, int)) \
            or not 0.0 < test_fraction < 1.0:
        raise ValueError(f"`test_fraction` must be a number in (0, 1); got {test_fraction!r}.")
    if train_on not in TRAIN_ON:
        raise ValueError(f"`train_on` must be one of {TRAIN_ON}; got {train_on!r}.")
    x, y = read_odds(name_or_path, path)
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=test_fraction, random_state=seed, shuffle=True, stratify=y
    )
    x_train = x_rest[y_rest == 0] if train_on == "normal" else x_rest
    if standardize:
        mean, std = _preprocessing.fit_standardize(x_train)
        x_train = _preprocessing.standardize(x_train, mean, std)
        x_test = _preprocessing.standardize(x_test, mean, std)
    return x_train.astype(np.float32), (x_test.astype(np.float32), y_test.astype(np.int32))

