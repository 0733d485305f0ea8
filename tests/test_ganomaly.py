"""GANomaly: losses, two optimizers, discriminator re-initialisation, score."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_oneclass import GANomaly
from keras_oneclass.networks.dcgan import pyramid

SHAPE = (8, 8, 1)


def data(n=64, seed=0):
    return np.random.default_rng(seed).uniform(0.2, 0.8, size=(n, *SHAPE)).astype("float32")


def small(**kwargs):
    return GANomaly(input_shape=SHAPE, latent_dim=8, base_filters=4, seed=0, **kwargs)


def test_history_tracks_every_loss_and_score_is_latent_distance():
    x = data()
    model = small()
    history = model.fit(x, epochs=2, verbose=0).history
    assert {"loss", "adversarial_loss", "contextual_loss", "latent_loss", "discriminator_loss",
            "discriminator_resets"} <= set(history)
    np.testing.assert_allclose(history["loss"], np.array(history["adversarial_loss"]) + 50 * np.array(
        history["contextual_loss"]) + np.array(history["latent_loss"]), rtol=1e-4)
    z = model.generator_encoder(x)
    expected = ((np.asarray(model.encoder(model.generator_decoder(z))) - np.asarray(z)) ** 2).mean(axis=1)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5)
    assert model.anomaly_map(x[:3]).shape == (3, 8, 8)


def test_compile_takes_two_optimizers_and_loss_weights():
    x = data()
    model = small()
    g, d = keras.optimizers.Adam(1e-3), keras.optimizers.SGD(1e-2)
    model.compile(g_optimizer=g, d_optimizer=d, adversarial_weight=0.0, contextual_weight=2.0, latent_weight=0.0)
    history = model.fit(x, epochs=1, verbose=0).history
    assert model.g_optimizer is g and model.d_optimizer is d
    assert int(g.iterations) == 1 and int(d.iterations) == 1  # 64 samples, batch 64: one step each
    np.testing.assert_allclose(history["loss"], 2.0 * np.array(history["contextual_loss"]), rtol=1e-5)
    defaults = small()
    defaults.compile()
    assert float(defaults.g_optimizer.learning_rate) == pytest.approx(2e-4)
    assert float(defaults.d_optimizer.beta_1) == pytest.approx(0.5)
    assert (defaults.adversarial_weight, defaults.contextual_weight, defaults.latent_weight) == (1.0, 50.0, 1.0)


def test_discriminator_is_reinitialised_when_its_loss_collapses():
    x = data(128)
    initial = [np.asarray(v) for v in small().discriminator.variables]
    collapsed = small()
    collapsed.collapse_threshold = 1e9  # every step counts as a collapse
    history = collapsed.fit(x, epochs=1, batch_size=32, verbose=0).history
    assert history["discriminator_resets"] == [4.0]
    for variable, value in zip(collapsed.discriminator.variables, initial):
        np.testing.assert_array_equal(np.asarray(variable), value)
    normal = small()
    history = normal.fit(x, epochs=1, batch_size=32, verbose=0).history
    assert history["discriminator_resets"] == [0.0]
    assert any(not np.array_equal(np.asarray(v), w) for v, w in zip(normal.discriminator.variables, initial))


def test_pyramid_and_shape_errors():
    assert pyramid((32, 32, 1)) == (3, 4, 4) and pyramid((28, 28, 1)) == (2, 7, 7)
    assert pyramid((256, 256, 3)) == (6, 4, 4)
    with pytest.raises(ValueError, match="even"):
        GANomaly(input_shape=(7, 8, 1))
    with pytest.raises(ValueError, match="images"):
        GANomaly(input_shape=(64,))
