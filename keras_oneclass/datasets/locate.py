"""Finding local copies of datasets: an explicit path, then `$KERAS_ONECLASS_DATA`.

Every loader looks in the same order (docs/design.md, "Data"): the `path=` argument, the
folder(s) named by the environment variable `KERAS_ONECLASS_DATA` (several may be joined with
`os.pathsep`), then its own download, and fails with `missing_data_error` when all of them fail.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable, Sequence

DATA_ENV_VAR = "KERAS_ONECLASS_DATA"


def _env_dirs() -> list[Path]:
    value = os.environ.get(DATA_ENV_VAR, "")
    return [Path(part).expanduser() for part in value.split(os.pathsep) if part.strip()]


def search_locations(
    relative_candidates: Sequence[str], path: str | os.PathLike | None = None
) -> list[Path]:
    """Every place `find_local` tries, in order (used in error messages).

    Args:
        relative_candidates: file or folder names relative to a data folder, e.g.
            `["mnist/mnist.npz", "mnist.npz"]`; `"."` stands for the data folder itself.
        path: explicit file or folder given by the user, or None.

    Returns:
        list of candidate Paths, explicit path first, then each `$KERAS_ONECLASS_DATA` folder.
    """
    if isinstance(relative_candidates, (str, os.PathLike)):
        relative_candidates = [relative_candidates]
    places: list[Path] = []
    roots: list[Path] = []
    if path is not None:
        explicit = Path(path).expanduser()
        if explicit.is_dir():
            roots.append(explicit)
        else:
            places.append(explicit)
    roots.extend(_env_dirs())
    for root in roots:
        places.extend(root / candidate for candidate in relative_candidates)
    return places


def find_local(
    relative_candidates: Sequence[str],
    path: str | os.PathLike | None = None,
    accept: Callable[[Path], bool] | None = None,
) -> Path | None:
    """Returns the first existing local copy of a dataset, or None.

    Looks at (a) `path`: a file is returned as is, a folder is searched for each candidate;
    (b) each folder named by `$KERAS_ONECLASS_DATA`, searched for each candidate.

    Args:
        relative_candidates: names relative to a data folder, tried in order; `"."` is the
            folder itself.
        path: explicit file or folder, or None.
        accept: optional test a found path must also pass (e.g. "is a folder with train/ and
            test/"); by default existing is enough.

    Returns:
        the first matching `Path`, or None when nothing was found.

    Example:
        >>> find_local(["mnist/mnist.npz", "mnist.npz"], path="data")  # doctest: +SKIP
        PosixPath('data/mnist/mnist.npz')
    """
    for candidate in search_locations(relative_candidates, path):
        if candidate.exists() and (accept is None or accept(candidate)):
            return candidate
    return None


def missing_data_error(
    name: str,
    looked_in: Iterable[str | os.PathLike],
    expected: str,
    download_error: BaseException | str | None = None,
) -> FileNotFoundError:
    """Builds the FileNotFoundError raised when a dataset is neither local nor downloadable.

    Args:
        name: dataset name, e.g. `"cifar10"`.
        looked_in: every place that was tried (see `search_locations`).
        expected: the file/folder layout to put in a data folder, e.g. `"mnist/mnist.npz"`.
        download_error: the exception (or text) of the failed download; None when the dataset
            has no download.

    Returns:
        the error, ready to `raise`.
    """
    places = [str(place) for place in looked_in]
    listing = "\n".join(f"  - {place}" for place in places) or "  (nowhere: no path given)"
    env_value = os.environ.get(DATA_ENV_VAR)
    env_note = (
        f"${DATA_ENV_VAR} is set to {env_value!r}."
        if env_value
        else f"${DATA_ENV_VAR} is not set."
    )
    if download_error is None:
        download = "There is no download for this dataset: the file must be provided locally."
    else:
        text = download_error if isinstance(download_error, str) else (
            f"{type(download_error).__name__}: {download_error}"
        )
        download = f"The download fallback failed too: {text}"
    message = (
        f"Could not find the {name!r} dataset. Looked in:\n{listing}\n"
        f"{env_note}\n"
        f"Put the data in a folder laid out as:\n  {expected}\n"
        f"and pass that folder as `path=` or set the environment variable {DATA_ENV_VAR} to it.\n"
        f"{download}"
    )
    return FileNotFoundError(message)
