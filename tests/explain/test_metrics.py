"""Explanation metrics on hand-made cases."""
import numpy as np
import pytest
from tensorflow import keras

from seis_keras.explain.metrics import (conservation_error, deletion_curve, model_randomisation_test,
                                        pointing_game, relevance_mass_accuracy)
from seis_keras.explain.saliency import saliency


def test_conservation_error():
    R = np.zeros((3, 4, 2))
    R[0, 0, 0], R[1, 1, 1], R[2] = 2.0, 1.0, 0.0
    np.testing.assert_allclose(conservation_error(R, [2.0, 2.0, 0.0]), [0.0, 0.5, 0.0])
    np.testing.assert_allclose(conservation_error(R, [2.0, 2.0, 1.0], relative=False), [0.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="target_scores"):
        conservation_error(R, [1.0])


def test_mass_accuracy_and_pointing_game():
    mask = np.zeros((2, 10), bool)
    mask[:, 3:6] = True
    R = np.zeros((2, 10, 3))
    R[0, 3:6, :] = 1.0                    # perfect explanation
    R[0, 7, 0] = -4.0                     # negative relevance outside does not count
    R[1, 4, 0], R[1, 8, 2] = 1.0, 3.0     # 1/4 inside; max outside
    np.testing.assert_allclose(relevance_mass_accuracy(R, mask), [1.0, 0.25])
    np.testing.assert_array_equal(pointing_game(R, mask), [True, False])
    full = np.broadcast_to(mask[..., None], R.shape)
    np.testing.assert_allclose(relevance_mass_accuracy(R, full), [1.0, 0.25])
    assert np.isnan(relevance_mass_accuracy(-np.ones((1, 10, 3)), mask[:1])[0])
    with pytest.raises(ValueError, match="mask"):
        pointing_game(R, np.zeros((2, 7), bool))


def _window_model():
    """Logit = sum of channel 0 over samples 10..19 (plus a bias): reads only that window."""
    inp = keras.Input((40, 2))
    dense = keras.layers.Dense(1, name="logits")
    out = dense(keras.layers.Flatten()(inp))
    w = np.zeros((80, 1), np.float32)
    w[np.arange(10, 20) * 2, 0] = 1.0
    dense.set_weights([w, np.array([-1.0], np.float32)])
    return keras.Model(inp, out), w.reshape(40, 2)


def test_deletion_auc_of_true_explanation_below_random():
    model, w = _window_model()
    rng = np.random.default_rng(0)
    X = rng.uniform(0.2, 1.0, size=(4, 40, 2)).astype(np.float32)
    R = X * w                                  # exact contribution of each input
    frac, s_true, auc_true = deletion_curve(model, X, R, class_index=1, steps=10, score="logit")
    _, s_rand, auc_rand = deletion_curve(model, X, R, class_index=1, steps=10, order="random", score="logit")
    assert frac[0] == 0 and frac[-1] == 1 and s_true.shape == (4, 11)
    np.testing.assert_allclose(s_true[:, 0], model(X).numpy()[:, 0], rtol=1e-6)
    np.testing.assert_allclose(s_true[:, -1], -1.0, atol=1e-6)  # all removed: bias only
    # after removing the 10 relevant time steps (25 %), the score is at its floor already
    np.testing.assert_allclose(s_true[:, 3], -1.0, atol=1e-6)
    assert np.all(auc_true < auc_rand)
    _, s_el, _ = deletion_curve(model, X, R, class_index=1, steps=4, unit="element", score="logit")
    assert s_el.shape == (4, 5)
    with pytest.raises(ValueError, match="relevance"):
        deletion_curve(model, X, R[:, :10], class_index=1)


def test_randomisation_decorrelates_gradient_but_not_an_input_only_map():
    keras.utils.set_random_seed(0)
    inp = keras.Input((40, 2))
    h = keras.layers.Conv1D(4, 5, name="conv1", activation="tanh")(inp)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dense(8, activation="tanh", name="fc1")(h)
    model = keras.Model(inp, keras.layers.Dense(1, name="logits")(h))
    before = [w.copy() for w in model.get_weights()]
    X = np.random.default_rng(1).normal(size=(5, 40, 2)).astype(np.float32)
    names, corr = model_randomisation_test(model, X, lambda m, x: saliency(m, x, class_index=1), seed=3)
    assert names == ["logits", "fc1", "conv1"]
    assert corr.shape == (3, 5)
    assert corr[-1].mean() < 0.5
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)         # the trained model is untouched
    _, corr_input = model_randomisation_test(model, X, lambda m, x: x)
    np.testing.assert_allclose(corr_input, 1.0)


def test_non_finite_relevance_is_rejected_not_scored():
    mask = np.zeros((2, 10), bool)
    mask[:, 3:6] = True
    R = np.ones((2, 10, 3))
    R[1, 8, 2] = np.nan
    with pytest.raises(ValueError, match="relevance: 1 non-finite"):
        relevance_mass_accuracy(R, mask)
    with pytest.raises(ValueError, match="relevance: 1 non-finite"):
        pointing_game(R, mask)
    model, _ = _window_model()
    X = np.ones((2, 40, 2), np.float32)
    R = np.ones_like(X)
    R[0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="relevance: 1 non-finite"):
        deletion_curve(model, X, R, class_index=1)
    # a NaN map must not read as "decorrelated" (its Spearman r would be NaN -> 0)
    calls = []

    def nan_after_randomising(m, x):
        calls.append(1)
        return x if len(calls) == 1 else np.full(x.shape, np.nan)

    with pytest.raises(ValueError, match="after randomising 'logits'"):
        model_randomisation_test(model, X, nan_after_randomising)
