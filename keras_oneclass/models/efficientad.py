"""EfficientAD (Batzner, Heckler & Koenig, WACV 2024), as published.

- Teacher T: a PDN distilled from a pretrained backbone (``models.efficientad_teacher``; shipped:
  PDN-S from MobileNet alpha 0.25 on CIFAR-10, offline stand-ins for the paper's WideResNet-101 on
  ImageNet), frozen; its outputs are normalised per channel with their mean and standard deviation
  over the training images.
- Student S: a PDN of the same size with 2C outputs. The first C imitate T with the hard-feature loss
  (only squared differences at or above their 0.999 quantile count, section 3.1) plus the penalty
  mean_c ||S(P)_c||^2 on natural images P (``penalty_images``; section 3.1).
- Autoencoder A (the appendix's): reconstructs T's features of an augmented image (one of brightness,
  contrast, saturation with a factor in [0.8, 1.2], section 3.2); the last C student channels learn A's
  output. Loss L_ST + L_AE + L_STAE, one Adam step for S and A (section 3.3).
- Maps: M_ST = mean_c (T - S_st)^2, M_AE = mean_c (A - S_ae)^2, each normalised as
  0.1 (M - q_a) / (q_b - q_a) with their 0.9 and 0.995 quantiles on validation images, averaged,
  upsampled (bilinear) to the input size; image score = the map's maximum.

Inputs are images in [0, 1] (grayscale is repeated to 3 channels), normalised with ImageNet's mean and
standard deviation for all three networks, with sides that are multiples of 32 (256 in the paper).
The paper's schedule is 70,000 steps of batch 1 with Adam (1e-4, weight decay 1e-5), the learning
rate divided by 10 after 95% of them: ``compile(total_steps=70_000)``, then ``fit(x, batch_size=1,
epochs=ceil(70_000 / len(x)))``.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from keras_oneclass.anomaly_map import blurred, check_blur_sigma
from keras_oneclass.detector import PACKAGE, iterate_batches
from keras_oneclass.losses import hard_feature_loss
from keras_oneclass.models.efficientad_teacher import DEFAULT_TEACHER, imagenet_normalised, teacher_record
from keras_oneclass.networks.pdn import PDN_LAYERS, efficientad_autoencoder, patch_description_network
from keras_oneclass.training import Phase, TrainedDetector

PENALTY_SIDE = 64      # natural images are kept at 64 x 64 px (CIFAR-10's 32 px upsampled)
PENALTY_COUNT = 4096   # natural images drawn once into the penalty bank (50 MB of uint8)
PAPER_STEPS = 70_000


@keras.saving.register_keras_serializable(package=PACKAGE)
class EfficientAD(TrainedDetector):
    """Teacher-student-autoencoder detector with validation-quantile map normalisation.

    Args:
        input_shape: (H, W, C), H and W multiples of 32, C in {1, 3}, pixels in [0, 1].
        size: "small" (EfficientAD-S: PDN-S student) or "medium" (EfficientAD-M: PDN-M).
        teacher: a shipped teacher's name (``DEFAULT_TEACHER``), the path of a ``save_teacher`` file,
            or None for a randomly initialised PDN-``size`` teacher with ``channels`` outputs (an
            ablation, not the method).
        channels: C, with ``teacher=None`` only (the paper's 384); a distilled teacher sets its own.
        hard_quantile: quantile above which student errors count (0.999, section 3.1).
        penalty_images: a folder of natural images (class sub-folders allowed) for the student penalty,
            e.g. CIFAR-10's training images; None leaves the penalty out. ``PENALTY_COUNT`` images are
            drawn once, read at ``PENALTY_SIDE`` px and resized to the input size at each step.
        blur_sigma: Gaussian blur of the maps in input pixels (0 = none, as the paper).
        seed: seed of the initialisations, augmentations, penalty draws and data order.

    The optimisation is set by ``compile(learning_rate=1e-4, weight_decay=1e-5, total_steps=None)``:
    Adam, and with ``total_steps`` the learning rate divided by 10 after 95% of them (the paper's).

    Fitted state: ``teacher_mean`` / ``teacher_std`` (C,), ``quantiles`` (4,) = q_a, q_b of M_ST then
    of M_AE, the student and autoencoder weights; the teacher's weights are saved with them.

    Example:
        >>> model = EfficientAD((256, 256, 3), penalty_images="cifar10/train")  # doctest: +SKIP
        >>> model.fit(x_train, batch_size=1, epochs=10, validation_data=x_val)  # doctest: +SKIP
        >>> scores, maps = model.score_and_map(x_test)  # doctest: +SKIP
    """

    default_batch_size = 1  # the paper's
    localizes = True
    learning_rate = 1e-4
    weight_decay = 1e-5

    def __init__(self, input_shape, size: str = "small", teacher=DEFAULT_TEACHER, channels: int | None = None,
                 hard_quantile: float = 0.999, penalty_images: str | None = None, blur_sigma: float = 0.0,
                 seed: int | None = 0, **kwargs):
        super().__init__(input_shape, seed=seed, **kwargs)
        height, width, depth = self.sample_shape if len(self.sample_shape) == 3 else (0, 0, 0)
        if len(self.sample_shape) != 3 or depth not in (1, 3) or height % 32 or width % 32 or not height:
            raise ValueError(f"EfficientAD takes (H, W, C) images with H and W multiples of 32 and C in {{1, 3}}, "
                             f"got input_shape {self.sample_shape}.")
        if size not in PDN_LAYERS:
            raise ValueError(f"size must be one of {sorted(PDN_LAYERS)}, got {size!r}.")
        if not 0.0 < hard_quantile < 1.0:
            raise ValueError(f"hard_quantile must be in (0, 1), got {hard_quantile}.")
        teacher_weights = None
        if isinstance(teacher, dict):       # from get_config: the weights travel in the saved file
            record = dict(teacher)
        elif teacher is None:
            record = {"name": None, "size": size, "channels": int(channels or 384)}
        else:
            teacher_weights, record = teacher_record(teacher)
            record = {**record, "name": str(teacher)}
            if channels is not None and int(channels) != record["channels"]:
                raise ValueError(f"teacher {teacher!r} has {record['channels']} channels; leave channels=None.")
        self.teacher_config = record
        self.size, self.channels = size, int(record["channels"])
        self.hard_quantile = float(hard_quantile)
        self.penalty_images = None if penalty_images is None else str(penalty_images)
        self.blur_sigma = check_blur_sigma(blur_sigma)
        rgb_shape = (height, width, 3)
        self.teacher = patch_description_network(record["size"], self.channels, rgb_shape, self.seed_for(0),
                                                 name="teacher")
        if teacher_weights is not None:
            self.teacher.set_weights(teacher_weights)
        self.teacher.trainable = False
        self.student = patch_description_network(size, 2 * self.channels, rgb_shape, self.seed_for(100),
                                                 name="student")
        self.autoencoder = efficientad_autoencoder(rgb_shape, self.channels, self.seed_for(200))
        self.grid = tuple(int(d) for d in self.teacher.output.shape[1:3])
        self.teacher_mean = self.add_weight(name="teacher_mean", shape=(self.channels,), trainable=False,
                                            initializer="zeros")
        self.teacher_std = self.add_weight(name="teacher_std", shape=(self.channels,), trainable=False,
                                           initializer="ones")
        self.quantiles = self.add_weight(name="quantiles", shape=(4,), trainable=False,
                                         initializer=keras.initializers.Constant([0.0, 1.0, 0.0, 1.0]))
        self.seed_generator = keras.random.SeedGenerator(self.seed_for(300))
        self.penalty_bank = None
        self.trackers = {name: keras.metrics.Mean(name=name) for name in
                         ("loss", "student_loss", "penalty_loss", "autoencoder_loss", "student_autoencoder_loss")}
        self.build()

    @property
    def metrics(self):
        return list(self.trackers.values())

    def xla_on_cpu(self) -> bool:
        # Measured at 128 px, batch 1, 2-core CPU: 1.10 s per step with XLA against 1.94 s without.
        return True

    @property
    def network_variables(self):
        return self.student.trainable_variables + self.autoencoder.trainable_variables

    def config_value(self, name: str):
        return self.teacher_config if name == "teacher" else super().config_value(name)

    def compile(self, optimizer=None, learning_rate: float | None = None, weight_decay: float | None = None,
                total_steps: int | None = None, **kwargs):
        """Adam(``learning_rate`` 1e-4, ``weight_decay`` 1e-5) for student and autoencoder; with
        ``total_steps`` the rate drops to a tenth after 95% of them (the paper: 70,000)."""
        self.remember_compile_settings(learning_rate=learning_rate, weight_decay=weight_decay,
                                       total_steps=total_steps)
        rate = self.learning_rate if learning_rate is None else learning_rate
        if total_steps is not None:
            rate = keras.optimizers.schedules.PiecewiseConstantDecay([int(0.95 * total_steps)], [rate, rate / 10])
        optimizer = optimizer or keras.optimizers.Adam(
            rate, weight_decay=self.weight_decay if weight_decay is None else weight_decay)
        self.compile_phases({"network": (optimizer, self.network_variables)}, **kwargs)

    # ----------------------------------------------------------------------------- networks
    @property
    def input_range(self):
        return (0.0, 1.0)

    def raw_teacher(self, images):
        """(B, H, W, C) in [0, 1] -> the teacher's features (B, H/4, W/4, C_t), not normalised."""
        return self.teacher(imagenet_normalised(images), training=False)

    def teach(self, images):
        return ops.stop_gradient((self.raw_teacher(images) - self.teacher_mean) / self.teacher_std)

    def prepare_fit(self, x) -> None:
        """Teacher channel mean and standard deviation over the training images, and the penalty bank
        (first fit only; a second fit keeps the statistics, with a warning)."""
        if self.penalty_images is not None and self.penalty_bank is None:
            self.penalty_bank = ops.convert_to_tensor(self._read_penalty_images())
        if self.is_fitted:
            self.warn_kept("the teacher's feature normalisation")
            return
        total, total_sq, count = 0.0, 0.0, 0
        for batch in iterate_batches(x, batch_size=16):
            features = ops.convert_to_numpy(self.raw_teacher(batch)).astype(np.float64)
            total = total + features.sum(axis=(0, 1, 2))
            total_sq = total_sq + np.square(features).sum(axis=(0, 1, 2))
            count += features.shape[0] * features.shape[1] * features.shape[2]
        mean = total / count
        self.teacher_mean.assign(mean.astype(np.float32))
        variance = np.maximum(total_sq / count - mean ** 2, 0.0)
        self.teacher_std.assign(np.where(variance > 0, np.sqrt(variance), 1.0).astype(np.float32))

    def _read_penalty_images(self) -> np.ndarray:
        from keras_oneclass.datasets.image_folder import read_image_folder

        color = "grayscale" if self.sample_shape[-1] == 1 else "rgb"
        images, _, _ = read_image_folder(self.penalty_images, image_size=PENALTY_SIDE, color_mode=color)
        rng = np.random.default_rng(self.seed_for(400))
        return images[rng.permutation(len(images))[:PENALTY_COUNT]]

    def augment(self, images):
        """One of brightness, contrast, saturation per image, factor in [0.8, 1.2] (paper section 3.2).

        (B, H, W, C) in [0, 1] -> (B, H, W, 3) in [0, 1]."""
        images = ops.cast(images, "float32")
        if images.shape[-1] == 1:
            images = ops.concatenate([images, images, images], axis=-1)
        batch = ops.shape(images)[0]
        factor = keras.random.uniform((batch, 1, 1, 1), 0.8, 1.2, seed=self.seed_generator)
        kind = keras.random.randint((batch, 1, 1, 1), 0, 3, seed=self.seed_generator)
        gray = ops.sum(images * ops.convert_to_tensor([0.299, 0.587, 0.114]), axis=-1, keepdims=True)
        brightness = images * factor
        contrast = (images - ops.mean(gray, axis=(1, 2, 3), keepdims=True)) * factor + ops.mean(
            gray, axis=(1, 2, 3), keepdims=True)
        saturation = (images - gray) * factor + gray
        mixed = ops.where(kind == 0, brightness, ops.where(kind == 1, contrast, saturation))
        return ops.clip(mixed, 0.0, 1.0)

    def penalty_loss(self, batch):
        """mean_c ||S(P)_c||^2 over natural images P (B drawn from the bank); 0 without a bank."""
        if self.penalty_bank is None:
            return ops.convert_to_tensor(0.0)
        index = keras.random.randint((batch,), 0, int(self.penalty_bank.shape[0]), seed=self.seed_generator)
        natural = ops.cast(ops.take(self.penalty_bank, index, axis=0), "float32") / 255.0
        natural = ops.image.resize(natural, self.sample_shape[:2], interpolation="bilinear")
        student = ops.cast(self.student(imagenet_normalised(natural), training=True), "float32")
        return ops.mean(ops.square(student[..., :self.channels]))

    def losses_of(self, images, training: bool) -> dict:
        """The named losses of one batch (B, H, W, C): student, penalty, autoencoder, agreement, total."""
        teacher = self.teach(images)
        student = ops.cast(self.student(imagenet_normalised(images), training=training), "float32")
        student_loss = hard_feature_loss(teacher, student[..., :self.channels], self.hard_quantile)
        penalty = self.penalty_loss(ops.shape(images)[0]) if training else ops.convert_to_tensor(0.0)
        # Evaluation does not augment: the teacher's and student's outputs above serve again.
        augmented = self.augment(images) if training else images
        teacher_aug = self.teach(augmented) if training else teacher
        reconstruction = ops.cast(self.autoencoder(imagenet_normalised(augmented), training=training), "float32")
        student_aug = (ops.cast(self.student(imagenet_normalised(augmented), training=True), "float32")
                       if training else student)[..., self.channels:]
        autoencoder_loss = ops.mean(ops.square(teacher_aug - reconstruction))
        agreement_loss = ops.mean(ops.square(reconstruction - student_aug))
        return {"loss": student_loss + penalty + autoencoder_loss + agreement_loss, "student_loss": student_loss,
                "penalty_loss": penalty, "autoencoder_loss": autoencoder_loss,
                "student_autoencoder_loss": agreement_loss}

    def train_phases(self):
        return [Phase("network", self.network_variables, self.phase_optimizer("network"), self.network_loss)]

    def network_loss(self, x, outputs):
        """L_ST (hard features + penalty) + L_AE + L_STAE, one update of student and autoencoder."""
        named = self.losses_of(ops.cast(x, "float32"), training=True)
        return named["loss"], named

    def evaluation_outputs(self, x):
        return self.losses_of(ops.cast(x, "float32"), training=False)

    # ----------------------------------------------------------------------------- maps
    def raw_maps(self, images):
        """(M_ST, M_AE), each (B, H/4, W/4), before normalisation."""
        normalised = imagenet_normalised(images)
        teacher = self.teach(images)
        student = ops.cast(self.student(normalised, training=False), "float32")
        reconstruction = ops.cast(self.autoencoder(normalised, training=False), "float32")
        map_st = ops.mean(ops.square(teacher - student[..., :self.channels]), axis=-1)
        map_ae = ops.mean(ops.square(reconstruction - student[..., self.channels:]), axis=-1)
        return map_st, map_ae

    def grid_map(self, images):
        """(B, H/4, W/4) combined, quantile-normalised map."""
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
        for batch in iterate_batches(x, batch_size=16):
            map_st, map_ae = self.raw_maps(ops.cast(batch, "float32"))
            maps_st.append(ops.convert_to_numpy(map_st).ravel())
            maps_ae.append(ops.convert_to_numpy(map_ae).ravel())
        st, ae = np.concatenate(maps_st), np.concatenate(maps_ae)
        self.quantiles.assign(np.array([np.quantile(st, 0.9), np.quantile(st, 0.995),
                                        np.quantile(ae, 0.9), np.quantile(ae, 0.995)], dtype=np.float32))

    def call(self, x):
        """The combined anomaly map on the teacher grid, (B, H/4, W/4)."""
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
