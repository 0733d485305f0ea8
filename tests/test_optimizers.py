"""L2Adam reproduces torch.optim.Adam's coupled weight decay, step by step."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_oneclass.optimizers import L2Adam


def torch_adam_reference(w, grads, lr, l2, beta_1=0.9, beta_2=0.999, eps=1e-7):
    """torch.optim.Adam's update, decay added to the gradient; eps in Keras' place (inside the
    bias-corrected step size), which is how keras.optimizers.Adam applies it."""
    m, v = np.zeros_like(w), np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        g = g + l2 * w
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g * g
        alpha = lr * np.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
        w = w - alpha * m / (np.sqrt(v) + eps)
    return w


def run_keras(optimizer, w, grads):
    variable = keras.Variable(w)
    for g in grads:
        optimizer.apply([keras.ops.convert_to_tensor(g)], [variable])
    return keras.ops.convert_to_numpy(variable)


def test_l2_is_added_to_the_gradient_like_torch():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(5, 3)).astype(np.float32)
    grads = [1e-3 * rng.normal(size=w.shape).astype(np.float32) for _ in range(20)]
    ours = run_keras(L2Adam(1e-2, l2=0.5), w, grads)
    np.testing.assert_allclose(ours, torch_adam_reference(w.astype(np.float64), grads, 1e-2, 0.5), atol=1e-5)
    # Keras' decoupled decay with the same coefficient lands somewhere else.
    decoupled = run_keras(keras.optimizers.Adam(1e-2, weight_decay=0.5), w, grads)
    assert np.abs(decoupled - ours).max() > 1e-2


def test_without_l2_it_is_plain_adam():
    rng = np.random.default_rng(1)
    w = rng.normal(size=(4,)).astype(np.float32)
    grads = [rng.normal(size=w.shape).astype(np.float32) for _ in range(5)]
    np.testing.assert_allclose(run_keras(L2Adam(1e-3), w, grads), run_keras(keras.optimizers.Adam(1e-3), w, grads),
                               atol=1e-7)


def test_config_round_trips_and_rejects_decoupled_decay():
    optimizer = L2Adam(1e-4, l2=0.5e-3, epsilon=1e-8)
    restored = L2Adam.from_config(optimizer.get_config())
    assert (restored.l2, restored.epsilon) == (0.5e-3, 1e-8)
    assert float(restored.learning_rate) == pytest.approx(1e-4)
    with pytest.raises(ValueError, match="l2"):
        L2Adam(l2=-1.0)
    with pytest.raises(ValueError, match="weight_decay"):
        L2Adam(weight_decay=0.1)
