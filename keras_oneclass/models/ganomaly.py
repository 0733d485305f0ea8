"""GANomaly: semi-supervised anomaly detection via adversarial training (Akcay, Atapour-Abarghouei &
Breckon, ACCV 2018).

Generator G = encoder G_E -> decoder G_D -> second encoder E: x -> z = G_E(x) -> x_hat = G_D(z) ->
z_hat = E(x_hat). A DCGAN discriminator D tells x from x_hat. Each training step (sec. 3.2):

- generator update (Adam 2e-4, beta_1 0.5) on  w_adv * L_adv + w_con * L_con + w_enc * L_enc  with
  L_adv = mean ||f(x) - f(x_hat)||^2 (feature matching on D's last feature map),
  L_con = mean |x - x_hat| (L1), L_enc = mean ||z - z_hat||^2; weights 1, 50, 1 (sec. 4.2);
- discriminator update (Adam 2e-4, beta_1 0.5) on the binary cross-entropy of real vs x_hat;
- if the discriminator loss collapses below 1e-5, D is re-initialised (reference code): every D
  variable is set back to its stored initial value by a select after the updates, no Python state.

Score = mean over latent units of (G_E(x) - E(G(x)))^2 (the reference code's per-sample mean; the
paper writes the squared norm, which is latent_dim times this and ranks identically).
``anomaly_map`` = per-pixel squared error of x and G(x).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from keras_oneclass.anomaly_map import ReconstructionMaps
from keras_oneclass.detector import PACKAGE
from keras_oneclass.losses import latent_distance
from keras_oneclass.networks.dcgan import dcgan_decoder, dcgan_discriminator, dcgan_encoder
from keras_oneclass.training import Phase, TrainedDetector

COLLAPSE_THRESHOLD = 1e-5
SCORINGS = ("latent", "map_max")


@keras.saving.register_keras_serializable(package=PACKAGE)
class GANomaly(ReconstructionMaps, TrainedDetector):
    """GANomaly detector for images.

    Args:
        input_shape: (H, W, C), e.g. (32, 32, 1) for padded MNIST or (256, 256, 3); odd sides are
            zero-padded inside the networks and cropped back.
        latent_dim: size of z. 100 (sec. 4.2).
        base_filters: filters of the first conv layer, doubled per stage. 64 (DCGAN).
        output_activation: "sigmoid" for images in [0, 1] (ours); the paper uses "tanh" with images in [-1, 1].
        adversarial_weight, contextual_weight, latent_weight: w_adv, w_con, w_enc, the weights of the
            generator's three losses. 1, 50, 1 (sec. 4.2).
        scoring: "latent" (the paper's ||G_E(x) - E(G(x))||^2; default) or "map_max" (the peak of the
            anomaly map: small defects on texture).
        blur_sigma: Gaussian blur of the anomaly maps (and so of the "map_max" score), in pixels;
            0 = none. 4.
        seed: initialisation and shuffling seed (0).

    Fitted state: the four networks ``generator_encoder`` (G_E), ``generator_decoder`` (G_D),
    ``encoder`` (E) and ``discriminator`` (D). Trackers: ``loss`` (generator total), ``adversarial_loss``,
    ``contextual_loss``, ``latent_loss``, ``discriminator_loss`` and ``discriminator_resets`` (re-initialisations
    in the epoch, counted once per replica under a tf.distribute strategy).

    Example:
        >>> import numpy as np
        >>> from keras_oneclass import GANomaly
        >>> model = GANomaly(input_shape=(32, 32, 1), latent_dim=16, base_filters=8, seed=0)
        >>> _ = model.fit(np.random.rand(64, 32, 32, 1).astype("float32"), epochs=1, verbose=0)
        >>> model.predict(np.random.rand(4, 32, 32, 1).astype("float32"), verbose=0).shape
        (4,)
    """

    default_batch_size = 64
    learning_rate = 2e-4  # Adam's for both networks, the default of compile()
    beta_1 = 0.5
    collapse_threshold = COLLAPSE_THRESHOLD  # discriminator loss below which D is re-initialised

    def __init__(self, input_shape, latent_dim: int = 100, base_filters: int = 64,
                 output_activation: str | None = "sigmoid", adversarial_weight: float = 1.0,
                 contextual_weight: float = 50.0, latent_weight: float = 1.0, scoring: str = "latent",
                 blur_sigma: float = 4.0, seed: int | None = 0, **kwargs):
        super().__init__(input_shape, seed=seed, **kwargs)
        if len(self.sample_shape) != 3:
            raise ValueError(f"GANomaly needs images: input_shape=(H, W, C), got {self.sample_shape}.")
        self.check_scoring(scoring, SCORINGS, blur_sigma)
        weights = {"adversarial_weight": adversarial_weight, "contextual_weight": contextual_weight,
                   "latent_weight": latent_weight}
        for name, value in weights.items():
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a non-negative number, got {value!r}.")
        self.adversarial_weight = float(adversarial_weight)
        self.contextual_weight = float(contextual_weight)
        self.latent_weight = float(latent_weight)
        self.latent_dim = int(latent_dim)
        self.base_filters = int(base_filters)
        self.output_activation = output_activation
        self.generator_encoder = dcgan_encoder(self.sample_shape, self.latent_dim, self.base_filters,
                                               seed=self.seed_for(0), name="generator_encoder")
        self.generator_decoder = dcgan_decoder(self.sample_shape, self.latent_dim, self.base_filters,
                                               output_activation, seed=self.seed_for(1), name="generator_decoder")
        self.encoder = dcgan_encoder(self.sample_shape, self.latent_dim, self.base_filters,
                                     seed=self.seed_for(2), name="encoder")
        self.discriminator = dcgan_discriminator(self.sample_shape, self.base_filters, seed=self.seed_for(3))
        # Initial values of every D variable (incl. BatchNorm statistics), for re-initialisation.
        self.discriminator_initial = [
            self.add_weight(name=f"initial_{i}", shape=v.shape, dtype=v.dtype, trainable=False,
                            initializer=keras.initializers.Constant(ops.convert_to_numpy(v)))
            for i, v in enumerate(self.discriminator.variables)]
        self.generator_tracker = keras.metrics.Mean(name="loss")
        self.adversarial_tracker = keras.metrics.Mean(name="adversarial_loss")
        self.contextual_tracker = keras.metrics.Mean(name="contextual_loss")
        self.latent_tracker = keras.metrics.Mean(name="latent_loss")
        self.discriminator_tracker = keras.metrics.Mean(name="discriminator_loss")
        self.reset_tracker = keras.metrics.Sum(name="discriminator_resets")
        self.build()

    @property
    def metrics(self):
        return [self.generator_tracker, self.adversarial_tracker, self.contextual_tracker, self.latent_tracker,
                self.discriminator_tracker, self.reset_tracker]

    @property
    def generator_variables(self):
        return (self.generator_encoder.trainable_variables + self.generator_decoder.trainable_variables
                + self.encoder.trainable_variables)

    def compile(self, g_optimizer=None, d_optimizer=None, learning_rate: float | None = None, **kwargs):
        """Adam(``learning_rate``, beta_1=0.5) for generator and discriminator unless given; the rate is
        2e-4 by default (sec. 4.2). The loss weights are constructor arguments.

        Under ``mixed_float16`` both optimizers are wrapped in a ``LossScaleOptimizer``.
        """
        self.remember_compile_settings(learning_rate=learning_rate)
        rate = learning_rate or self.learning_rate
        g_optimizer = g_optimizer or keras.optimizers.Adam(rate, beta_1=self.beta_1)
        d_optimizer = d_optimizer or keras.optimizers.Adam(rate, beta_1=self.beta_1)
        self.compile_phases({"generator": (g_optimizer, self.generator_variables),
                             "discriminator": (d_optimizer, self.discriminator.trainable_variables)}, **kwargs)

    @property
    def g_optimizer(self):
        return self.phase_optimizer("generator")

    @property
    def d_optimizer(self):
        return self.phase_optimizer("discriminator")

    def train_phases(self):
        return [Phase("generator", self.generator_variables, self.g_optimizer, self.generator_loss),
                Phase("discriminator", self.discriminator.trainable_variables, self.d_optimizer,
                      self.discriminator_loss)]

    def generator_loss(self, x, outputs):
        """w_adv * L_adv + w_con * L_con + w_enc * L_enc; passes x_hat on to the discriminator."""
        x = ops.cast(x, "float32")
        z = self.generator_encoder(x, training=True)
        x_hat = self.generator_decoder(z, training=True)
        z_hat = self.encoder(x_hat, training=True)
        _, real_features = self.discriminator(x, training=True)
        _, fake_features = self.discriminator(x_hat, training=True)
        adversarial = ops.mean(ops.square(ops.cast(real_features, "float32") - ops.cast(fake_features, "float32")))
        contextual = ops.mean(ops.abs(x - ops.cast(x_hat, "float32")))
        latent = ops.mean(ops.square(ops.cast(z, "float32") - ops.cast(z_hat, "float32")))
        loss = self.adversarial_weight * adversarial + self.contextual_weight * contextual + self.latent_weight * latent
        return loss, {"loss": loss, "adversarial_loss": adversarial, "contextual_loss": contextual,
                      "latent_loss": latent, "x_hat": x_hat}

    def discriminator_loss(self, x, outputs):
        """Binary cross-entropy of D on real x (label 1) and the generator's x_hat (label 0)."""
        real_logit, _ = self.discriminator(x, training=True)
        fake_logit, _ = self.discriminator(ops.stop_gradient(outputs["x_hat"]), training=True)
        real_logit, fake_logit = ops.cast(real_logit, "float32"), ops.cast(fake_logit, "float32")
        loss = 0.5 * (ops.mean(ops.binary_crossentropy(ops.ones_like(real_logit), real_logit, from_logits=True))
                      + ops.mean(ops.binary_crossentropy(ops.zeros_like(fake_logit), fake_logit, from_logits=True)))
        return loss, {"discriminator_loss": loss}

    def after_update(self, x, outputs):
        """Re-initialise D (every variable, by a select) when its loss collapsed below the threshold."""
        collapsed = outputs["discriminator_loss"] < self.collapse_threshold
        for variable, initial in zip(self.discriminator.variables, self.discriminator_initial):
            variable.assign(ops.where(collapsed, ops.convert_to_tensor(initial), ops.convert_to_tensor(variable)))
        outputs["discriminator_resets"] = ops.cast(collapsed, "float32")

    # ----------------------------------------------------------------------------- scoring
    def call(self, x, training=False):
        """G(x): the reconstruction G_D(G_E(x)), (B, H, W, C)."""
        return self.generator_decoder(self.generator_encoder(x, training=training), training=training)

    def reconstruct(self, x):
        return self(x, training=False)

    def _scores_and_error_map(self, x, with_map: bool):
        z = self.generator_encoder(x, training=False)
        x_hat = self.generator_decoder(z, training=False)
        error_map = self.error_map(x, x_hat) if with_map or self.scoring == "map_max" else None
        if self.scoring == "map_max":
            return ops.max(error_map, axis=(1, 2)), error_map
        return latent_distance(z, self.encoder(x_hat, training=False)), error_map

    def map_batch(self, x):
        return self._scores_and_error_map(x, with_map=True)

    def score(self, x):
        """(B,) float32 mean over latent units of (G_E(x) - E(G(x)))^2, or the peak of the anomaly map
        ("map_max")."""
        return self._scores_and_error_map(x, with_map=False)[0]
