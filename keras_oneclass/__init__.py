"""keras_oneclass: one-class anomaly detection for Keras 3 / TensorFlow."""

from keras_oneclass import datasets, metrics, precision
from keras_oneclass.detector import Detector, NotFittedError, TrainingDiverged
from keras_oneclass.models.dasvdd import DASVDD
from keras_oneclass.models.autoencoder import ConvAutoencoder, DenseAutoencoder
from keras_oneclass.models.ssim_autoencoder import SSIMAutoencoder
from keras_oneclass.models.vae import VAE
from keras_oneclass.models.ganomaly import GANomaly
from keras_oneclass.models.efficientad import EfficientAD
from keras_oneclass.models.deep_svdd import DeepSVDD
from keras_oneclass.models.padim import PaDiM
from keras_oneclass.models.patchcore import PatchCore
from keras_oneclass.layers import Sampling
from keras_oneclass.saving import load_detector
from keras_oneclass import callbacks, postprocessing

__version__ = "0.1.0"
__all__ = ["ConvAutoencoder", "DASVDD", "DeepSVDD", "DenseAutoencoder", "Detector", "EfficientAD", "GANomaly", "NotFittedError", "TrainingDiverged",
           "PaDiM", "PatchCore", "Sampling", "SSIMAutoencoder", "VAE", "callbacks", "datasets", "load_detector", "metrics", "postprocessing", "precision"]
