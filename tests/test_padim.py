"""PaDiM: Gaussian statistics per position, Mahalanobis maps, channel subset, localisation."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from conftest import shared_data
from keras_oneclass.models.padim import PaDiM


def tiny_backbone(size=32):
    """MobileNet(alpha=0.25) with random weights, the same on every call."""
    keras.utils.set_random_seed(0)
    return keras.applications.MobileNet(alpha=0.25, weights=None, include_top=False, input_shape=(size, size, 3))


def textures(n, size=32, seed=0):
    """Smooth random stripes (normal images) in [0, 1]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] / size
    phase = rng.uniform(0, 2 * np.pi, (n, 1, 1))
    images = 0.5 + 0.2 * np.sin(2 * np.pi * 3 * xx + phase) + rng.normal(0, 0.03, (n, size, size))
    return np.clip(images, 0, 1)[..., None].astype(np.float32)


def with_defect(images, top=8, left=16, side=8):
    damaged = images.copy()
    damaged[:, top:top + side, left:left + side] = 1.0
    return damaged


@pytest.fixture(scope="module")
def fitted():
    x_train = textures(64)
    model = PaDiM((32, 32, 1), backbone=tiny_backbone(), n_features=20, seed=0)
    history = model.fit(x_train, verbose=0)
    return model, x_train, history


def test_gaussian_statistics_match_numpy(fitted):
    model, x_train, history = fitted
    assert history.history["images"] == [64.0]
    flat = model.embeddings_of(x_train).reshape(64, -1, 20).astype(np.float64)
    np.testing.assert_allclose(model.mean.numpy(), flat.mean(axis=0), rtol=1e-4, atol=1e-5)
    for position in (0, 5, flat.shape[1] - 1):
        covariance = np.cov(flat[:, position].T) + 0.01 * np.eye(20)
        np.testing.assert_allclose(model.inverse_covariance.numpy()[position], np.linalg.inv(covariance),
                                   rtol=2e-3, atol=2e-3)


def test_patch_scores_are_mahalanobis_distances(fitted):
    model, x_train, _ = fitted
    x = with_defect(textures(2, seed=1))
    embeddings = model.embeddings_of(x)
    scores = model.patch_scores(embeddings)
    assert scores.shape == (2, *model.grid)
    delta = embeddings.reshape(2, -1, 20)[1, 3] - model.mean.numpy()[3]
    expected = np.sqrt(delta @ model.inverse_covariance.numpy()[3] @ delta)
    assert scores.reshape(2, -1)[1, 3] == pytest.approx(expected, rel=1e-4)


def test_maps_at_input_resolution_and_score_is_their_max(fitted):
    model, _, _ = fitted
    x = np.concatenate([textures(8, seed=2), with_defect(textures(8, seed=3))])
    scores, maps = model.score_and_map(x)
    assert maps.shape == (16, 32, 32) and maps.dtype == np.float32 and scores.dtype == np.float32
    np.testing.assert_allclose(scores, maps.reshape(16, -1).max(axis=1), rtol=1e-6)
    np.testing.assert_array_equal(model.predict(x), scores)
    assert scores[8:].mean() > scores[:8].mean()  # random features: a weak check (localisation: below)


def test_map_is_higher_on_the_defect_with_imagenet_features():
    weights = shared_data("keras_models/mobilenet_2_5_224_tf_no_top.h5")
    backbone = keras.applications.MobileNet(alpha=0.25, weights=str(weights), include_top=False,
                                            input_shape=(64, 64, 3))
    model = PaDiM((64, 64, 1), backbone=backbone, seed=0)
    model.fit(textures(32, size=64), verbose=0)
    maps = model.anomaly_map(with_defect(textures(8, size=64, seed=4), 16, 32, 16))
    inside = np.zeros((64, 64), bool)
    inside[16:32, 32:48] = True
    assert (maps[:, inside].mean(axis=1) > 1.5 * maps[:, ~inside].mean(axis=1)).all()


def test_channel_subset_is_seeded_and_bounded():
    a = PaDiM((32, 32, 3), backbone=tiny_backbone(), n_features=50, seed=1)
    b = PaDiM((32, 32, 3), backbone=tiny_backbone(), n_features=50, seed=1)
    c = PaDiM((32, 32, 3), backbone=tiny_backbone(), n_features=50, seed=2)
    np.testing.assert_array_equal(a.channels.numpy(), b.channels.numpy())
    assert not np.array_equal(a.channels.numpy(), c.channels.numpy())
    assert PaDiM((32, 32, 3), backbone=tiny_backbone(), n_features=1000).n_features == 64 + 128
    # memory bound: (h*w, d, d) float32, here 4 * 4 positions
    assert a.inverse_covariance.numpy().nbytes == 16 * 50 * 50 * 4


def test_three_layers_are_resized_to_the_first_grid():
    model = PaDiM((32, 32, 1), backbone=tiny_backbone(),
                  layers=["conv_pw_3_relu", "conv_pw_5_relu", "conv_pw_11_relu"], n_features=10)
    assert model.grid == (8, 8)
    assert model.embeddings_of(textures(2)).shape == (2, 8, 8, 10)


def test_fit_needs_two_images():
    model = PaDiM((32, 32, 1), backbone=tiny_backbone(), n_features=10)
    with pytest.raises(ValueError, match="at least 2"):
        model.fit(textures(1), verbose=0)


def test_fit_warns_on_training_arguments_and_rejects_unknown_ones():
    model = PaDiM((32, 32, 1), backbone=tiny_backbone(), n_features=10, seed=0)
    with pytest.raises(TypeError, match="unexpected keyword.*learning_rate"):
        model.fit(textures(4), verbose=0, learning_rate=0.1)
    assert not model.is_fitted
    with pytest.warns(UserWarning, match=r"no effect"):
        model.fit(textures(4), verbose=0, shuffle=True, drop_remainder=True)
    assert model.is_fitted
