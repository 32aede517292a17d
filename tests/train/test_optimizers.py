"""Tests for seis_keras.train.optimizers: PyTorch-coupled weight decay."""
import numpy as np
import pytest
import tensorflow as tf

from seis_keras.train.fit import TrainSettings, make_optimizer
from seis_keras.train.optimizers import CoupledWeightDecayAdam, CoupledWeightDecaySGD


def _torch_reference(weight_decay, steps, optimizer):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    w0 = rng.normal(size=(5, 3)).astype(np.float32)
    b0 = rng.normal(size=3).astype(np.float32)
    x = rng.normal(size=(16, 5)).astype(np.float32)
    tw = [torch.tensor(w0, requires_grad=True), torch.tensor(b0, requires_grad=True)]
    if optimizer == "adam":
        topt = torch.optim.Adam(tw, lr=1e-2, weight_decay=weight_decay)
    else:
        topt = torch.optim.SGD(tw, lr=1e-2, momentum=0.9, weight_decay=weight_decay)
    for _ in range(steps):
        topt.zero_grad()
        (torch.tanh(torch.tensor(x) @ tw[0] + tw[1]) ** 2).sum().backward()
        topt.step()
    return (w0, b0, x), [t.detach().numpy() for t in tw]


def _keras_steps(opt, start, steps):
    w0, b0, x = start
    v = [tf.Variable(w0), tf.Variable(b0)]
    for _ in range(steps):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.tanh(x @ v[0] + v[1]) ** 2)
        opt.apply_gradients(zip(tape.gradient(loss, v), v))
    return [t.numpy() for t in v]


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_coupled_weight_decay_matches_torch(optimizer):
    start, want = _torch_reference(0.1, steps=3, optimizer=optimizer)
    settings = TrainSettings(optimizer=optimizer, learning_rate=1e-2, momentum=0.9, weight_decay=0.1)
    opt = make_optimizer(settings)
    assert isinstance(opt, CoupledWeightDecayAdam if optimizer == "adam" else CoupledWeightDecaySGD)
    got = _keras_steps(opt, start, 3)
    for g, w in zip(got, want):  # kernel and bias both decayed, as in PyTorch
        np.testing.assert_allclose(g, w, atol=1e-6)
    # the decay matters at this tolerance: without it the result is measurably different
    plain = _keras_steps(make_optimizer(TrainSettings(optimizer=optimizer, learning_rate=1e-2,
                                                      momentum=0.9)), start, 3)
    assert max(np.abs(p - w).max() for p, w in zip(plain, want)) > 1e-4


def test_coupled_optimizer_roundtrips_through_config():
    opt = CoupledWeightDecayAdam(coupled_weight_decay=1e-3, learning_rate=2e-3)
    again = CoupledWeightDecayAdam.from_config(opt.get_config())
    assert again.coupled_weight_decay == pytest.approx(1e-3)
    assert float(again.learning_rate) == pytest.approx(2e-3)


def test_one_coupled_adam_step_by_hand():
    rng = np.random.default_rng(5)
    w = rng.normal(size=(4, 3)).astype(np.float32)
    g = rng.normal(size=(4, 3)).astype(np.float32)
    lr, wd, b1, b2, eps = 1e-2, 0.05, 0.9, 0.999, 1e-8
    var = tf.Variable(w)
    CoupledWeightDecayAdam(coupled_weight_decay=wd, learning_rate=lr, epsilon=eps).apply_gradients(
        [(tf.constant(g), var)])
    g2 = g + wd * w  # L2 enters the gradient, hence both moments
    m_hat = (1 - b1) * g2 / (1 - b1)
    v_hat = (1 - b2) * g2 ** 2 / (1 - b2)
    want = w - lr * m_hat / (np.sqrt(v_hat) + eps)
    np.testing.assert_allclose(var.numpy(), want, atol=1e-6)
    # decoupled (AdamW) decay gives a different step: the test can tell them apart
    assert np.abs(want - (w - lr * np.sign(g) - lr * wd * w)).max() > 1e-4
