"""Deep SVDD: Deep Support Vector Data Description (Ruff et al., "Deep One-Class Classification", ICML 2018).

A bias-free network phi maps normal data into a small hypersphere around a fixed centre c
(Section 3 of the paper):

- one-class objective (eq. 4): minimise mean ||phi(x) - c||^2 (+ weight decay);
- soft-boundary objective (eq. 3): minimise R^2 + 1/nu * mean max(0, ||phi(x) - c||^2 - R^2); as in
  the authors' code, R is not a gradient variable but is set, on every mini-batch after
  ``warm_up_epochs`` epochs, to the (1 - nu)-quantile of the batch's distances ||phi(x) - c||;
- c is the mean of the initial embeddings of the training data (after the optional autoencoder
  pretraining), with coordinates closer than ``center_eps`` to zero pushed to +-eps (Section 3.3:
  a centre at zero invites trivial solutions);
- the anomaly score is ||phi(x) - c||^2, minus R^2 for soft-boundary (eq. 5).

Published settings (Section 4.1 and the authors' Deep-SVDD-PyTorch README for CIFAR-10 / MNIST):
Adam, learning rate 1e-4, batch 200, weight decay 0.5e-6, 150 epochs with the learning rate divided
by 10 at epoch 50; autoencoder pretraining 350 epochs with the milestone at epoch 250 and weight
decay 0.5e-6 on CIFAR-10, 150 epochs with the milestone at 50 and weight decay 0.5e-3 on MNIST
(``PRETRAIN_PROTOCOL``, picked by input size); nu = 0.1;
10 warm-up epochs; eps = 0.1; images global-contrast-normalised (l1) and min-max scaled per class.
"""

from __future__ import annotations

import math
from typing import Sequence

import keras
import numpy as np
from keras import ops

from keras_oneclass import backends
from keras_oneclass.detector import PACKAGE, features_of, iterate_batches
from keras_oneclass.optimizers import L2Adam
from keras_oneclass.networks.lenet import NEGATIVE_SLOPE, VARIANTS, lenet_autoencoder, lenet_preset
from keras_oneclass.losses import squared_distance, sum_squared_error
from keras_oneclass.training import ArrayBatches, Phase, TrainedDetector
from keras_oneclass.training.batches import SelfTargets

OBJECTIVES = ("one-class", "soft-boundary")


class EpochSchedule(keras.callbacks.Callback):
    """Multiplies the learning rate by ``factor`` at each milestone epoch and counts epochs.

    Args:
        base_learning_rate: learning rate before the first milestone (None: leave it alone, e.g.
            when the optimizer has its own schedule).
        milestones: 0-based epochs at which the learning rate is multiplied by ``factor``.
        epoch_variable: a Keras variable that receives the epoch index (read by the soft-boundary update).
    """

    def __init__(self, base_learning_rate: float | None, milestones: Sequence[int] = (), factor: float = 0.1,
                 epoch_variable=None):
        super().__init__()
        self.base_learning_rate = base_learning_rate
        self.milestones = tuple(int(m) for m in milestones)
        self.factor = factor
        self.epoch_variable = epoch_variable

    def on_epoch_begin(self, epoch, logs=None):
        if self.epoch_variable is not None:
            self.epoch_variable.assign(float(epoch))
        if self.base_learning_rate is not None:
            passed = sum(epoch >= m for m in self.milestones)
            self.model.optimizer.learning_rate = self.base_learning_rate * self.factor ** passed


# Autoencoder pretraining of Ruff et al.'s published commands (Deep-SVDD-PyTorch README), by input size:
# MNIST --ae_n_epochs 150 --ae_lr_milestone 50 --ae_weight_decay 0.5e-3; CIFAR-10 350, 250, 0.5e-6.
# The Deep SVDD phase is the same for both: 150 epochs, milestone 50, weight decay 0.5e-6.
PRETRAIN_PROTOCOL = {
    (28, 28): {"epochs": 150, "milestones": (50,), "weight_decay": 0.5e-3},
    (32, 32): {"epochs": 350, "milestones": (250,), "weight_decay": 0.5e-6},
}


def pretrain_protocol(input_shape) -> dict:
    """The published pretraining settings for a 28x28 (MNIST) or 32x32 (CIFAR-10) input shape."""
    lenet_preset(input_shape)  # a clear error for any other shape
    return PRETRAIN_PROTOCOL[tuple(int(d) for d in input_shape[:2])]


def fixed_learning_rate(optimizer) -> float | None:
    """The optimizer's learning rate as a float, or None when it is a schedule."""
    rate = getattr(optimizer, "_learning_rate", None)
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        rate = getattr(optimizer.inner_optimizer, "_learning_rate", None)
    if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule) or callable(rate):
        return None
    return float(ops.convert_to_numpy(optimizer.learning_rate))


@keras.saving.register_keras_serializable(package=PACKAGE)
class DeepSVDD(TrainedDetector):
    """Deep SVDD with the paper's LeNet-type networks, original or enhanced.

    Args:
        input_shape: (28, 28, C) (MNIST net, 32-unit representation) or (32, 32, C) (CIFAR-10 net,
            128 units).
        variant: "original" (Ruff et al.: 5x5 kernels, BatchNorm without affine) or "enhanced" (3x3
            kernels, affine BatchNorm, bilinear upsampling in the decoder); see
            ``keras_oneclass.networks.lenet``.
        objective: "one-class" (eq. 4) or "soft-boundary" (eq. 3).
        nu: soft-boundary trade-off, fraction of training points allowed outside the sphere. 0.1.
        pretrain_epochs: epochs of autoencoder pretraining before the first ``fit`` (its encoder
            initialises phi, so the pretraining belongs to the model's recipe, like ``fit``'s epochs to
            training); 0 skips pretraining. None: the published protocol for the input size
            (``PRETRAIN_PROTOCOL``: 150 for 28x28 MNIST, 350 for 32x32 CIFAR-10).
        warm_up_epochs: soft-boundary only: epochs before R is first updated. 10.
        center_eps: coordinates of c closer than this to zero are pushed to +-eps. 0.1.
        negative_slope: leaky ReLU slope (0.01, as F.leaky_relu in the reference code).
        seed: seed of the initialisation and of the data order of array inputs (0).

    The optimisation (learning rate, milestones, weight decay of both phases) is set by ``compile()``.

    Fitted state: ``center`` (rep_dim,), ``radius`` (soft-boundary), ``threshold`` after ``calibrate``.
    Scores: (N,) float32 = ||phi(x) - c||^2 (- R^2), higher = more anomalous.

    Example:
        >>> from keras_oneclass import DeepSVDD, datasets
        >>> x_train, (x_test, y_test) = datasets.load_oneclass("cifar10", normal_class=3, as_numpy=True)
        >>> model = DeepSVDD(input_shape=(32, 32, 3), variant="enhanced", pretrain_epochs=350, seed=0)
        >>> model.fit(x_train, epochs=150)
        >>> scores = model.predict(x_test)          # (10000,) float32
    """

    default_batch_size = 200
    learning_rate = 1e-4
    weight_decay = 0.5e-6
    adam_epsilon = 1e-8  # torch.optim.Adam's default

    def __init__(self, input_shape, variant: str = "original", objective: str = "one-class", nu: float = 0.1,
                 pretrain_epochs: int | None = None, warm_up_epochs: int = 10, center_eps: float = 0.1,
                 negative_slope: float = NEGATIVE_SLOPE, seed: int | None = 0, **kwargs):
        super().__init__(input_shape, seed=seed, **kwargs)
        protocol = pretrain_protocol(self.sample_shape)
        pretrain_epochs = protocol["epochs"] if pretrain_epochs is None else pretrain_epochs
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}.")
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}.")
        if not 0.0 < nu <= 1.0:
            raise ValueError(f"nu must be in (0, 1], got {nu}.")
        if int(pretrain_epochs) < 0 or int(warm_up_epochs) < 0:
            raise ValueError(f"pretrain_epochs and warm_up_epochs must be >= 0, got {pretrain_epochs}, "
                             f"{warm_up_epochs}.")
        if not center_eps >= 0:
            raise ValueError(f"center_eps must be >= 0, got {center_eps}.")
        self.rep_dim = lenet_preset(self.sample_shape)["rep_dim"]
        self.variant = variant
        self.objective = objective
        self.nu = float(nu)
        self.pretrain_epochs = int(pretrain_epochs)
        self._set_schedule(self.learning_rate, (50,), protocol["milestones"], protocol["weight_decay"])
        self.warm_up_epochs = int(warm_up_epochs)
        self.center_eps = float(center_eps)
        self.negative_slope = float(negative_slope)
        self.encoder, self.autoencoder = lenet_autoencoder(self.sample_shape, variant, self.negative_slope,
                                                           seed=self.seed_for(0))
        self.center = self.add_weight(name="center", shape=(self.rep_dim,), dtype="float32", trainable=False,
                                      initializer="zeros")
        self.radius = self.add_weight(name="radius", shape=(), dtype="float32", trainable=False,
                                      initializer="zeros", aggregation="only_first_replica")
        self._epoch = self.add_weight(name="epoch", shape=(), dtype="float32", trainable=False,
                                      initializer="zeros", aggregation="only_first_replica")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.distance_tracker = keras.metrics.Mean(name="distance")
        self.pretrain_history = None
        self.build()

    @property
    def metrics(self):
        return [self.loss_tracker, self.distance_tracker]

    def _optimizer(self, weight_decay: float | None = None):
        decay = self.weight_decay if weight_decay is None else weight_decay
        return L2Adam(self.base_learning_rate, l2=decay, epsilon=self.adam_epsilon)

    def _set_schedule(self, learning_rate, learning_rate_milestones, pretrain_milestones, pretrain_weight_decay):
        if not (np.isfinite(learning_rate) and learning_rate > 0):
            raise ValueError(f"learning_rate must be a positive number, got {learning_rate!r}.")
        if not pretrain_weight_decay >= 0:
            raise ValueError(f"pretrain_weight_decay must be >= 0, got {pretrain_weight_decay}.")
        self.base_learning_rate = float(learning_rate)
        self.learning_rate_milestones = tuple(int(m) for m in learning_rate_milestones)
        self.pretrain_milestones = tuple(int(m) for m in pretrain_milestones)
        self.pretrain_weight_decay = float(pretrain_weight_decay)

    # ----------------------------------------------------------------------------- training
    def compile(self, optimizer=None, learning_rate: float | None = None,
                learning_rate_milestones: Sequence[int] = (50,), pretrain_milestones: Sequence[int] | None = None,
                pretrain_weight_decay: float | None = None, **kwargs):
        """Adam(``learning_rate``, weight decay 0.5e-6) unless ``optimizer`` is given (Section 4.1); Keras
        wraps it in a ``LossScaleOptimizer`` under ``mixed_float16``.

        The decay is added to the gradient (``L2Adam``), as torch.optim.Adam in the authors' code does,
        not decoupled as in Keras' Adam; the pretraining optimizer follows the same rule.

        Args:
            learning_rate: Adam's rate for pretraining and training; 1e-4.
            learning_rate_milestones: epochs at which the Deep SVDD learning rate drops 10x. (50,).
            pretrain_milestones: epochs at which the pretraining learning rate drops 10x. None: (50,)
                for 28x28, (250,) for 32x32.
            pretrain_weight_decay: weight decay of the pretraining. None: 0.5e-3 for 28x28, 0.5e-6 for 32x32.
        """
        protocol = pretrain_protocol(self.sample_shape)
        self._set_schedule(self.learning_rate if learning_rate is None else learning_rate, learning_rate_milestones,
                           protocol["milestones"] if pretrain_milestones is None else pretrain_milestones,
                           protocol["weight_decay"] if pretrain_weight_decay is None else pretrain_weight_decay)
        self.remember_compile_settings(learning_rate=learning_rate,
                                       learning_rate_milestones=list(self.learning_rate_milestones),
                                       pretrain_milestones=None if pretrain_milestones is None else list(self.pretrain_milestones),
                                       pretrain_weight_decay=pretrain_weight_decay)
        self.compile_phases({"network": (optimizer or self._optimizer(), self.encoder.trainable_variables)}, **kwargs)

    def fit(self, x=None, y=None, batch_size=None, callbacks=None, **kwargs):
        """Pretrain (first call, if ``pretrain_epochs``), set c (first call), then train phi.

        The learning rate drops 10x at ``learning_rate_milestones`` when the optimizer has a fixed rate.
        """
        if not self.compiled:
            self.compile()
        schedule = EpochSchedule(fixed_learning_rate(self.optimizer), self.learning_rate_milestones,
                                 epoch_variable=self._epoch)
        self._fit_verbose = kwargs.get("verbose", "auto")  # pretraining reports like fit
        return super().fit(x, y, batch_size=batch_size, callbacks=[*(callbacks or []), schedule], **kwargs)

    def prepare_fit(self, x) -> None:
        """Pretrain and set c before the first fit; a second fit keeps c (and skips pretraining)."""
        if self.is_fitted:
            self.warn_kept("the centre c")
            return
        if self.pretrain_epochs:
            self.pretrain(x, self.pretrain_epochs, verbose=getattr(self, "_fit_verbose", "auto"))
        self.initialize_center(x)

    def _autoencoder_data(self, x):
        """``x`` as batches of ``(x, x)`` pairs for the autoencoder's compiled loss."""
        if backends.is_tf_dataset(x):
            return x.map(lambda *batch: (features_of(batch), features_of(batch)))
        if isinstance(x, keras.utils.PyDataset):
            return SelfTargets(x)
        if backends.name() == "tensorflow":
            return self.array_pipeline(x, self.default_batch_size).map(lambda batch: (batch, batch))
        return ArrayBatches(x, self.default_batch_size, seed=self.seed_for(2), targets="self")

    def pretrain(self, x, epochs: int, verbose="auto", callbacks=None):
        """Train the autoencoder (sum of squared errors per sample, Adam 1e-4 with the milestones);
        phi shares its encoder layers, so it starts from the pretrained weights.

        Args:
            x: normal training data (array or batched dataset).
            epochs: pretraining epochs.
        Returns:
            the Keras History of the autoencoder.
        """
        self.autoencoder.compile(optimizer=self._optimizer(self.pretrain_weight_decay), loss=sum_squared_error,
                                 jit_compile=self.auto_jit_compile())
        data = self._autoencoder_data(x)
        schedule = EpochSchedule(self.base_learning_rate, self.pretrain_milestones)
        self.pretrain_history = self.autoencoder.fit(data, epochs=epochs, verbose=verbose, shuffle=False,
                                                     callbacks=[*(callbacks or []), schedule])
        return self.pretrain_history

    def initialize_center(self, x) -> np.ndarray:
        """c = mean of phi(x) over ``x`` (inference mode), coordinates within eps of zero pushed to +-eps."""
        total, count = np.zeros(self.rep_dim, np.float64), 0
        for batch in iterate_batches(x):
            z = ops.convert_to_numpy(self.encoder(batch, training=False)).astype(np.float64)
            total += z.sum(axis=0)
            count += z.shape[0]
        center = total / count
        eps = self.center_eps
        center[(np.abs(center) < eps) & (center < 0)] = -eps
        center[(np.abs(center) < eps) & (center > 0)] = eps
        self.center.assign(center.astype(np.float32))
        return center.astype(np.float32)

    def objective_loss(self, distances):
        """The training loss of a batch of squared distances (B,) -> scalar float32."""
        if self.objective == "one-class":
            return ops.mean(distances)
        radius_sq = ops.square(self.radius)
        return radius_sq + ops.mean(ops.relu(distances - radius_sq)) / self.nu

    def train_phases(self):
        return [Phase("network", self.encoder.trainable_variables, self.phase_optimizer("network"), self.network_loss)]

    def network_loss(self, x, outputs, training: bool = True):
        """The objective on the batch's squared distances to c; passes the distances on."""
        distances = squared_distance(self.encoder(x, training=training), self.center)
        loss = self.objective_loss(distances)
        return loss, {"loss": loss, "distance": ops.mean(distances), "distances": distances}

    def evaluation_outputs(self, x):
        return self.network_loss(x, {}, training=False)[1]

    def after_update(self, x, outputs):
        """Soft-boundary: after the warm-up epochs, R = the (1 - nu)-quantile of the batch's distances."""
        if self.objective == "soft-boundary":
            quantile = ops.quantile(ops.sqrt(outputs["distances"]), 1.0 - self.nu)
            warm = ops.cast(ops.convert_to_tensor(self._epoch) >= self.warm_up_epochs, "float32")
            radius = ops.convert_to_tensor(self.radius)
            self.radius.assign(warm * ops.cast(quantile, "float32") + (1.0 - warm) * radius)

    # ----------------------------------------------------------------------------- scoring
    def call(self, x, training=False):
        """The representation phi(x), (B, rep_dim) float32."""
        return self.encoder(x, training=training)

    def score(self, x):
        distances = squared_distance(self.encoder(x, training=False), self.center)
        if self.objective == "soft-boundary":
            distances = distances - ops.square(self.radius)
        return distances
