"""Nearest-neighbour search over a memory bank: faiss on the CPU (exact flat L2, IVF for large banks,
or IVF-PQ with exact re-ranking for banks beyond a million rows), or exact search in ``keras.ops`` on
the active backend's device (any backend, GPU included).

The bank itself is a Keras variable saved with the model, and the index is rebuilt from it
(``nearest_neighbours(bank, search)``) whenever the bank changes or the model is loaded. faiss is
imported on first use only, so the package imports without it.
"""

from __future__ import annotations

import importlib.util

import numpy as np
from keras import ops

SEARCHES = ("auto", "faiss", "keras")
INDEXES = ("flat", "ivf", "ivfpq")  # faiss index kinds; the keras search is always exact


def resolve_search(search: str) -> str:
    """"faiss" or "keras": ``"auto"`` is faiss when it is installed, else keras."""
    if search not in SEARCHES:
        raise ValueError(f"search must be one of {SEARCHES}, got {search!r}.")
    if search == "auto":
        return "faiss" if importlib.util.find_spec("faiss") is not None else "keras"
    return search


def nearest_neighbours(bank, search: str = "auto", index: str = "flat"):
    """A k-NN index over ``bank`` (M, D): ``NearestNeighbours`` (faiss) or ``KerasNearestNeighbours``.

    ``index`` ("flat", "ivf" or "ivfpq") chooses the faiss index; the keras search is always exact.
    """
    if resolve_search(search) == "faiss":
        return NearestNeighbours(bank, index=index)
    if index not in INDEXES:
        raise ValueError(f"index must be one of {INDEXES}, got {index!r}.")
    return KerasNearestNeighbours(bank)


def _faiss():
    try:
        import faiss  # noqa: PLC0415 (optional heavy dependency, imported on first use)
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("PatchCore needs faiss for nearest-neighbour search: pip install faiss-cpu") from error
    return faiss


def checked_queries(queries, dim: int, size: int, k: int) -> np.ndarray:
    """``queries`` as a contiguous (Q, dim) float32 array, or a ValueError; ``k`` must be in [1, size]."""
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    if queries.ndim != 2 or queries.shape[1] != dim:
        raise ValueError(f"queries must be (Q, {dim}), got shape {queries.shape}.")
    if not 1 <= k <= size:
        raise ValueError(f"k must be in [1, {size}], got {k}.")
    return queries


class NearestNeighbours:
    """k-nearest-neighbour search in L2 over a fixed bank of vectors, with faiss on the CPU.

    Args:
        bank: (M, D) memory bank.
        index: "flat" (exact, IndexFlatL2), "ivf" (IndexIVFFlat: approximate, for banks of
            millions of vectors; trained on the bank itself) or "ivfpq" (IndexIVFPQ: each row
            coded in ``D / 8`` bytes (product quantiser, 8 dimensions per 8-bit code), the
            ``refine * k`` best candidates by code re-ranked by exact float32 distance
            (IndexRefineFlat), so returned distances are exact for the ids found; trained on the
            bank (a fixed sample of max(20,000, 64 * n_lists) rows, 10 k-means iterations); banks
            under 1,000 rows use the exact flat index).
        n_lists: IVF cells; default about 4 * sqrt(M) ("ivf") or sqrt(M) ("ivfpq"), at most M / 39.
        n_probe: IVF cells visited per query (accuracy/speed trade-off).
        refine: "ivfpq" only: candidates re-ranked per requested neighbour.

    Example:
        >>> bank = np.random.default_rng(0).normal(size=(100, 8)).astype("float32")
        >>> distances, ids = NearestNeighbours(bank).search(bank[:3], k=1)
        >>> ids.ravel().tolist()
        [0, 1, 2]
    """

    def __init__(self, bank: np.ndarray, index: str = "flat", n_lists: int | None = None, n_probe: int = 8,
                 refine: int = 8):
        faiss = _faiss()
        bank = np.ascontiguousarray(bank, dtype=np.float32)
        if bank.ndim != 2 or bank.shape[0] == 0:
            raise ValueError(f"bank must be a non-empty (M, D) array, got shape {bank.shape}.")
        if index not in INDEXES:
            raise ValueError(f"index must be one of {INDEXES}, got {index!r}.")
        self.size, self.dim = bank.shape
        self.kind = index
        if index == "flat" or (index == "ivfpq" and self.size < _MIN_PQ_ROWS):
            self.index = faiss.IndexFlatL2(self.dim)
        elif index == "ivfpq":
            n_lists = int(n_lists or max(1, min(self.size // 39, int(np.sqrt(self.size)))))
            n_codes = _pq_subquantisers(self.dim)
            bits = int(min(8, np.log2(max(2, self.size // 39))))  # >= 39 training rows per centroid
            quantizer = faiss.IndexFlatL2(self.dim)
            base = faiss.IndexIVFPQ(quantizer, self.dim, n_lists, n_codes, bits)
            base.cp.niter = base.pq.cp.niter = _PQ_TRAIN_ITERATIONS
            rows = min(self.size, max(_PQ_TRAIN_ROWS, 64 * n_lists))  # a fixed random sample trains both
            sample = np.random.default_rng(0).choice(self.size, size=rows, replace=False) if rows < self.size else None
            base.train(bank if sample is None else bank[np.sort(sample)])
            base.nprobe = int(min(n_probe, n_lists))
            self.index = faiss.IndexRefineFlat(base)
            self.index.k_factor = float(max(1, refine))
            self._quantizer, self._base = quantizer, base  # keep them alive as long as the index
        else:
            n_lists = int(n_lists or max(1, min(self.size // 39, int(4 * np.sqrt(self.size)))))
            quantizer = faiss.IndexFlatL2(self.dim)
            self.index = faiss.IndexIVFFlat(quantizer, self.dim, n_lists, faiss.METRIC_L2)
            self.index.train(bank)
            self.index.nprobe = int(min(n_probe, n_lists))
            self._quantizer = quantizer  # keep it alive as long as the index
        self.index.add(bank)
        self.bank = bank if self.kind == "flat" else None

    def search(self, queries: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Euclidean distances and ids of the ``k`` nearest bank vectors of each query.

        With the flat index the distances of the ids found are recomputed from the differences
        ``q - b`` in float32: faiss computes ``||q||^2 - 2 q.b + ||b||^2`` for batches of queries,
        which loses about 1e-5 of the distance to cancellation between the norms (and so could
        reorder near-ties that exact arithmetic, e.g. an exported graph, orders otherwise).

        Args:
            queries: (Q, D).
            k: neighbours per query, 1 <= k <= bank size.
        Returns:
            (distances (Q, k) float32, not squared; ids (Q, k) int64), nearest first.
        """
        queries = checked_queries(queries, self.dim, self.size, k)
        squared, ids = self.index.search(queries, int(k))
        if self.bank is not None:
            differences = self.bank[ids] - queries[:, None, :]
            squared = np.einsum("qkd,qkd->qk", differences, differences)
            order = np.argsort(squared, axis=1, kind="stable")
            squared, ids = np.take_along_axis(squared, order, axis=1), np.take_along_axis(ids, order, axis=1)
        return np.sqrt(np.maximum(squared, 0.0)), ids


_MIN_PQ_ROWS = 1000  # below this an IVF-PQ index has too little to train on; exact search is cheap anyway
_PQ_TRAIN_ROWS = 20_000  # IVF-PQ training sample: at least this, and 64 rows per cell
_PQ_TRAIN_ITERATIONS = 10  # k-means iterations of the cells and of the codebooks


def _pq_subquantisers(dim: int) -> int:
    """Sub-quantisers of an IVF-PQ code for ``dim`` dimensions: the divisor of ``dim`` closest to dim / 8.

    Eight dimensions per 8-bit code: faiss trains 4-dimensional codebooks far more slowly (32 s against
    1.4 s for 20,000 rows of 192 dimensions on our CPU)."""
    divisors = [m for m in range(1, dim + 1) if dim % m == 0]
    return min(divisors, key=lambda m: (abs(m - dim / 8), m))


class KerasNearestNeighbours:
    """Exact k-nearest-neighbour search in L2 with ``keras.ops``, on any backend and device.

    Squared distances come from chunked matrix products ``||q||^2 - 2 q.b + ||b||^2`` and
    ``ops.top_k`` over their negation picks ``k + rerank`` candidates per query; the candidates'
    distances are then recomputed from the differences ``q - b`` and the best ``k`` kept. The
    re-ranking makes distances exact to float32 (no cancellation between large norms) and keeps the
    order right where matrix products run at reduced precision (TF32 on recent GPUs).

    Args:
        bank: (M, D) memory bank (array or backend tensor).
        chunk_elements: bound on the float32 elements of one chunk's temporaries (distance matrix
            (C, M) and re-ranked candidates (C, k + rerank, D)); sets the queries per chunk C.
        rerank: extra candidates re-ranked by exact distance.

    Example:
        >>> bank = np.random.default_rng(0).normal(size=(100, 8)).astype("float32")
        >>> distances, ids = KerasNearestNeighbours(bank).search(bank[:3], k=1)
        >>> ids.ravel().tolist()
        [0, 1, 2]
    """

    kind = "keras"

    def __init__(self, bank, chunk_elements: int = 2**24, rerank: int = 8):
        shape = tuple(bank.shape)
        if len(shape) != 2 or shape[0] == 0:
            raise ValueError(f"bank must be a non-empty (M, D) array, got shape {shape}.")
        self.size, self.dim = int(shape[0]), int(shape[1])
        self.bank = ops.cast(ops.convert_to_tensor(bank), "float32")
        self.bank_squared = ops.sum(ops.square(self.bank), axis=1)
        self.chunk_elements = int(chunk_elements)
        self.rerank = int(rerank)

    def search(self, queries: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """As ``NearestNeighbours.search``: (distances (Q, k), ids (Q, k)) of the ``k`` nearest, nearest first."""
        queries = checked_queries(queries, self.dim, self.size, k)
        candidates = min(self.size, int(k) + self.rerank)
        chunk = max(1, self.chunk_elements // max(self.size, candidates * self.dim))
        distances, ids = [], []
        for start in range(0, len(queries), chunk):
            d, i = self._search_chunk(ops.convert_to_tensor(queries[start:start + chunk]), int(k), candidates)
            distances.append(ops.convert_to_numpy(d))
            ids.append(ops.convert_to_numpy(i))
        if not distances:
            return np.zeros((0, k), np.float32), np.zeros((0, k), np.int64)
        return np.concatenate(distances).astype(np.float32), np.concatenate(ids).astype(np.int64)

    def search_tensor(self, queries, k: int = 1):
        """(Q, D) queries tensor -> (distances (Q, k), ids (Q, k)) tensors in one chunk, traceable
        (the exported PatchCore's look-up)."""
        return self._search_chunk(queries, int(k), min(self.size, int(k) + self.rerank))

    def _search_chunk(self, queries, k: int, candidates: int):
        """(C, D) queries -> distances (C, k) and ids (C, k) tensors, nearest first."""
        squared = (ops.sum(ops.square(queries), axis=1, keepdims=True)
                   - 2.0 * ops.matmul(queries, ops.transpose(self.bank)) + self.bank_squared[None, :])
        _, ids = ops.top_k(-squared, k=candidates)                                   # (C, c)
        differences = ops.take(self.bank, ids, axis=0) - queries[:, None, :]         # (C, c, D)
        exact = ops.sum(ops.square(differences), axis=-1)                            # (C, c)
        negated, order = ops.top_k(-exact, k=k)
        return ops.sqrt(ops.maximum(-negated, 0.0)), ops.take_along_axis(ids, order, axis=1)
