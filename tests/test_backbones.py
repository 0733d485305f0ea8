"""keras.applications feature extractors: default layers, preprocessing, weights lookup."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from conftest import shared_data
from keras_oneclass.networks import backbones
from keras_oneclass.networks.backbones import FAMILIES, FeatureExtractor, build_backbone, weights_locations


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_default_layers_exist_with_strides_8_and_16(name):
    extractor = FeatureExtractor(name, (64, 64, 3), weights=None)
    shapes = [tuple(f.shape) for f in extractor(np.random.default_rng(0).random((1, 64, 64, 3), np.float32))]
    assert [s[1:3] for s in shapes] == [(8, 8), (4, 4)]


@pytest.mark.parametrize("alpha", [0.25, 1.0])
def test_mobilenet_defaults_hold_for_any_alpha(alpha):
    model = keras.applications.MobileNet(alpha=alpha, weights=None, include_top=False, input_shape=(32, 32, 3))
    extractor = FeatureExtractor(model, (32, 32, 1))
    assert extractor.family == "mobilenet"
    assert extractor.layer_names == ("conv_pw_5_relu", "conv_pw_11_relu")
    assert [int(f.shape[-1]) for f in extractor(np.zeros((1, 32, 32, 1)))] == [int(256 * alpha), int(512 * alpha)]


def test_grayscale_is_repeated_and_preprocessed_like_the_family():
    model = keras.applications.MobileNet(alpha=0.25, weights=None, include_top=False, input_shape=(32, 32, 3))
    gray, rgb = FeatureExtractor(model, (32, 32, 1)), FeatureExtractor(model, (32, 32, 3))
    x = np.random.default_rng(0).random((2, 32, 32, 1)).astype(np.float32)
    for a, b in zip(gray(x), rgb(np.repeat(x, 3, axis=-1))):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    # MobileNet's preprocess_input maps [0, 255] to [-1, 1]; our inputs are in [0, 1].
    np.testing.assert_allclose(np.asarray(gray.preprocess(np.array([0.0, 1.0]).reshape(1, 1, 2, 1))).ravel(),
                               [-1, -1, -1, 1, 1, 1])


def test_unknown_layer_and_family_are_named():
    model = keras.applications.MobileNet(alpha=0.25, weights=None, include_top=False, input_shape=(32, 32, 3))
    with pytest.raises(ValueError, match="conv_pw_99"):
        FeatureExtractor(model, (32, 32, 3), layers=["conv_pw_99_relu"])
    with pytest.raises(ValueError, match="backbone must be one of"):
        FeatureExtractor("vgg16", (32, 32, 3), weights=None)
    with pytest.raises(ValueError, match="H, W, 1"):
        FeatureExtractor(model, (32, 32, 2))


def test_weights_are_looked_up_in_order(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_ONECLASS_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    places = weights_locations("w.h5", weights_dir=tmp_path / "explicit")
    assert places == [tmp_path / "explicit" / "w.h5", tmp_path / "data" / "keras_models" / "w.h5",
                      tmp_path / "keras" / "models" / "w.h5"]
    assert FAMILIES["mobilenet"].weights_file(0.25, 224) == "mobilenet_2_5_224_tf_no_top.h5"
    assert FAMILIES["mobilenet"].weights_file(1.0, 100) == "mobilenet_1_0_224_tf_no_top.h5"


def test_imagenet_weights_come_from_the_shared_folder(monkeypatch):
    folder = shared_data("keras_models/mobilenet_2_5_224_tf_no_top.h5").parent
    monkeypatch.setenv("KERAS_ONECLASS_DATA", str(folder.parent))
    model = build_backbone("mobilenet", (64, 64, 3), weights="imagenet", alpha=0.25)
    reference = keras.applications.MobileNet(alpha=0.25, include_top=False, input_shape=(64, 64, 3),
                                             weights=str(folder / "mobilenet_2_5_224_tf_no_top.h5"))
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_offline_failure_names_the_file_and_where_to_put_it(tmp_path, monkeypatch):
    def offline(weights=None, **kwargs):
        if weights == "imagenet":
            raise ConnectionError("no network")
        return keras.applications.ResNet50(weights=weights, **kwargs)

    family = FAMILIES["resnet50"]
    monkeypatch.setitem(FAMILIES, "resnet50", backbones.Family(offline, family.preprocess, family.layers,
                                                               family.weights_file))
    monkeypatch.setenv("KERAS_ONECLASS_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5") as error:
        build_backbone("resnet50", (64, 64, 3), weights="imagenet")
    assert str(tmp_path / "keras_models") in str(error.value)


def test_missing_weights_path_is_reported():
    with pytest.raises(FileNotFoundError, match="nowhere.h5"):
        build_backbone("mobilenet", (32, 32, 3), weights="nowhere.h5")


def test_imagenet_file_of_another_input_size_is_used_offline(monkeypatch):
    """Only the 224-px MobileNet(alpha=0.25) file exists offline; a 128-px backbone loads the same kernels."""
    root = shared_data("keras_models/mobilenet_2_5_224_tf_no_top.h5").parents[1]
    monkeypatch.setenv("KERAS_ONECLASS_DATA", str(root))
    monkeypatch.setenv("KERAS_HOME", "/nonexistent-keras-home")
    small = build_backbone("mobilenet", (128, 128, 3), alpha=0.25)
    full = build_backbone("mobilenet", (224, 224, 3), alpha=0.25)
    for a, b in zip(small.get_weights(), full.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert np.abs(small.get_weights()[0]).sum() > 0
    assert small.weights_source == full.weights_source == f"imagenet: {root / 'keras_models' / 'mobilenet_2_5_224_tf_no_top.h5'}"
    assert build_backbone("mobilenet", (32, 32, 3), weights=None, alpha=0.25).weights_source == "random"
