"""An interrupted fit resumed by keras.callbacks.BackupAndRestore ends where an uninterrupted fit ends.

Every trained detector: phase optimizers (GANomaly's two, DASVDD's centre optimizer), non-trainable state
(DASVDD's gamma, Deep SVDD's centre, radius and epoch, EfficientAD's teacher statistics, GANomaly's
discriminator copies), seed-generator states (VAE sampling, EfficientAD augmentation) and the seeded
order of the samples in every epoch.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from conftest import blobs
from detector_rows import DETECTORS
from keras_oneclass import DeepSVDD
from keras_oneclass.training import ArrayBatches

EPOCHS, BATCH, STOP_EPOCH, STOP_STEP = 4, 16, 2, 1  # 64 samples: 4 steps an epoch; stop after 2 steps of epoch 2

RESUMED = {name: DETECTORS[name][:2] for name in
           ("dasvdd_dense", "ae_dense", "ae_conv", "vae_dense", "ganomaly", "efficientad", "deep_svdd_original")}
RESUMED["deep_svdd_soft_boundary"] = (
    lambda seed: DeepSVDD(input_shape=(28, 28, 1), objective="soft-boundary", nu=0.2, warm_up_epochs=1,
                          pretrain_epochs=1, seed=seed), (28, 28, 1))


class Interrupt(keras.callbacks.Callback):
    """Raises after batch ``step`` of epoch ``epoch``, as a killed job stops mid-epoch."""

    def __init__(self, epoch, step):
        super().__init__()
        self.stop, self.epoch = (epoch, step), None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.stop:
            raise RuntimeError("interrupted")


class Epochs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = []

    def on_epoch_begin(self, epoch, logs=None):
        self.seen.append(epoch)


@pytest.mark.parametrize("name", sorted(RESUMED))
def test_interrupted_fit_resumes_to_the_uninterrupted_result(name, tmp_path):
    factory, shape = RESUMED[name]
    x_train, x_test, _ = blobs(n_normal=64, shape=shape)

    def fit(model, backup, *callbacks):
        model.fit(x_train, epochs=EPOCHS, batch_size=BATCH, verbose=0,
                  callbacks=[keras.callbacks.BackupAndRestore(str(backup)), *callbacks])
        return model

    expected = fit(factory(0), tmp_path / "whole").predict(x_test, verbose=0)

    with pytest.raises(RuntimeError, match="interrupted"):
        fit(factory(0), tmp_path / "killed", Interrupt(STOP_EPOCH, STOP_STEP))
    epochs = Epochs()
    resumed = fit(factory(0), tmp_path / "killed", epochs)  # a fresh detector, as in a new process
    assert epochs.seen == list(range(STOP_EPOCH, EPOCHS))
    np.testing.assert_allclose(resumed.predict(x_test, verbose=0), expected, rtol=1e-6, atol=1e-7)


def test_array_batches_skip_epochs_replays_the_seeded_orders():
    x = np.arange(10, dtype="float32")[:, None]
    run = ArrayBatches(x, 4, seed=3)
    orders = []
    for _ in range(4):
        orders.append(np.concatenate([run[i] for i in range(len(run))]).ravel())
        run.on_epoch_end()
    resumed = ArrayBatches(x, 4, seed=3)
    resumed.skip_epochs(2)
    np.testing.assert_array_equal(np.concatenate([resumed[i] for i in range(len(resumed))]).ravel(), orders[2])
