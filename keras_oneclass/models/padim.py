"""PaDiM: Patch Distribution Modeling (Defard et al., ICPR 2020).

Section 3 of the paper: features of several backbone layers are resized to the grid of the first
layer and concatenated; a fixed random subset of d = 100 channels is kept (section 3.2, "random
dimensionality reduction"); the normal features at each grid position (i, j) are modelled by a
Gaussian N(mu_ij, Sigma_ij) with Sigma_ij = sample covariance + 0.01 I; a test patch's anomaly score
is its Mahalanobis distance (section 3.3). The map is upsampled to the input size (bilinear) and
blurred with a Gaussian (sigma = 4); the image score is the maximum of the map.

Memory: the inverse covariances are (h*w, d, d) float32: for a 224x224 input and stride-8 first
layer (28x28 grid) and d = 100, 784 * 100 * 100 * 4 B = 31 MB (ResNet or MobileNet alike). The fit
is one streaming pass: per position it keeps float64 running sums of the features and of their outer
products (784 * 100 * 100 * 8 B = 63 MB), whatever the number of images, plus one batch of
embeddings; both sums are taken about a fixed shift (the first batch's mean per position), so the
covariance ``(S2 - n m m^T) / (n - 1)`` does not lose digits to large means. Mahalanobis distances
are computed batch by batch, never for the whole test set at once.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from keras_oneclass.detector import PACKAGE
from keras_oneclass.memory.detector import FeatureMemoryDetector


@keras.saving.register_keras_serializable(package=PACKAGE)
class PaDiM(FeatureMemoryDetector):
    """Gaussian per patch position over pretrained features; Mahalanobis anomaly maps.

    Args:
        input_shape: (H, W, C), C in {1, 3}, pixels in [0, 1].
        backbone, layers, weights, alpha, weights_dir, preprocessing, blur_sigma: see
            ``FeatureMemoryDetector`` (defaults: MobileNet family layers, sigma 4).
        n_features: d, the number of randomly kept channels (100, paper section 3.2); all
            channels when the layers have fewer.
        epsilon: the regulariser added to each covariance diagonal (0.01, paper section 3.2).
        seed: seed of the channel subset.

    Fitted state: ``mean`` (h*w, d), ``inverse_covariance`` (h*w, d, d), ``channels`` (d,).

    Example:
        >>> model = PaDiM((224, 224, 1), backbone="mobilenet", alpha=0.25)  # doctest: +SKIP
        >>> model.fit(train_ds); scores, maps = model.score_and_map(test.images)  # doctest: +SKIP
    """

    def __init__(self, input_shape, backbone="mobilenet", layers=None, weights="imagenet", alpha: float = 1.0,
                 weights_dir=None, preprocessing=None, n_features: int = 100, epsilon: float = 0.01,
                 blur_sigma: float = 4.0, seed: int | None = 0, **kwargs):
        super().__init__(input_shape, backbone=backbone, layers=layers, weights=weights, alpha=alpha,
                         weights_dir=weights_dir, preprocessing=preprocessing, blur_sigma=blur_sigma,
                         seed=seed, **kwargs)
        specs = self.extractor.compute_output_spec(None)
        specs = specs if isinstance(specs, (list, tuple)) else [specs]
        self.grid = tuple(int(d) for d in specs[0].shape[1:3])
        total = sum(int(s.shape[-1]) for s in specs)
        if int(n_features) < 1:
            raise ValueError(f"n_features must be >= 1, got {n_features}.")
        if not epsilon > 0:
            raise ValueError(f"epsilon must be > 0, got {epsilon}.")
        self.n_features = min(int(n_features), total)
        self.epsilon = float(epsilon)
        chosen = np.random.default_rng(self.seed_for(0)).choice(total, size=self.n_features, replace=False)
        positions, d = self.grid[0] * self.grid[1], self.n_features
        self.channels = self.add_weight(name="channels", shape=(d,), dtype="int32", trainable=False,
                                        initializer=keras.initializers.Constant(np.sort(chosen)))
        self.mean = self.add_weight(name="mean", shape=(positions, d), dtype="float32", trainable=False,
                                    initializer="zeros")
        self.inverse_covariance = self.add_weight(name="inverse_covariance", shape=(positions, d, d),
                                                  dtype="float32", trainable=False, initializer="zeros")
        self.build()

    # ----------------------------------------------------------------------------- features
    def embed(self, images):
        features = self.extractor(images)
        grid = self.grid
        resized = [f if tuple(f.shape[1:3]) == grid else ops.image.resize(f, grid, interpolation="nearest")
                   for f in features]
        return ops.take(ops.concatenate(resized, axis=-1), self.channels, axis=-1)

    # ----------------------------------------------------------------------------- fitting
    def start_fit(self):
        positions = self.grid[0] * self.grid[1]
        self._count = 0
        self._shift = None  # (positions, d) float64: the first batch's mean, subtracted from every batch
        self._sum = np.zeros((positions, self.n_features))
        self._outer = np.zeros((positions, self.n_features, self.n_features))

    def accumulate(self, embeddings):
        flat = embeddings.reshape(len(embeddings), -1, self.n_features).astype(np.float64)
        if self._shift is None:
            self._shift = flat.mean(axis=0)
        flat -= self._shift[None]
        self._count += len(flat)
        self._sum += flat.sum(axis=0)
        self._outer += np.einsum("bpi,bpj->pij", flat, flat, optimize=True)

    def finish_fit(self):
        n = self._count
        if n < 2:
            raise ValueError(f"PaDiM needs at least 2 training images to estimate covariances, got {n}.")
        shifted_mean = self._sum / n
        covariance = (self._outer - n * np.einsum("pi,pj->pij", shifted_mean, shifted_mean)) / (n - 1)
        covariance += self.epsilon * np.eye(self.n_features)
        mean = self._shift + shifted_mean
        self.mean.assign(mean.astype(np.float32))
        self.inverse_covariance.assign(np.linalg.inv(covariance).astype(np.float32))
        del self._sum, self._outer, self._shift
        return {"images": float(n), "positions": float(mean.shape[0])}

    # ----------------------------------------------------------------------------- scoring
    def patch_scores(self, embeddings):
        delta = embeddings.reshape(len(embeddings), -1, self.n_features) - self.mean.numpy()[None]
        squared = np.einsum("bpi,pij,bpj->bp", delta, self.inverse_covariance.numpy(), delta, optimize=True)
        return np.sqrt(np.maximum(squared, 0.0)).reshape(len(embeddings), *self.grid).astype(np.float32)

    def graph_patch_scores(self, embeddings):
        flat = ops.reshape(embeddings, (-1, self.grid[0] * self.grid[1], self.n_features))
        delta = flat - self.mean.value[None]
        squared = ops.einsum("bpi,pij,bpj->bp", delta, self.inverse_covariance.value, delta)
        return ops.reshape(ops.sqrt(ops.maximum(squared, 0.0)), (-1, *self.grid))
