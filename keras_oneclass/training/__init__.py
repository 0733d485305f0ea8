"""The training engine: update phases, run by one implementation per Keras backend."""

from keras_oneclass.training.batches import ArrayBatches
from keras_oneclass.training.engine import TrainedDetector
from keras_oneclass.training.phases import Phase, PhaseOptimizers

__all__ = ["ArrayBatches", "Phase", "PhaseOptimizers", "TrainedDetector"]
