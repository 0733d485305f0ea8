"""VAE: variational autoencoder (Kingma & Welling, ICLR 2014) scored by reconstruction error.

The encoder gives the Gaussian posterior ``q(z|x) = N(z_mean, exp(z_log_var))``; the public
``Sampling`` layer draws ``z = z_mean + exp(z_log_var / 2) * eps``; the decoder reconstructs. Loss per
sample = reconstruction (binary cross-entropy or squared error, summed over pixels) + beta * KL
(beta-VAE, Higgins et al. 2017). Scoring is deterministic (decoded from ``z_mean``) so saved models
score identically: ``scoring="reconstruction"`` is the mean squared error (as the autoencoders);
``scoring="elbo"`` is the negative ELBO, reconstruction loss + KL.
"""

from __future__ import annotations

from typing import Sequence

import keras
from keras import ops

from keras_oneclass import losses
from keras_oneclass.anomaly_map import ReconstructionMaps
from keras_oneclass.detector import PACKAGE
from keras_oneclass.layers import Sampling
from keras_oneclass.networks.vae import conv_vae_networks, dense_vae_networks
from keras_oneclass.training import Phase, TrainedDetector

RECONSTRUCTION_LOSSES = ("bce", "mse")
SCORINGS = ("reconstruction", "elbo", "map_max")


@keras.saving.register_keras_serializable(package=PACKAGE)
class VAE(ReconstructionMaps, TrainedDetector):
    """Variational autoencoder for one-class detection, dense or convolutional.

    Args:
        input_shape: shape of one sample, e.g. (28, 28, 1) or (256, 256, 3).
        architecture: "dense" (784-400-latent as Kingma & Welling app. C / the PyTorch example) or
            "conv" (4 strided conv layers with BatchNorm and LeakyReLU; sides not divisible by 16 are
            zero-padded inside and cropped back).
        hidden_units: dense encoder widths. (400,).
        filters: conv encoder filters. (32, 64, 128, 256).
        latent_dim: size of z; 20 (dense) or 128 (conv) when None.
        beta: weight of the KL term (1 = the plain VAE).
        reconstruction_loss: "bce" (default; data in [0, 1]) or "mse".
        scoring: "reconstruction" (mean squared error of the reconstruction from z_mean) or "elbo"
            (reconstruction loss + KL, i.e. the negative ELBO at z = z_mean) or "map_max" (images: the
            peak of the anomaly map; small defects on texture).
        blur_sigma: Gaussian blur of the anomaly maps (and so of the "map_max" score), in pixels;
            0 = none. 4.
        output_activation: "sigmoid" (default) or None for unbounded data (then use "mse").
        seed: initialisation, sampling and shuffling seed (0).

    Trackers: ``loss``, ``reconstruction_loss``, ``kl_loss`` (batch means).

    Example:
        >>> from keras_oneclass import VAE, datasets
        >>> x_train, (x_test, y_test) = datasets.load_oneclass("mnist", 0, as_numpy=True)  # doctest: +SKIP
        >>> model = VAE(input_shape=(28, 28, 1), beta=1.0, seed=0)
        >>> model.fit(x_train, epochs=10)                  # doctest: +SKIP
        >>> scores = model.predict(x_test)                 # (10000,) float32  # doctest: +SKIP
    """

    default_batch_size = 128
    learning_rate = 1e-3  # Adam's, the default of compile()

    def __init__(self, input_shape, architecture: str = "dense", hidden_units: Sequence[int] = (400,),
                 filters: Sequence[int] = (32, 64, 128, 256), latent_dim: int | None = None, beta: float = 1.0,
                 reconstruction_loss: str = "bce", scoring: str = "reconstruction", blur_sigma: float = 4.0,
                 output_activation: str | None = "sigmoid", seed: int | None = 0, **kwargs):
        super().__init__(input_shape, seed=seed, **kwargs)
        if architecture not in ("dense", "conv"):
            raise ValueError(f"architecture must be 'dense' or 'conv', got {architecture!r}.")
        if reconstruction_loss not in RECONSTRUCTION_LOSSES:
            raise ValueError(f"reconstruction_loss must be one of {RECONSTRUCTION_LOSSES}, got {reconstruction_loss!r}.")
        self.check_scoring(scoring, SCORINGS, blur_sigma)
        if not beta >= 0:
            raise ValueError(f"beta must be >= 0, got {beta!r}.")
        self.architecture = architecture
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.filters = tuple(int(f) for f in filters)
        self.latent_dim = int(latent_dim if latent_dim is not None else (20 if architecture == "dense" else 128))
        self.beta = float(beta)
        self.reconstruction_loss = reconstruction_loss
        self.output_activation = output_activation
        if architecture == "conv":
            if len(self.sample_shape) != 3:
                raise ValueError(f"architecture='conv' needs images (H, W, C), got input_shape={self.sample_shape}.")
            self.encoder, self.decoder = conv_vae_networks(
                self.sample_shape, self.filters, self.latent_dim, output_activation=output_activation,
                seed=self.seed_for(0))
        else:
            self.encoder, self.decoder = dense_vae_networks(
                self.sample_shape, self.hidden_units, self.latent_dim, output_activation, seed=self.seed_for(0))
        self.sampling = Sampling(seed=self.seed_for(1), name="sampling")
        self.total_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_tracker = keras.metrics.Mean(name="kl_loss")
        self.build()

    def xla_on_cpu(self) -> bool:
        # Measured on MNIST digit 0 (dense VAE, batch 128, shared 2-core CPU): with XLA the first epoch
        # took 61.5 s instead of 13.8 s and later epochs 3.8 s instead of 1.3 s. Conv nets lose on CPU too.
        return False

    @property
    def metrics(self):
        return [self.total_tracker, self.reconstruction_tracker, self.kl_tracker]

    def compile(self, optimizer=None, learning_rate: float | None = None, **kwargs):
        """Adam(``learning_rate``, 1e-3 by default) unless ``optimizer`` is given; wrapped in a
        ``LossScaleOptimizer`` under ``mixed_float16``."""
        self.remember_compile_settings(learning_rate=learning_rate)
        optimizer = optimizer or keras.optimizers.Adam(learning_rate or self.learning_rate)
        self.compile_phases({"network": (optimizer, self.trainable_variables)}, **kwargs)

    def _loss_terms(self, x, training: bool) -> dict:
        """The batch means of the loss and its two terms, with z sampled from q(z|x)."""
        z_mean, z_log_var = self.encoder(x, training=training)
        x_hat = self.decoder(self.sampling((z_mean, z_log_var)), training=training)
        reconstruction = ops.mean(losses.reconstruction_loss(x, x_hat, self.reconstruction_loss))
        kl = ops.mean(losses.kl_divergence(z_mean, z_log_var))
        return {"loss": reconstruction + self.beta * kl, "reconstruction_loss": reconstruction, "kl_loss": kl}

    def train_phases(self):
        return [Phase("network", self.trainable_variables, self.phase_optimizer("network"), self.network_loss)]

    def network_loss(self, x, outputs):
        """reconstruction + beta * KL, batch mean."""
        terms = self._loss_terms(x, training=True)
        return terms["loss"], terms

    def evaluation_outputs(self, x):
        return self._loss_terms(x, training=False)

    def call(self, x, training=False):
        """Reconstruction decoded from a sample z (training) or from z_mean (inference)."""
        z_mean, z_log_var = self.encoder(x, training=training)
        z = self.sampling((z_mean, z_log_var)) if training else z_mean
        return self.decoder(z, training=training)

    def reconstruct(self, x):
        return self(x, training=False)

    def _score_from(self, x, x_hat, z_mean, z_log_var, error_map=None):
        """The configured score; ``error_map`` (the blurred error map of x, x_hat) is reused when given."""
        if self.scoring == "elbo":
            return (losses.reconstruction_loss(x, x_hat, self.reconstruction_loss)
                    + losses.kl_divergence(z_mean, z_log_var))
        if self.scoring == "map_max":
            return ops.max(self.error_map(x, x_hat) if error_map is None else error_map, axis=(1, 2))
        return losses.squared_error_per_sample(x, x_hat)

    def score(self, x):
        """(B,) float32: mean squared error from z_mean ("reconstruction"), the negative ELBO ("elbo") or
        the peak of the anomaly map ("map_max")."""
        z_mean, z_log_var = self.encoder(x, training=False)
        return self._score_from(x, self.decoder(z_mean, training=False), z_mean, z_log_var)

    def map_batch(self, x):
        z_mean, z_log_var = self.encoder(x, training=False)
        x_hat = self.decoder(z_mean, training=False)
        error_map = self.error_map(x, x_hat)
        return self._score_from(x, x_hat, z_mean, z_log_var, error_map), error_map
