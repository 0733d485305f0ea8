"""The Deep SVDD LeNet nets: the paper's layers (original) and the enhanced variant's changes."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_oneclass.networks.lenet import lenet_autoencoder, lenet_decoder, lenet_encoder


def layers_of(model, kind):
    return [layer for layer in model.layers if type(layer) is kind]


@pytest.mark.parametrize("shape, filters, rep_dim", [((28, 28, 1), [8, 4], 32), ((32, 32, 3), [32, 64, 128], 128)])
@pytest.mark.parametrize("variant, kernel, affine", [("original", 5, False), ("enhanced", 3, True)])
def test_encoder_layers_follow_the_variant(shape, filters, rep_dim, variant, kernel, affine):
    encoder = lenet_encoder(shape, variant, seed=0)
    convs = layers_of(encoder, keras.layers.Conv2D)
    assert [c.filters for c in convs] == filters
    assert all(c.kernel_size == (kernel, kernel) and not c.use_bias and c.padding == "same" for c in convs)
    norms = layers_of(encoder, keras.layers.BatchNormalization)
    assert len(norms) == len(filters)
    assert all(n.center is affine and n.scale is affine and n.epsilon == pytest.approx(1e-4) for n in norms)
    dense = layers_of(encoder, keras.layers.Dense)
    assert len(dense) == 1 and dense[0].units == rep_dim and not dense[0].use_bias
    z = encoder(np.random.default_rng(0).random((3, *shape), dtype="float32"), training=False)
    assert z.shape == (3, rep_dim) and z.dtype == "float32"


def test_no_bias_anywhere_in_the_original_encoder():
    encoder = lenet_encoder((32, 32, 3), "original", seed=0)
    names = [w.path for w in encoder.trainable_weights]
    assert names and all(name.endswith("kernel") for name in names)


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3)])
@pytest.mark.parametrize("variant, interpolation, kernel", [("original", "nearest", 5), ("enhanced", "bilinear", 3)])
def test_decoder_mirrors_with_upsampling_by_two(shape, variant, interpolation, kernel):
    decoder = lenet_decoder(shape, variant, seed=0)
    ups = layers_of(decoder, keras.layers.UpSampling2D)
    assert ups and all(u.size == (2, 2) and u.interpolation == interpolation for u in ups)
    deconvs = layers_of(decoder, keras.layers.Conv2DTranspose)
    assert all(d.kernel_size == (kernel, kernel) and not d.use_bias for d in deconvs)
    out = decoder(np.zeros((2, decoder.input_shape[-1]), "float32"))
    assert out.shape == (2, *shape) and out.dtype == "float32"
    assert float(np.min(out)) >= 0.0 and float(np.max(out)) <= 1.0  # sigmoid output


def test_enhanced_nets_have_fewer_weights_and_multiply_adds():
    original = lenet_encoder((32, 32, 3), "original")
    enhanced = lenet_encoder((32, 32, 3), "enhanced")
    conv_weights = lambda m: sum(int(np.prod(c.kernel.shape)) for c in layers_of(m, keras.layers.Conv2D))  # noqa: E731
    # same feature-map sizes, so conv multiply-adds scale with the kernel weights: 9/25
    assert conv_weights(enhanced) / conv_weights(original) == pytest.approx(9 / 25)


def test_autoencoder_shares_the_encoder_layers():
    encoder, autoencoder = lenet_autoencoder((28, 28, 1), "original", seed=0)
    assert autoencoder(np.zeros((2, 28, 28, 1), "float32")).shape == (2, 28, 28, 1)
    shared = {id(v) for v in encoder.weights}
    assert shared <= {id(v) for v in autoencoder.weights}


@pytest.mark.parametrize("shape", [(64, 64, 3), (28, 28), (32, 30, 3)])
def test_unsupported_input_shapes_raise(shape):
    with pytest.raises(ValueError, match="28x28 .* 32x32"):
        lenet_encoder(shape)


def test_unknown_variant_raises():
    with pytest.raises(ValueError, match="variant"):
        lenet_encoder((28, 28, 1), "deeper")
