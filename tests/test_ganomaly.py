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


def test_compile_takes_two_optimizers_and_the_constructor_the_loss_weights(tmp_path):
    x = data()
    model = small(adversarial_weight=0.0, contextual_weight=2.0, latent_weight=0.0)
    g, d = keras.optimizers.Adam(1e-3), keras.optimizers.SGD(1e-2)
    model.compile(g_optimizer=g, d_optimizer=d)
    history = model.fit(x, epochs=1, verbose=0).history
    assert model.g_optimizer is g and model.d_optimizer is d
    assert int(g.iterations) == 1 and int(d.iterations) == 1  # 64 samples, batch 64: one step each
    np.testing.assert_allclose(history["loss"], 2.0 * np.array(history["contextual_loss"]), rtol=1e-5)
    defaults = small()
    defaults.compile()
    assert float(defaults.g_optimizer.learning_rate) == pytest.approx(2e-4)
    assert float(defaults.d_optimizer.beta_1) == pytest.approx(0.5)
    assert (defaults.adversarial_weight, defaults.contextual_weight, defaults.latent_weight) == (1.0, 50.0, 1.0)
    model.save(tmp_path / "weights.keras")
    loaded = keras.models.load_model(tmp_path / "weights.keras")
    assert (loaded.adversarial_weight, loaded.contextual_weight, loaded.latent_weight) == (0.0, 2.0, 0.0)
    with pytest.raises(ValueError, match="contextual_weight"):
        small(contextual_weight=-1.0)


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
    assert pyramid((27, 28, 1)) == pyramid((28, 28, 1))  # odd sides are padded to the next even size
    assert GANomaly(input_shape=(7, 8, 1)).generator_decoder.output_shape == (None, 7, 8, 1)
    with pytest.raises(ValueError, match="images"):
        GANomaly(input_shape=(64,))


def test_trains_under_mirrored_strategy_with_two_logical_cpus(tmp_path):
    """The step (two optimizers, graph-mode D re-init) runs unchanged under tf.distribute."""
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "mirrored.py"
    script.write_text(f"""
import sys; sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})
import numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from keras_oneclass import GANomaly
with tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]).scope():
    model = GANomaly((8, 8, 1), latent_dim=4, base_filters=4, seed=0)
    model.collapse_threshold = 1e9
    model.compile()
history = model.fit(np.random.rand(64, 8, 8, 1).astype("float32"), epochs=1, batch_size=16, verbose=0).history
print("RESETS", history["discriminator_resets"][0])
""")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "RESETS 8.0" in result.stdout  # 4 steps x 2 replicas, each replica counts its reset
