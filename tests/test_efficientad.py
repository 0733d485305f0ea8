"""EfficientAD (small variant): frozen teacher, teacher normalisation, losses, quantile-normalised maps."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_oneclass.models.efficientad import EfficientAD
from test_padim import textures, tiny_backbone, with_defect


@pytest.fixture(scope="module")
def fitted():
    keras.utils.set_random_seed(0)
    model = EfficientAD((32, 32, 1), backbone=tiny_backbone(), channels=16, seed=0)
    teacher_before = [w.copy() for w in model.extractor.get_weights()]
    student_before = [w.copy() for w in model.student.get_weights()]
    x_train, x_val = textures(48), textures(16, seed=1)
    history = model.fit(x_train, epochs=3, validation_data=x_val, verbose=0)
    return model, x_train, x_val, history, teacher_before, student_before


def test_only_student_and_autoencoder_train(fitted):
    model, _, _, history, teacher_before, student_before = fitted
    for before, after in zip(teacher_before, model.extractor.get_weights()):
        np.testing.assert_array_equal(before, after)
    assert any(not np.array_equal(b, a) for b, a in zip(student_before, model.student.get_weights()))
    assert {"loss", "student_loss", "autoencoder_loss", "student_autoencoder_loss", "val_loss"} <= set(history.history)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_teacher_features_are_normalised_on_training_data(fitted):
    model, x_train, _, _, _, _ = fitted
    teacher = np.asarray(model.teach(x_train))
    np.testing.assert_allclose(teacher.mean(axis=(0, 1, 2)), 0.0, atol=1e-3)
    np.testing.assert_allclose(teacher.std(axis=(0, 1, 2)), 1.0, atol=1e-2)


def test_maps_are_normalised_by_validation_quantiles(fitted):
    model, _, x_val, _, _, _ = fitted
    map_st, map_ae = (np.asarray(m) for m in model.raw_maps(x_val))
    q = model.quantiles.numpy()
    np.testing.assert_allclose(q, [np.quantile(map_st, 0.9), np.quantile(map_st, 0.995),
                                   np.quantile(map_ae, 0.9), np.quantile(map_ae, 0.995)], rtol=1e-5)
    combined = np.asarray(model.grid_map(x_val))
    expected = 0.05 * (map_st - q[0]) / (q[1] - q[0]) + 0.05 * (map_ae - q[2]) / (q[3] - q[2])
    np.testing.assert_allclose(combined, expected, rtol=1e-4, atol=1e-6)


def test_hard_feature_loss_counts_only_the_largest_errors(fitted):
    model, x_train, _, _, _, _ = fitted
    student_loss, _, _ = model.losses_of(x_train[:4], training=False)
    errors = np.square(np.asarray(model.teach(x_train[:4])) -
                       np.asarray(model.student(x_train[:4]))[..., :16]).ravel()
    hard = np.quantile(errors, 0.999)
    assert float(student_loss) == pytest.approx(errors[errors >= hard].mean(), rel=1e-3)
    assert float(student_loss) > errors.mean()


def test_scores_maps_and_defects(fitted):
    model, _, _, _, _, _ = fitted
    x = np.concatenate([textures(8, seed=2), with_defect(textures(8, seed=3))])
    scores, maps = model.score_and_map(x)
    assert maps.shape == (16, 32, 32) and scores.dtype == np.float32
    np.testing.assert_allclose(model.predict(x), scores, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(scores, maps.reshape(16, -1).max(axis=1), rtol=1e-6)
    assert scores[8:].mean() > scores[:8].mean()


def test_bad_arguments():
    with pytest.raises(ValueError, match="hard_quantile"):
        EfficientAD((32, 32, 1), backbone=tiny_backbone(), hard_quantile=1.0)
    with pytest.raises(ValueError, match="backbone must be one of"):
        EfficientAD((32, 32, 1), backbone="vgg16", weights=None)
    with pytest.raises(ValueError, match="one feature layer"):
        EfficientAD((32, 32, 1), backbone=tiny_backbone(), layers=["conv_pw_3_relu", "conv_pw_5_relu"])
