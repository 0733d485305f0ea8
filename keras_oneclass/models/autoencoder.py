"""Autoencoders scored by their reconstruction error: ``DenseAutoencoder`` and ``ConvAutoencoder``.

Trained on normal data to minimise the reconstruction error (mean squared error, or binary
cross-entropy for the conv net's sigmoid output); a sample the network cannot reconstruct well is
anomalous. Score = per-sample mean squared error over all pixels and
channels (``score="reconstruction"``) or, for images, the maximum of the Gaussian-blurred error map
(``score="map_max"``: localised defects on texture); ``anomaly_map`` = per-pixel squared error
(channel mean), optionally Gaussian-smoothed.
"""

from __future__ import annotations

from typing import Sequence

import keras
import numpy as np
from keras import ops

from keras_oneclass.anomaly_map import ReconstructionMaps, blurred_peak, map_max_score, squared_error_map
from keras_oneclass.detector import PACKAGE
from keras_oneclass.networks import conv_autoencoder, dense_autoencoder
from keras_oneclass.scoring import squared_error_per_sample
from keras_oneclass.training import Phase, TrainedDetector


class Autoencoder(ReconstructionMaps, TrainedDetector):
    """Shared training and scoring of the reconstruction autoencoders (subclasses build the nets).

    Subclasses set ``self.encoder`` and ``self.decoder`` in ``__init__``.
    """

    learning_rate = 1e-3

    def __init__(self, input_shape, loss: str = "mse", score: str = "reconstruction", map_sigma: float = 4.0,
                 seed: int | None = None, **kwargs):
        super().__init__(input_shape, seed=seed, **kwargs)
        if loss not in ("mse", "bce"):
            raise ValueError(f"loss must be 'mse' or 'bce', got {loss!r}.")
        self.loss_type = loss
        self.check_map_score(score, ("reconstruction", "map_max"), map_sigma)
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def training_loss(self, x, x_hat):
        """Batch-mean training loss: mean squared error, or mean binary cross-entropy per pixel ("bce",
        for sigmoid outputs: its gradient does not vanish when the sigmoid saturates)."""
        if self.loss_type == "bce":
            from keras_oneclass.models.vae import reconstruction_loss

            return ops.mean(reconstruction_loss(x, x_hat, "bce")) / float(np.prod(self.sample_shape))
        return ops.mean(squared_error_per_sample(x, x_hat))

    @property
    def metrics(self):
        return [self.loss_tracker]

    def compile(self, optimizer=None, **kwargs):
        """Adam(1e-3) by default; wrapped in a ``LossScaleOptimizer`` under ``mixed_float16``."""
        self.compile_phases({"network": (optimizer or keras.optimizers.Adam(self.learning_rate),
                                         self.trainable_variables)}, **kwargs)

    def train_phases(self):
        return [Phase("network", self.trainable_variables, self.phase_optimizer("network"), self.network_loss)]

    def network_loss(self, x, outputs):
        """The training loss of the reconstruction of ``x``."""
        loss = self.training_loss(x, self(x, training=True))
        return loss, {"loss": loss}

    def evaluation_outputs(self, x):
        return {"loss": self.training_loss(x, self(x, training=False))}

    def call(self, x, training=False):
        """Reconstruction of ``x``, (B, *input_shape)."""
        return self.decoder(self.encoder(x, training=training), training=training)

    def reconstruct(self, x):
        return self(x, training=False)

    def score(self, x):
        """(B,) float32 mean squared reconstruction error, or the peak of the blurred error map ("map_max")."""
        if self.score_type == "map_max":
            return map_max_score(x, self.reconstruct(x), self.map_sigma)
        return squared_error_per_sample(x, self.reconstruct(x))

    def _score_and_map_batch(self, x):
        """One reconstruction for both the score and the map."""
        x_hat = self.reconstruct(x)
        error_map = squared_error_map(x, x_hat)
        if self.score_type == "map_max":
            return blurred_peak(error_map, self.map_sigma), error_map
        return squared_error_per_sample(x, x_hat), error_map


@keras.saving.register_keras_serializable(package=PACKAGE)
class DenseAutoencoder(Autoencoder):
    """MLP autoencoder: input -> 400 ReLU -> latent -> 400 ReLU -> input (sigmoid).

    The network of our MNIST reference study (the 784-400-20 layout of the PyTorch VAE example,
    deterministic): images are flattened inside and reshaped back.

    Args:
        input_shape: shape of one sample, e.g. (28, 28, 1) or (784,).
        hidden_units: encoder widths; the decoder mirrors them. (400,).
        latent_dim: size of the (linear) code. 20.
        output_activation: "sigmoid" for data in [0, 1]; None for unbounded data.
        loss: training loss, "mse" (default) or "bce" (sigmoid outputs only). The score is the MSE.
        score: "reconstruction" (mean squared error; default) or "map_max" (images only: the peak of
            the error map blurred with ``map_sigma`` pixels).
        map_sigma: blur of the "map_max" score in pixels. 4.
        seed: initialisation and shuffling seed.

    Example:
        >>> from keras_oneclass import DenseAutoencoder, datasets
        >>> x_train, (x_test, y_test) = datasets.load_oneclass("mnist", 0, as_numpy=True)  # doctest: +SKIP
        >>> model = DenseAutoencoder(input_shape=(28, 28, 1), seed=0)
        >>> model.fit(x_train, epochs=10)                  # doctest: +SKIP
        >>> scores = model.predict(x_test)                 # (10000,) float32  # doctest: +SKIP
    """

    default_batch_size = 128

    def __init__(self, input_shape, hidden_units: Sequence[int] = (400,), latent_dim: int = 20,
                 output_activation: str | None = "sigmoid", loss: str = "mse", score: str = "reconstruction",
                 map_sigma: float = 4.0, seed: int | None = None, **kwargs):
        super().__init__(input_shape, loss=loss, score=score, map_sigma=map_sigma, seed=seed, **kwargs)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.latent_dim = int(latent_dim)
        if self.latent_dim < 1 or any(u < 1 for u in self.hidden_units):
            raise ValueError(f"hidden_units and latent_dim must be positive, got {hidden_units}, {latent_dim}.")
        self.output_activation = output_activation
        self.encoder, self.decoder = dense_autoencoder(
            self.sample_shape, self.hidden_units, self.latent_dim, output_activation=output_activation,
            negative_slope=0.0, seed=self.seed_for(0), linear_code=True, name="dense_autoencoder")
        self.build()

    def xla_on_cpu(self) -> bool:
        # Measured on digit 0 of MNIST (5,923 images, batch 128, shared 2-core CPU): XLA made the first
        # epoch 29.4 s instead of 8.7 s and later epochs 3.3 s instead of 2.8 s; this net is too small
        # to gain from fusion (DASVDD's 1024-256 net does).
        return False

    def hyperparameters(self):
        return {"hidden_units": list(self.hidden_units), "latent_dim": self.latent_dim,
                "output_activation": self.output_activation, "loss": self.loss_type, **self.score_hyperparameters()}


@keras.saving.register_keras_serializable(package=PACKAGE)
class ConvAutoencoder(Autoencoder):
    """Convolutional autoencoder: 3 x (conv 3x3 ReLU + 2x2 max-pool) with 32, 64, 128 filters, mirrored
    upsampling decoder, sigmoid output (the network of our wood-surface reference study).

    Fully convolutional by default (the code is the (H/8, W/8, 128) feature map), so it takes any
    image whose sides are divisible by 8, grayscale or RGB; ``latent_dim`` adds a dense bottleneck.

    Args:
        input_shape: (H, W, C), H and W divisible by 2 ** len(filters) (8 by default).
        filters: filters per encoder stage. (32, 64, 128).
        kernel_size: conv kernel side. 3.
        latent_dim: None (fully convolutional) or the size of a dense code.
        output_activation: "sigmoid" for images in [0, 1]; None for unbounded data.
        initializer: "he" (He-uniform kernels, zero biases; default) or "torch" (PyTorch's default).
        loss: training loss, "bce" (default: binary cross-entropy per pixel, for sigmoid outputs) or
            "mse". With sigmoid + MSE the output saturated to all zeros within 8 Adam steps on MNIST
            (the gradient of a saturated sigmoid vanishes under MSE, not under BCE) and stayed there:
            loss 0.118 = mean(x^2), AUC 24 on digit 0. The score is the MSE whichever loss trains.
        score: "reconstruction" (mean squared error; default) or "map_max" (the peak of the error map
            blurred with ``map_sigma`` pixels: small defects on texture).
        map_sigma: blur of the "map_max" score in pixels. 4.
        negative_slope: slope of the activations for negative inputs; 0 = ReLU.
        seed: initialisation and shuffling seed.

    Example:
        >>> import numpy as np
        >>> from keras_oneclass import ConvAutoencoder
        >>> model = ConvAutoencoder(input_shape=(32, 32, 3), seed=0)
        >>> _ = model.fit(np.random.rand(64, 32, 32, 3).astype("float32"), epochs=1, verbose=0)
        >>> model.anomaly_map(np.random.rand(2, 32, 32, 3).astype("float32"), sigma=4).shape
        (2, 32, 32)
    """

    default_batch_size = 32

    def __init__(self, input_shape, filters: Sequence[int] = (32, 64, 128), kernel_size: int = 3,
                 latent_dim: int | None = None, output_activation: str | None = "sigmoid",
                 initializer: str = "he", negative_slope: float = 0.0, loss: str = "bce",
                 score: str = "reconstruction", map_sigma: float = 4.0, seed: int | None = None, **kwargs):
        super().__init__(input_shape, loss=loss, score=score, map_sigma=map_sigma, seed=seed, **kwargs)
        if len(self.sample_shape) != 3:
            raise ValueError(f"ConvAutoencoder needs images: input_shape=(H, W, C), got {self.sample_shape}.")
        self.filters = tuple(int(f) for f in filters)
        self.kernel_size = int(kernel_size)
        self.latent_dim = None if latent_dim is None else int(latent_dim)
        self.output_activation = output_activation
        self.initializer = initializer
        self.negative_slope = float(negative_slope)
        self.encoder, self.decoder = conv_autoencoder(
            self.sample_shape, filters=self.filters, latent_dim=self.latent_dim, kernel_size=self.kernel_size,
            output_activation=output_activation, negative_slope=self.negative_slope, seed=self.seed_for(0),
            name="conv_autoencoder", initializer=initializer)
        self.build()

    def hyperparameters(self):
        return {"filters": list(self.filters), "kernel_size": self.kernel_size, "latent_dim": self.latent_dim,
                "output_activation": self.output_activation, "initializer": self.initializer,
                "negative_slope": self.negative_slope, "loss": self.loss_type, **self.score_hyperparameters()}
