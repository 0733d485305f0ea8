"""Resuming an interrupted fit: the array pipeline's shuffling fast-forwarded to the starting epoch.

``keras.callbacks.BackupAndRestore`` saves the detector's weights (every variable of the networks and
of the detector, every phase optimizer's state, and, through ``TrainedDetector.save_own_variables``,
the state of every ``keras.random.SeedGenerator``) at the end of each epoch and, when a later fit
starts, loads them and starts at the next epoch. What it cannot restore is the order in which the
array pipeline of ``Detector.fit`` serves the samples: a fresh pipeline starts from its seed, so the
resumed epoch k would see the order of epoch 0. ``ResumedDataOrder`` replays the k reshuffles of the
seeded pipeline before epoch k, so that epoch k sees the order it sees in an uninterrupted fit; the
order of an uninterrupted fit is left as it is.
"""

from __future__ import annotations

import keras

from keras_oneclass import backends


def skip_epochs(data, epochs: int, model=None) -> None:
    """Advance the shuffling of an array pipeline (``Detector.array_pipeline``) by ``epochs`` epochs.

    ``ArrayBatches`` replays the permutations of its seeded generator (one per epoch). A ``tf.data``
    pipeline shuffled with ``reshuffle_each_iteration=True`` draws a new order from its seed for every
    iterator made of it, and Keras' TensorFlow epoch loop makes more than one per epoch (Keras 3.15:
    one at the end of each epoch and one at the start of the next, the latter serving the epoch); so
    the epochs are passed through Keras' own ``TFEpochIterator`` as ``fit`` makes them, without reading
    a batch, and the next iterator ``fit`` makes draws the order of the epoch it resumes.

    Args:
        model: the model being fitted (its distribution strategy and ``steps_per_execution``).
    """
    from keras_oneclass.training.batches import ArrayBatches

    epochs = int(epochs)
    if isinstance(data, ArrayBatches):
        data.skip_epochs(epochs)
    elif backends.is_tf_dataset(data):
        import tensorflow as tf
        from keras.src.backend.tensorflow.trainer import TFEpochIterator

        strategy = getattr(model, "distribute_strategy", None) or tf.distribute.get_strategy()
        iterator = TFEpochIterator(x=data, shuffle=False, distribute_strategy=strategy,
                                   steps_per_execution=getattr(model, "steps_per_execution", 1) or 1)
        iterator.reset()
        for _ in range(epochs):
            for _ in iterator:  # (step, step, tf iterator) per step; no batch is read
                pass
    else:
        raise TypeError(f"cannot fast-forward the order of {type(data).__name__}: expected the ArrayBatches or "
                        "tf.data pipeline of Detector.array_pipeline.")


class ResumedDataOrder(keras.callbacks.Callback):
    """When a fit starts at epoch k > 0 (resumed by ``BackupAndRestore``, or ``initial_epoch=k``),
    fast-forward the array pipeline ``data`` by k epochs before its first batch, so that every epoch
    sees the order of the same epoch of an uninterrupted fit. A fit from epoch 0 is left untouched.

    Args:
        data: the pipeline ``Detector.array_pipeline`` made for this fit.
    """

    def __init__(self, data):
        super().__init__()
        self.data = data
        self._first_epoch = True

    def on_train_begin(self, logs=None):
        self._first_epoch = True

    def on_epoch_begin(self, epoch, logs=None):
        if self._first_epoch:
            self._first_epoch = False
            if epoch > 0:
                skip_epochs(self.data, epoch, self.model)


def with_resumed_data_order(callbacks, data, steps_per_epoch=None):
    """``callbacks`` (a list, a ``CallbackList`` or None) with a ``ResumedDataOrder`` for ``data``.

    With ``steps_per_epoch`` the epochs do not start a new pass over the data, so nothing is added.
    """
    if steps_per_epoch:
        return callbacks
    order = ResumedDataOrder(data)
    if isinstance(callbacks, keras.callbacks.CallbackList):
        callbacks.callbacks.append(order)  # the order needs no model
        return callbacks
    return [*(callbacks or []), order]
