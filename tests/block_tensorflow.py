"""Make TensorFlow look uninstalled in this process: the path finder no longer finds it.

``import tensorflow`` then raises ModuleNotFoundError, ``importlib.util.find_spec`` returns None and
``sys.modules`` holds no entry, exactly as where it is not installed. Import this module before
anything imports TensorFlow (``tests/conftest.py`` does when ``KERAS_ONECLASS_BLOCK_TENSORFLOW=1``).
"""

from __future__ import annotations

import importlib.machinery
import sys

BLOCKED = ("tensorflow", "tensorflow_datasets", "tensorboard")
_find_spec = importlib.machinery.PathFinder.find_spec.__func__


def _find_spec_without_tensorflow(cls, fullname, path=None, target=None):
    if fullname.partition(".")[0] in BLOCKED:
        return None
    return _find_spec(cls, fullname, path, target)


if any(sys.modules.get(name) is not None for name in BLOCKED):
    raise RuntimeError("block_tensorflow must be imported before TensorFlow is")
importlib.machinery.PathFinder.find_spec = classmethod(_find_spec_without_tensorflow)
importlib.invalidate_caches()
