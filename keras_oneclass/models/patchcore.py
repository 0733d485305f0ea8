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

Differences from the paper: no adaptive average pooling of the channels to 1024 (the concatenated
channels are used as they are); the per-layer 3x3 aggregation is an average pool with 'same'
padding.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from keras_oneclass.detector import PACKAGE
from keras_oneclass.memory.coreset import coreset_indices
from keras_oneclass.memory.detector import FeatureMemoryDetector
from keras_oneclass.memory.index import SEARCHES, nearest_neighbours, resolve_search


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
        index: "flat" (exact faiss IndexFlatL2) or "ivf" (IndexIVFFlat for very large banks); faiss only.
        search: nearest-neighbour search: "faiss" (CPU), "keras" (exact, ``keras.ops`` on the active
            backend's device, e.g. a GPU) or "auto" (faiss when it is installed, else keras; an
            "ivf" index then falls back to exact keras search). Saved as given, so a model saved
            with "auto" loads where faiss is missing.
        memory_size: number of bank rows; set by ``fit`` (given only when rebuilding from a config).
        seed: seed of the projection and of the first coreset centre.

    Fitted state: ``memory_bank`` (memory_size, D). The search index is rebuilt from it when needed.

    Example:
        >>> model = PatchCore((224, 224, 1), backbone="mobilenet", alpha=0.25)  # doctest: +SKIP
        >>> model.fit(train_ds); scores, maps = model.score_and_map(test.images)  # doctest: +SKIP
    """

    def __init__(self, input_shape, backbone="mobilenet", layers=None, weights="imagenet", alpha: float = 1.0,
                 weights_dir=None, preprocessing=None, coreset_ratio: float = 0.1, projection_dim: int = 128,
                 n_neighbours: int = 9, index: str = "flat", search: str = "auto", memory_size: int | None = None,
                 blur_sigma: float = 4.0, seed: int | None = 0, **kwargs):
        super().__init__(input_shape, backbone=backbone, layers=layers, weights=weights, alpha=alpha,
                         weights_dir=weights_dir, preprocessing=preprocessing, blur_sigma=blur_sigma,
                         seed=seed, **kwargs)
        if not 0.0 < coreset_ratio <= 1.0:
            raise ValueError(f"coreset_ratio must be in (0, 1], got {coreset_ratio}.")
        if int(n_neighbours) < 1:
            raise ValueError(f"n_neighbours must be >= 1, got {n_neighbours}.")
        if index not in ("flat", "ivf"):
            raise ValueError(f"index must be 'flat' or 'ivf', got {index!r}.")
        if search not in SEARCHES:
            raise ValueError(f"search must be one of {SEARCHES}, got {search!r}.")
        if search == "keras" and index != "flat":
            raise ValueError(f"index={index!r} is a faiss index; search='keras' is always exact (index='flat').")
        self.coreset_ratio = float(coreset_ratio)
        self.projection_dim = int(projection_dim)
        self.n_neighbours = int(n_neighbours)
        self.index = index
        self.search = search
        specs = self.extractor.compute_output_spec(None)
        specs = specs if isinstance(specs, (list, tuple)) else [specs]
        self.grid = tuple(int(d) for d in specs[0].shape[1:3])
        self.feature_dim = sum(int(s.shape[-1]) for s in specs)
        self.memory_bank = None
        if memory_size:
            self.memory_bank = self.add_weight(name="memory_bank", shape=(int(memory_size), self.feature_dim),
                                               dtype="float32", trainable=False, initializer="zeros")
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
    def start_fit(self):
        self._patches = []

    def accumulate(self, embeddings):
        self._patches.append(embeddings.reshape(-1, self.feature_dim))

    def finish_fit(self):
        patches = np.concatenate(self._patches)
        del self._patches
        if self.coreset_ratio < 1.0:
            keep = coreset_indices(patches, ratio=self.coreset_ratio, projection_dim=self.projection_dim,
                                   seed=self.seed_for(1))
            bank = patches[np.sort(keep)]
        else:
            bank = patches
        self.replace_weight("memory_bank", np.ascontiguousarray(bank, dtype=np.float32), "memory_bank")
        self._index = None
        return {"patches": float(len(patches)), "memory_size": float(len(bank))}

    # ----------------------------------------------------------------------------- scoring
    def _bank_version(self) -> tuple:
        """A cheap fingerprint of the memory bank (shape and two sums), to notice a new bank."""
        bank = self.memory_bank.value
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
