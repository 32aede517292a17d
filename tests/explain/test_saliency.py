"""Saliency / SmoothGrad against gradients computed here with tf.GradientTape."""
import numpy as np
import pytest
import tensorflow as tf
from tensorflow import keras

from seis_keras.explain.saliency import input_gradient, saliency, smoothgrad
from seis_keras.explain.targets import resolve_targets


def _conv1d_model(k, seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((40, 3))
    h = keras.layers.Conv1D(4, 5, name="conv1")(inp)
    h = keras.layers.Activation("tanh")(h)
    h = keras.layers.Flatten()(h)
    return keras.Model(inp, keras.layers.Dense(k, name="logits")(h))


def _tape(model, X, targets):
    x = tf.constant(X)
    with tf.GradientTape() as tape:
        tape.watch(x)
        z = model(x)
        if z.shape[1] == 1:
            s = z[:, 0] * tf.constant(2.0 * targets - 1.0, tf.float32)
        else:
            s = tf.reduce_sum(z * tf.one_hot(targets, z.shape[1]), axis=1)
    return tape.gradient(s, x).numpy()


@pytest.mark.parametrize("k", [1, 3])
def test_vanilla_saliency_equals_gradient_tape(k):
    model = _conv1d_model(k)
    X = np.random.default_rng(0).normal(size=(6, 40, 3)).astype(np.float32)
    targets = resolve_targets("predicted", model(X).numpy())
    S = saliency(model, X, batch_size=4)
    assert S.shape == X.shape
    np.testing.assert_allclose(S, _tape(model, X, targets), rtol=1e-5, atol=1e-6)
    A = saliency(model, X, absolute=True, class_index=0)
    np.testing.assert_allclose(A, np.abs(_tape(model, X, np.zeros(6, int))), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(input_gradient(model, X, targets), S, rtol=1e-5, atol=1e-6)


def test_binary_class0_is_negated_class1():
    model = _conv1d_model(1)
    X = np.random.default_rng(1).normal(size=(3, 40, 3)).astype(np.float32)
    np.testing.assert_allclose(saliency(model, X, class_index=0), -saliency(model, X, class_index=1), atol=1e-7)


def test_smoothgrad_is_mean_of_noisy_gradients_and_seeded():
    model = _conv1d_model(2)
    X = np.random.default_rng(2).normal(size=(2, 40, 3)).astype(np.float32)
    a = smoothgrad(model, X, samples=8, noise=0.1, seed=3)
    b = smoothgrad(model, X, samples=8, noise=0.1, seed=3)
    np.testing.assert_array_equal(a, b)
    # independent: same noise draws as tf-keras-vis (np.random.normal over the tiled batch)
    np.random.seed(3)
    tiled = np.tile(X, (8, 1, 1)).reshape(8, 2, 40, 3)
    sigma = 0.1 * (tiled.max(axis=(2, 3), keepdims=True) - tiled.min(axis=(2, 3), keepdims=True))
    noisy = tiled + np.random.normal(0.0, sigma, tiled.shape)
    targets = resolve_targets("predicted", model(X).numpy())
    ref = np.mean([_tape(model, noisy[i].astype(np.float32), targets) for i in range(8)], axis=0)
    np.testing.assert_allclose(a, ref, rtol=1e-4, atol=1e-6)
    # SmoothGrad differs from the vanilla gradient on a nonlinear model
    assert np.abs(a - saliency(model, X)).max() > 1e-4


def test_spectrogram_and_tabular_inputs():
    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 12, 3))
    h = keras.layers.Conv2D(2, 3, name="conv1", activation="relu")(inp)
    m2 = keras.Model(inp, keras.layers.Dense(2, name="logits")(keras.layers.Flatten()(h)))
    X2 = np.random.default_rng(0).normal(size=(3, 8, 12, 3)).astype(np.float32)
    t2 = resolve_targets("predicted", m2(X2).numpy())
    np.testing.assert_allclose(saliency(m2, X2), _tape(m2, X2, t2), rtol=1e-5, atol=1e-6)
    inp = keras.Input((5,))
    m1 = keras.Model(inp, keras.layers.Dense(3, name="logits")(keras.layers.Dense(4, activation="tanh")(inp)))
    X1 = np.random.default_rng(1).normal(size=(4, 5)).astype(np.float32)
    S = saliency(m1, X1, class_index=[0, 1, 2, 1])
    assert S.shape == (4, 5)
    np.testing.assert_allclose(S, _tape(m1, X1, np.array([0, 1, 2, 1])), rtol=1e-5, atol=1e-6)


def test_bad_input_is_rejected():
    model = _conv1d_model(1)
    with pytest.raises(ValueError, match="X: expected samples shaped"):
        saliency(model, np.zeros((2, 41, 3), np.float32))
    with pytest.raises(ValueError, match="class_index"):
        saliency(model, np.zeros((2, 40, 3), np.float32), class_index=2)


def test_real_detector_and_norcia_architectures():
    from seis_keras.models import get_model
    keras.utils.set_random_seed(5)
    det = get_model("detector")
    X = np.random.default_rng(5).normal(size=(3, 500, 3)).astype(np.float32)
    targets = resolve_targets("predicted", det(X).numpy())
    np.testing.assert_allclose(saliency(det, X), _tape(det, X, targets), rtol=1e-4, atol=1e-7)
    nor = get_model("norcia", input_length=200)        # BatchNorm inside: inference mode
    Xn = np.random.default_rng(6).normal(size=(2, 200, 3)).astype(np.float32)
    tn = resolve_targets("predicted", nor(Xn).numpy())
    np.testing.assert_allclose(saliency(nor, Xn), _tape(nor, Xn, tn), rtol=1e-4, atol=1e-7)
    assert smoothgrad(nor, Xn, samples=2).shape == Xn.shape


def test_saved_model_paths_are_explained_like_the_model(tmp_path):
    model = _conv1d_model(3, seed=4)
    X = np.random.default_rng(4).normal(size=(3, 40, 3)).astype(np.float32)
    expected = saliency(model, X)
    for name in ("m.keras", "m.h5"):
        model.save(tmp_path / name)
        np.testing.assert_allclose(saliency(str(tmp_path / name), X), expected, rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match=r"missing\.h5: no such model"):
        saliency(tmp_path / "missing.h5", X)
    (tmp_path / "junk.h5").write_bytes(b"not a model")
    with pytest.raises(ValueError, match=r"junk\.h5: not loadable as a Keras model"):
        saliency(tmp_path / "junk.h5", X)


# ---------------------------------------------------------------- gradient x input, Integrated Gradients
def _separable_tanh(a=1.5, seed=0):
    """f(x) = sum_i v_i tanh(a x_i): its IG has the closed form v_i (tanh(a x_i) - tanh(a b_i))."""
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(12, 1)).astype(np.float32)
    inp = keras.Input((4, 3))
    h = keras.layers.Flatten()(keras.layers.Activation("tanh")(keras.layers.Rescaling(a)(inp)))
    out = keras.layers.Dense(1, use_bias=False, name="logits")(h)
    model = keras.Model(inp, out)
    model.get_layer("logits").set_weights([v])
    return model, v[:, 0].reshape(4, 3), a


def test_integrated_gradients_closed_form_and_completeness():
    from seis_keras.explain.saliency import integrated_gradients

    model, v, a = _separable_tanh()
    X = np.random.default_rng(1).normal(size=(5, 4, 3)).astype(np.float32)
    base = np.float32(0.3)
    exact = v * (np.tanh(a * X) - np.tanh(a * base))
    for rule, steps, tol in (("gausslegendre", 16, 1e-5), ("riemann_trapezoid", 256, 1e-3), ("riemann_middle", 256, 1e-3)):
        IG = integrated_gradients(model, X, steps=steps, baseline=base, rule=rule, class_index=1)
        np.testing.assert_allclose(IG, exact, atol=tol * np.abs(exact).max())
    coarse = integrated_gradients(model, X, steps=4, baseline=base, rule="riemann_right", class_index=1)
    assert np.abs(coarse - exact).max() > 1e-3  # the quadrature matters: a coarse rule is off
    # class 0 of a 1-unit model explains -z; completeness: sum IG = f(x) - f(baseline)
    IG0 = integrated_gradients(model, X, steps=16, baseline=base, rule="gausslegendre", class_index=0)
    np.testing.assert_allclose(IG0, -exact, atol=1e-5 * np.abs(exact).max())
    z = model(X).numpy()[:, 0] - model(np.full_like(X, base)).numpy()[:, 0]
    np.testing.assert_allclose(exact.sum(axis=(1, 2)), z, rtol=1e-5)


def test_integrated_gradients_of_a_relu_net_add_up_and_take_array_baselines():
    from seis_keras.explain.saliency import integrated_gradients

    model = _conv1d_model(3, seed=2)
    X = np.random.default_rng(2).normal(size=(3, 40, 3)).astype(np.float32)
    base = np.random.default_rng(3).normal(size=(40, 3)).astype(np.float32) * 0.1
    target = np.array([0, 2, 1])
    IG = integrated_gradients(model, X, steps=128, baseline=base, class_index=target, batch_size=2)
    z = model(X).numpy()[np.arange(3), target] - model(np.broadcast_to(base, X.shape)).numpy()[np.arange(3), target]
    np.testing.assert_allclose(IG.sum(axis=(1, 2)), z, rtol=1e-3, atol=1e-4)
    with pytest.raises(ValueError, match="baseline: shape"):
        integrated_gradients(model, X, baseline=np.zeros((7, 3)))
    with pytest.raises(ValueError, match="rule: expected one of"):
        integrated_gradients(model, X, rule="simpson")


def test_path_points_are_quadratures_on_the_unit_interval():
    from seis_keras.explain.saliency import IG_RULES, path_points

    for rule in IG_RULES:
        alphas, weights = path_points(10, rule)
        assert len(alphas) == 10 and np.all((alphas >= 0) & (alphas <= 1))
        np.testing.assert_allclose(weights.sum(), 1.0)
        np.testing.assert_allclose((weights * alphas).sum(), 0.5, atol=0.06)  # integral of a da
    np.testing.assert_allclose(path_points(3, "riemann_trapezoid")[1], [0.25, 0.5, 0.25])
    with pytest.raises(ValueError, match="steps"):
        path_points(1, "riemann_trapezoid")


def test_gradient_x_input_is_input_times_gradient():
    from seis_keras.explain.saliency import gradient_x_input

    model = _conv1d_model(3, seed=6)
    X = np.random.default_rng(6).normal(size=(5, 40, 3)).astype(np.float32)
    targets = resolve_targets("predicted", model(X).numpy())
    np.testing.assert_allclose(gradient_x_input(model, X, batch_size=2), X * _tape(model, X, targets),
                               rtol=1e-5, atol=1e-7)
