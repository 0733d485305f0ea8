"""DASVDD: Deep Autoencoding Support Vector Data Descriptor (Hojjati & Armanfard, IEEE TKDE 2024).

An autoencoder and a trainable hypersphere centre ``c`` in its latent space are trained jointly on
normal data (Sections 3 and 4.3 of the paper):

- each batch is split: the first ``kappa`` (0.9) of it updates the network with ``c`` fixed by
  minimising  mean ||x_hat - x||^2 + gamma * mean ||z - c||^2  (Adam 1e-3, weight decay 1e-7); the
  rest updates ``c`` with the network fixed by minimising mean ||z - c||^2 (Adagrad, lr 1 by default);
- ``c`` starts from a standard normal draw; ``gamma`` balances the two terms and is computed
  before training by eq. 6: the ratio of mean reconstruction error to mean ||z||^2, averaged over
  T = 10 randomly initialised networks (with c = 0);
- the anomaly score is  ||x_hat - x||^2 + gamma * ||z - c||^2.

Data as the authors' code: MNIST scaled to [0, 1] (``load_oneclass("mnist")``); CIFAR-10 with
per-image global contrast normalisation, l2 (``load_oneclass("cifar10", preprocessing="gcn_l2")``,
the code's scale: l2 norm / n_features, so each image has RMS 55.4). With Deep SVDD's GCN-l1 +
min-max instead, airplane-as-normal fell from 66.7 to 62.8 AUC (10 epochs, seed 0, unit-RMS l2).

As in the authors' reference code, ||x_hat - x||^2 is averaged over input features (MSE) and
||z - c||^2 is summed over latent units; gamma is computed with the same convention, so the two
terms of the score are balanced whatever the input size.
"""

from __future__ import annotations

import math
from typing import Sequence

import keras
import numpy as np
from keras import ops

from keras_oneclass.detector import PACKAGE, iterate_batches
from keras_oneclass.networks import conv_autoencoder, dense_autoencoder
from keras_oneclass.losses import squared_distance, squared_error_per_sample
from keras_oneclass.training import Phase, TrainedDetector

# Section 4.3 network presets, chosen from the number of input features when not given.
TABLE_PRESET = {"hidden_units": (10, 10), "latent_dim": 4, "output_activation": None}
MNIST_PRESET = {"hidden_units": (1024,), "latent_dim": 256, "output_activation": "sigmoid"}
CIFAR_PRESET = {"hidden_units": (1024, 512), "latent_dim": 256, "output_activation": None}


def preset_for(n_features: int) -> dict:
    """The paper's network for an input of ``n_features``: tables (<= 64), MNIST-size (<= 1024), CIFAR-size."""
    if n_features <= 64:
        return TABLE_PRESET
    return MNIST_PRESET if n_features <= 1024 else CIFAR_PRESET


@keras.saving.register_keras_serializable(package=PACKAGE)
class DASVDD(TrainedDetector):
    """Deep Autoencoding SVDD: autoencoder + trainable hypersphere centre.

    Args:
        input_shape: shape of one sample, e.g. (28, 28, 1), (32, 32, 3) or (8,).
        architecture: "dense" (the paper's MLP; images are flattened inside) or "conv" (a conv
            encoder/decoder for images; sides not divisible by 4 are zero-padded inside).
        hidden_units: widths of the dense encoder's hidden layers (decoder mirrors them). Default by
            input size: (1024,) for MNIST-size inputs, (1024, 512) for CIFAR-size, (10, 10) for tables
            (Section 4.3). The authors' released code adds a 256-unit layer, (1024, 256) and
            (1024, 512, 256), and trains with batch 128; on MNIST that scored 97.8 (3 seeds) against 96.3
            (benchmarks/results/dasvdd_paper.md, "code-net" variant).
        latent_dim: size of the code z: 256 for images, 4 for tables by default.
        output_activation: decoder output activation; "sigmoid" for MNIST-size inputs in [0, 1],
            linear otherwise (pass "sigmoid" only for data scaled to [0, 1]). "leaky_relu" ends the
            dense decoder with torch's slope 0.01, as the authors' CIFAR-10 code does.
        kappa: fraction of each batch that trains the network; the rest trains the centre. 0.9.
        gamma: weight of the SVDD term; None computes it before training (eq. 6).
        gamma_trials: T, the number of random initialisations averaged for gamma. 10.
        seed: seed for initialisation, the centre draw, the gamma trials and the data order (0).

    The optimisation is set by ``compile()``: Adam for the network, Adagrad for the centre, with
    their learning rates (see ``compile``).

    Fitted state: ``center`` (latent_dim,), ``gamma`` (float), ``threshold`` after ``calibrate``.

    Example:
        >>> from keras_oneclass import DASVDD, datasets
        >>> train_ds, (x_test, y_test) = datasets.load_oneclass("mnist", normal_class=0)
        >>> model = DASVDD(input_shape=(28, 28, 1), seed=0)
        >>> model.compile(center_learning_rate=1.0)  # optional: the paper's defaults apply without it
        >>> model.fit(train_ds, epochs=30)
        >>> scores = model.predict(x_test)          # (10000,) float32
    """

    default_batch_size = 200
    # compile() defaults (Section 4.3): Adam for the network, Adagrad for the centre.
    learning_rate = 1e-3
    weight_decay = 1e-7
    center_learning_rate = 1.0
    center_learning_rate_decay = 0.0

    def __init__(self, input_shape, architecture: str = "dense", hidden_units: Sequence[int] | None = None,
                 latent_dim: int | None = None, output_activation: str | None = "auto", kappa: float = 0.9,
                 gamma: float | None = None, gamma_trials: int = 10, seed: int | None = 0, **kwargs):
        super().__init__(input_shape, seed=seed, **kwargs)
        if architecture not in ("dense", "conv"):
            raise ValueError(f"architecture must be 'dense' or 'conv', got {architecture!r}.")
        if not 0.0 < kappa < 1.0:
            raise ValueError(f"kappa must be in (0, 1), got {kappa}.")
        if gamma is not None and not (np.isfinite(gamma) and gamma >= 0):
            raise ValueError(f"gamma must be a non-negative number or None (computed), got {gamma!r}.")
        if int(gamma_trials) < 1:
            raise ValueError(f"gamma_trials must be >= 1, got {gamma_trials}.")
        preset = preset_for(int(math.prod(self.sample_shape)))
        self.architecture = architecture
        self.hidden_units = tuple(int(u) for u in (preset["hidden_units"] if hidden_units is None else hidden_units))
        self.latent_dim = int(preset["latent_dim"] if latent_dim is None else latent_dim)
        self.output_activation = preset["output_activation"] if output_activation == "auto" else output_activation
        self.kappa = float(kappa)
        self.gamma_trials = int(gamma_trials)
        self._gamma_given = gamma is not None
        self.encoder, self.decoder = self._networks(self.seed_for(0))
        self.center = self.add_weight(
            name="center", shape=(self.latent_dim,), dtype="float32", trainable=True,
            initializer=keras.initializers.RandomNormal(0.0, 1.0, seed=self.seed_for(1)))
        self._gamma = self.add_weight(
            name="gamma", shape=(), dtype="float32", trainable=False,
            initializer=keras.initializers.Constant(float("nan") if gamma is None else float(gamma)))
        self.total_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.svdd_tracker = keras.metrics.Mean(name="svdd_loss")
        self.build()

    def _networks(self, seed):
        if self.architecture == "conv":
            if len(self.sample_shape) != 3:
                raise ValueError(f"architecture='conv' needs images (H, W, C), got input_shape={self.sample_shape}.")
            return conv_autoencoder(self.sample_shape, latent_dim=self.latent_dim,
                                    output_activation=self.output_activation, seed=seed)
        return dense_autoencoder(self.sample_shape, self.hidden_units, self.latent_dim,
                                 output_activation=self.output_activation, seed=seed)

    # ----------------------------------------------------------------------------- state
    @property
    def gamma(self) -> float | None:
        """Weight of the SVDD term; None until computed at the start of ``fit``."""
        value = float(self._gamma.numpy())
        return None if math.isnan(value) else value

    @gamma.setter
    def gamma(self, value: float) -> None:
        if not (np.isfinite(value) and value >= 0):
            raise ValueError(f"gamma must be a non-negative finite number, got {value!r}.")
        self._gamma.assign(float(value))

    def xla_on_cpu(self) -> bool:
        return self.architecture == "dense"

    @property
    def network_variables(self):
        """Trainable variables of the autoencoder (everything but the centre)."""
        return self.encoder.trainable_variables + self.decoder.trainable_variables

    @property
    def metrics(self):
        return [self.total_tracker, self.reconstruction_tracker, self.svdd_tracker]

    # ----------------------------------------------------------------------------- training
    def compile(self, optimizer=None, center_optimizer=None, learning_rate: float | None = None,
                center_learning_rate: float | None = None, center_learning_rate_decay: float | None = None,
                **kwargs):
        """Adam(``learning_rate``, weight decay 1e-7) for the network and Adagrad(``center_learning_rate``)
        for the centre, unless the optimizers are given.

        Args:
            learning_rate: the network's Adam rate; 1e-3 (the paper).
            center_learning_rate: the centre's Adagrad rate; 1 (the paper). The authors' notebook
                (``main.ipynb``) uses 1 for MNIST, 0.01 for CIFAR-10 and 0.1 for PIMA.
            center_learning_rate_decay: inverse-time decay of the centre's rate, lr_t = lr / (1 + t * decay)
                at update t = 0, 1, ...; 0 (the paper). The authors' code uses 0.01
                (``torch.optim.Adagrad(lr_decay=0.01)``).

        Under ``mixed_float16`` both are wrapped in a ``LossScaleOptimizer``. ``model.optimizer``
        holds both (``network_optimizer`` and ``center_optimizer`` name each).
        """
        center_rate = self.center_learning_rate if center_learning_rate is None else float(center_learning_rate)
        decay = self.center_learning_rate_decay if center_learning_rate_decay is None else float(center_learning_rate_decay)
        if not (np.isfinite(center_rate) and center_rate > 0):
            raise ValueError(f"center_learning_rate must be a positive number, got {center_rate!r}.")
        if not (np.isfinite(decay) and decay >= 0):
            raise ValueError(f"center_learning_rate_decay must be a non-negative number, got {decay!r}.")
        self.remember_compile_settings(learning_rate=learning_rate, center_learning_rate=center_learning_rate,
                                       center_learning_rate_decay=center_learning_rate_decay)
        optimizer = optimizer or keras.optimizers.Adam(learning_rate or self.learning_rate,
                                                       weight_decay=self.weight_decay)
        if decay:  # torch.optim.Adagrad's lr_decay: lr / (1 + t * decay)
            center_rate = keras.optimizers.schedules.InverseTimeDecay(center_rate, decay_steps=1, decay_rate=decay)
        center_optimizer = center_optimizer or keras.optimizers.Adagrad(
            center_rate, initial_accumulator_value=0.0, epsilon=1e-10)
        self.compile_phases({"network": (optimizer, self.network_variables),
                             "center": (center_optimizer, [self.center])}, **kwargs)

    @property
    def network_optimizer(self):
        """The optimizer of the autoencoder (Adam by default)."""
        return self.phase_optimizer("network")

    @property
    def center_optimizer(self):
        """The optimizer of the centre (Adagrad by default)."""
        return self.phase_optimizer("center")

    def estimate_gamma(self, x) -> float:
        """Eq. 6: mean reconstruction error / mean ||z||^2 over ``gamma_trials`` random networks (c = 0)."""
        ratios = []
        for trial in range(self.gamma_trials):
            encoder, decoder = self._networks(self.seed_for(100 + trial))
            reconstruction, distance = 0.0, 0.0
            for batch in iterate_batches(x):
                z = encoder(batch, training=False)
                reconstruction += float(ops.sum(squared_error_per_sample(batch, decoder(z, training=False))))
                distance += float(ops.sum(squared_distance(z, ops.zeros((self.latent_dim,)))))
            if distance <= 0:
                raise ValueError("gamma cannot be estimated: every random encoder mapped the data to zero. "
                                 "Pass gamma=... explicitly.")
            ratios.append(reconstruction / distance)
        return float(np.mean(ratios))

    def prepare_fit(self, x) -> None:
        """Estimate gamma (eq. 6) before the first fit, unless it was given; a second fit keeps it."""
        if self.gamma is None:
            self.gamma = self.estimate_gamma(x)
        elif self.is_fitted and not self._gamma_given:
            self.warn_kept(f"gamma={self.gamma:.6g}")

    def _split(self, x):
        """(first kappa of the batch for the network, the rest for the centre); never empty."""
        batch = x.shape[0]
        if isinstance(batch, int):  # static batch size (JAX, PyTorch, fixed-size TF batches)
            n_center = max(batch - math.ceil(self.kappa * batch), 1)
            return x[:max(batch - n_center, 1)], x[batch - n_center:]
        batch = ops.shape(x)[0]
        n_center = ops.maximum(batch - ops.cast(ops.ceil(self.kappa * ops.cast(batch, "float32")), "int32"), 1)
        n_network = ops.maximum(batch - n_center, 1)
        return x[:n_network], x[batch - n_center:]

    def svdd_loss(self, z, center):
        """The SVDD term of the network's loss: mean ||z - c||^2 over the batch, (B, latent) -> ()."""
        return ops.mean(squared_distance(z, center))

    def train_phases(self):
        """The network on the first kappa of the batch (centre fixed), then the centre on the rest
        (network fixed)."""
        return [Phase("network", self.network_variables, self.network_optimizer, self.network_loss),
                Phase("center", [self.center], self.center_optimizer, self.center_loss)]

    def network_loss(self, x, outputs):
        """mean ||x_hat - x||^2 + gamma * mean ||z - c||^2 on the network's part of the batch."""
        x_network, _ = self._split(x)
        center = ops.stop_gradient(ops.convert_to_tensor(self.center))
        z = self.encoder(x_network, training=True)
        reconstruction = ops.mean(squared_error_per_sample(x_network, self.decoder(z, training=True)))
        svdd = self.svdd_loss(z, center)
        loss = reconstruction + ops.convert_to_tensor(self._gamma) * svdd
        return loss, {"loss": loss, "reconstruction_loss": reconstruction, "svdd_loss": svdd}

    def center_loss(self, x, outputs):
        """mean ||z - c||^2 on the centre's part of the batch, z without gradient."""
        _, x_center = self._split(x)
        z = ops.stop_gradient(self.encoder(x_center, training=True))
        return ops.mean(squared_distance(z, self.center)), {}

    # ----------------------------------------------------------------------------- scoring
    def call(self, x, training=False):
        """Reconstruction of ``x`` (the network's natural output)."""
        return self.decoder(self.encoder(x, training=training), training=training)

    def score(self, x):
        z = self.encoder(x, training=False)
        reconstruction = squared_error_per_sample(x, self.decoder(z, training=False))
        return reconstruction + self._gamma * squared_distance(z, self.center)
