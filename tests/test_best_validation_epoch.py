"""BestValidationEpoch: the training length chosen on a labelled validation set."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_oneclass import DenseAutoencoder, EfficientAD, metrics
from keras_oneclass.callbacks import BestValidationEpoch


def tabular(seed=0):
    rng = np.random.default_rng(seed)
    normal = (rng.random((128, 8)) * 0.5).astype(np.float32)
    validation = np.concatenate([rng.random((16, 8)) * 0.5, 0.5 + rng.random((16, 8)) * 0.5]).astype(np.float32)
    return normal, validation, np.repeat([0, 1], 16)


class WeightsEachEpoch(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append([np.array(v) for v in self.model.trainable_weights])


def test_restores_the_weights_of_the_best_epoch_not_the_last():
    normal, validation, labels = tabular()
    model = DenseAutoencoder(input_shape=(8,), hidden_units=(16,), latent_dim=4, seed=0)
    choose = BestValidationEpoch(validation, labels)
    # scripted scores: the normal samples score 0.01 ... 0.95, the anomalies 0.75, 1.0, 0.5, 0.25 in epochs 1-4
    normal_scores = np.arange(16) / 16 + 0.01
    choose.validation_scores = lambda: np.concatenate([normal_scores,
                                                       np.full(16, [0.75, 1.0, 0.5, 0.25][len(choose.curve)])])
    record = WeightsEachEpoch()
    model.fit(normal, epochs=4, callbacks=[choose, record], verbose=0)
    assert [epoch for epoch, _ in choose.curve] == [1, 2, 3, 4]
    assert choose.best_epoch == 2 and choose.best_roc_auc == max(auc for _, auc in choose.curve)
    for final, best in zip(model.trainable_weights, record.weights[1]):
        np.testing.assert_array_equal(np.array(final), best)
    assert any(not np.array_equal(b, l) for b, l in zip(record.weights[1], record.weights[3]))


def test_patience_stops_training_after_that_many_epochs_without_a_better_one():
    normal, validation, labels = tabular()
    model = DenseAutoencoder(input_shape=(8,), hidden_units=(16,), latent_dim=4, seed=0)
    choose = BestValidationEpoch(validation, labels, patience=2)
    # scripted anomaly scores: the AUC rises to epoch 2, then ties (not an improvement) and falls
    normal_scores = np.arange(16) / 16 + 0.01
    choose.validation_scores = lambda: np.concatenate([normal_scores,
                                                       np.full(16, [0.75, 1.0, 1.0, 0.5, 2.0, 2.0][len(choose.curve)])])
    record = WeightsEachEpoch()
    history = model.fit(normal, epochs=6, callbacks=[choose, record], verbose=0)
    assert len(history.history["loss"]) == 4 and choose.stopped_epoch == 4
    assert [epoch for epoch, _ in choose.curve] == [1, 2, 3, 4] and choose.best_epoch == 2
    for final, best in zip(model.trainable_weights, record.weights[1]):
        np.testing.assert_array_equal(np.array(final), best)
    with pytest.raises(ValueError, match="patience"):
        BestValidationEpoch(validation, labels, patience=0)


def test_logged_auc_is_the_detectors_own_score_auc():
    normal, validation, labels = tabular()
    model = DenseAutoencoder(input_shape=(8,), hidden_units=(16,), latent_dim=4, seed=0)
    choose = BestValidationEpoch(validation, labels, every=2)
    history = model.fit(normal, epochs=3, callbacks=[choose], verbose=0)
    assert [epoch for epoch, _ in choose.curve] == [2, 3]  # every 2nd epoch, and the last
    assert "val_image_roc_auc" in history.history
    assert choose.best_roc_auc == pytest.approx(metrics.roc_auc(labels, model.predict(validation, verbose=0)), abs=1e-6)


def test_efficientad_scores_with_quantiles_of_the_normal_images():
    rng = np.random.default_rng(0)
    normal = (rng.random((32, 32, 32, 1)) * 0.2 + 0.4).astype(np.float32)
    held = (rng.random((8, 32, 32, 1)) * 0.2 + 0.4).astype(np.float32)
    anomalous = held.copy()
    anomalous[:, 8:20, 8:20] = 1.0
    validation, labels = np.concatenate([held, anomalous]), np.repeat([0, 1], 8)
    model = EfficientAD((32, 32, 1), teacher=None, channels=8, seed=0)
    choose = BestValidationEpoch(validation, labels, normal=held)
    model.fit(normal, batch_size=8, epochs=1, validation_data=held, callbacks=[choose], verbose=0)
    # fit's own after_fit sets the quantiles on the same normal images: the scores match predict's
    assert choose.best_roc_auc == pytest.approx(metrics.roc_auc(labels, model.predict(validation, verbose=0)), abs=1e-6)


@pytest.mark.parametrize("labels, message", [(np.zeros(4), "both classes"), (np.array([0, 1, 0]), "differ in length")])
def test_bad_labels_raise(labels, message):
    with pytest.raises(ValueError, match=message):
        BestValidationEpoch(np.zeros((4, 8), np.float32), labels)
