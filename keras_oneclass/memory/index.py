"""Nearest-neighbour search over a memory bank with faiss (exact flat L2, or IVF for large banks).

faiss is the one place where the feature-memory detectors leave TensorFlow: the bank itself is a
Keras variable saved with the model, and the index is rebuilt from it (``NearestNeighbours(bank)``)
whenever the bank changes or the model is loaded.
"""

from __future__ import annotations

import numpy as np


def _faiss():
    try:
        import faiss  # noqa: PLC0415 (optional heavy dependency, imported on first use)
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("PatchCore needs faiss for nearest-neighbour search: pip install faiss-cpu") from error
    return faiss


class NearestNeighbours:
    """k-nearest-neighbour search in L2 over a fixed bank of vectors.

    Args:
        bank: (M, D) memory bank.
        index: "flat" (exact, IndexFlatL2) or "ivf" (IndexIVFFlat: approximate, for banks of
            millions of vectors; trained on the bank itself).
        n_lists: IVF cells; default about 4 * sqrt(M).
        n_probe: IVF cells visited per query (accuracy/speed trade-off).

    Example:
        >>> bank = np.random.default_rng(0).normal(size=(100, 8)).astype("float32")
        >>> distances, ids = NearestNeighbours(bank).search(bank[:3], k=1)
        >>> ids.ravel().tolist()
        [0, 1, 2]
    """

    def __init__(self, bank: np.ndarray, index: str = "flat", n_lists: int | None = None, n_probe: int = 8):
        faiss = _faiss()
        bank = np.ascontiguousarray(bank, dtype=np.float32)
        if bank.ndim != 2 or bank.shape[0] == 0:
            raise ValueError(f"bank must be a non-empty (M, D) array, got shape {bank.shape}.")
        if index not in ("flat", "ivf"):
            raise ValueError(f"index must be 'flat' or 'ivf', got {index!r}.")
        self.size, self.dim = bank.shape
        self.kind = index
        if index == "flat":
            self.index = faiss.IndexFlatL2(self.dim)
        else:
            n_lists = int(n_lists or max(1, min(self.size // 39, int(4 * np.sqrt(self.size)))))
            quantizer = faiss.IndexFlatL2(self.dim)
            self.index = faiss.IndexIVFFlat(quantizer, self.dim, n_lists, faiss.METRIC_L2)
            self.index.train(bank)
            self.index.nprobe = int(min(n_probe, n_lists))
            self._quantizer = quantizer  # keep it alive as long as the index
        self.index.add(bank)

    def search(self, queries: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Euclidean distances and ids of the ``k`` nearest bank vectors of each query.

        Args:
            queries: (Q, D).
            k: neighbours per query, 1 <= k <= bank size.
        Returns:
            (distances (Q, k) float32, not squared; ids (Q, k) int64), nearest first.
        """
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if queries.ndim != 2 or queries.shape[1] != self.dim:
            raise ValueError(f"queries must be (Q, {self.dim}), got shape {queries.shape}.")
        if not 1 <= k <= self.size:
            raise ValueError(f"k must be in [1, {self.size}], got {k}.")
        squared, ids = self.index.search(queries, int(k))
        return np.sqrt(np.maximum(squared, 0.0)), ids
