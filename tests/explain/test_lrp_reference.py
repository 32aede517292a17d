"""The numpy LRP reference's newer rules against closed forms (in this eager process, no worker).

One Dense layer ``z = x w + b`` has a closed-form relevance for every rule; a padded,
bias-free conv net must conserve relevance exactly with the bounded/flat/w^2 input rules
(padding counts as fixed zeros). The worker is then checked against this reference in
test_lrp_composites.py.
"""
import numpy as np
import pytest
from tensorflow import keras

from seis_keras.explain.lrp_reference import lrp_reference
from seis_keras.models.surgery import fold_batchnorm, folded_weights

L = keras.layers


def _one_dense(w, b=0.0):
    inp = keras.Input((len(w),))
    model = keras.Model(inp, L.Dense(1, name="logits")(inp))
    model.get_layer("logits").set_weights([np.asarray(w, np.float32)[:, None], np.array([b], np.float32)])
    return model


W = np.array([0.5, -1.0, 2.0, -0.25, 1.5])
X = np.array([[1.0, -2.0, 0.5, 3.0, -1.0], [-0.5, 1.0, -2.0, 0.2, 0.7], [0.3, 0.4, 0.1, 2.0, 0.9]])


def _z(b=0.0):
    return X @ W + b


def test_relative_epsilon_divides_by_one_plus_epsilon():
    # one output unit: RMS(z) = |z|, so the stabiliser is epsilon |z| and R_i = x_i w_i / (1 + epsilon)
    R = lrp_reference(_one_dense(W, 0.25), X, "lrp.epsilon(epsilon=0.1, relative=true, bias=false)", neuron=0)
    np.testing.assert_allclose(R, X * W / 1.1 * (_z(0.25) / _z())[:, None], rtol=1e-12)
    R = lrp_reference(_one_dense(W), X, "lrp.epsilon(epsilon=0.1, relative=true)", neuron=0)
    np.testing.assert_allclose(R, X * W / 1.1, rtol=1e-12)


@pytest.mark.parametrize("bias", [0.0, 0.375])
def test_gamma_closed_form(bias):
    g = 0.25
    R = lrp_reference(_one_dense(W, bias), X, f"lrp.gamma(gamma={g}, bias=true)", neuron=0)
    z = _z(bias)
    xp, xn = np.maximum(X, 0), np.minimum(X, 0)
    up, down = W + g * np.maximum(W, 0), W + g * np.minimum(W, 0)
    b_up, b_down = bias + g * max(bias, 0), bias + g * min(bias, 0)
    num = np.where((z > 0)[:, None], xp * up + xn * down, xp * down + xn * up)
    den = np.where(z > 0, (xp * up + xn * down).sum(1) + b_up, (xp * down + xn * up).sum(1) + b_down)
    expected = num / (den + 1e-6 * np.sign(den))[:, None] * z[:, None]
    np.testing.assert_allclose(R, expected, rtol=1e-12)
    assert (z > 0).any() and (z < 0).any()  # both branches exercised


def test_zbox_flat_and_w_square_closed_forms():
    low, high = -2.0, 3.0
    for b in (0.0, 0.75):  # none of these rules puts the bias in a denominator
        model = _one_dense(W, b)
        z = _z(b)[:, None]
        num = X * W - low * np.maximum(W, 0) - high * np.minimum(W, 0)
        np.testing.assert_allclose(lrp_reference(model, X, f"lrp.composite(input=zbox(low={low}, high={high}))",
                                                 neuron=0), num / num.sum(1, keepdims=True) * z, rtol=1e-12)
        np.testing.assert_allclose(lrp_reference(model, X, "lrp.composite(input=flat)", neuron=0),
                                   np.broadcast_to(z / len(W), X.shape), rtol=1e-12)
        np.testing.assert_allclose(lrp_reference(model, X, "lrp.composite(input=w_square)", neuron=0),
                                   W ** 2 / (W ** 2).sum() * z, rtol=1e-12)


def test_zbox_default_bounds_are_the_data_range():
    model = _one_dense(W)
    given = lrp_reference(model, X, f"lrp.composite(input=zbox(low={X.min()!r}, high={X.max()!r}))", neuron=0)
    np.testing.assert_array_equal(lrp_reference(model, X, "lrp.composite(input=zbox)", neuron=0), given)


def test_stabilised_alpha_beta_keeps_relevance_of_one_sign_neurons():
    w = np.abs(W)  # every contribution x w > 0 for positive x: a "rare" neuron for Pytorch-LRP
    x = np.abs(X)
    z = x @ w
    R = lrp_reference(_one_dense(w), x, "lrp.alpha_beta(beta=1, stabilised=true)", neuron=0)
    np.testing.assert_allclose(R.sum(1), z, rtol=1e-5)  # R passes unchanged (up to eps)
    R_inn = lrp_reference(_one_dense(w), x, "lrp.alpha_beta(beta=1)", neuron=0)
    np.testing.assert_allclose(R_inn.sum(1), 2.0 * z, rtol=1e-9)  # innvestigate: alpha R
    # with both signs present the two agree up to the stabiliser
    mixed_s = lrp_reference(_one_dense(W), X, "lrp.alpha_beta(beta=0.5, stabilised=true)", neuron=0)
    mixed = lrp_reference(_one_dense(W), X, "lrp.alpha_beta(beta=0.5)", neuron=0)
    np.testing.assert_allclose(mixed_s, mixed, rtol=1e-5, atol=1e-6 * np.abs(mixed).max())
    # only inhibiting inputs: Pytorch-LRP gives R, innvestigate -beta R
    R_neg = lrp_reference(_one_dense(-w), x, "lrp.alpha_beta(beta=1, stabilised=true)", neuron=0)
    np.testing.assert_allclose(R_neg.sum(1), -z, rtol=1e-5)
    np.testing.assert_allclose(lrp_reference(_one_dense(-w), x, "lrp.alpha_beta(beta=1)", neuron=0).sum(1),
                               z, rtol=1e-9)  # -beta * (-z)


def padded_net(seed=0):
    """Bias-free chain with padding before the first conv: (20, 2) -> 2 logits."""
    keras.utils.set_random_seed(seed)
    inp = keras.Input((20, 2))
    x = L.ZeroPadding1D(2)(inp)
    x = L.Conv1D(4, 5, strides=2, use_bias=False, name="conv1")(x)
    x = L.Activation("relu")(x)
    x = L.ZeroPadding1D(1)(x)
    x = L.Conv1D(5, 3, use_bias=False, name="conv2")(x)
    x = L.Activation("relu")(x)
    x = L.Flatten()(x)
    x = L.Dense(6, use_bias=False, activation="relu", name="fc1")(x)
    return keras.Model(inp, L.Dense(2, use_bias=False, name="logits")(x))


@pytest.mark.parametrize("input_rule", ["flat", "w_square", "zbox(low=-4, high=4)", "epsilon(epsilon=1e-12)"])
def test_input_rules_conserve_relevance_behind_padding(input_rule):
    model = padded_net()
    x = np.random.default_rng(0).normal(size=(5, 20, 2))
    logits = model.predict(x.astype(np.float32), verbose=0)
    R = lrp_reference(model, x, f"lrp.composite(dense=epsilon(epsilon=1e-12), conv=gamma(gamma=0.25), "
                                f"input={input_rule})")
    assert R.shape == x.shape
    np.testing.assert_allclose(R.sum(axis=(1, 2)), logits.max(axis=1), rtol=1e-5)


def test_composite_slots_pick_the_layers():
    model = padded_net(1)
    x = np.random.default_rng(1).normal(size=(4, 20, 2))
    eps = "epsilon(epsilon=1e-9)"
    same = lrp_reference(model, x, f"lrp.composite(dense={eps}, conv={eps}, input=none)")
    np.testing.assert_allclose(same, lrp_reference(model, x, "epsilon", epsilon=1e-9), rtol=1e-12)
    # the input slot changes the first conv only: a flat first layer spreads each conv1 unit's
    # relevance evenly over its (unpadded) receptive field, the same for both channels
    flat = lrp_reference(model, x, f"lrp.composite(dense={eps}, conv={eps}, input=flat)")
    assert np.abs(flat - same).max() > 1e-3
    np.testing.assert_allclose(flat.sum(axis=(1, 2)), same.sum(axis=(1, 2)), rtol=1e-7)
    np.testing.assert_allclose(flat[:, :, 0], flat[:, :, 1], rtol=1e-12)  # same weight (1) for both channels


def test_folded_weights_equal_the_folded_model():
    keras.utils.set_random_seed(2)
    inp = keras.Input((12, 2))
    x = L.Conv1D(3, 3, name="conv1")(inp)
    x = L.BatchNormalization(name="bn1")(x)
    x = L.Activation("relu")(x)
    x = L.Conv1D(2, 3, use_bias=False, name="conv2")(x)
    x = L.BatchNormalization(name="bn2")(x)
    out = L.Dense(2, name="logits")(L.Flatten()(x))
    model = keras.Model(inp, out)
    rng = np.random.default_rng(2)
    for name in ("bn1", "bn2"):
        bn = model.get_layer(name)
        bn.set_weights([rng.uniform(0.5, 2.0, w.shape) if "variance" in w.name else rng.normal(0, 0.5, w.shape)
                        for w in bn.weights])
    expected = {layer.name: layer.get_weights() for layer in fold_batchnorm(model).layers if layer.weights}
    got = folded_weights(model)
    assert sorted(got) == sorted(expected) == ["conv1", "conv2", "logits"]
    for name in expected:
        assert len(got[name]) == len(expected[name])
        for a, b in zip(got[name], expected[name]):
            np.testing.assert_array_equal(a, b)
