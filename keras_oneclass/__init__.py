"""keras_oneclass: one-class anomaly detection for Keras 3 / TensorFlow."""

from keras_oneclass import datasets, metrics, precision
from keras_oneclass.detector import Detector, NotFittedError
from keras_oneclass.models.dasvdd import DASVDD
from keras_oneclass.models.efficientad import EfficientAD
from keras_oneclass.models.padim import PaDiM
from keras_oneclass.models.patchcore import PatchCore

__version__ = "0.1.0"
__all__ = ["DASVDD", "Detector", "EfficientAD", "NotFittedError", "PaDiM", "PatchCore", "datasets", "metrics",
           "precision"]
