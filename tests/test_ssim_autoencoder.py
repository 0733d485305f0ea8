"""The SSIM autoencoder of Bergmann et al. (VISAPP 2019): SSIM loss and maps, the paper's network."""

from __future__ import annotations

import numpy as np
import pytest
from keras.ops import convert_to_numpy

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
    x_hat = convert_to_numpy(model.reconstruct(x[:4]))
    assert float(history.history["loss"][-1]) == pytest.approx(
        1 - convert_to_numpy(ssim_map(x, model.reconstruct(x))).mean(), abs=0.05)
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
    with pytest.raises(ValueError, match="patch_size"):
        SSIMAutoencoder((64, 64, 1), patch_size=24)
    with pytest.raises(ValueError, match="patch_size"):
        SSIMAutoencoder((64, 64, 1), patch_size=80)
    with pytest.raises(ValueError, match="patch_stride"):
        SSIMAutoencoder((64, 64, 1), patch_size=32, patch_stride=40)
    with pytest.raises(ValueError, match="needs a patch_size"):
        SSIMAutoencoder((64, 64, 1), patch_stride=8)


def test_patches_tile_the_image_and_overlaps_are_averaged():
    model = SSIMAutoencoder((48, 80, 1), latent_dim=8, patch_size=32, patch_stride=24, seed=0)
    assert model.encoder.input.shape[1:] == (32, 32, 1)
    assert model.patch_origins() == [(0, 0), (0, 24), (0, 48), (16, 0), (16, 24), (16, 48)]  # last flush
    x = np.random.default_rng(0).random((2, 48, 80, 1)).astype(np.float32)
    total, count = np.zeros_like(x), np.zeros_like(x)
    for i, j in model.patch_origins():
        patch = x[:, i:i + 32, j:j + 32]
        total[:, i:i + 32, j:j + 32] += convert_to_numpy(model.decoder(model.encoder(patch)))
        count[:, i:i + 32, j:j + 32] += 1
    np.testing.assert_allclose(convert_to_numpy(model.reconstruct(x)), total / count, atol=1e-6)


def test_random_patches_are_crops_at_positions_that_vary():
    model = SSIMAutoencoder((48, 48, 1), latent_dim=8, patch_size=16, seed=0)
    x = np.arange(4 * 48 * 48, dtype=np.float32).reshape(4, 48, 48, 1) / (4 * 48 * 48)
    corners = set()
    for _ in range(3):
        patches = convert_to_numpy(model.random_patches(x))
        assert patches.shape == (4, 16, 16, 1)
        for b, patch in enumerate(patches):  # pixel values are unique: the first one locates the crop
            row, col = divmod(int(round(patch[0, 0, 0] * 4 * 48 * 48)) - b * 48 * 48, 48)
            np.testing.assert_array_equal(patch, x[b, row:row + 16, col:col + 16])
            corners.add((row, col))
    assert len(corners) > 4


def test_patch_model_trains_and_saves_with_identical_scores(tmp_path):
    import keras

    x = textures(32, size=64)
    model = SSIMAutoencoder(x.shape[1:], latent_dim=8, patch_size=32, seed=0)
    history = model.fit(x, epochs=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.get_config()["patch_size"] == 32 and loaded.get_config()["patch_stride"] == 16
    np.testing.assert_array_equal(loaded.predict(x[:4], verbose=0), model.predict(x[:4], verbose=0))
