"""The detectors every contract-wide test runs on: one row per configuration, small and fast."""

from __future__ import annotations

import keras

from keras_oneclass import (DASVDD, VAE, ConvAutoencoder, DeepSVDD, DenseAutoencoder, EfficientAD, GANomaly, PaDiM,
                            PatchCore, SSIMAutoencoder)


def tiny_mobilenet():
    """A small keras.applications backbone with random weights (no download needed), the same each call."""
    keras.utils.set_random_seed(0)
    return keras.applications.MobileNet(alpha=0.25, weights=None, include_top=False, input_shape=(32, 32, 3))


def efficientad(seed):
    """EfficientAD with a random 16-channel teacher (tests/test_efficientad.py runs the shipped one), fitted in
    batches of 32: the paper's batch 1 makes the contract's 256 samples 256 steps of two PDNs an epoch."""
    model = EfficientAD((32, 32, 1), teacher=None, channels=16, seed=seed)
    model.default_batch_size = 32
    return model


# Training samples of the tests that fit a fresh detector of a row again (seeding, input types, calibrate
# order, validation data, divergence): a quarter of the `trained` fixture's 256, two batches for the rows that
# train in batches of 32. EfficientAD's row, the slowest, trains about 16 samples a second on 2 CPU cores.
REFIT_SAMPLES = 64

# name -> (factory(seed), sample shape, epochs). New detectors join the contract by adding a row.
DETECTORS = {
    "dasvdd_dense": (lambda seed: DASVDD(input_shape=(8,), seed=seed), (8,), 20),
    "dasvdd_conv": (lambda seed: DASVDD(input_shape=(8, 8, 1), architecture="conv", latent_dim=16, seed=seed), (8, 8, 1), 5),
    "ae_dense": (lambda seed: DenseAutoencoder(input_shape=(8,), hidden_units=(16,), latent_dim=4, seed=seed), (8,), 20),
    "ae_conv": (lambda seed: ConvAutoencoder(input_shape=(8, 8, 1), filters=(4, 8, 8), seed=seed), (8, 8, 1), 5),
    "ssim_autoencoder": (lambda seed: SSIMAutoencoder((32, 32, 1), latent_dim=8, seed=seed), (32, 32, 1), 5),
    "vae_dense": (lambda seed: VAE(input_shape=(8,), hidden_units=(16,), latent_dim=4, seed=seed), (8,), 20),
    "vae_conv": (lambda seed: VAE(input_shape=(16, 16, 1), architecture="conv", filters=(4, 8, 8, 8), latent_dim=4,
                                  reconstruction_loss="mse", seed=seed), (16, 16, 1), 5),
    "ganomaly": (lambda seed: GANomaly(input_shape=(8, 8, 1), latent_dim=16, base_filters=8, seed=seed), (8, 8, 1), 5),
    "padim": (lambda seed: PaDiM((32, 32, 1), backbone=tiny_mobilenet(), n_features=50, seed=seed), (32, 32, 1), 1),
    "patchcore": (lambda seed: PatchCore((32, 32, 1), backbone=tiny_mobilenet(), seed=seed), (32, 32, 1), 1),
    "efficientad": (lambda seed: efficientad(seed), (32, 32, 1), 2),
    # 256 samples = 2 steps an epoch: 20 epochs let the BatchNorm statistics settle at lr 1e-4
    "deep_svdd_original": (lambda seed: DeepSVDD(input_shape=(28, 28, 1), pretrain_epochs=1, seed=seed), (28, 28, 1), 20),
    "deep_svdd_enhanced": (lambda seed: DeepSVDD(input_shape=(28, 28, 1), variant="enhanced", pretrain_epochs=0,
                                                 seed=seed), (28, 28, 1), 20),
}
