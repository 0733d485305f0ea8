"""Autoencoders scored by their reconstruction error: ``DenseAutoencoder`` and ``ConvAutoencoder``.

Trained on normal data to minimise the reconstruction error (mean squared error, or binary
cross-entropy for the conv net's sigmoid output); a sample the network cannot reconstruct well is
anomalous. Score = per-sample mean squared error over all pixels and channels
(``scoring="reconstruction"``) or, for images, the maximum of the anomaly map (``scoring="map_max"``:
localised defects on texture); ``anomaly_map`` = per-pixel squared error (channel mean), blurred with
``blur_sigma`` pixels.
"""

from __future__ import annotations

from typing import Sequence

import keras
import numpy as np
from keras import ops

from keras_oneclass import losses
from keras_oneclass.anomaly_map import ReconstructionMaps
from keras_oneclass.detector import PACKAGE
from keras_oneclass.networks import conv_autoencoder, dense_autoencoder
from keras_oneclass.training import Phase, TrainedDetector

RECONSTRUCTION_LOSSES = ("mse", "bce")
SCORINGS = ("reconstruction", "map_max")


class Autoencoder(ReconstructionMaps, TrainedDetector):
    """Shared training and scoring of the reconstruction autoencoders (subclasses build the nets).

    Subclasses set ``self.encoder`` and ``self.decoder`` in ``__init__``.
    """

    learning_rate = 1e-3  # Adam's, the default of compile()

    def __init__(self, input_shape, reconstruction_loss: str = "mse", scoring: str = "reconstruction",
                 blur_sigma: float = 4.0, seed: int | None = 0, **kwargs):
        super().__init__(input_shape, seed=seed, **kwargs)
        if reconstruction_loss not in RECONSTRUCTION_LOSSES:
            raise ValueError(f"reconstruction_loss must be one of {RECONSTRUCTION_LOSSES}, got {reconstruction_loss!r}.")
        self.reconstruction_loss = reconstruction_loss
        self.check_scoring(scoring, SCORINGS, blur_sigma)
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def training_loss(self, x, x_hat):
        """Batch-mean training loss: mean squared error, or mean binary cross-entropy per pixel ("bce",
        for sigmoid outputs: its gradient does not vanish when the sigmoid saturates)."""
        if self.reconstruction_loss == "bce":
            return ops.mean(losses.reconstruction_loss(x, x_hat, "bce")) / float(np.prod(self.sample_shape))
        return ops.mean(losses.squared_error_per_sample(x, x_hat))

    @property
    def metrics(self):
        return [self.loss_tracker]

    def compile(self, optimizer=None, learning_rate: float | None = None, **kwargs):
        """Adam(``learning_rate``, 1e-3 by default) unless ``optimizer`` is given; wrapped in a
        ``LossScaleOptimizer`` under ``mixed_float16``."""
        self.remember_compile_settings(learning_rate=learning_rate)
        optimizer = optimizer or keras.optimizers.Adam(learning_rate or self.learning_rate)
        self.compile_phases({"network": (optimizer, self.trainable_variables)}, **kwargs)

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
        return self._scores(x, self.reconstruct(x))

    def _scores(self, x, x_hat, error_map=None):
        if self.scoring == "map_max":
            return ops.max(self.error_map(x, x_hat) if error_map is None else error_map, axis=(1, 2))
        return losses.squared_error_per_sample(x, x_hat)

    def map_batch(self, x):
        """One reconstruction for both the scores and the maps."""
        x_hat = self.reconstruct(x)
        error_map = self.error_map(x, x_hat)
        return self._scores(x, x_hat, error_map), error_map


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
        reconstruction_loss: training loss, "mse" (default) or "bce" (sigmoid outputs only). The
            score is the MSE.
        scoring: "reconstruction" (mean squared error; default) or "map_max" (images only: the peak
            of the anomaly map).
        blur_sigma: Gaussian blur of the anomaly maps (and so of the "map_max" score), in pixels;
            0 = none. 4.
        seed: initialisation and shuffling seed (0).

    Example:
        >>> from keras_oneclass import DenseAutoencoder, datasets
        >>> x_train, (x_test, y_test) = datasets.load_oneclass("mnist", 0, as_numpy=True)  # doctest: +SKIP
        >>> model = DenseAutoencoder(input_shape=(28, 28, 1), seed=0)
        >>> model.fit(x_train, epochs=10)                  # doctest: +SKIP
        >>> scores = model.predict(x_test)                 # (10000,) float32  # doctest: +SKIP
    """

    default_batch_size = 128

    def __init__(self, input_shape, hidden_units: Sequence[int] = (400,), latent_dim: int = 20,
                 output_activation: str | None = "sigmoid", reconstruction_loss: str = "mse",
                 scoring: str = "reconstruction", blur_sigma: float = 4.0, seed: int | None = 0, **kwargs):
        super().__init__(input_shape, reconstruction_loss=reconstruction_loss, scoring=scoring,
                         blur_sigma=blur_sigma, seed=seed, **kwargs)
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



@keras.saving.register_keras_serializable(package=PACKAGE)
class ConvAutoencoder(Autoencoder):
    """Convolutional autoencoder: 3 x (conv 3x3 ReLU + 2x2 max-pool) with 32, 64, 128 filters, mirrored
    upsampling decoder, sigmoid output (the network of our wood-surface reference study).

    Fully convolutional by default (the code is the (H/8, W/8, 128) feature map), so it takes images
    of any size, grayscale or RGB (sides not divisible by 8 are zero-padded inside and cropped back,
    see ``networks.padding``); ``latent_dim`` adds a dense bottleneck.

    Args:
        input_shape: (H, W, C), e.g. (28, 28, 1) or (256, 256, 3).
        filters: filters per encoder stage. (32, 64, 128).
        kernel_size: conv kernel side. 3.
        latent_dim: None (fully convolutional) or the size of a dense code.
        output_activation: "sigmoid" for images in [0, 1]; None for unbounded data.
        initializer: "he" (He-uniform kernels, zero biases; default) or "torch" (PyTorch's default).
        reconstruction_loss: training loss, "bce" (default: binary cross-entropy per pixel, for
            sigmoid outputs) or "mse". With sigmoid + MSE the output saturated to all zeros within 8 Adam steps on MNIST
            (the gradient of a saturated sigmoid vanishes under MSE, not under BCE) and stayed there:
            loss 0.118 = mean(x^2), AUC 24 on digit 0. The score is the MSE whichever loss trains.
        scoring: "reconstruction" (mean squared error; default) or "map_max" (the peak of the anomaly
            map: small defects on texture).
        blur_sigma: Gaussian blur of the anomaly maps (and so of the "map_max" score), in pixels;
            0 = none. 4.
        negative_slope: slope of the activations for negative inputs; 0 = ReLU.
        seed: initialisation and shuffling seed (0).

    Example:
        >>> import numpy as np
        >>> from keras_oneclass import ConvAutoencoder
        >>> model = ConvAutoencoder(input_shape=(32, 32, 3), seed=0)
        >>> _ = model.fit(np.random.rand(64, 32, 32, 3).astype("float32"), epochs=1, verbose=0)
        >>> model.anomaly_map(np.random.rand(2, 32, 32, 3).astype("float32")).shape
        (2, 32, 32)
    """

    default_batch_size = 32

    def __init__(self, input_shape, filters: Sequence[int] = (32, 64, 128), kernel_size: int = 3,
                 latent_dim: int | None = None, output_activation: str | None = "sigmoid",
                 initializer: str = "he", negative_slope: float = 0.0, reconstruction_loss: str = "bce",
                 scoring: str = "reconstruction", blur_sigma: float = 4.0, seed: int | None = 0, **kwargs):
        super().__init__(input_shape, reconstruction_loss=reconstruction_loss, scoring=scoring,
                         blur_sigma=blur_sigma, seed=seed, **kwargs)
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
