"""predict_logits: compiled from a model's second use on, equal to the eager call, and never holding the model."""
import gc

import numpy as np
from tensorflow import keras

from seis_keras.explain import targets
from seis_keras.explain.targets import predict_logits


def _model(seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((40, 3))
    h = keras.layers.Conv1D(4, 5, activation="relu")(keras.layers.ZeroPadding1D(2)(inp))
    return keras.Model(inp, keras.layers.Dense(2, name="logits")(keras.layers.Flatten()(h)))


def test_compiled_calls_equal_eager_and_follow_new_weights():
    model = _model()
    X = np.random.default_rng(0).standard_normal((70, 40, 3)).astype(np.float32)
    eager = model(X, training=False).numpy()
    first = predict_logits(model, X, batch_size=32)     # eager
    second = predict_logits(model, X, batch_size=32)    # traced now
    assert targets._COMPILED[model]["inference"][1] is not None
    np.testing.assert_allclose(first, eager, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(second, eager, rtol=1e-6, atol=1e-6)
    # weights set after the trace are read by the compiled function
    other = _model(seed=5)
    model.set_weights(other.get_weights())
    np.testing.assert_allclose(predict_logits(model, X), other(X, training=False).numpy(), rtol=1e-6, atol=1e-6)
    assert not np.allclose(predict_logits(model, X), eager)


def test_the_cache_does_not_keep_a_model_alive():
    model = _model()
    X = np.zeros((4, 40, 3), np.float32)
    predict_logits(model, X)
    predict_logits(model, X)
    n = len(targets._COMPILED)
    del model
    gc.collect()
    assert len(targets._COMPILED) == n - 1


def test_input_gradient_compiled_equals_the_tape_gradient():
    import tensorflow as tf

    from seis_keras.explain.saliency import input_gradient

    model = _model(seed=2)
    X = np.random.default_rng(1).standard_normal((9, 40, 3)).astype(np.float32)
    t = np.array([0, 1] * 4 + [1])
    x = tf.constant(X)
    with tf.GradientTape() as tape:
        tape.watch(x)
        z = model(x, training=False)
        score = tf.gather(z, t, axis=1, batch_dims=1)
    expected = tape.gradient(score, x).numpy()
    first, second = input_gradient(model, X, t), input_gradient(model, X, t)   # eager, then compiled
    assert targets._COMPILED[model]["target_gradient"][1] is not None
    np.testing.assert_allclose(first, expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(second, expected, rtol=1e-5, atol=1e-7)
