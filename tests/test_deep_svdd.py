"""Deep SVDD as published: centre, objectives, radius, pretraining, schedule, precision, real data."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import blobs, shared_data
from keras_oneclass import DeepSVDD, datasets, metrics, precision
from keras_oneclass.optimizers import L2Adam

SHAPE = (28, 28, 1)


def small(seed=0, **kwargs):
    kwargs.setdefault("pretrain_epochs", 0)
    return DeepSVDD(input_shape=SHAPE, seed=seed, **kwargs)


@pytest.fixture(scope="module")
def data():
    x_train, x_test, y_test = blobs(n_normal=200, n_anomalous=50, shape=SHAPE)
    return x_train, x_test, y_test


def test_defaults_are_the_papers():
    model = DeepSVDD(input_shape=(32, 32, 3))
    assert (model.variant, model.objective, model.nu) == ("original", "one-class", 0.1)
    assert model.pretrain_epochs == 350 and model.pretrain_milestones == (250,)
    assert model.learning_rate_milestones == (50,) and model.warm_up_epochs == 10
    assert model.center_eps == 0.1 and model.rep_dim == 128 and model.default_batch_size == 200
    model.compile()
    assert isinstance(model.optimizer, L2Adam)  # torch.optim.Adam's decay, added to the gradient
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-4)
    assert model.optimizer.l2 == pytest.approx(0.5e-6) and not model.optimizer.weight_decay
    assert model.pretrain_weight_decay == pytest.approx(0.5e-6)


def test_mnist_sized_inputs_take_the_mnist_pretraining_protocol():
    """Ruff et al.'s MNIST command: --ae_n_epochs 150 --ae_lr_milestone 50 --ae_weight_decay 0.5e-3."""
    model = DeepSVDD(input_shape=(28, 28, 1), seed=0)
    assert (model.pretrain_epochs, model.pretrain_milestones) == (150, (50,))
    assert model.pretrain_weight_decay == pytest.approx(0.5e-3)
    model.pretrain(np.random.default_rng(0).random((8, 28, 28, 1), dtype=np.float32), epochs=1, verbose=0)
    assert model.autoencoder.optimizer.l2 == pytest.approx(0.5e-3)
    explicit = DeepSVDD(input_shape=(28, 28, 1), pretrain_epochs=3)
    explicit.compile(pretrain_milestones=(2,), pretrain_weight_decay=0.0)
    assert (explicit.pretrain_epochs, explicit.pretrain_milestones, explicit.pretrain_weight_decay) == (3, (2,), 0.0)
    assert DeepSVDD.from_config(explicit.get_config()).pretrain_epochs == 3
    restored = DeepSVDD.from_config(explicit.get_config())
    restored.compile_from_config(explicit.get_compile_config())  # what load_model does
    assert restored.pretrain_weight_decay == 0.0 and restored.pretrain_milestones == (2,)
    with pytest.raises(ValueError, match="pretrain_weight_decay"):
        DeepSVDD(input_shape=(28, 28, 1)).compile(pretrain_weight_decay=-1.0)


def test_center_is_the_mean_embedding_pushed_away_from_zero(data):
    x = data[0]
    model = small()
    center = model.initialize_center(x)
    mean = np.asarray(model.encoder(x, training=False)).mean(axis=0)
    expected = np.where(np.abs(mean) < 0.1, np.sign(mean) * 0.1, mean)
    np.testing.assert_allclose(center, expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(model.center.numpy(), center)
    assert np.all(np.abs(center) >= 0.1 - 1e-7)
    assert np.any(np.abs(mean) < 0.1)  # the push really happened on some coordinates


def test_score_is_squared_distance_to_the_center(data):
    x_train, x_test, _ = data
    model = small()
    model.fit(x_train, epochs=1, verbose=0)
    z = np.asarray(model.encoder(x_test[:10], training=False))
    expected = ((z - model.center.numpy()) ** 2).sum(axis=1)
    np.testing.assert_allclose(model.predict(x_test[:10], verbose=0), expected, rtol=1e-5)


def test_one_class_training_shrinks_the_sphere_and_separates_anomalies(data):
    x_train, x_test, y_test = data
    model = small()
    history = model.fit(x_train, epochs=6, batch_size=50, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.7 * losses[0]
    assert metrics.roc_auc(y_test, model.predict(x_test, verbose=0)) > 0.9


def test_soft_boundary_radius_waits_for_warm_up_then_scores_minus_r_squared(data, tmp_path):
    x_train = data[0]
    model = small(objective="soft-boundary", nu=0.2, warm_up_epochs=2)
    model.fit(x_train, epochs=2, verbose=0)
    assert float(model.radius.numpy()) == 0.0  # still warming up
    model.fit(x_train, epochs=3, verbose=0)   # epochs 0-1 warm up again, then R follows the batches
    radius = float(model.radius.numpy())
    assert radius > 0
    scores = model.predict(x_train[:5], verbose=0)
    z = np.asarray(model.encoder(x_train[:5], training=False))
    expected = ((z - model.center.numpy()) ** 2).sum(axis=1) - radius ** 2
    np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-5)
    model.save(tmp_path / "soft.keras")
    loaded = keras.models.load_model(tmp_path / "soft.keras")
    assert loaded.objective == "soft-boundary" and float(loaded.radius.numpy()) == radius
    np.testing.assert_array_equal(loaded.predict(x_train[:5], verbose=0), scores)


def test_soft_boundary_radius_equals_numpy_quantile():
    model = small(objective="soft-boundary", nu=0.1, warm_up_epochs=0)
    model.compile()
    x = np.random.default_rng(1).random((50, *SHAPE), dtype="float32")
    # gradient step at lr 0 leaves phi unchanged, so the radius is the quantile of the step's distances
    model.optimizer.learning_rate = 0.0
    z = np.asarray(model.encoder(x, training=True))
    model.train_step(tf.constant(x))
    expected = np.quantile(np.sqrt(((z - model.center.numpy()) ** 2).sum(axis=1)), 0.9)
    assert float(model.radius.numpy()) == pytest.approx(expected, rel=1e-4)


def test_soft_boundary_loss_is_eq3():
    model = small(objective="soft-boundary", nu=0.5)
    model.radius.assign(2.0)
    distances = tf.constant([1.0, 4.0, 6.0, 10.0])
    # R^2 + 1/nu * mean(max(0, d - R^2)) = 4 + 2 * (0 + 0 + 2 + 6) / 4
    assert float(model.objective_loss(distances)) == pytest.approx(8.0)
    assert float(small().objective_loss(distances)) == pytest.approx(5.25)


def test_pretraining_trains_the_shared_encoder(data):
    x_train = data[0]
    model = small(pretrain_epochs=3, variant="enhanced")
    before = [w.numpy().copy() for w in model.encoder.trainable_weights]
    model.fit(x_train, epochs=1, verbose=0)
    reconstruction = model.pretrain_history.history["loss"]
    assert len(reconstruction) == 3 and reconstruction[-1] < reconstruction[0]
    assert all(not np.allclose(a, b.numpy()) for a, b in zip(before, model.encoder.trainable_weights))
    # a second fit continues training: no second pretraining, no new centre
    center = model.center.numpy().copy()
    model.fit(x_train, epochs=1, verbose=0)
    np.testing.assert_array_equal(model.center.numpy(), center)
    assert len(model.pretrain_history.history["loss"]) == 3


def test_learning_rate_drops_tenfold_at_the_milestone(data):
    model = small()
    model.compile(learning_rate_milestones=(2,))
    rates = []
    recorder = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: rates.append(float(model.optimizer.learning_rate)))
    model.fit(data[0], epochs=3, verbose=0, callbacks=[recorder])
    np.testing.assert_allclose(rates, [1e-4, 1e-4, 1e-5], rtol=1e-5)


def test_mixed_float16_train_step_scales_the_loss_and_scores_in_float32(data):
    keras.mixed_precision.set_global_policy("mixed_float16")  # conftest restores float32
    model = DeepSVDD(input_shape=(32, 32, 3), variant="enhanced", pretrain_epochs=0, seed=0)
    model.compile()
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    x = np.random.default_rng(0).random((16, 32, 32, 3), dtype="float32")
    model.initialize_center(x)
    before = [w.numpy().copy() for w in model.encoder.trainable_weights]
    scale = float(model.optimizer.dynamic_scale)
    logs = model.train_step(tf.constant(x))
    assert np.isfinite(float(logs["loss"]))
    changed = any(not np.allclose(a, b.numpy()) for a, b in zip(before, model.encoder.trainable_weights))
    # LossScaleOptimizer semantics: a finite scaled gradient updates phi, an overflow skips the step
    # and halves the scale
    assert changed or float(model.optimizer.dynamic_scale) == scale / 2
    for _ in range(20):
        if changed:
            break
        model.train_step(tf.constant(x))
        changed = any(not np.allclose(a, b.numpy()) for a, b in zip(before, model.encoder.trainable_weights))
    assert changed
    assert model.encoder.layers[1].compute_dtype == "float16"
    scores = model.score(tf.constant(x))
    assert scores.dtype == "float32" and np.isfinite(np.asarray(scores)).all()


def test_precision_auto_is_float32_without_a_capable_gpu():
    if tf.config.list_physical_devices("GPU"):
        pytest.skip("a GPU is present; the CPU branch is what this test checks")
    assert precision.auto() == "float32"
    assert keras.mixed_precision.global_policy().name == "float32"


@pytest.mark.parametrize("kwargs, match", [
    ({"variant": "big"}, "variant"), ({"objective": "svdd"}, "objective"), ({"nu": 0.0}, "nu"),
    ({"pretrain_epochs": -1}, "pretrain_epochs"), ({"input_shape": (64, 64, 3)}, "28x28"),
])
def test_bad_arguments_raise(kwargs, match):
    kwargs = {"input_shape": SHAPE, **kwargs}
    with pytest.raises(ValueError, match=match):
        DeepSVDD(**kwargs)


def test_mnist_digit_one_from_shared_data():
    data = shared_data("mnist/mnist.npz").parents[1]  # an explicit path: no reliance on $KERAS_ONECLASS_DATA
    x_train, (x_test, y_test) = datasets.load_oneclass("mnist", 1, path=data, preprocessing="gcn_minmax",
                                                       as_numpy=True)
    rng = np.random.default_rng(0)
    model = DeepSVDD(input_shape=SHAPE, pretrain_epochs=0, seed=0)
    model.fit(x_train[rng.permutation(len(x_train))[:1000]], epochs=10, verbose=0)
    subset = rng.permutation(len(x_test))[:2000]
    auc = metrics.roc_auc(y_test[subset], model.predict(x_test[subset], verbose=0))
    assert auc > 0.85, auc  # 0.895 measured; the untrained net (centre only) gives 0.81
