"""datasets.augment: random rotation, shifts and flips in the data pipeline feeding fit (tf.data with
TensorFlow; the PyDataset used without it is tested in test_backends_data.py)."""

from __future__ import annotations

import numpy as np
import pytest

from keras_oneclass import DenseAutoencoder, datasets


def images(n=16, shape=(12, 12, 1)):
    return np.random.default_rng(0).uniform(size=(n, *shape)).astype("float32")


def collect(dataset):
    return np.concatenate([np.asarray(b[0] if isinstance(b, tuple) else b) for b in dataset])


def test_augment_changes_images_keeps_shapes_and_is_reproducible():
    x = images()
    kwargs = dict(rotation=30, width_shift=0.2, height_shift=0.2, horizontal_flip=True, seed=3, shuffle=False,
                  batch_size=8)
    first = collect(datasets.augment(x, **kwargs))
    assert first.shape == x.shape and first.dtype == np.float32
    assert np.abs(first - x).mean() > 0.05
    np.testing.assert_array_equal(first, collect(datasets.augment(x, **kwargs)))  # same seed, same draws
    dataset = datasets.augment(x, **kwargs)
    assert not np.array_equal(collect(dataset), collect(dataset))  # new draws every epoch


def test_horizontal_flip_only_flips_and_labels_pass_through():
    tf = pytest.importorskip("tensorflow")
    x, y = images(), np.arange(16)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    out_x, out_y = next(iter(datasets.augment(dataset, horizontal_flip=True, seed=0)))
    np.testing.assert_array_equal(out_y, y)
    flipped = np.array([np.array_equal(a, b[:, ::-1]) for a, b in zip(np.asarray(out_x), x)])
    same = np.array([np.array_equal(a, b) for a, b in zip(np.asarray(out_x), x)])
    assert (flipped | same).all() and flipped.any() and same.any()


def test_no_option_returns_the_data_unchanged_and_bad_options_raise():
    tf = pytest.importorskip("tensorflow")
    dataset = tf.data.Dataset.from_tensor_slices(images()).batch(4)
    assert datasets.augment(dataset) is dataset
    with pytest.raises(ValueError, match="rotation"):
        datasets.augment(dataset, rotation=400)
    with pytest.raises(ValueError, match="width_shift"):
        datasets.augment(dataset, width_shift=1.5)
    with pytest.raises(ValueError, match="batch"):
        datasets.augment(tf.data.Dataset.from_tensor_slices(images()), rotation=10)


def test_every_detector_fit_takes_the_augmented_dataset():
    x = images(shape=(8, 8, 1))
    model = DenseAutoencoder(input_shape=(8, 8, 1), hidden_units=(8,), latent_dim=2, seed=0)
    history = model.fit(datasets.augment(x, rotation=10, width_shift=0.1, seed=0, batch_size=8), epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
