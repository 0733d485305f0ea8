"""VAE and the Sampling layer."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_oneclass import VAE, Sampling
from keras_oneclass.losses import kl_divergence, reconstruction_loss


def data(n=64, shape=(8,), seed=0):
    return np.random.default_rng(seed).uniform(0.1, 0.9, size=(n, *shape)).astype("float32")


def test_sampling_reparameterises_with_the_right_moments_and_seed():
    mean = np.full((20000, 2), 2.0, "float32")
    log_var = np.full((20000, 2), np.log(0.25), "float32")
    z = np.asarray(Sampling(seed=1)((mean, log_var)))
    assert abs(z.mean() - 2.0) < 0.02 and abs(z.std() - 0.5) < 0.02
    np.testing.assert_array_equal(z, np.asarray(Sampling(seed=1)((mean, log_var))))


def test_sampling_serializes():
    layer = Sampling(seed=7, name="s")
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is Sampling and restored.seed == 7 and restored.name == "s"


def test_kl_divergence_closed_form():
    assert np.allclose(kl_divergence(np.zeros((3, 4)), np.zeros((3, 4))), 0.0)
    mean, log_var = np.array([[1.0, 0.0]]), np.array([[0.0, np.log(2.0)]])
    expected = 0.5 * (1.0 + (2.0 - 1.0 - np.log(2.0)))
    np.testing.assert_allclose(kl_divergence(mean, log_var), [expected], rtol=1e-6)


def test_trackers_sum_to_the_loss_and_beta_weighs_kl():
    x = data()
    history = VAE(input_shape=(8,), hidden_units=(16,), latent_dim=2, beta=2.0, seed=0).fit(
        x, epochs=2, verbose=0).history
    assert set(history) == {"loss", "reconstruction_loss", "kl_loss"}
    np.testing.assert_allclose(history["loss"], np.add(history["reconstruction_loss"], 2.0 * np.array(history["kl_loss"])),
                               rtol=1e-4)


@pytest.mark.parametrize("kind", ["bce", "mse"])
def test_elbo_score_is_reconstruction_loss_plus_kl(kind):
    x = data()
    model = VAE(input_shape=(8,), hidden_units=(16,), latent_dim=2, reconstruction_loss=kind, scoring="elbo", seed=0)
    model.fit(x, epochs=1, verbose=0)
    z_mean, z_log_var = model.encoder(x)
    expected = reconstruction_loss(x, model.decoder(z_mean), kind) + kl_divergence(z_mean, z_log_var)
    np.testing.assert_allclose(model.predict(x, verbose=0), keras.ops.convert_to_numpy(expected), rtol=1e-5)


def test_reconstruction_score_is_deterministic_mse_from_the_mean():
    x = data()
    model = VAE(input_shape=(8,), hidden_units=(16,), latent_dim=2, seed=0)
    model.fit(x, epochs=1, verbose=0)
    z_mean, _ = model.encoder(x)
    expected = ((keras.ops.convert_to_numpy(model.decoder(z_mean)) - x) ** 2).mean(axis=1)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5)
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))


def test_conv_encoder_has_four_strided_bn_leaky_layers_and_saves(tmp_path):
    model = VAE(input_shape=(32, 16, 3), architecture="conv", filters=(4, 4, 8, 8), latent_dim=3, seed=0)
    convs = [layer for layer in model.encoder.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [c.strides for c in convs] == [(2, 2)] * 4
    assert sum(isinstance(layer, keras.layers.BatchNormalization) for layer in model.encoder.layers) == 4
    assert sum(isinstance(layer, keras.layers.LeakyReLU) for layer in model.encoder.layers) == 4
    x = data(16, (32, 16, 3))
    model.fit(x, epochs=1, verbose=0)
    assert model.anomaly_map(x[:2]).shape == (2, 32, 16)
    model.save(tmp_path / "vae.keras")
    loaded = keras.models.load_model(tmp_path / "vae.keras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("kwargs, message", [
    ({"architecture": "rnn"}, "architecture"), ({"reconstruction_loss": "l1"}, "reconstruction_loss"),
    ({"scoring": "kl"}, "scoring"), ({"beta": -1.0}, "beta"), ({"blur_sigma": -1.0}, "blur_sigma"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        VAE(input_shape=(8,), **kwargs)


def test_conv_vae_and_ganomaly_pad_sides_that_their_strides_cannot_divide():
    from keras_oneclass import GANomaly

    x = data(16, (24, 27, 1))
    vae = VAE(input_shape=(24, 27, 1), architecture="conv", filters=(4, 4, 8, 8), latent_dim=3)
    ganomaly = GANomaly(input_shape=(24, 27, 1), latent_dim=4, base_filters=4)
    for model in (vae, ganomaly):
        model.fit(x, epochs=1, verbose=0)
        assert model.anomaly_map(x[:2]).shape == (2, 24, 27)
        assert np.isfinite(model.predict(x, verbose=0)).all()
