"""SHAP: additivity (expected gradients approximately, DeepExplainer exactly in a subprocess)."""
import numpy as np
import pytest
from tensorflow import keras

from seis_keras.explain.shap_values import (batch_class_mean_maps, class_mean_maps, deep_shap, gradient_shap,
                                           partition_shap)


def _smooth_model(k=1, seed=0, bn=False, fused=None):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((30, 2))
    h = keras.layers.Conv1D(4, 3, name="conv1")(inp)
    if bn:
        h = keras.layers.BatchNormalization(fused=fused)(h)
    h = keras.layers.Activation("tanh")(h)
    h = keras.layers.Flatten()(h)
    return keras.Model(inp, keras.layers.Dense(k, name="logits")(h))


def test_gradient_shap_adds_up_to_output_minus_background_mean():
    model = _smooth_model(k=3)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4, 30, 2)).astype(np.float32)
    bg = rng.normal(size=(30, 30, 2)).astype(np.float32)
    sv = gradient_shap(model, X, bg, class_index=[0, 1, 2, 2], nsamples=200, seed=1)
    assert sv.shape == X.shape
    z, zb = model(X).numpy(), model(bg).numpy().mean(axis=0)
    t = np.array([0, 1, 2, 2])
    expected = z[np.arange(4), t] - zb[t]
    np.testing.assert_allclose(sv.reshape(4, -1).sum(axis=1), expected, atol=0.1 * np.abs(expected).max() + 0.05)


def test_gradient_shap_exact_on_linear_model_and_binary_sign():
    keras.utils.set_random_seed(1)
    inp = keras.Input((6,))
    model = keras.Model(inp, keras.layers.Dense(1, name="logits")(inp))
    rng = np.random.default_rng(1)
    # one background sample: expected gradients of a linear model are exactly w * (x - b)
    X, bg = rng.normal(size=(3, 6)).astype(np.float32), rng.normal(size=(1, 6)).astype(np.float32)
    w = model.get_weights()[0][:, 0]
    sv1 = gradient_shap(model, X, bg, class_index=1, nsamples=50)
    np.testing.assert_allclose(sv1, w * (X - bg[0]), atol=1e-5)
    np.testing.assert_allclose(gradient_shap(model, X, bg, class_index=0, nsamples=50), -sv1, atol=1e-6)


def test_gradient_shap_runs_with_batchnorm():
    model = _smooth_model(k=2, bn=True)
    X = np.random.default_rng(2).normal(size=(2, 30, 2)).astype(np.float32)
    sv = gradient_shap(model, X, X, nsamples=20)
    assert sv.shape == X.shape and np.all(np.isfinite(sv))


def test_deep_shap_exact_in_subprocess(tmp_path):
    model = _smooth_model(k=2, seed=3, bn=True, fused=False)   # unfused BatchNorm is supported
    model.get_layer(index=2).set_weights([np.full(4, 1.5, np.float32), np.full(4, 0.1, np.float32),
                                          np.full(4, 0.2, np.float32), np.full(4, 2.0, np.float32)])
    rng = np.random.default_rng(3)
    X = rng.normal(size=(3, 30, 2)).astype(np.float32)
    bg = rng.normal(size=(10, 30, 2)).astype(np.float32)
    sv = deep_shap(model, X, bg, class_index=1)
    assert sv.shape == X.shape
    expected = model(X).numpy()[:, 1] - model(bg).numpy()[:, 1].mean()
    np.testing.assert_allclose(sv.reshape(3, -1).sum(axis=1), expected, atol=1e-4)
    # this process is still healthy (DeepExplainer ran elsewhere): training works
    model.compile("sgd", "mse")
    model.fit(X, np.zeros((3, 2)), verbose=0, epochs=1)


def test_partition_shap_on_spectrogram_model():
    inp = keras.Input((6, 8, 3))
    # logit of class 1 = mean of channel 0 over a patch; class 0 = its negative
    patch = keras.layers.Lambda(lambda x: keras.backend.mean(x[:, 2:4, 3:6, 0], axis=(1, 2)))(inp)
    out = keras.layers.Lambda(lambda p: keras.backend.stack([-p, p], axis=1), name="logits")(patch)
    model = keras.Model(inp, out)
    rng = np.random.default_rng(4)
    X = rng.uniform(0.0, 0.1, size=(2, 6, 8, 3)).astype(np.float32)
    X[:, 2:4, 3:6, 0] += 1.0                       # a bright patch the logit reads
    sv = partition_shap(model, X, max_evals=100, batch_size=50, class_index=1)
    assert sv.shape == X.shape
    # efficiency: sum = f(x) - f(everything masked); fully masked = the image mean per channel
    z = model(X).numpy()[:, 1]
    z_masked = model(np.broadcast_to(X.mean(axis=(1, 2), keepdims=True), X.shape)).numpy()[:, 1]
    np.testing.assert_allclose(sv.reshape(2, -1).sum(axis=1), z - z_masked, rtol=1e-3, atol=1e-4)
    inside = np.zeros((6, 8), bool)
    inside[2:4, 3:6] = True
    mass = np.abs(sv).sum(axis=-1)
    # per pixel, the patch the logit reads carries far more attribution than the rest
    assert mass[:, inside].mean() > 3 * mass[:, ~inside].mean()
    # the stock shap masker (uint8 cast) gives a different answer on float data
    stock = partition_shap(model, X[:1], max_evals=100, batch_size=50, class_index=1, float_inpaint=False)
    assert not np.allclose(stock, sv[:1], atol=1e-3)


def test_class_mean_maps_normalisation_and_selection():
    maps = np.zeros((4, 2, 3, 2))
    maps[0] = 2.0
    maps[1, ..., 0] = -4.0
    maps[2] = 1.0
    maps[3] = 100.0            # misclassified: excluded from the mean but sets the batch max
    out = class_mean_maps(maps, y_true=[0, 0, 1, 1], y_pred=[0, 0, 1, 0])
    np.testing.assert_allclose(out[0]["map"], ((2 + 2) / 2 / 100 + (-4 + 0) / 2 / 100) / 2)
    np.testing.assert_allclose(out[1]["map"], 1.0 / 100)
    assert out[0]["n"] == 2 and out[1]["n"] == 1


def test_batch_class_mean_maps_is_the_authors_per_batch_aggregation():
    # two batches of 3 maps (H=1, W=2, C=2); batch 0's signed max is 4, batch 1's is 10 (its |min| -20 is ignored)
    maps = np.zeros((6, 1, 2, 2))
    maps[0] = 4.0                      # batch 0, foreshock, correct
    maps[1] = 2.0                      # batch 0, foreshock, correct
    maps[2] = -8.0                     # batch 0, aftershock, misclassified: sets nothing, averaged nowhere
    maps[3, ..., 0] = 10.0             # batch 1, foreshock, correct
    maps[4] = -20.0                    # batch 1, aftershock, correct
    maps[5] = 5.0                      # batch 1, aftershock, correct
    y_true, y_pred, batch = [0, 0, 1, 0, 1, 1], [0, 0, 0, 0, 1, 1], [0, 0, 0, 1, 1, 1]
    out = batch_class_mean_maps(maps, y_true, y_pred, batch)
    fore_b0 = (4 / 4 + 2 / 4) / 2           # channel means 1.0 and 0.5
    fore_b1 = (10 + 0) / 2 / 10             # one sample, channel mean 0.5
    np.testing.assert_allclose(out[0]["map"], (fore_b0 + fore_b1) / 2)
    np.testing.assert_allclose(out[1]["map"], (-20 / 10 + 5 / 10) / 2)   # only batch 1 has correct aftershocks
    assert (out[0]["n"], out[0]["batches"], out[1]["n"], out[1]["batches"]) == (3, 2, 2, 1)
    # not the one-max, one-mean aggregation: that weights samples, not batches, and scales by max |value| = 20
    old = class_mean_maps(maps, y_true, y_pred)
    np.testing.assert_allclose(old[0]["map"], (4 + 2 + 5) / 3 / 20)  # channel means 4, 2, 5 over 3 samples, / 20
    assert not np.allclose(old[0]["map"], out[0]["map"])
    # a batch whose maximum is negative flips sign, as their shap / shap.max() does
    neg = batch_class_mean_maps(-np.ones((2, 1, 1, 1)), [0, 0], [0, 0], [0, 0])
    np.testing.assert_allclose(neg[0]["map"], 1.0)
