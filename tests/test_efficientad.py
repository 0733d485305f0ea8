"""EfficientAD as published: PDN networks, distilled teacher, hard-feature loss, penalty, quantile-normalised maps."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from PIL import Image

from keras_oneclass import datasets
from keras_oneclass.models.efficientad import EfficientAD
from keras_oneclass.models.efficientad_teacher import (DEFAULT_TEACHER, distill_teacher, imagenet_normalised,
                                                       save_teacher, teacher_record)
from keras_oneclass.networks.pdn import efficientad_autoencoder, patch_description_network
from test_padim import textures, with_defect


@pytest.fixture(scope="module")
def natural_folder(tmp_path_factory):
    """A folder of 40 random-colour 32 px images in two class sub-folders (CIFAR-10's layout)."""
    root = tmp_path_factory.mktemp("natural")
    rng = np.random.default_rng(0)
    for i in range(40):
        folder = root / f"class{i % 2}"
        folder.mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def fitted(natural_folder):
    keras.utils.set_random_seed(0)
    model = EfficientAD((32, 32, 1), penalty_images=str(natural_folder), seed=0)
    teacher_before = [w.copy() for w in model.teacher.get_weights()]
    student_before = [w.copy() for w in model.student.get_weights()]
    x_train, x_val = textures(24), textures(16, seed=1)
    history = model.fit(x_train, epochs=2, batch_size=2, validation_data=x_val, verbose=0)
    return model, x_train, x_val, history, teacher_before, student_before


def test_networks_have_the_papers_shapes():
    small = patch_description_network("small", 384, (256, 256, 3))
    medium = patch_description_network("medium", 384, (256, 256, 3))
    assert small.output.shape[1:] == (64, 64, 384) and medium.output.shape[1:] == (64, 64, 384)
    assert small.count_params() == 2_694_144      # tables 6 and 7 of the paper's appendix
    assert len([layer for layer in small.layers if isinstance(layer, keras.layers.Conv2D)]) == 4
    assert len([layer for layer in medium.layers if isinstance(layer, keras.layers.Conv2D)]) == 6
    autoencoder = efficientad_autoencoder((256, 256, 3), 384)
    assert autoencoder.output.shape[1:] == (64, 64, 384)
    assert autoencoder.get_layer("autoencoder_enc6").output.shape[1:] == (1, 1, 64)
    assert [autoencoder.get_layer(f"autoencoder_up{i}").output.shape[1] for i in range(1, 8)] == [3, 8, 15, 32, 63, 127, 64]


def test_the_shipped_teacher_loads_with_its_record():
    weights, record = teacher_record(DEFAULT_TEACHER)
    assert record["size"] == "small" and record["backbone"] == "mobilenet" and record["steps"] > 0
    model = EfficientAD((64, 64, 3))
    assert model.channels == record["channels"]
    for loaded, shipped in zip(model.teacher.get_weights(), weights):
        np.testing.assert_array_equal(loaded, shipped)


def test_only_student_and_autoencoder_train(fitted):
    model, _, _, history, teacher_before, student_before = fitted
    for before, after in zip(teacher_before, model.teacher.get_weights()):
        np.testing.assert_array_equal(before, after)
    assert any(not np.array_equal(b, a) for b, a in zip(student_before, model.student.get_weights()))
    assert {"loss", "student_loss", "penalty_loss", "autoencoder_loss", "student_autoencoder_loss",
            "val_loss"} <= set(history.history)
    assert all(value > 0 for value in history.history["penalty_loss"])
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_penalty_is_the_mean_square_of_student_outputs_on_natural_images(fitted):
    model, _, _, _, _, _ = fitted
    natural = model.penalty_bank[:4].numpy().astype(np.float32) / 255.0
    natural = np.asarray(keras.ops.image.resize(natural, (32, 32)))
    student = np.asarray(model.student(imagenet_normalised(natural)))[..., :model.channels]
    expected = np.mean(np.square(student))
    assert expected == pytest.approx(float(model.penalty_loss(4)), rel=0.5)  # other random draws, same scale
    untouched = EfficientAD((32, 32, 1), seed=0)
    assert float(untouched.penalty_loss(4)) == 0.0   # no penalty_images: no penalty term


def test_teacher_features_are_normalised_on_training_data(fitted):
    model, x_train, _, _, _, _ = fitted
    teacher = np.asarray(model.teach(x_train))
    np.testing.assert_allclose(teacher.mean(axis=(0, 1, 2)), 0.0, atol=1e-3)
    np.testing.assert_allclose(teacher.std(axis=(0, 1, 2))[teacher.std(axis=(0, 1, 2)) > 0], 1.0, atol=1e-2)


def test_maps_are_normalised_by_validation_quantiles(fitted):
    model, _, x_val, _, _, _ = fitted
    map_st, map_ae = (np.asarray(m) for m in model.raw_maps(x_val))
    q = model.quantiles.numpy()
    np.testing.assert_allclose(q, [np.quantile(map_st, 0.9), np.quantile(map_st, 0.995),
                                   np.quantile(map_ae, 0.9), np.quantile(map_ae, 0.995)], rtol=1e-5)
    combined = np.asarray(model.grid_map(x_val))
    expected = 0.05 * (map_st - q[0]) / (q[1] - q[0]) + 0.05 * (map_ae - q[2]) / (q[3] - q[2])
    np.testing.assert_allclose(combined, expected, rtol=1e-4, atol=1e-6)


def test_hard_feature_loss_counts_only_the_largest_errors(fitted):
    model, x_train, _, _, _, _ = fitted
    student_loss = model.losses_of(x_train[:4], training=False)["student_loss"]
    errors = np.square(np.asarray(model.teach(x_train[:4])) -
                       np.asarray(model.student(imagenet_normalised(x_train[:4])))[..., :model.channels]).ravel()
    hard = np.quantile(errors, 0.999)
    assert float(student_loss) == pytest.approx(errors[errors >= hard].mean(), rel=1e-3)
    assert float(student_loss) > errors.mean()


def test_augmentation_is_one_of_brightness_contrast_saturation():
    model = EfficientAD((32, 32, 3), teacher=None, channels=8, seed=0)
    images = np.random.default_rng(0).random((64, 32, 32, 3)).astype(np.float32) * 0.5 + 0.25
    augmented = np.asarray(model.augment(images))
    assert augmented.shape == images.shape and augmented.min() >= 0.0 and augmented.max() <= 1.0
    gray = images @ np.array([0.299, 0.587, 0.114], np.float32)
    kinds = set()
    for image, out, g in zip(images, augmented, gray):
        brightness = out.mean() / image.mean()
        if np.allclose(out, image * brightness, atol=1e-5):
            kinds.add("brightness")
        elif np.allclose(out - g.mean(), (image - g.mean()) * ((out - g.mean()).std() / (image - g.mean()).std()), atol=1e-4):
            kinds.add("contrast")
        else:
            kinds.add("saturation")
    assert kinds == {"brightness", "contrast", "saturation"}


def test_learning_rate_drops_tenfold_at_95_percent_of_total_steps():
    model = EfficientAD((32, 32, 1), teacher=None, channels=8, seed=0)
    model.compile(total_steps=100)
    optimizer = model.phase_optimizer("network")
    optimizer.iterations.assign(94)
    assert float(optimizer.learning_rate) == pytest.approx(1e-4)
    optimizer.iterations.assign(96)
    assert float(optimizer.learning_rate) == pytest.approx(1e-5)


def test_scores_maps_and_defects(fitted):
    model, _, _, _, _, _ = fitted
    x = np.concatenate([textures(8, seed=2), with_defect(textures(8, seed=3))])
    scores, maps = model.score_and_map(x)
    assert maps.shape == (16, 32, 32) and scores.dtype == np.float32
    np.testing.assert_allclose(model.predict(x), scores, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(scores, maps.reshape(16, -1).max(axis=1), rtol=1e-6)
    assert scores[8:].mean() > scores[:8].mean()


def test_distillation_learns_and_round_trips(tmp_path, natural_folder):
    images = np.random.default_rng(1).integers(0, 256, (64, 32, 32, 3), dtype=np.uint8)
    pdn, record = distill_teacher(images, weights=None, side=32, steps=30, batch_size=4, seed=0, verbose=0)
    assert record["steps"] == 30 and record["channels"] == 192   # MobileNet 0.25: 64 + 128 channels
    assert record["loss_last_100"] < record["loss_first_100"] or record["loss_last_100"] < 1.0
    file = save_teacher(pdn, record, tmp_path / "teacher")
    weights, loaded = teacher_record(file)
    assert loaded == record
    for saved, original in zip(weights, pdn.get_weights()):
        np.testing.assert_allclose(saved, original, rtol=1e-3, atol=1e-4)   # float16 storage
    model = EfficientAD((32, 32, 3), teacher=str(file))
    assert model.teacher_config["steps"] == 30
    with pytest.raises(FileNotFoundError, match="no EfficientAD teacher"):
        EfficientAD((32, 32, 3), teacher=str(tmp_path / "missing"))


def test_saved_detector_keeps_teacher_and_scores(fitted, tmp_path):
    model, _, x_val, _, _, _ = fitted
    model.save(tmp_path / "e.keras")
    loaded = keras.models.load_model(tmp_path / "e.keras")
    np.testing.assert_array_equal(loaded.predict(x_val), model.predict(x_val))
    assert loaded.get_config()["teacher"]["name"] == DEFAULT_TEACHER


def test_pasted_defects_label_and_mask_what_changed():
    images = textures(20)
    labelled = datasets.pasted_defects(images, 0.5, seed=0)
    assert labelled.labels.sum() == 10 and set(labelled.types) <= {"good", "patch", "scratch"}
    changed = np.abs(labelled.images - images)[..., 0] > 0
    assert not changed[labelled.labels == 0].any()
    assert all(m.any() and not changed[i][~m].any() for i, m in zip(np.flatnonzero(labelled.labels),
                                                                  labelled.masks[labelled.labels == 1]))


def test_bad_arguments():
    with pytest.raises(ValueError, match="hard_quantile"):
        EfficientAD((32, 32, 1), hard_quantile=1.0)
    with pytest.raises(ValueError, match="multiples of 32"):
        EfficientAD((48, 48, 1))
    with pytest.raises(ValueError, match="size must be one of"):
        EfficientAD((32, 32, 1), size="large")
    with pytest.raises(ValueError, match="leave channels=None"):
        EfficientAD((32, 32, 1), channels=7)


def test_paper_layers_exist_for_both_sizes():
    medium = EfficientAD((32, 32, 3), size="medium", teacher=None, channels=8)
    assert medium.student.output.shape[-1] == 16 and len(medium.student.layers) > len(EfficientAD(
        (32, 32, 3), teacher=None, channels=8).student.layers)
