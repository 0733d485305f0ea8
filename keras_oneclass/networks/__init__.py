"""Building blocks reused by several detectors."""

from keras_oneclass.networks.conv import conv_autoencoder
from keras_oneclass.networks.dense import dense_autoencoder
from keras_oneclass.networks.lenet import lenet_autoencoder, lenet_decoder, lenet_encoder
