"""Backward optimisation raises the target logit; comparison helpers against numpy."""
import numpy as np
import pytest
from tensorflow import keras

from seis_keras.explain.optimal_input import (TotalVariation1D, log_amplitude_ratio, optimal_input,
                                              spectrum_vs_training)


def _detector(k=1, seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((64, 3))
    h = inp
    for i in range(2):
        h = keras.layers.ZeroPadding1D(1)(h)
        h = keras.layers.Conv1D(8, 3, strides=2, name=f"conv{i + 1}",
                                bias_initializer=keras.initializers.RandomNormal(0.0, 0.1, seed=i))(h)
        h = keras.layers.Activation("relu")(h)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dense(8, activation="relu")(h)
    return keras.Model(inp, keras.layers.Dense(k, name="logits")(h))


@pytest.mark.parametrize("target", [1, 0])
def test_binary_optimal_input_moves_logit_toward_target(target):
    model = _detector()
    x, loss = optimal_input(model, target, init="random", n_samples=2, steps=60, learning_rate=0.05, seed=1)
    assert x.shape == (2, 64, 3) and loss.shape == (61, 2)
    assert np.all(np.isfinite(x)) and np.all(np.isfinite(loss))
    x0 = 0.1 * np.random.default_rng(1).standard_normal((2, 64, 3)).astype(np.float32)
    z0, z1 = model(x0).numpy()[:, 0], model(x).numpy()[:, 0]
    assert np.all((z1 - z0) * (2 * target - 1) > 0)
    # the recorded first loss is the BCE of the initial input; the last that of x_opt
    s0 = (2 * target - 1) * z0
    np.testing.assert_allclose(loss[0], np.logaddexp(0, -s0), rtol=1e-5)
    s1 = (2 * target - 1) * z1
    np.testing.assert_allclose(loss[-1], np.logaddexp(0, -s1), rtol=1e-5)
    # on average monotone: smoothed loss decreases over the run
    means = loss.mean(axis=1)
    assert means[-10:].mean() < means[:10].mean()
    assert np.mean(np.diff(means) <= 1e-7) > 0.8


def test_softmax_logit_objective_zero_init_and_range():
    model = _detector(k=3, seed=2)
    x, loss = optimal_input(model, [2], init="zeros", steps=15, objective="logit", learning_rate=0.05,
                            input_range=(-0.2, 0.2), tv_weight=0.1, l2_weight=0.01, jitter=2)
    assert x.shape == (1, 64, 3)
    assert x.min() >= np.float32(-0.2) and x.max() <= np.float32(0.2)
    z0 = model(np.zeros((1, 64, 3), np.float32)).numpy()[0, 2]
    assert model(x).numpy()[0, 2] > z0
    assert loss[-1, 0] < loss[0, 0]


def test_real_sample_init_and_frozen_weights():
    model = _detector(seed=3)
    w = [v.copy() for v in model.get_weights()]
    real = np.random.default_rng(0).normal(size=(64, 3)).astype(np.float32)
    x, _ = optimal_input(model, 1, init=real, steps=5)
    assert x.shape == (1, 64, 3) and not np.allclose(x[0], real)
    for a, b in zip(w, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="init: expected samples shaped"):
        optimal_input(model, 1, init=np.zeros((10, 3)), steps=1)
    with pytest.raises(ValueError, match="target_class"):
        optimal_input(model, 2, steps=1)


def test_total_variation_1d():
    x = np.array([[[0.0], [1.0], [3.0], [3.0]]], np.float32)
    np.testing.assert_allclose(TotalVariation1D(2.0)(x).numpy(), [2.0 * (1 + 2 + 0) / 3])


def test_spectrum_and_log_ratio_helpers():
    rng = np.random.default_rng(0)
    xo, xp = rng.normal(size=(2, 32, 3)), rng.normal(size=(5, 32, 3))
    d = spectrum_vs_training(xo, xp, fs=20.0)
    np.testing.assert_allclose(d["freqs"], np.fft.rfftfreq(32, 1 / 20))
    np.testing.assert_allclose(d["training_mean"], np.abs(np.fft.rfft(xp, axis=1)).mean(axis=0))
    np.testing.assert_allclose(d["optimal"][1, :, 2], np.abs(np.fft.rfft(xo[1, :, 2])))
    r = log_amplitude_ratio(np.full(4, 2.0), np.array([2.0, 1.0, 4.0, 0.2]))
    np.testing.assert_allclose(r, np.log10([100, 200, 50, 1000]), rtol=1e-9)
    f, rf = log_amplitude_ratio(xo, xo * 0.5, domain="frequency", fs=20.0, axis=1)
    np.testing.assert_allclose(rf, np.log10(200.0), rtol=1e-6)


def test_l2norm_matches_tf_keras_vis_norm_and_is_finite_at_zero():
    import tensorflow as tf
    from tf_keras_vis.activation_maximization.regularizers import Norm
    from seis_keras.explain.optimal_input import L2Norm
    x = np.random.default_rng(0).normal(size=(2, 10, 3)).astype(np.float32)
    np.testing.assert_allclose(L2Norm(0.3)(x).numpy(), Norm(0.3, p=2)(x).numpy(), rtol=1e-5)
    z = tf.zeros((1, 10, 3))
    with tf.GradientTape() as tape:
        tape.watch(z)
        v = L2Norm(0.3)(z)
    assert np.all(np.isfinite(tape.gradient(v, z).numpy()))


def test_real_detector_optimal_input():
    from seis_keras.models import get_model
    keras.utils.set_random_seed(4)
    det = get_model("detector")
    x, loss = optimal_input(det, 1, init="random", steps=25, learning_rate=0.05, seed=0)
    assert x.shape == (1, 500, 3) and np.all(np.isfinite(x))
    assert loss[-1, 0] < loss[0, 0]


def test_sgd_takes_plain_gradient_steps_on_the_logit():
    """One SGD step on a linear logit z = w·x + b moves x by exactly lr·w (the gradient of z)."""
    x_in = keras.Input((50, 3))
    z = keras.layers.Dense(1, name="logits")(keras.layers.Flatten()(x_in))
    model = keras.Model(x_in, z)
    rng = np.random.default_rng(0)
    w = rng.standard_normal((150, 1)).astype(np.float32)
    model.get_layer("logits").set_weights([w, np.zeros(1, np.float32)])
    x1, loss = optimal_input(model, 1, init="zeros", steps=1, learning_rate=0.1, objective="logit",
                             optimizer="sgd")
    np.testing.assert_allclose(x1[0].ravel(), 0.1 * w.ravel(), rtol=1e-5, atol=1e-7)
    assert loss[-1, 0] < loss[0, 0]  # the training loss toward class 1 fell
    x2, _ = optimal_input(model, 0, init="zeros", steps=1, learning_rate=0.1, objective="logit",
                          optimizer="sgd")
    np.testing.assert_allclose(x2, -x1, rtol=1e-5, atol=1e-7)  # class 0 of a 1-unit model: -z
    with pytest.raises(ValueError, match="optimizer"):
        optimal_input(model, 1, steps=1, optimizer="lbfgs")


@pytest.mark.parametrize("options", [
    dict(optimizer="sgd", learning_rate=0.5, weight_decay=1e-2, init="zeros", target=[1, 0, 1]),
    dict(optimizer="sgd", learning_rate=0.1, momentum=0.9, init="random", target=1, objective="logit"),
    dict(optimizer="adam", learning_rate=0.05, tv_weight=0.1, l2_weight=0.01, jitter=3, input_range=(-0.3, 0.3),
         init="random", target=0),
], ids=["sgd-decay-mixed-targets", "sgd-momentum-logit", "adam-tv-l2-jitter-clip"])
def test_compiled_engine_takes_the_steps_of_tf_keras_vis(options):
    """The default engine (one tf.function loop) equals the library's eager loop, step for step."""
    model = _detector(k=1, seed=4)
    options = dict(options)
    target, init = options.pop("target"), options.pop("init")
    kw = dict(init=init, n_samples=3, steps=25, seed=7, **options)
    x_ref, loss_ref = optimal_input(model, target, engine="tf-keras-vis", **kw)
    x_new, loss_new = optimal_input(model, target, engine="compiled", **kw)
    assert loss_new.shape == loss_ref.shape == (26, 3)
    scale = np.abs(x_ref).max()
    assert scale > 0.05  # the inputs moved: the comparison is not of two untouched zeros
    np.testing.assert_allclose(x_new, x_ref, rtol=0, atol=2e-5 * scale)
    np.testing.assert_allclose(loss_new, loss_ref, rtol=2e-5, atol=1e-7)
    with pytest.raises(ValueError, match="engine"):
        optimal_input(model, target, engine="eager", **kw)
