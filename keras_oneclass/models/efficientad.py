"""EfficientAD (Batzner, Heckler & Koenig, WACV 2024), a small CPU-friendly variant.

As in the paper (section 3): a frozen teacher gives feature maps T(I) (normalised per channel with
the training-set mean and standard deviation); a student S predicts 2C channels, the first C
imitating the teacher with the hard-feature loss (only the squared differences above their 0.999
quantile count, section 3.1), the last C imitating an autoencoder A that reconstructs the teacher
features through a bottleneck (section 3.2; A and S see brightness/contrast-jittered images). Maps:
M_ST = mean_c (T - S_st)^2 and M_AE = mean_c (A - S_ae)^2, each normalised with the 0.9 and 0.995
quantiles q_a, q_b of its values on validation images as 0.1 (M - q_a) / (q_b - q_a) (section 3.3),
averaged, upsampled to the input size (and blurred with ``blur_sigma`` pixels, 0 by default as in
the paper); image score = maximum of the map.

Differences from the paper, for CPU budgets and offline use:
- teacher = a pretrained keras.applications layer (stride 8; EfficientNet-B0 when its weights exist,
  any family otherwise) followed by a fixed random 1x1 projection to ``channels`` (64 by default)
  instead of a PDN distilled from WideResNet-101 (384 channels);
- student: 4 conv blocks (strides 2, 2, 2, 1) instead of the PDN-S; autoencoder: 5 strided convs
  down, bilinear resizes and convs up, instead of the paper's 6 + 8 layers;
- no ImageNet penalty term on the student (no ImageNet images offline);
- training for ``epochs`` chosen by the user (the paper trains 70,000 steps of batch 1).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from keras_oneclass.anomaly_map import blurred, check_blur_sigma
from keras_oneclass.detector import PACKAGE, iterate_batches
from keras_oneclass.losses import hard_feature_loss
from keras_oneclass.networks.backbones import FAMILIES, BackboneArguments, FeatureExtractor, family_of
from keras_oneclass.networks.efficientad import efficientad_autoencoder, efficientad_student
from keras_oneclass.training import Phase, TrainedDetector


@keras.saving.register_keras_serializable(package=PACKAGE)
class EfficientAD(BackboneArguments, TrainedDetector):
    """Teacher-student-autoencoder detector with validation-quantile map normalisation.

    Args:
        input_shape: (H, W, C), C in {1, 3}, pixels in [0, 1].
        backbone: the teacher's backbone: a family name or a ready keras.applications model (frozen).
        layers: the teacher's feature layer, as a one-name list (as PaDiM's and PatchCore's
            ``layers``); default the family's stride-8 layer.
        weights, alpha, weights_dir, preprocessing: as in ``networks.backbones.FeatureExtractor``.
        channels: C, teacher channels after the fixed random projection (64; paper 384).
        hard_quantile: quantile above which student errors count (0.999, section 3.1).
        blur_sigma: Gaussian blur of the anomaly maps (and so of the image score), in input pixels;
            0 = none (the paper). 0.
        seed: seed of initialisations, projection, augmentation and data order (0).

    The optimisation is set by ``compile(learning_rate=1e-4, weight_decay=1e-5)`` (the paper's Adam).

    Fitted state: ``teacher_mean`` / ``teacher_std`` (C,), ``quantiles`` (4,) = q_a, q_b of M_ST
    then of M_AE, the student and autoencoder weights.

    Example:
        >>> model = EfficientAD((224, 224, 1), backbone="mobilenet", alpha=0.25)  # doctest: +SKIP
        >>> model.fit(x_train, epochs=10, validation_data=x_val)  # doctest: +SKIP
        >>> maps = model.anomaly_map(test.images)  # doctest: +SKIP
    """

    default_batch_size = 8
    localizes = True
    learning_rate = 1e-4  # Adam's, the default of compile() (paper, section 4)
    weight_decay = 1e-5

    def __init__(self, input_shape, backbone="efficientnetb0", layers=None, weights="imagenet",
                 alpha: float = 1.0, weights_dir=None, preprocessing=None, channels: int = 64,
                 hard_quantile: float = 0.999, blur_sigma: float = 0.0, seed: int | None = 0, **kwargs):
        super().__init__(input_shape, seed=seed, **kwargs)
        if layers is None:  # the family's stride-8 default layer
            family = preprocessing or (backbone if isinstance(backbone, str) else family_of(backbone))
            if family not in FAMILIES:
                raise ValueError(f"backbone must be one of {sorted(FAMILIES)} or a keras.Model, got {backbone!r}.")
            layers = [FAMILIES[family].layers[0]]
        if isinstance(layers, str) or len(layers) != 1:
            raise ValueError(f"EfficientAD's teacher reads one feature layer: layers must be a list of one layer "
                             f"name, got {layers!r}.")
        self.extractor = FeatureExtractor(backbone, self.sample_shape, layers=list(layers), weights=weights,
                                          alpha=alpha, weights_dir=weights_dir, preprocessing=preprocessing)
        if not 0.0 < hard_quantile < 1.0:
            raise ValueError(f"hard_quantile must be in (0, 1), got {hard_quantile}.")
        self.channels = int(channels)
        self.hard_quantile = float(hard_quantile)
        self.blur_sigma = check_blur_sigma(blur_sigma)
        spec = self.extractor.compute_output_spec(None)[0]
        self.grid = tuple(int(d) for d in spec.shape[1:3])
        rng = np.random.default_rng(self.seed_for(0))
        projection = np.linalg.qr(rng.standard_normal((max(spec.shape[-1], self.channels), self.channels)))[0]
        self.projection = self.add_weight(name="projection", shape=(spec.shape[-1], self.channels), trainable=False,
                                          initializer=keras.initializers.Constant(projection[:spec.shape[-1]]))
        self.teacher_mean = self.add_weight(name="teacher_mean", shape=(self.channels,), trainable=False,
                                            initializer="zeros")
        self.teacher_std = self.add_weight(name="teacher_std", shape=(self.channels,), trainable=False,
                                           initializer="ones")
        self.quantiles = self.add_weight(name="quantiles", shape=(4,), trainable=False,
                                         initializer=keras.initializers.Constant([0.0, 1.0, 0.0, 1.0]))
        self.student = efficientad_student(self.sample_shape, self.channels, self.grid, self.seed_for(1))
        self.autoencoder = efficientad_autoencoder(self.sample_shape, self.channels, self.grid, self.seed_for(2))
        self.seed_generator = keras.random.SeedGenerator(self.seed_for(3))
        self.total_tracker = keras.metrics.Mean(name="loss")
        self.student_tracker = keras.metrics.Mean(name="student_loss")
        self.autoencoder_tracker = keras.metrics.Mean(name="autoencoder_loss")
        self.agreement_tracker = keras.metrics.Mean(name="student_autoencoder_loss")
        self.build()

    @property
    def metrics(self):
        return [self.total_tracker, self.student_tracker, self.autoencoder_tracker, self.agreement_tracker]

    @property
    def network_variables(self):
        return self.student.trainable_variables + self.autoencoder.trainable_variables

    def compile(self, optimizer=None, learning_rate: float | None = None, weight_decay: float | None = None,
                **kwargs):
        """Adam(``learning_rate`` 1e-4, ``weight_decay`` 1e-5) for student and autoencoder (paper section 4),
        unless ``optimizer`` is given."""
        self.remember_compile_settings(learning_rate=learning_rate, weight_decay=weight_decay)
        optimizer = optimizer or keras.optimizers.Adam(
            self.learning_rate if learning_rate is None else learning_rate,
            weight_decay=self.weight_decay if weight_decay is None else weight_decay)
        self.compile_phases({"network": (optimizer, self.network_variables)}, **kwargs)

    # ----------------------------------------------------------------------------- networks
    def raw_teacher(self, images):
        """(B, H, W, C) -> projected teacher features (B, h, w, channels), not normalised."""
        return ops.matmul(self.extractor(images)[0], self.projection)

    def teach(self, images):
        return ops.stop_gradient((self.raw_teacher(images) - self.teacher_mean) / self.teacher_std)

    @property
    def input_range(self):
        return (0.0, 1.0)

    def prepare_fit(self, x) -> None:
        """Channel mean and standard deviation of the projected teacher features on the training data
        (first fit only; a second fit keeps them, with a warning)."""
        if self.is_fitted:
            self.warn_kept("the teacher's feature normalisation")
            return
        total, total_sq, count = 0.0, 0.0, 0
        for batch in iterate_batches(x):
            features = ops.convert_to_numpy(self.raw_teacher(batch)).astype(np.float64)
            total = total + features.sum(axis=(0, 1, 2))
            total_sq = total_sq + np.square(features).sum(axis=(0, 1, 2))
            count += features.shape[0] * features.shape[1] * features.shape[2]
        mean = total / count
        self.teacher_mean.assign(mean.astype(np.float32))
        variance = np.maximum(total_sq / count - mean ** 2, 0.0)
        self.teacher_std.assign(np.where(variance > 0, np.sqrt(variance), 1.0).astype(np.float32))

    def augment(self, images):
        """Random brightness and contrast factors in [0.8, 1.2] per image (paper: autoencoder input)."""
        batch = ops.shape(images)[0]
        brightness = keras.random.uniform((batch, 1, 1, 1), 0.8, 1.2, seed=self.seed_generator)
        contrast = keras.random.uniform((batch, 1, 1, 1), 0.8, 1.2, seed=self.seed_generator)
        mean = ops.mean(images, axis=(1, 2, 3), keepdims=True)
        return ops.clip(((images - mean) * contrast + mean) * brightness, 0.0, 1.0)

    def losses_of(self, images, training: bool):
        teacher = self.teach(images)
        student = ops.cast(self.student(images, training=training), "float32")
        student_loss = hard_feature_loss(teacher, student[..., :self.channels], self.hard_quantile)
        augmented = self.augment(images) if training else images
        teacher_aug = self.teach(augmented)
        reconstruction = ops.cast(self.autoencoder(augmented, training=training), "float32")
        student_aug = ops.cast(self.student(augmented, training=training), "float32")[..., self.channels:]
        autoencoder_loss = ops.mean(ops.square(teacher_aug - reconstruction))
        agreement_loss = ops.mean(ops.square(ops.stop_gradient(reconstruction) - student_aug))
        return student_loss, autoencoder_loss, agreement_loss

    def _named(self, student_loss, autoencoder_loss, agreement_loss) -> dict:
        return {"loss": student_loss + autoencoder_loss + agreement_loss, "student_loss": student_loss,
                "autoencoder_loss": autoencoder_loss, "student_autoencoder_loss": agreement_loss}

    def train_phases(self):
        return [Phase("network", self.network_variables, self.phase_optimizer("network"), self.network_loss)]

    def network_loss(self, x, outputs):
        """Student (hard features) + autoencoder + student-autoencoder agreement, one update."""
        named = self._named(*self.losses_of(ops.cast(x, "float32"), training=True))
        return named["loss"], named

    def evaluation_outputs(self, x):
        return self._named(*self.losses_of(ops.cast(x, "float32"), training=False))

    # ----------------------------------------------------------------------------- maps
    def raw_maps(self, images):
        """(M_ST, M_AE), each (B, h, w), before normalisation."""
        teacher = self.teach(images)
        student = ops.cast(self.student(images, training=False), "float32")
        reconstruction = ops.cast(self.autoencoder(images, training=False), "float32")
        map_st = ops.mean(ops.square(teacher - student[..., :self.channels]), axis=-1)
        map_ae = ops.mean(ops.square(reconstruction - student[..., self.channels:]), axis=-1)
        return map_st, map_ae

    def grid_map(self, images):
        """(B, h, w) combined, quantile-normalised map on the teacher grid."""
        map_st, map_ae = self.raw_maps(images)
        q = self.quantiles
        map_st = 0.1 * (map_st - q[0]) / ops.maximum(q[1] - q[0], 1e-12)
        map_ae = 0.1 * (map_ae - q[2]) / ops.maximum(q[3] - q[2], 1e-12)
        return 0.5 * map_st + 0.5 * map_ae

    def after_fit(self, x, validation_data) -> None:
        """Set the map quantiles on ``validation_data`` (normal images; the paper's validation set) or,
        when none is given, on the training data: after every fit, as they follow the trained networks."""
        if isinstance(validation_data, tuple):
            validation_data = validation_data[0]
        self.normalise_maps(validation_data if validation_data is not None else x)

    def normalise_maps(self, x) -> None:
        """Set q_a (0.9) and q_b (0.995) quantiles of M_ST and M_AE over normal images ``x``."""
        maps_st, maps_ae = [], []
        for batch in iterate_batches(x):
            map_st, map_ae = self.raw_maps(ops.cast(batch, "float32"))
            maps_st.append(ops.convert_to_numpy(map_st).ravel())
            maps_ae.append(ops.convert_to_numpy(map_ae).ravel())
        st, ae = np.concatenate(maps_st), np.concatenate(maps_ae)
        self.quantiles.assign(np.array([np.quantile(st, 0.9), np.quantile(st, 0.995),
                                        np.quantile(ae, 0.9), np.quantile(ae, 0.995)], dtype=np.float32))

    def call(self, x):
        """The combined anomaly map on the teacher grid, (B, h, w)."""
        return self.grid_map(x)

    def full_map(self, images):
        """(B, H, W) combined map upsampled (bilinear) to the input size and blurred with ``blur_sigma``."""
        maps = ops.image.resize(self.grid_map(images)[..., None], self.sample_shape[:2], interpolation="bilinear")
        return blurred(maps[..., 0], self.blur_sigma)

    def score(self, x):
        """(B,) float32 maximum of the full-resolution map."""
        return ops.max(self.full_map(x), axis=(1, 2))

    def map_batch(self, x):
        maps = self.full_map(ops.cast(x, "float32"))
        return ops.max(maps, axis=(1, 2)), maps
