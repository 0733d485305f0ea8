"""The SSIM autoencoder of Bergmann et al. (VISAPP 2019): SSIM loss and maps, the paper's network."""

from __future__ import annotations

import numpy as np
import pytest

from keras_oneclass import SSIMAutoencoder
from keras_oneclass.losses import ssim_map
from keras_oneclass.networks.ssim_autoencoder import ssim_autoencoder
from test_padim import textures, with_defect


def test_ssim_map_matches_tensorflow_inside_the_borders():
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(0)
    a = rng.random((3, 40, 40, 3)).astype(np.float32)
    b = np.clip(a + rng.normal(0, 0.1, a.shape), 0, 1).astype(np.float32)
    ours = np.asarray(ssim_map(a, b))[:, 5:-5, 5:-5].mean(axis=(1, 2))   # TensorFlow's window is 'valid'
    np.testing.assert_allclose(ours, tf.image.ssim(a, b, 1.0).numpy(), rtol=1e-4)
    np.testing.assert_allclose(np.asarray(ssim_map(a, a)), 1.0, atol=1e-5)


def test_network_is_the_papers():
    encoder, decoder = ssim_autoencoder((128, 128, 1), latent_dim=100)
    assert encoder.output.shape[1:] == (1, 1, 100) and decoder.output.shape[1:] == (128, 128, 1)
    assert len([layer for layer in encoder.layers if "conv" in type(layer).__name__.lower()]) == 9
    encoder, _ = ssim_autoencoder((256, 256, 3))
    assert encoder.output.shape[1:] == (9, 9, 100)
    with pytest.raises(ValueError, match="multiples of 16"):
        ssim_autoencoder((100, 100, 1))


def test_trains_on_ssim_and_maps_are_the_ssim_residual():
    x = textures(64)
    model = SSIMAutoencoder((32, 32, 1), latent_dim=16, seed=0)
    history = model.fit(x, epochs=30, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    x_hat = np.asarray(model.reconstruct(x[:4]))
    assert float(history.history["loss"][-1]) == pytest.approx(
        1 - np.asarray(ssim_map(x, model.reconstruct(x))).mean(), abs=0.05)
    scores, maps = model.score_and_map(x[:4])
    np.testing.assert_allclose(maps, 1 - np.asarray(ssim_map(x[:4], x_hat)), atol=1e-5)
    np.testing.assert_allclose(scores, maps.reshape(4, -1).max(axis=1), rtol=1e-6)
    damaged = with_defect(x[:4])                         # a flat white 8 x 8 square at rows 8-16, columns 16-24
    damaged_scores, damaged_maps = model.score_and_map(damaged)
    inside = damaged_maps[:, 8:16, 16:24].mean()
    assert inside > damaged_maps.mean() and inside > maps[:, 8:16, 16:24].mean() + 0.1
    assert (damaged_scores > scores).all()


def test_bad_arguments():
    with pytest.raises(ValueError, match="window"):
        SSIMAutoencoder((128, 128, 1), window=4)
    with pytest.raises(ValueError, match="image inputs|needs images"):
        SSIMAutoencoder((128,))
    with pytest.raises(ValueError, match="multiples of 16"):
        SSIMAutoencoder((40, 40, 1))
