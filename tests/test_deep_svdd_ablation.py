"""benchmarks.studies.deep_svdd_enhanced_ablation: each ablation changes only its one thing, and only while active."""

from benchmarks.studies.deep_svdd_enhanced_ablation import ABLATIONS
from keras_oneclass.networks import lenet


def layers(model):
    return {layer.name: layer for inner in model.layers for layer in getattr(inner, "layers", [inner])}


def test_no_shift_drops_beta_from_the_encoders_batchnorm_only():
    with ABLATIONS["no-shift"][0]():
        _, autoencoder = lenet.lenet_autoencoder((28, 28, 1), variant="enhanced", seed=0)
    found = layers(autoencoder)
    assert [found[n].center for n in ("conv_0_bn", "conv_1_bn")] == [False, False]
    assert [found[n].scale for n in ("conv_0_bn", "conv_1_bn")] == [True, True]
    assert found["deconv_0_bn"].center  # the decoder keeps its affine BatchNorm
    assert lenet.lenet_encoder((28, 28, 1), variant="enhanced", seed=0).get_layer("conv_0_bn").center  # restored


def test_kernel5_restores_the_original_kernel_size_everywhere_and_nothing_else():
    with ABLATIONS["kernel5"][0]():
        _, autoencoder = lenet.lenet_autoencoder((28, 28, 1), variant="enhanced", seed=0)
    found = layers(autoencoder)
    assert {found[n].kernel_size for n in ("conv_0", "conv_1", "deconv_0", "reconstruction")} == {(5, 5)}
    assert found["conv_0_bn"].center and found["conv_0_bn"].scale
    assert autoencoder.output_shape == (None, 28, 28, 1)
    assert lenet.lenet_encoder((28, 28, 1), variant="enhanced", seed=0).get_layer("conv_0").kernel_size == (3, 3)
