"""VAE: variational autoencoder (Kingma & Welling, ICLR 2014) scored by reconstruction error.

The encoder gives the Gaussian posterior ``q(z|x) = N(z_mean, exp(z_log_var))``; the public
``Sampling`` layer draws ``z = z_mean + exp(z_log_var / 2) * eps``; the decoder reconstructs. Loss per
sample = reconstruction (binary cross-entropy or squared error, summed over pixels) + beta * KL
(beta-VAE, Higgins et al. 2017). Scoring is deterministic (decoded from ``z_mean``) so saved models
score identically: ``score="reconstruction"`` is the mean squared error (as the autoencoders);
``score="elbo"`` is the negative ELBO, reconstruction loss + KL.
"""

from __future__ import annotations

from typing import Sequence

import keras
from keras import ops

from keras_oneclass.anomaly_map import ReconstructionMaps, blurred_peak, squared_error_map
from keras_oneclass.detector import PACKAGE
from keras_oneclass.layers import Sampling
from keras_oneclass.networks.vae import conv_vae_networks, dense_vae_networks
from keras_oneclass.scoring import squared_error_per_sample
from keras_oneclass.training import Phase, TrainedDetector

RECONSTRUCTION_LOSSES = ("bce", "mse")
SCORES = ("reconstruction", "elbo", "map_max")


def kl_divergence(z_mean, z_log_var):
    """(B,) KL(N(z_mean, exp(z_log_var)) || N(0, I)), summed over latent units (Kingma & Welling, app. B)."""
    z_mean, z_log_var = ops.cast(z_mean, "float32"), ops.cast(z_log_var, "float32")
    return -0.5 * ops.sum(1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1)


def reconstruction_loss(x, x_hat, kind: str):
    """(B,) reconstruction term of the negative ELBO, summed over all pixels and channels.

    ``"bce"``: Bernoulli likelihood (targets in [0, 1], sigmoid outputs); ``"mse"``: squared error.
    """
    x, x_hat = ops.cast(x, "float32"), ops.cast(x_hat, "float32")
    if kind == "bce":
        x_hat = ops.clip(x_hat, 1e-7, 1.0 - 1e-7)
        per_pixel = -(x * ops.log(x_hat) + (1.0 - x) * ops.log(1.0 - x_hat))
    else:
        per_pixel = ops.square(x_hat - x)
    return ops.sum(ops.reshape(per_pixel, (ops.shape(x)[0], -1)), axis=-1)


@keras.saving.register_keras_serializable(package=PACKAGE)
class VAE(ReconstructionMaps, TrainedDetector):
    """Variational autoencoder for one-class detection, dense or convolutional.

    Args:
        input_shape: shape of one sample, e.g. (28, 28, 1) or (256, 256, 3).
        encoder: "dense" (784-400-latent as Kingma & Welling app. C / the PyTorch example) or "conv"
            (4 strided conv layers with BatchNorm and LeakyReLU; H and W divisible by 16).
        hidden_units: dense encoder widths. (400,).
        filters: conv encoder filters. (32, 64, 128, 256).
        latent_dim: size of z; 20 (dense) or 128 (conv) when None.
        beta: weight of the KL term (1 = the plain VAE).
        reconstruction_loss: "bce" (default; data in [0, 1]) or "mse".
        score: "reconstruction" (mean squared error of the reconstruction from z_mean) or "elbo"
            (reconstruction loss + KL, i.e. the negative ELBO at z = z_mean) or "map_max" (images: the
            peak of the squared-error map blurred with ``map_sigma`` pixels; small defects on texture).
        map_sigma: blur of the "map_max" score in pixels. 4.
        output_activation: "sigmoid" (default) or None for unbounded data (then use "mse").
        seed: initialisation, sampling and shuffling seed.

    Trackers: ``loss``, ``reconstruction_loss``, ``kl_loss`` (batch means).

    Example:
        >>> from keras_oneclass import VAE, datasets
        >>> x_train, (x_test, y_test) = datasets.load_oneclass("mnist", 0, as_numpy=True)  # doctest: +SKIP
        >>> model = VAE(input_shape=(28, 28, 1), beta=1.0, seed=0)
        >>> model.fit(x_train, epochs=10)                  # doctest: +SKIP
        >>> scores = model.predict(x_test)                 # (10000,) float32  # doctest: +SKIP
    """

    default_batch_size = 128
    learning_rate = 1e-3

    def __init__(self, input_shape, encoder: str = "dense", hidden_units: Sequence[int] = (400,),
                 filters: Sequence[int] = (32, 64, 128, 256), latent_dim: int | None = None, beta: float = 1.0,
                 reconstruction_loss: str = "bce", score: str = "reconstruction", map_sigma: float = 4.0,
                 output_activation: str | None = "sigmoid", seed: int | None = None, **kwargs):
        super().__init__(input_shape, seed=seed, **kwargs)
        if encoder not in ("dense", "conv"):
            raise ValueError(f"encoder must be 'dense' or 'conv', got {encoder!r}.")
        if reconstruction_loss not in RECONSTRUCTION_LOSSES:
            raise ValueError(f"reconstruction_loss must be one of {RECONSTRUCTION_LOSSES}, got {reconstruction_loss!r}.")
        self.check_map_score(score, SCORES, map_sigma)
        if not beta >= 0:
            raise ValueError(f"beta must be >= 0, got {beta!r}.")
        self.encoder_type = encoder
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.filters = tuple(int(f) for f in filters)
        self.latent_dim = int(latent_dim if latent_dim is not None else (20 if encoder == "dense" else 128))
        self.beta = float(beta)
        self.reconstruction_loss = reconstruction_loss
        self.output_activation = output_activation
        if encoder == "conv":
            if len(self.sample_shape) != 3:
                raise ValueError(f"encoder='conv' needs images (H, W, C), got input_shape={self.sample_shape}.")
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

    def hyperparameters(self):
        return {"encoder": self.encoder_type, "hidden_units": list(self.hidden_units), "filters": list(self.filters),
                "latent_dim": self.latent_dim, "beta": self.beta, "reconstruction_loss": self.reconstruction_loss,
                "output_activation": self.output_activation, **self.score_hyperparameters()}

    def xla_on_cpu(self) -> bool:
        # Measured on MNIST digit 0 (dense VAE, batch 128, shared 2-core CPU): with XLA the first epoch
        # took 61.5 s instead of 13.8 s and later epochs 3.8 s instead of 1.3 s. Conv nets lose on CPU too.
        return False

    @property
    def metrics(self):
        return [self.total_tracker, self.reconstruction_tracker, self.kl_tracker]

    def compile(self, optimizer=None, **kwargs):
        """Adam(1e-3) by default; wrapped in a ``LossScaleOptimizer`` under ``mixed_float16``."""
        self.compile_phases({"network": (optimizer or keras.optimizers.Adam(self.learning_rate),
                                         self.trainable_variables)}, **kwargs)

    def _loss_terms(self, x, training: bool) -> dict:
        """The batch means of the loss and its two terms, with z sampled from q(z|x)."""
        z_mean, z_log_var = self.encoder(x, training=training)
        x_hat = self.decoder(self.sampling((z_mean, z_log_var)), training=training)
        reconstruction = ops.mean(reconstruction_loss(x, x_hat, self.reconstruction_loss))
        kl = ops.mean(kl_divergence(z_mean, z_log_var))
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
        """The configured score; ``error_map`` (squared_error_map of x, x_hat) is reused when given."""
        if self.score_type == "elbo":
            return reconstruction_loss(x, x_hat, self.reconstruction_loss) + kl_divergence(z_mean, z_log_var)
        if self.score_type == "map_max":
            return blurred_peak(squared_error_map(x, x_hat) if error_map is None else error_map, self.map_sigma)
        return squared_error_per_sample(x, x_hat)

    def score(self, x):
        """(B,) float32: mean squared error from z_mean ("reconstruction"), the negative ELBO ("elbo") or
        the peak of the blurred error map ("map_max")."""
        z_mean, z_log_var = self.encoder(x, training=False)
        return self._score_from(x, self.decoder(z_mean, training=False), z_mean, z_log_var)

    def _score_and_map_batch(self, x):
        z_mean, z_log_var = self.encoder(x, training=False)
        x_hat = self.decoder(z_mean, training=False)
        error_map = squared_error_map(x, x_hat)
        return self._score_from(x, x_hat, z_mean, z_log_var, error_map), error_map
