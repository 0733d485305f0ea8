"""scoring="map_max": the localised image score of the reconstruction detectors (AE, VAE, GANomaly)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_oneclass import VAE, ConvAutoencoder, DenseAutoencoder, GANomaly
from keras_oneclass.postprocessing import gaussian_blur

SHAPE = (16, 16, 1)
BUILDERS = {
    "conv_ae": lambda **kw: ConvAutoencoder(SHAPE, filters=(4, 4, 4), seed=0, **kw),
    "dense_ae": lambda **kw: DenseAutoencoder(SHAPE, hidden_units=(8,), latent_dim=4, seed=0, **kw),
    "vae": lambda **kw: VAE(SHAPE, hidden_units=(8,), latent_dim=2, seed=0, **kw),
    "ganomaly": lambda **kw: GANomaly(SHAPE, latent_dim=4, base_filters=4, seed=0, **kw),
}


def images(n=24, seed=0):
    return np.random.default_rng(seed).uniform(0.3, 0.7, size=(n, *SHAPE)).astype("float32")


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_map_max_is_the_peak_of_the_blurred_map_and_survives_save_load(name, tmp_path):
    x = images()
    model = BUILDERS[name](scoring="map_max", blur_sigma=1.5)
    model.fit(x, epochs=1, verbose=0)
    scores = model.predict(x[:6], verbose=0)
    maps = model.anomaly_map(x[:6])
    model.blur_sigma = 0.0
    raw = model.anomaly_map(x[:6])
    model.blur_sigma = 1.5
    np.testing.assert_allclose(maps, np.asarray(gaussian_blur(raw, 1.5)), rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(scores, maps.max(axis=(1, 2)), rtol=1e-4, atol=1e-7)
    assert model.get_config()["scoring"] == "map_max" and model.get_config()["blur_sigma"] == 1.5
    path = tmp_path / f"{name}.keras"
    model.save(path)
    np.testing.assert_array_equal(keras.models.load_model(path).predict(x[:6], verbose=0), scores)


def test_map_max_ranks_a_local_defect_above_the_mean_error():
    """A bright 3x3 blob on one image: the blurred peak moves far more than the whole-image mean."""
    x = images(64)
    model = ConvAutoencoder(SHAPE, filters=(4, 4, 4), seed=0, scoring="map_max", blur_sigma=1.0)
    model.fit(x, epochs=2, verbose=0)
    defect = x[:1].copy()
    defect[0, 6:9, 6:9, 0] = 1.0
    peak_ratio = model.predict(defect, verbose=0)[0] / model.predict(x[:1], verbose=0)[0]
    mean_model = ConvAutoencoder.from_config({**model.get_config(), "scoring": "reconstruction"})
    mean_model.set_weights(model.get_weights())
    mean_ratio = mean_model.predict(defect, verbose=0)[0] / mean_model.predict(x[:1], verbose=0)[0]
    assert peak_ratio > mean_ratio > 1.0


def test_map_score_errors():
    with pytest.raises(ValueError, match="scoring must be one of"):
        ConvAutoencoder(SHAPE, scoring="max")
    with pytest.raises(ValueError, match="image inputs"):
        DenseAutoencoder((8,), scoring="map_max")
    with pytest.raises(ValueError, match="blur_sigma"):
        VAE(SHAPE, scoring="map_max", blur_sigma=-1.0)
