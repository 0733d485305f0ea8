"""PatchCore: local aggregation, coreset bank, faiss nearest-neighbour scores, reweighting."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_oneclass.models.patchcore import PatchCore
from conftest import shared_data
from test_padim import textures, tiny_backbone, with_defect


@pytest.fixture(scope="module")
def fitted():
    x_train = textures(32)
    model = PatchCore((32, 32, 1), backbone=tiny_backbone(), coreset_ratio=0.25, seed=0)
    history = model.fit(x_train, verbose=0)
    return model, x_train, history


def test_bank_is_a_coreset_of_the_training_patches(fitted):
    model, x_train, history = fitted
    patches = model.embeddings_of(x_train).reshape(-1, model.feature_dim)
    assert history.history["patches"] == [len(patches)] and model.memory_size == round(0.25 * len(patches))
    bank = model.memory_bank.numpy()
    distances = np.linalg.norm(bank[:, None] - patches[None], axis=-1).min(axis=1)
    assert distances.max() < 1e-5  # every bank row is a training patch


def test_embedding_averages_3x3_neighbourhoods_and_merges_two_layers(fitted):
    model, x_train, _ = fitted
    raw = [np.asarray(f) for f in model.extractor(x_train[:1])]
    embedding = model.embeddings_of(x_train[:1])
    assert embedding.shape == (1, *model.grid, 64 + 128)
    # an interior position of the first layer: plain mean of its 3x3 neighbourhood
    np.testing.assert_allclose(embedding[0, 1, 1, :64], raw[0][0, 0:3, 0:3].mean(axis=(0, 1)), rtol=1e-5, atol=1e-7)


def test_patch_scores_are_nearest_bank_distances(fitted):
    model, _, _ = fitted
    embeddings = model.embeddings_of(with_defect(textures(2, seed=5)))
    scores = model.patch_scores(embeddings)
    bank = model.memory_bank.numpy().astype(np.float64)
    brute = np.linalg.norm(embeddings.reshape(-1, 1, model.feature_dim) - bank[None], axis=-1).min(axis=1)
    np.testing.assert_allclose(scores.ravel(), brute, rtol=1e-3, atol=1e-6)


def test_image_score_is_reweighted_max_patch_distance(fitted):
    model, _, _ = fitted
    x = with_defect(textures(3, seed=6))
    embeddings = model.embeddings_of(x)
    patch = model.patch_scores(embeddings)
    scores = model.image_scores(patch, None, embeddings)
    s_star = patch.reshape(3, -1).max(axis=1)
    assert (scores < s_star).all() and (scores > 0).all()
    # eq. 7 by hand for the first image
    bank = model.memory_bank.numpy().astype(np.float64)
    query = embeddings.reshape(3, -1, model.feature_dim)[0, patch[0].argmax()]
    m_star = np.linalg.norm(bank - query, axis=1).argmin()
    support = np.argsort(np.linalg.norm(bank - bank[m_star], axis=1))[:9]
    d = np.linalg.norm(bank[support] - query, axis=1)
    weight = 1 - np.exp(d[0]) / np.exp(d).sum()
    assert scores[0] == pytest.approx(weight * s_star[0], rel=1e-3)
    model.n_neighbours = 1  # no reweighting: the plain maximum patch distance
    try:
        np.testing.assert_allclose(model.predict(x), s_star, rtol=1e-6)
    finally:
        model.n_neighbours = 9


def test_defects_score_higher_and_maps_localise_with_imagenet_features():
    weights = shared_data("keras_models/mobilenet_2_5_224_tf_no_top.h5")
    backbone = keras.applications.MobileNet(alpha=0.25, weights=str(weights), include_top=False,
                                            input_shape=(64, 64, 3))
    model = PatchCore((64, 64, 1), backbone=backbone, seed=0)
    model.fit(textures(16, size=64), verbose=0)
    normal, damaged = textures(8, size=64, seed=7), with_defect(textures(8, size=64, seed=8), 16, 32, 16)
    scores, maps = model.score_and_map(np.concatenate([normal, damaged]))
    assert maps.shape == (16, 64, 64) and scores.shape == (16,)
    assert scores[8:].min() > scores[:8].max()
    inside = np.zeros((64, 64), bool)
    inside[16:32, 32:48] = True
    assert (maps[8:, inside].mean(axis=1) > 1.3 * maps[8:, ~inside].mean(axis=1)).all()
    rows, cols = np.unravel_index(maps[8:].reshape(8, -1).argmax(axis=1), (64, 64))
    # the peak is on the defect for most images (16 training images leave rare border patches high)
    assert ((rows >= 8) & (rows < 40) & (cols >= 24) & (cols < 56)).mean() >= 0.75


def test_full_bank_scores_training_patches_zero_and_refit_replaces_the_bank():
    model = PatchCore((32, 32, 1), backbone=tiny_backbone(), coreset_ratio=1.0)
    x = textures(8)
    model.fit(x, verbose=0)
    assert model.memory_size == 8 * 16
    assert np.abs(model.patch_scores(model.embeddings_of(x))).max() < 1e-3
    model.fit(textures(16), verbose=0)
    assert model.memory_size == 16 * 16
    assert sum("memory_bank" in v.path for v in model.non_trainable_variables) == 1


def test_ivf_index_and_save_load_rebuilds_it(fitted, tmp_path):
    model = PatchCore((32, 32, 1), backbone=tiny_backbone(), coreset_ratio=0.5, index="ivf", seed=1)
    x = textures(32)
    model.fit(x, verbose=0)
    assert model.neighbours().kind == "ivf"
    model.save(tmp_path / "patchcore.keras")
    loaded = keras.models.load_model(tmp_path / "patchcore.keras")
    assert loaded.memory_size == model.memory_size and loaded.index == "ivf"
    np.testing.assert_array_equal(loaded.memory_bank.numpy(), model.memory_bank.numpy())
    test = with_defect(textures(4, seed=9))
    np.testing.assert_array_equal(loaded.predict(test), model.predict(test))


def test_bad_arguments():
    with pytest.raises(ValueError, match="coreset_ratio"):
        PatchCore((32, 32, 1), backbone=tiny_backbone(), coreset_ratio=0.0)
    with pytest.raises(ValueError, match="index"):
        PatchCore((32, 32, 1), backbone=tiny_backbone(), index="hnsw")
    with pytest.raises(ValueError, match="search"):
        PatchCore((32, 32, 1), backbone=tiny_backbone(), search="annoy")
    with pytest.raises(ValueError, match="always exact"):
        PatchCore((32, 32, 1), backbone=tiny_backbone(), index="ivf", search="keras")


def test_keras_search_scores_as_faiss_and_survives_save_load(fitted, tmp_path):
    pytest.importorskip("faiss")
    model, x_train, _ = fitted
    assert model.search == "auto" and model.neighbours().kind == "flat"  # faiss when installed
    on_keras = PatchCore((32, 32, 1), backbone=tiny_backbone(), coreset_ratio=0.25, search="keras", seed=0)
    on_keras.fit(x_train, verbose=0)
    np.testing.assert_array_equal(on_keras.memory_bank.numpy(), model.memory_bank.numpy())
    assert on_keras.neighbours().kind == "keras" and on_keras.get_config()["search"] == "keras"
    test = np.concatenate([textures(3, seed=7), with_defect(textures(3, seed=8))])
    keras_scores, keras_maps = on_keras.score_and_map(test)
    faiss_scores, faiss_maps = model.score_and_map(test)
    np.testing.assert_allclose(keras_scores, faiss_scores, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(keras_maps, faiss_maps, rtol=1e-4, atol=1e-5)
    on_keras.save(tmp_path / "patchcore_keras.keras")
    loaded = keras.models.load_model(tmp_path / "patchcore_keras.keras")
    assert loaded.search == "keras" and loaded.neighbours().kind == "keras"
    np.testing.assert_array_equal(loaded.predict(test), on_keras.predict(test))
