"""Tests for seis_keras.models.surgery: exact BN folding, random-input stripping, logits."""
import numpy as np
import pytest
from tensorflow import keras

from seis_keras.models import RandomInputLayer, get_model, with_probabilities
from seis_keras.models.surgery import fold_batchnorm, logits_model, strip_random_input

L = keras.layers


def _randomise_bn(model, seed=0):
    """Give every BatchNormalization non-trivial statistics (fresh ones fold to identity)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, L.BatchNormalization):
            values = []
            for w in layer.weights:
                if "variance" in w.name:
                    values.append(rng.uniform(0.2, 3.0, w.shape))
                elif "gamma" in w.name:
                    values.append(rng.uniform(-2.0, 2.0, w.shape))  # negative scales too
                else:
                    values.append(rng.normal(0.0, 1.0, w.shape))
            layer.set_weights(values)
    return model


def _count(model, cls):
    return sum(isinstance(layer, cls) for layer in model.layers)


def _relative(a, b):
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


def test_fold_batchnorm_exact_on_conv_dense_and_conv2d():
    keras.utils.set_random_seed(1)
    inp = keras.Input((30, 3))
    x = L.Conv1D(4, 5, name="conv1", bias_initializer="random_normal")(inp)
    x = L.BatchNormalization(name="bn1")(x)
    x = L.MaxPooling1D(3, 1)(x)
    x = L.Activation("relu")(x)
    x = L.Conv1D(6, 3, strides=2, dilation_rate=1, use_bias=False, name="conv2")(x)
    x = L.BatchNormalization(center=False, scale=False, epsilon=0.01, name="bn2")(x)
    x = L.Activation("relu")(x)
    x = L.Flatten()(x)
    x = L.Dense(5, name="fc")(x)
    x = L.BatchNormalization(name="bn3")(x)
    out = L.Dense(2, name="logits")(x)
    model = _randomise_bn(keras.Model(inp, out), seed=2)
    X = np.random.default_rng(3).normal(size=(7, 30, 3)).astype("float32")

    folded = fold_batchnorm(model)
    assert _count(folded, L.BatchNormalization) == 0
    assert _count(model, L.BatchNormalization) == 3  # the input model is untouched
    assert [layer.name for layer in folded.layers if layer.weights] == ["conv1", "conv2", "fc", "logits"]
    assert folded.get_layer("conv2").use_bias  # a bias appears where BN had a shift
    assert _relative(folded.predict(X, verbose=0), model.predict(X, verbose=0)) < 1e-5

    # independent numpy check of the folded conv1 kernel against the formula
    bn = model.get_layer("bn1")
    gamma, beta, mean, var = bn.get_weights()
    w, b = model.get_layer("conv1").get_weights()
    k = gamma / np.sqrt(var + bn.epsilon)
    fw, fb = folded.get_layer("conv1").get_weights()
    np.testing.assert_allclose(fw, w * k, rtol=1e-6)
    np.testing.assert_allclose(fb, (b - mean) * k + beta, rtol=1e-5, atol=1e-6)

    inp2 = keras.Input((8, 9, 2))
    y = L.Conv2D(3, 3, name="c2d")(inp2)
    y = L.BatchNormalization()(y)
    m2 = _randomise_bn(keras.Model(inp2, L.Flatten()(y)), seed=4)
    X2 = np.random.default_rng(5).normal(size=(3, 8, 9, 2)).astype("float32")
    assert _relative(fold_batchnorm(m2).predict(X2, verbose=0), m2.predict(X2, verbose=0)) < 1e-5


def test_fold_batchnorm_on_paper_models():
    norcia = _randomise_bn(get_model("norcia", n_classes=4, input_length=120), seed=6)
    X = np.random.default_rng(7).normal(size=(4, 120, 3)).astype("float32")
    folded = fold_batchnorm(norcia)
    assert _count(folded, L.BatchNormalization) == 0
    assert _count(folded, L.Conv1D) == 7
    assert _relative(folded.predict(X, verbose=0), norcia.predict(X, verbose=0)) < 1e-5


def test_fold_batchnorm_refuses_unfoldable_bn():
    inp = keras.Input((20, 2))
    x = L.Conv1D(3, 3)(inp)
    x = L.Activation("relu", name="act")(x)
    out = L.BatchNormalization(name="bn_after_relu")(x)
    with pytest.raises(ValueError, match="bn_after_relu.*'act'"):
        fold_batchnorm(keras.Model(inp, out))

    inp = keras.Input((20, 2))
    x = L.Conv1D(3, 3, activation="relu", name="conv_relu")(inp)
    out = L.BatchNormalization(name="bn")(x)
    with pytest.raises(ValueError, match="activation 'relu'"):
        fold_batchnorm(keras.Model(inp, out))

    inp = keras.Input((20, 2))
    x = L.Conv1D(3, 3, name="shared_out")(inp)
    out = L.Add()([L.BatchNormalization(name="bn")(x), x])
    with pytest.raises(ValueError, match="also used elsewhere"):
        fold_batchnorm(keras.Model(inp, out))

    inp = keras.Input((20, 2))
    x = L.Conv1D(3, 3)(inp)
    out = L.BatchNormalization(axis=1, name="bn_time")(x)
    with pytest.raises(ValueError, match="axis"):
        fold_batchnorm(keras.Model(inp, out))


def test_strip_random_input_keeps_inference_outputs():
    model = _randomise_bn(get_model("precursor", input_length=128, filters=(4,) * 7, fc_units=8), seed=8)
    assert isinstance(model.get_layer("random_input"), RandomInputLayer)
    X = np.random.default_rng(9).normal(size=(3, 128, 3)).astype("float32")
    stripped = strip_random_input(model)
    assert _count(stripped, RandomInputLayer) == 0
    assert len(stripped.layers) == len(model.layers) - 1
    np.testing.assert_allclose(stripped.predict(X, verbose=0), model.predict(X, verbose=0), rtol=1e-6, atol=1e-7)
    # the noise layer really is active in training mode, so removing it is not a no-op there
    assert not np.allclose(model(X, training=True).numpy(), stripped(X, training=True).numpy())
    # weights are copies: changing the original leaves the stripped model alone
    conv = model.get_layer("conv1")
    before = stripped.get_layer("conv1").get_weights()[0].copy()
    conv.set_weights([w + 1.0 for w in conv.get_weights()])
    np.testing.assert_array_equal(stripped.get_layer("conv1").get_weights()[0], before)


def test_logits_model_strips_output_activations():
    detector = get_model("detector", input_length=64, hidden_units=8)
    X = np.random.default_rng(10).normal(size=(5, 64, 3)).astype("float32")
    logits = detector.predict(X, verbose=0)
    for model in (with_probabilities(detector), detector):
        out = logits_model(model).predict(X, verbose=0)
        np.testing.assert_allclose(out, logits, rtol=1e-6, atol=1e-7)

    inp = keras.Input((6,))
    x = L.Dense(4, activation="relu")(inp)
    dense_softmax = keras.Model(inp, L.Dense(3, activation="softmax", name="head")(x))
    head_lin = L.Dense(3, name="head_lin")(x)
    softmax_layer = keras.Model(inp, L.Softmax()(head_lin))
    Z = np.random.default_rng(11).normal(size=(4, 6)).astype("float32")
    stripped = logits_model(dense_softmax)
    assert keras.activations.serialize(stripped.get_layer("head").activation) == "linear"
    z = stripped.predict(Z, verbose=0)
    # softmax(logits) reproduces the original probabilities; logits differ from log-probs by a constant
    np.testing.assert_allclose(keras.activations.softmax(keras.backend.constant(z)).numpy(), dense_softmax.predict(Z, verbose=0), rtol=1e-5)
    assert np.ptp(z - np.log(dense_softmax.predict(Z, verbose=0)), axis=1).max() < 1e-4
    assert not np.allclose(z.sum(axis=1), 1.0)
    stripped = logits_model(softmax_layer)
    assert stripped.layers[-1].name == "head_lin"
    np.testing.assert_allclose(stripped.predict(Z, verbose=0),
                               keras.Model(inp, head_lin).predict(Z, verbose=0), rtol=1e-6)


def test_surgery_rejects_subclassed_models():
    class Tiny(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = L.Dense(1)

        def call(self, x):
            return self.d(x)

    with pytest.raises(ValueError, match="functional or built Sequential"):
        fold_batchnorm(Tiny())
