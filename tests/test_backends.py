"""The training engine on whichever Keras backend runs the tests (`make test` runs this file on
TensorFlow, and on JAX and PyTorch with TensorFlow blocked)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from conftest import blobs, tf
from keras_oneclass import DASVDD, DeepSVDD, GANomaly, backends
from keras_oneclass.training import ArrayBatches, PhaseOptimizers

ROOT = Path(__file__).resolve().parents[1]


def test_the_package_imports_without_tensorflow():
    """A fresh interpreter on JAX, with TensorFlow made unimportable, imports every public name."""
    code = ("import sys\n"
            f"sys.path.insert(0, {str(ROOT / 'tests')!r})\n"
            "import block_tensorflow  # TensorFlow looks uninstalled\n"
            "import keras_oneclass\n"
            "from keras_oneclass import *\n"
            "assert 'tensorflow' not in sys.modules\n"
            "print(keras_oneclass.backends.name())\n")
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "jax"


def test_tensorflow_is_not_imported_when_blocked():
    if os.environ.get("KERAS_ONECLASS_BLOCK_TENSORFLOW") != "1":
        pytest.skip("only meaningful where TensorFlow is blocked")
    assert "tensorflow" not in sys.modules and not backends.tensorflow_installed()


def test_one_step_updates_each_phase_with_its_own_optimizer():
    """DASVDD: Adam moves the network; Adagrad (lr 1, empty accumulator) moves every centre
    coordinate with a gradient by exactly lr * g / |g| = 1."""
    x, _, _ = blobs(n_normal=40)
    model = DASVDD(input_shape=(8,), gamma=1.0, seed=0)
    model.compile()
    center = keras.ops.convert_to_numpy(model.center).copy()
    kernel = keras.ops.convert_to_numpy(model.encoder.trainable_variables[0]).copy()
    model.fit(x, epochs=1, batch_size=40, shuffle=False, verbose=0)
    step = np.abs(keras.ops.convert_to_numpy(model.center) - center)
    np.testing.assert_allclose(step, 1.0, atol=1e-3)
    assert not np.allclose(keras.ops.convert_to_numpy(model.encoder.trainable_variables[0]), kernel)
    assert int(model.network_optimizer.iterations.numpy()) == 1
    assert int(model.center_optimizer.iterations.numpy()) == 1
    assert isinstance(model.optimizer, PhaseOptimizers)


def test_phase_optimizers_round_trip_through_save(tmp_path):
    x, x_test, _ = blobs(n_normal=64)
    model = DASVDD(input_shape=(8,), seed=0)
    model.fit(x, epochs=2, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    for name in ("network_optimizer", "center_optimizer"):
        saved = [keras.ops.convert_to_numpy(v) for v in getattr(model, name).variables]
        restored = [keras.ops.convert_to_numpy(v) for v in getattr(loaded, name).variables]
        assert len(saved) == len(restored) and all(np.array_equal(a, b) for a, b in zip(saved, restored))
    np.testing.assert_array_equal(loaded.predict(x_test, verbose=0), model.predict(x_test, verbose=0))


def test_mixed_float16_trains_with_loss_scaling_on_this_backend():
    keras.mixed_precision.set_global_policy("mixed_float16")
    x, x_test, _ = blobs(n_normal=64)
    model = DASVDD(input_shape=(8,), seed=0)
    history = model.fit(x, epochs=2, verbose=0)
    assert isinstance(model.network_optimizer, keras.optimizers.LossScaleOptimizer)
    assert isinstance(model.center_optimizer, keras.optimizers.LossScaleOptimizer)
    assert np.isfinite(history.history["loss"]).all()
    scores = model.predict(x_test, verbose=0)
    assert scores.dtype == np.float32 and np.isfinite(scores).all()


def test_soft_boundary_radius_is_set_after_the_update():
    x, _, _ = blobs(n_normal=64, shape=(28, 28, 1))
    model = DeepSVDD(input_shape=(28, 28, 1), objective="soft-boundary", pretrain_epochs=0, warm_up_epochs=1,
                     seed=0)
    model.fit(x, epochs=1, verbose=0)
    assert float(model.radius.numpy()) == 0.0  # epoch 0 is a warm-up epoch
    model.fit(x, epochs=1, verbose=0)  # the next fit starts again at epoch 0
    model._epoch.assign(1.0)
    model.fit(x, epochs=2, initial_epoch=1, verbose=0)
    assert float(model.radius.numpy()) > 0.0


def test_collapsed_discriminator_is_reset_after_each_step():
    x, _, _ = blobs(n_normal=32, shape=(8, 8, 1))
    model = GANomaly(input_shape=(8, 8, 1), latent_dim=4, base_filters=4, seed=0)
    model.collapse_threshold = 1e9  # every step counts as a collapse
    history = model.fit(x, epochs=1, batch_size=16, verbose=0)
    assert history.history["discriminator_resets"][-1] == 2.0
    for variable, initial in zip(model.discriminator.variables, model.discriminator_initial):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(variable), keras.ops.convert_to_numpy(initial))


def test_array_batches_reshuffle_reproducibly_and_drop_the_remainder():
    x = np.arange(10, dtype="float32")[:, None]
    first, second = ArrayBatches(x, 4, seed=0), ArrayBatches(x, 4, seed=0)
    assert [first[i].ravel().tolist() for i in range(3)] == [second[i].ravel().tolist() for i in range(3)]
    epoch0 = np.concatenate([first[i] for i in range(len(first))]).ravel()
    first.on_epoch_end()
    epoch1 = np.concatenate([first[i] for i in range(len(first))]).ravel()
    assert sorted(epoch0) == sorted(epoch1) == list(range(10)) and not np.array_equal(epoch0, epoch1)
    assert len(ArrayBatches(x, 4, drop_remainder=True)) == 2 and len(ArrayBatches(x, 4)) == 3
    pair = ArrayBatches(x, 4, shuffle=False, targets="self")[0]
    assert np.array_equal(pair[0], pair[1]) and pair[0].ravel().tolist() == [0, 1, 2, 3]


@pytest.mark.skipif(tf is None, reason="needs TensorFlow installed to build a tf.data input")
def test_tf_data_input_trains_on_jax():
    """With TensorFlow installed, a tf.data pipeline feeds a detector on another backend."""
    code = ("import numpy as np, tensorflow as tf\n"
            "from keras_oneclass import DASVDD, metrics\n"
            "rng = np.random.default_rng(0)\n"
            "x = rng.normal(0.5, 0.05, (256, 8)).astype('float32')\n"
            "test = np.concatenate([rng.normal(0.5, 0.05, (64, 8)), rng.normal(0.5, 0.05, (64, 8)) + 0.3])\n"
            "model = DASVDD(input_shape=(8,), seed=0)\n"
            "model.fit(tf.data.Dataset.from_tensor_slices(x).batch(64), epochs=10, verbose=0)\n"
            "scores = model.predict(tf.data.Dataset.from_tensor_slices(test.astype('float32')).batch(64), verbose=0)\n"
            "print(metrics.roc_auc(np.r_[np.zeros(64), np.ones(64)], scores))\n")
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert float(result.stdout.strip().splitlines()[-1]) > 0.9


SAME_STEPS = """
import sys, numpy as np, keras
from keras_oneclass import DASVDD
x = np.random.default_rng(0).random((192, 64)).astype("float32")
model = DASVDD(input_shape=(64,), hidden_units=(32,), latent_dim=8, gamma=0.5, seed=0)
model.compile()
model.load_weights(sys.argv[1])
model.fit(x, epochs=3, batch_size=64, shuffle=False, verbose=0)
np.savez(sys.argv[2], *[keras.ops.convert_to_numpy(v) for v in model.trainable_variables])
"""


@pytest.mark.skipif(backends.name() != "tensorflow" or tf is None, reason="compares the other backends with TensorFlow")
def test_every_backend_takes_the_same_steps_from_the_same_weights(tmp_path):
    """From one set of initial weights and one batch order, the TensorFlow, JAX and PyTorch engines
    train DASVDD (both phases, 9 steps) to the same weights, to float32 rounding."""
    pytest.importorskip("jax")
    pytest.importorskip("torch")
    model = DASVDD(input_shape=(64,), hidden_units=(32,), latent_dim=8, gamma=0.5, seed=0)
    model.save_weights(tmp_path / "initial.weights.h5")
    trained = {}
    for backend in ("tensorflow", "jax", "torch"):
        out = tmp_path / f"{backend}.npz"
        env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
        result = subprocess.run([sys.executable, "-c", SAME_STEPS, str(tmp_path / "initial.weights.h5"), str(out)],
                                env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
        with np.load(out) as stored:
            trained[backend] = [stored[key] for key in stored.files]
    initial = [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]
    assert not np.allclose(trained["tensorflow"][0], initial[0])  # it trained
    for backend in ("jax", "torch"):
        for ours, reference in zip(trained[backend], trained["tensorflow"]):
            np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-5)
