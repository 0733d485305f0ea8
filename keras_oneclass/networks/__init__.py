"""Building blocks reused by several detectors."""

from keras_oneclass.networks.conv import conv_autoencoder
from keras_oneclass.networks.dense import dense_autoencoder
