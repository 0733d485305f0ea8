"""DenseAutoencoder, ConvAutoencoder, anomaly maps, gaussian_blur and the ReconstructionGrid callback."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from scipy import ndimage

from conftest import shared_data
from keras_oneclass import ConvAutoencoder, DenseAutoencoder, datasets, metrics
from keras_oneclass.callbacks import ReconstructionGrid
from keras_oneclass.postprocessing import gaussian_blur


def images(n=32, shape=(16, 24, 3), seed=0):
    return np.random.default_rng(seed).uniform(0.2, 0.8, size=(n, *shape)).astype("float32")


@pytest.mark.parametrize("shape", [(16, 24, 3), (8, 8, 1)])
def test_conv_autoencoder_takes_sizes_divisible_by_8_and_maps_at_input_resolution(shape):
    x = images(shape=shape)
    model = ConvAutoencoder(input_shape=shape, filters=(4, 8, 8), blur_sigma=0, seed=0)
    model.fit(x, epochs=1, verbose=0)
    assert model(x[:2]).shape == (2, *shape)
    scores, maps = model.score_and_map(x[:5])
    assert maps.shape == (5, shape[0], shape[1]) and maps.dtype == np.float32
    # The score is the mean of the unsmoothed map (per-pixel squared error, channel mean).
    np.testing.assert_allclose(maps.reshape(5, -1).mean(axis=1), scores, rtol=1e-5)
    np.testing.assert_allclose(model.predict(x[:5], verbose=0), scores, rtol=1e-6)


def test_conv_autoencoder_rejects_non_images():
    with pytest.raises(ValueError, match="images"):
        ConvAutoencoder(input_shape=(64,))


def test_conv_autoencoder_dense_code_option():
    model = ConvAutoencoder(input_shape=(8, 8, 1), filters=(4, 4, 4), latent_dim=3, seed=0)
    assert model.encoder.output_shape == (None, 3)
    assert model.get_config()["latent_dim"] == 3


def test_dense_autoencoder_network_and_score():
    model = DenseAutoencoder(input_shape=(28, 28, 1), seed=0)
    widths = [layer.units for layer in model.encoder.layers + model.decoder.layers if hasattr(layer, "units")]
    assert widths == [400, 20, 400, 784]
    x = images(8, (28, 28, 1))
    model.fit(x, epochs=1, verbose=0)
    expected = ((keras.ops.convert_to_numpy(model(x)) - x) ** 2).reshape(8, -1).mean(axis=1)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5)


def test_anomaly_map_smoothing_and_errors():
    x = images(shape=(8, 8, 1))
    model = ConvAutoencoder(input_shape=(8, 8, 1), filters=(4, 4, 4), seed=0)
    with pytest.raises(ValueError, match="before fit"):
        model.anomaly_map(x)
    model.fit(x, epochs=1, verbose=0)
    model.blur_sigma = 0.0
    raw = model.anomaly_map(x[:4])
    model.blur_sigma = 1.0
    smooth = model.anomaly_map(x[:4])
    np.testing.assert_allclose(smooth, np.asarray(gaussian_blur(raw, 1.0)), rtol=1e-5, atol=1e-7)
    assert smooth.std(axis=(1, 2)).mean() < raw.std(axis=(1, 2)).mean()
    dense = DenseAutoencoder(input_shape=(8,), hidden_units=(4,), latent_dim=2)
    dense.fit(np.random.rand(16, 8).astype("float32"), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="image inputs"):
        dense.anomaly_map(np.random.rand(2, 8).astype("float32"))


@pytest.mark.parametrize("sigma", [1.0, 4.0])
def test_gaussian_blur_matches_scipy(sigma):
    maps = np.random.default_rng(0).random((3, 40, 36)).astype("float32")
    expected = np.stack([ndimage.gaussian_filter(m, sigma, mode="mirror", truncate=4.0) for m in maps])
    np.testing.assert_allclose(np.asarray(gaussian_blur(maps, sigma)), expected, atol=1e-5)


def test_gaussian_blur_small_maps_and_bad_input():
    impulse = np.zeros((1, 5, 5), "float32")
    impulse[0, 2, 2] = 1.0
    blurred = np.asarray(gaussian_blur(impulse, sigma=4.0))  # radius cut to 4 < side
    assert blurred.shape == (1, 5, 5) and np.isfinite(blurred).all() and blurred[0, 2, 2] < 1.0
    with pytest.raises(ValueError, match="sigma"):
        gaussian_blur(impulse, sigma=0)
    with pytest.raises(ValueError, match="\\(N, H, W\\)"):
        gaussian_blur(impulse[0], sigma=1)


def test_reconstruction_grid_callback_saves_every_n_epochs(tmp_path):
    from PIL import Image

    x = images(shape=(8, 8, 1))
    callback = ReconstructionGrid(x[:4], tmp_path / "grids", every=2)
    ConvAutoencoder(input_shape=(8, 8, 1), filters=(4, 4, 4), seed=0).fit(x, epochs=5, verbose=0, callbacks=[callback])
    assert [p.rsplit("_", 1)[-1] for p in callback.paths] == ["002.png", "004.png"]
    with Image.open(callback.paths[0]) as image:
        assert image.size == (4 * 9 - 1, 2 * 9 - 1)
    with pytest.raises(ValueError, match="every"):
        ReconstructionGrid(x[:2], tmp_path, every=0)


def test_dense_autoencoder_mnist_digit0():
    shared_data("mnist/mnist.npz")
    x_train, (x_test, y_test) = datasets.load_oneclass("mnist", 0, path=shared_data("."), as_numpy=True)
    model = DenseAutoencoder(input_shape=(28, 28, 1), seed=0)
    model.fit(x_train[:2000], epochs=2, verbose=0)
    auc = metrics.roc_auc(y_test[:3000], model.predict(x_test[:3000], verbose=0))
    assert auc > 0.9


def test_conv_autoencoder_fits_mnist_at_28_pixels():
    """28 is not divisible by the 8 of three poolings: the network pads to 32 inside and crops back."""
    shared_data("mnist/mnist.npz")
    x_train, (x_test, y_test) = datasets.load_oneclass("mnist", 0, path=shared_data("."), as_numpy=True)
    model = ConvAutoencoder(input_shape=(28, 28, 1), seed=0)
    assert model.encoder.get_layer("encoder_padding").output.shape[1:3] == (32, 32)
    model.fit(x_train[:2000], epochs=2, verbose=0)
    assert model(x_test[:2]).shape == (2, 28, 28, 1) and model.anomaly_map(x_test[:2]).shape == (2, 28, 28)
    auc = metrics.roc_auc(y_test[:3000], model.predict(x_test[:3000], verbose=0))
    assert auc > 0.85  # 2 epochs on 2,000 images: 0.90 on TensorFlow and JAX


@pytest.mark.parametrize("build", [
    lambda shape: ConvAutoencoder(shape, filters=(4, 4, 4)),
    lambda shape: ConvAutoencoder(shape, filters=(4, 4), latent_dim=8),
])
def test_odd_image_sides_are_padded_and_cropped_back(build):
    x = images(n=16, shape=(13, 21, 1))
    model = build((13, 21, 1))
    model.fit(x, epochs=1, verbose=0)
    assert model(x[:3]).shape == (3, 13, 21, 1)
    assert model.anomaly_map(x[:3]).shape == (3, 13, 21) and np.isfinite(model.predict(x, verbose=0)).all()


def sparse_squares(n=128, side=16, seed=0):
    """Mostly-black images with one bright square each (like digits: the all-zero output is a trap)."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, side, side, 1), "float32")
    for image in x:
        size = rng.integers(3, 7)
        top, left = rng.integers(0, side - size, size=2)
        image[top:top + size, left:left + size] = 1.0
    return x


def test_conv_autoencoder_default_loss_escapes_the_all_zero_output():
    x = sparse_squares()
    model = ConvAutoencoder(input_shape=(16, 16, 1), filters=(8, 16, 16), seed=0)
    assert model.reconstruction_loss == "bce"
    model.fit(x, epochs=12, verbose=0)
    reconstruction = keras.ops.convert_to_numpy(model(x))
    assert reconstruction.std() > 0.05  # not a constant image (an all-zero collapse has std ~0)
    assert model.predict(x, verbose=0).mean() < 0.9 * float((x ** 2).mean())  # better than zeros (MSE training: 1.06x)
    with pytest.raises(ValueError, match="reconstruction_loss"):
        ConvAutoencoder(input_shape=(16, 16, 1), reconstruction_loss="l1")
