"""PatchCore: Towards Total Recall in Industrial Anomaly Detection (Roth et al., CVPR 2022).

Section 3.1: mid-level features (ResNet layer2 and layer3, or the family equivalents) are averaged
over each patch's 3x3 neighbourhood, the deeper map is resized (bilinear) to the grid of the first
and the two are concatenated into one patch feature per grid position. Section 3.2: the memory bank
is a greedy k-centre coreset of all training patch features, selected on a 128-dimensional random
projection (10% of the patches by default). Section 3.3: a test patch's score is the distance to
its nearest bank entry (exact search with faiss on the CPU, or with keras.ops on any backend and
device); the image score is the largest patch score s*,
reweighted by how isolated its nearest bank entry m* is: s = (1 - softmax(d)[0]) * s*, where d
holds the distances from the test patch to m* and to m*'s b - 1 nearest bank neighbours (b = 9,
eq. 7). The map is upsampled to the input size and blurred (sigma = 4).

Bounded memory: the coreset is selected in a stream (a composable k-centre coreset: greedy k-centre
within each chunk, then over the union of the chunk selections, as in Malkomes et al., NeurIPS 2015).
Training patches fill a buffer of ``chunk_size`` rows; when it is full and more patches come, the
greedy coreset of that chunk keeps its share of ``chunk_oversampling * coreset_ratio`` of the patches
(cumulative rounding, so the shares add up to ``round(chunk_oversampling * coreset_ratio * N)``, N
the number of training patches) and the buffer is reused. At the end the union of the selections is
reduced by the same greedy rule to ``round(coreset_ratio * N)`` rows (4 times as many rows by
default, ``chunk_oversampling=4``); with ``chunk_oversampling=1`` the union already has that size and
is the bank. Rows held during fit: at most
``chunk_size`` patches plus the selections (``chunk_oversampling`` times the final bank), so the peak
does not grow with the number of images beyond the bank's own size. When all patches fit in one
chunk the bank is exactly the one-shot coreset of all patches; ``chunk_size=None`` always keeps every
patch until the end (one shot).

Cost: the greedy selection of k centres among n points takes k passes over (at most) n projected
points. One shot it is coreset_ratio * N^2 row visits; in chunks of C rows, coreset_ratio * N * C, so
the fit time grows linearly with N. A final reduction (``chunk_oversampling > 1``) adds about
coreset_ratio^2 * chunk_oversampling * N^2, quadratic again, with a far smaller constant.

Differences from the paper: no adaptive average pooling of the channels to 1024 (the concatenated
channels are used as they are); the per-layer 3x3 aggregation is an average pool with 'same'
padding.
"""

from __future__ import annotations

import time

import keras
import numpy as np
from keras import ops

from keras_oneclass.detector import PACKAGE
from keras_oneclass.memory.coreset import coreset_indices
from keras_oneclass.memory.detector import FeatureMemoryDetector
from keras_oneclass.memory.index import INDEXES, SEARCHES, KerasNearestNeighbours, nearest_neighbours, resolve_search

BANK_DTYPES = ("float32", "float16")


@keras.saving.register_keras_serializable(package=PACKAGE)
class PatchCore(FeatureMemoryDetector):
    """Coreset memory of locally aggregated patch features, nearest-neighbour anomaly maps.

    Args:
        input_shape: (H, W, C), C in {1, 3}, pixels in [0, 1].
        backbone, layers, weights, alpha, weights_dir, preprocessing, blur_sigma: see
            ``FeatureMemoryDetector``.
        coreset_ratio: fraction of training patches kept in the bank (0.1; the paper reports 1%
            to 25%). 1.0 keeps them all (no coreset).
        projection_dim: dimension of the random projection used by the coreset selection (128).
        n_neighbours: b, the bank neighbourhood of the score reweighting (9); 1 disables it.
        index: "flat" (exact faiss IndexFlatL2), "ivf" (IndexIVFFlat for very large banks) or "ivfpq"
            (IndexIVFPQ codes of D/8 bytes per row with exact re-ranking of the candidates, for banks
            beyond a million rows; see ``memory.index.NearestNeighbours``); faiss only.
        search: nearest-neighbour search: "faiss" (CPU), "keras" (exact, ``keras.ops`` on the active
            backend's device, e.g. a GPU) or "auto" (faiss when it is installed, else keras; an
            "ivf" index then falls back to exact keras search). Saved as given, so a model saved
            with "auto" loads where faiss is missing.
        memory_size: number of bank rows; set by ``fit`` (given only when rebuilding from a config).
        seed: seed of the projection and of the first coreset centre.
        chunk_size: None (default): every training patch is held until the end and one greedy
            coreset runs over all of them, as in the paper (memory and time grow with the number of
            images). An integer streams the coreset in chunks of that many patches (rows of D
            features; 20,000 is 15 MB of float32 buffer at D = 192, 61 MB at D = 768): the fit holds
            at most this many patches plus the chunk selections (chunk_oversampling * coreset_ratio
            of the patches seen). Training sets of at most ``chunk_size`` patches give the one-shot
            coreset either way. Measured cost on the magnetic tiles (589,568 patches, 1% coreset):
            20,000-patch chunks lose 0.030 image ROC AUC at chunk_oversampling=1 and 0.003 at 4
            (benchmarks/results/scale.md).
        chunk_oversampling: rows each chunk keeps, as a multiple of its share of the bank (4.0,
            default: four times as many, then a greedy coreset of the union keeps a quarter; 1.0:
            the union of the chunk selections is the bank). The final greedy costs time quadratic
            in the number of images, with a small constant: 244 of the 337 s of a 5,000-board fit
            at 224 px (3.9 million patches, 39,200 bank rows), against 36 s for all the chunks.
        bank_dtype: "float32" or "float16": the dtype of ``memory_bank`` as held and saved in the
            ``.keras`` file (float16 halves it; relative rounding 2^-11). Distances are computed in
            float32 from the stored values.

    Fitted state: ``memory_bank`` (memory_size, D), dtype ``bank_dtype``. The search index is
    rebuilt from it when needed. After ``fit``, ``fit_rows`` holds the largest number of patches
    the chunk buffer held (``peak_buffer_rows``), the largest number of selected rows held beside
    it (``peak_selected_rows``) and the chunks reduced (``chunks``); the fit's history logs them too.
    ``selection_seconds`` holds the seconds spent in the greedy selection of the chunks
    (``chunks``) and of the final coreset (``final``).

    Example:
        >>> model = PatchCore((224, 224, 1), backbone="mobilenet", alpha=0.25)  # doctest: +SKIP
        >>> model.fit(train_ds); scores, maps = model.score_and_map(test.images)  # doctest: +SKIP
    """

    def __init__(self, input_shape, backbone="mobilenet", layers=None, weights="imagenet", alpha: float = 1.0,
                 weights_dir=None, preprocessing=None, coreset_ratio: float = 0.1, projection_dim: int = 128,
                 n_neighbours: int = 9, index: str = "flat", search: str = "auto", memory_size: int | None = None,
                 blur_sigma: float = 4.0, seed: int | None = 0, chunk_size: int | None = None,
                 bank_dtype: str = "float32", chunk_oversampling: float = 4.0, **kwargs):
        super().__init__(input_shape, backbone=backbone, layers=layers, weights=weights, alpha=alpha,
                         weights_dir=weights_dir, preprocessing=preprocessing, blur_sigma=blur_sigma,
                         seed=seed, **kwargs)
        if not 0.0 < coreset_ratio <= 1.0:
            raise ValueError(f"coreset_ratio must be in (0, 1], got {coreset_ratio}.")
        if int(n_neighbours) < 1:
            raise ValueError(f"n_neighbours must be >= 1, got {n_neighbours}.")
        if index not in INDEXES:
            raise ValueError(f"index must be one of {INDEXES}, got {index!r}.")
        if chunk_size is not None and (int(chunk_size) != chunk_size or chunk_size < 1):
            raise ValueError(f"chunk_size must be a positive integer or None, got {chunk_size!r}.")
        if not 1.0 <= chunk_oversampling < float("inf"):
            raise ValueError(f"chunk_oversampling must be >= 1, got {chunk_oversampling!r}.")
        if bank_dtype not in BANK_DTYPES:
            raise ValueError(f"bank_dtype must be one of {BANK_DTYPES}, got {bank_dtype!r}.")
        if search not in SEARCHES:
            raise ValueError(f"search must be one of {SEARCHES}, got {search!r}.")
        if search == "keras" and index != "flat":
            raise ValueError(f"index={index!r} is a faiss index; search='keras' is always exact (index='flat').")
        self.coreset_ratio = float(coreset_ratio)
        self.projection_dim = int(projection_dim)
        self.n_neighbours = int(n_neighbours)
        self.index = index
        self.search = search
        self.chunk_size = None if chunk_size is None else int(chunk_size)
        self.bank_dtype = bank_dtype
        self.chunk_oversampling = float(chunk_oversampling)
        self.fit_rows = None
        self.selection_seconds = None
        specs = self.extractor.compute_output_spec(None)
        specs = specs if isinstance(specs, (list, tuple)) else [specs]
        self.grid = tuple(int(d) for d in specs[0].shape[1:3])
        self.feature_dim = sum(int(s.shape[-1]) for s in specs)
        self.memory_bank = None
        if memory_size:
            self.memory_bank = self.add_weight(name="memory_bank", shape=(int(memory_size), self.feature_dim),
                                               dtype=bank_dtype, trainable=False, initializer="zeros")
        self._index = None  # (bank version, index, bank as numpy), rebuilt lazily
        self.build()

    @property
    def memory_size(self) -> int | None:
        return None if self.memory_bank is None else int(self.memory_bank.shape[0])

    # ----------------------------------------------------------------------------- features
    def embed(self, images):
        features = [ops.average_pool(f, pool_size=3, strides=1, padding="same") for f in self.extractor(images)]
        grid = self.grid
        resized = [f if tuple(f.shape[1:3]) == grid else ops.image.resize(f, grid, interpolation="bilinear")
                   for f in features]
        return ops.concatenate(resized, axis=-1)

    # ----------------------------------------------------------------------------- fitting
    def _streaming(self) -> bool:
        return self.chunk_size is not None and self.coreset_ratio < 1.0

    def start_fit(self):
        self._patches = []         # one-shot: every batch; streaming: the rows of the current chunk
        self._buffered = 0         # rows in self._patches
        self._selected = []        # rows kept from the chunks reduced so far
        self._seen = 0             # patches accumulated
        self._reduced = 0          # patches in the chunks reduced so far
        self.fit_rows = {"peak_buffer_rows": 0, "peak_selected_rows": 0, "chunks": 0}
        self.selection_seconds = {"chunks": 0.0, "final": 0.0}

    def accumulate(self, embeddings):
        rows = np.asarray(embeddings, dtype=np.float32).reshape(-1, self.feature_dim)
        self._seen += len(rows)
        if not self._streaming():
            self._patches.append(rows)
            self._buffered += len(rows)
            self._note_rows()
            return
        while len(rows):
            if self._buffered == self.chunk_size:  # full, and more rows come: reduce it first
                self._reduce_chunk()
            take = min(self.chunk_size - self._buffered, len(rows))
            self._patches.append(rows[:take].copy() if take < len(rows) else rows)
            self._buffered += take
            rows = rows[take:]
            self._note_rows()

    def _note_rows(self):
        stats = self.fit_rows
        stats["peak_buffer_rows"] = max(stats["peak_buffer_rows"], self._buffered)
        stats["peak_selected_rows"] = max(stats["peak_selected_rows"], sum(len(s) for s in self._selected))

    def _reduce_chunk(self):
        """Replace the buffered chunk by its greedy coreset: its share of chunk_oversampling * coreset_ratio."""
        chunk = np.concatenate(self._patches) if len(self._patches) > 1 else self._patches[0]
        self._patches, self._buffered = [], 0
        share = self.chunk_oversampling * self.coreset_ratio
        keep = int(round(share * (self._reduced + len(chunk)))) - int(round(share * self._reduced))
        keep = min(len(chunk), max(keep, 0 if self._selected else 1))
        self._reduced += len(chunk)
        if keep == 0:
            self.fit_rows["chunks"] += 1
            return
        if keep < len(chunk):
            start = time.perf_counter()
            chosen = coreset_indices(chunk, n_centres=keep, projection_dim=self.projection_dim, seed=self.seed_for(1))
            self.selection_seconds["chunks"] += time.perf_counter() - start
            chunk = chunk[np.sort(chosen)]
        self._selected.append(np.ascontiguousarray(chunk))
        self.fit_rows["chunks"] += 1
        self._note_rows()

    def finish_fit(self):
        seen = self._seen
        if not self._selected:  # one chunk (or one shot): the coreset of all patches
            patches = np.concatenate(self._patches)
            self._patches = []
            if self.coreset_ratio < 1.0:
                start = time.perf_counter()
                keep = coreset_indices(patches, ratio=self.coreset_ratio, projection_dim=self.projection_dim,
                                       seed=self.seed_for(1))
                self.selection_seconds["final"] += time.perf_counter() - start
                bank = patches[np.sort(keep)]
            else:
                bank = patches
        else:  # streaming: reduce the last chunk, then a coreset of the union of the selections
            if self._buffered:
                self._reduce_chunk()
            union = np.concatenate(self._selected)
            self._selected, self._patches = [], []
            target = min(len(union), max(1, int(round(self.coreset_ratio * seen))))
            if target < len(union):
                start = time.perf_counter()
                keep = coreset_indices(union, n_centres=target, projection_dim=self.projection_dim,
                                       seed=self.seed_for(1))
                self.selection_seconds["final"] += time.perf_counter() - start
                bank = union[np.sort(keep)]
            else:
                bank = union
        bank = np.ascontiguousarray(bank, dtype=self.bank_dtype)
        if not np.isfinite(bank).all():
            raise ValueError(f"The memory bank does not fit in {self.bank_dtype} (features beyond its range).")
        self.replace_weight("memory_bank", bank, "memory_bank", dtype=self.bank_dtype)
        self._index = None
        return {"patches": float(seen), "memory_size": float(len(bank)),
                **{key: float(value) for key, value in self.fit_rows.items()}}

    # ----------------------------------------------------------------------------- scoring
    def _bank_version(self) -> tuple:
        """A cheap fingerprint of the memory bank (shape and two sums), to notice a new bank."""
        bank = self.memory_bank.value
        bank = ops.cast(bank, "float32")
        sums = ops.convert_to_numpy(ops.stack([ops.sum(bank[:, 0]), ops.sum(bank[-1])]))
        return tuple(bank.shape), float(sums[0]), float(sums[1])

    def _current_index(self) -> tuple:
        """(index, bank as numpy) over the current memory bank, rebuilt after fit or load."""
        version = self._bank_version()
        if self._index is None or self._index[0] != version:
            bank = np.asarray(ops.convert_to_numpy(self.memory_bank.value), dtype=np.float32)
            search = resolve_search(self.search)
            source = bank if search == "faiss" else self.memory_bank.value  # keras: stays on device
            self._index = (version, nearest_neighbours(source, search=search, index=self.index), bank)
        return self._index[1], self._index[2]

    def neighbours(self):
        """The nearest-neighbour index over the current memory bank (``NearestNeighbours`` with faiss,
        ``KerasNearestNeighbours`` with keras), rebuilt after fit or load."""
        return self._current_index()[0]

    def patch_scores(self, embeddings):
        distances, _ = self.neighbours().search(embeddings.reshape(-1, self.feature_dim), k=1)
        return distances.reshape(len(embeddings), *self.grid)

    def image_scores(self, patch_scores, maps, embeddings):
        """Largest patch distance s*, reweighted by the isolation of its nearest bank entry (eq. 7)."""
        flat = patch_scores.reshape(len(patch_scores), -1)
        worst = flat.argmax(axis=1)
        s_star = flat[np.arange(len(flat)), worst].astype(np.float64)
        b = min(self.n_neighbours, self.memory_size)
        if b < 2:
            return s_star.astype(np.float32)
        search, bank = self._current_index()
        queries = embeddings.reshape(len(embeddings), -1, self.feature_dim)[np.arange(len(flat)), worst]
        _, nearest = search.search(queries, k=1)
        _, support = search.search(bank[nearest[:, 0]], k=b)
        support[:, 0] = nearest[:, 0]  # m* itself first, whatever the order of ties
        distances = np.linalg.norm(bank[support].astype(np.float64) - queries[:, None, :], axis=-1)
        distances -= distances.max(axis=1, keepdims=True)  # stable softmax
        weights = np.exp(distances)
        weight = 1.0 - weights[:, 0] / weights.sum(axis=1)
        return (weight * s_star).astype(np.float32)

    # ----------------------------------------------------------------------------- export
    def export_blocker(self) -> str | None:
        if self.index != "flat":
            return (f"PatchCore(index={self.index!r}) scores with an approximate search that an exported graph does "
                    "not reproduce; the export would score differently. Export a copy with the exact search: "
                    "PatchCore.from_config({**model.get_config(), 'index': 'flat'}) with the same weights.")
        return None

    def support_table(self) -> np.ndarray:
        """(M, b) int32: for each bank row m, m and its b - 1 nearest bank rows, as the reweighting reads them."""
        search, bank = self._current_index()
        b = min(self.n_neighbours, self.memory_size)
        _, support = search.search(bank, k=b)
        support[:, 0] = np.arange(len(bank))
        return support.astype(np.int32)

    def prepare_serving(self):
        """Compute the reweighting's bank neighbourhoods once (numpy), before the graph is traced."""
        self._serving_support = self.support_table()

    def _graph_searcher(self) -> KerasNearestNeighbours:
        """Exact search over the bank in the traced graph (its squared norms computed once per trace)."""
        return KerasNearestNeighbours(ops.cast(self.memory_bank.value, "float32"))

    def graph_patch_scores(self, embeddings):
        """Exact nearest-bank distances of every patch, one image at a time (temporaries of P x M floats)."""
        per_image = ops.reshape(embeddings, (-1, self.grid[0] * self.grid[1], self.feature_dim))
        searcher = self._graph_searcher()
        distances = ops.map(lambda patches: searcher.search_tensor(patches, 1)[0][:, 0], per_image)
        return ops.reshape(distances, (-1, *self.grid))

    def graph_image_scores(self, patch_scores, maps, embeddings):
        flat = ops.reshape(patch_scores, (ops.shape(patch_scores)[0], -1))
        top, worst = ops.top_k(flat, k=1)  # not ops.argmax: its TensorFlow form has no ONNX or LiteRT kernel
        s_star, worst = top[:, 0], worst[:, 0]
        b = min(self.n_neighbours, self.memory_size)
        if b < 2:
            return s_star
        patches = ops.reshape(embeddings, (ops.shape(flat)[0], -1, self.feature_dim))
        queries = ops.take_along_axis(patches, worst[:, None, None], axis=1)[:, 0]          # (B, D)
        searcher = self._graph_searcher()
        nearest = searcher.search_tensor(queries, 1)[1][:, 0]                                 # (B,)
        table = getattr(self, "_serving_support", None)
        table = self.support_table() if table is None else table
        support = ops.take(ops.convert_to_tensor(table), nearest, axis=0)                     # (B, b)
        neighbourhood = ops.take(searcher.bank, support, axis=0)                             # (B, b, D)
        distances = ops.sqrt(ops.sum(ops.square(neighbourhood - queries[:, None, :]), axis=-1))
        weights = ops.softmax(distances, axis=1)
        return (1.0 - weights[:, 0]) * s_star
