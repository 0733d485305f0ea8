"""keras_oneclass: one-class anomaly detection for Keras 3 / TensorFlow."""

from keras_oneclass import datasets, metrics, precision
from keras_oneclass.detector import Detector, NotFittedError
from keras_oneclass.models.dasvdd import DASVDD
from keras_oneclass.models.deep_svdd import DeepSVDD

__version__ = "0.1.0"
__all__ = ["DASVDD", "DeepSVDD", "Detector", "NotFittedError", "datasets", "metrics", "precision"]
