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


# --- localisation over other axes, sparseness, similarity -------------------------------------
def test_masks_over_frequency_and_time_frequency_axes():
    from seis_keras.explain.metrics import uniform_share

    R = np.zeros((2, 8, 5, 3))              # (N, F, T, C) maps, e.g. spectrogram relevance
    R[0, 2:4, :, :] = 1.0                   # all of sample 0 inside the band F 2..3
    R[1, 2, 1, 0], R[1, 6, 4, 2] = 3.0, 1.0  # 3/4 of sample 1 inside
    band = np.zeros((2, 8), bool)
    band[:, 2:4] = True                     # frequency mask (N, F): broadcast over T and C
    np.testing.assert_allclose(relevance_mass_accuracy(R, band), [1.0, 0.75])
    np.testing.assert_allclose(uniform_share(R, band), 2 / 8)
    np.testing.assert_array_equal(pointing_game(R, band), [True, True])
    box = np.zeros((2, 8, 5), bool)         # time-frequency mask (N, F, T)
    box[:, 2, 1] = True
    np.testing.assert_allclose(relevance_mass_accuracy(R, box), [3 / 30, 0.75])
    np.testing.assert_allclose(uniform_share(R, box), 1 / 40)
    Rf = R.sum(axis=2)                      # (N, F, C) spectra with the (N, F) band
    np.testing.assert_allclose(relevance_mass_accuracy(Rf, band), [1.0, 0.75])
    with pytest.raises(ValueError, match=r"mask: expected shape \(2, 8, 5, 3\) or a leading part"):
        relevance_mass_accuracy(R, np.zeros((2, 5), bool))


def test_sparseness_gini_known_values():
    from seis_keras.explain.metrics import sparseness

    one_hot = np.zeros((1, 10, 2))
    one_hot[0, 3, 1] = -5.0                           # |R| counts
    flat = np.ones((1, 10, 2))
    np.testing.assert_allclose(sparseness(np.concatenate([one_hot, flat])), [19 / 20, 0.0], atol=1e-12)
    # a two-level map: d/2 zeros and d/2 ones -> Gini 1/2
    half = np.concatenate([np.zeros((1, 10, 1)), np.ones((1, 10, 1))], axis=1)
    np.testing.assert_allclose(sparseness(half), [0.5])


def test_map_similarity_against_scipy():
    from scipy import stats

    from seis_keras.explain.metrics import map_similarity

    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(3, 30, 2)), rng.normal(size=(3, 30, 2))
    b[0] = 2 * a[0] + 0.1 * b[0]
    b[2] = 0.0                                        # constant map: no ranking -> 0
    want = [stats.spearmanr(np.abs(x).ravel(), np.abs(y).ravel()).statistic for x, y in zip(a[:2], b[:2])]
    got = map_similarity(a, b, "spearman_abs")
    np.testing.assert_allclose(got[:2], want[:2], rtol=1e-12)
    assert got[2] == 0.0
    np.testing.assert_allclose(map_similarity(a, b, "spearman")[:2],
                               [stats.spearmanr(x.ravel(), y.ravel()).statistic for x, y in zip(a[:2], b[:2])])
    np.testing.assert_allclose(map_similarity(a, 3 * a, "ssim"), 1.0)   # SSIM is scale-free here
    assert map_similarity(a, b, "ssim")[1] < 0.5
    with pytest.raises(ValueError, match="kind"):
        map_similarity(a, b, "pearson")


# --- perturbation curves: insertion, ROAD's linear fill, noise --------------------------------
def test_insertion_curve_endpoints_and_true_order_above_random():
    from seis_keras.explain.metrics import perturbation_curve

    model, w = _window_model()
    X = np.random.default_rng(0).uniform(0.2, 1.0, size=(4, 40, 2)).astype(np.float32)
    R = X * w
    frac, s, auc = perturbation_curve(model, X, R, mode="insertion", class_index=1, steps=8, score="logit")
    np.testing.assert_allclose(s[:, 0], -1.0, atol=1e-6)                  # nothing restored: bias
    np.testing.assert_allclose(s[:, -1], model(X).numpy()[:, 0], rtol=1e-6)  # all restored
    np.testing.assert_allclose(s[:, 2:], s[:, -1:].repeat(7, axis=1), rtol=1e-6)  # 10 steps = 1/4 suffice
    _, _, auc_rand = perturbation_curve(model, X, R, mode="insertion", class_index=1, steps=8,
                                        score="logit", order="random")
    assert np.all(auc > auc_rand)
    with pytest.raises(ValueError, match="mode"):
        perturbation_curve(model, X, R, mode="flip")


def test_linear_fill_imputes_a_ramp_exactly_and_noise_is_seeded():
    from seis_keras.explain.metrics import perturbation_curve

    model, _ = _window_model()
    t = np.arange(40, dtype=np.float32)
    X = np.stack([np.stack([0.5 + 0.01 * t, 1.0 - 0.02 * t], axis=1)] * 3)   # linear ramps
    X[1] *= 2.0
    R = np.ones_like(X)
    R[:, [0, 39]] = -1.0                  # the two ends are removed last
    kw = dict(class_index=1, steps=10, score="logit")
    _, s, _ = perturbation_curve(model, X, R, fill="linear", **kw)
    # interpolating a line between kept samples gives the line back: the score never moves
    np.testing.assert_allclose(s[:, :-1], s[:, :1].repeat(10, axis=1), rtol=1e-5)
    np.testing.assert_allclose(s[:, -1], -1.0, atol=1e-6)          # nothing kept: zeros
    _, s0, _ = perturbation_curve(model, X, R, fill=0.0, **kw)
    assert np.all(s0[:, 5] < s[:, 5] - 1.0)                       # zero fill does remove signal
    _, s_mean, _ = perturbation_curve(model, X, R, fill="mean", **kw)
    want = X[:, 10:20, 0].sum(axis=1) * 0 + 10 * X[:, :, 0].mean(axis=1) - 1.0   # everything at the mean
    np.testing.assert_allclose(s_mean[:, -1], want, rtol=1e-5)
    a = perturbation_curve(model, X, R, fill="linear", noise=0.5, seed=1, **kw)[1]
    b = perturbation_curve(model, X, R, fill="linear", noise=0.5, seed=1, **kw)[1]
    c = perturbation_curve(model, X, R, fill="linear", noise=0.5, seed=2, **kw)[1]
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a[:, 1:-1], c[:, 1:-1])
    with pytest.raises(ValueError, match="fill"):
        perturbation_curve(model, X, R, fill="zeros", **kw)
    with pytest.raises(ValueError, match="fill='linear'"):
        perturbation_curve(model, X.reshape(3, 80), R.reshape(3, 80), fill="linear", unit="element", **kw)


def test_random_logit_known_answers():
    from seis_keras.explain.metrics import random_logit_test
    from seis_keras.explain.saliency import input_gradient

    inp = keras.Input((20, 1))
    dense = keras.layers.Dense(2, name="logits")
    model = keras.Model(inp, dense(keras.layers.Flatten()(inp)))
    rng = np.random.default_rng(3)
    W = rng.normal(size=(20, 2)).astype(np.float32)
    dense.set_weights([W, np.zeros(2, np.float32)])
    X = rng.normal(size=(5, 20, 1)).astype(np.float32)
    grad = lambda m, x, cls: input_gradient(m, x, cls)          # = W[:, class] for a linear model
    from scipy import stats
    want = stats.spearmanr(np.abs(W[:, 0]), np.abs(W[:, 1])).statistic
    np.testing.assert_allclose(random_logit_test(model, X, grad, class_index=0), want, rtol=1e-6)
    np.testing.assert_allclose(random_logit_test(model, X, lambda m, x, c: np.abs(x)), 1.0)


# --- cross-checks against Quantus 0.6 (the field's metric library; a test dependency) -------
def _quantus():
    import warnings

    warnings.filterwarnings("ignore", module="quantus")
    import quantus  # a test dependency (requirements/no-deps.txt): it imports torch too

    return quantus


def test_localisation_and_sparseness_agree_with_quantus():
    q = _quantus()
    rng = np.random.default_rng(7)
    R = rng.normal(size=(6, 50, 1))
    S = np.zeros((6, 50), bool)
    S[:, 12:30] = True
    X = rng.normal(size=(6, 50, 1)).astype(np.float32)
    y = np.zeros(6, int)
    cf = lambda a: np.moveaxis(a, -1, 1)                         # Quantus wants (N, C, T)
    ours = relevance_mass_accuracy(R, S)
    theirs = q.RelevanceMassAccuracy(normalise=False, disable_warnings=True)(
        model=None, x_batch=cf(X), y_batch=y, a_batch=cf(np.clip(R, 0, None)), s_batch=S[:, None],
        channel_first=True)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)          # ours = theirs on max(R, 0)
    hits = q.PointingGame(normalise=False, disable_warnings=True)(
        model=None, x_batch=cf(X), y_batch=y, a_batch=cf(R), s_batch=S[:, None], channel_first=True)
    np.testing.assert_array_equal(pointing_game(R, S), np.asarray(hits, bool))
    from seis_keras.explain.metrics import sparseness
    gini = q.Sparseness(normalise=False, abs=True, disable_warnings=True)(
        model=None, x_batch=cf(X), y_batch=y, a_batch=cf(R), channel_first=True)
    np.testing.assert_allclose(sparseness(R), gini, rtol=1e-5)    # Quantus adds 1e-7 to |R|


def test_deletion_curve_agrees_with_quantus_pixel_flipping():
    q = _quantus()
    model, _ = _window_model()
    rng = np.random.default_rng(8)
    X = rng.uniform(0.2, 1.0, size=(4, 40, 2)).astype(np.float32)
    R = rng.normal(size=X.shape)                                  # no ties: one order
    _, ours, _ = deletion_curve(model, X, R, class_index=1, steps=10, unit="element", score="logit")
    theirs = q.PixelFlipping(features_in_step=8, perturb_baseline=0.0, normalise=False, disable_warnings=True)(
        model=model, x_batch=X, y_batch=np.zeros(4, int), a_batch=np.moveaxis(R, -1, 1), channel_first=False,
        softmax=False)
    np.testing.assert_allclose(ours[:, 1:], np.asarray(theirs), rtol=1e-5, atol=1e-5)


def test_random_logit_agrees_with_quantus():
    from seis_keras.explain.metrics import random_logit_test
    from seis_keras.explain.saliency import input_gradient

    q = _quantus()
    keras.utils.set_random_seed(2)
    # one channel: Quantus 0.6 checks explain_func's maps against channels-last inputs in one place
    # and channel-first ones in another, so with C > 1 its explain_func path fails on Keras models
    inp = keras.Input((30, 1))
    h = keras.layers.Dense(6, activation="tanh", name="fc1")(keras.layers.Flatten()(inp))
    model = keras.Model(inp, keras.layers.Dense(2, name="logits")(h))
    X = np.random.default_rng(9).normal(size=(5, 30, 1)).astype(np.float32)
    y = np.argmax(model(X).numpy(), axis=1)

    def explain_func(model, inputs, targets, **kwargs):
        return input_gradient(model, np.asarray(inputs).reshape(-1, 30, 1), np.asarray(targets))

    theirs = q.RandomLogit(num_classes=2, similarity_func=q.similarity_func.correlation_spearman, abs=True,
                           normalise=False, disable_warnings=True)(
        model=model, x_batch=X, y_batch=y, explain_func=explain_func, channel_first=False)
    ours = random_logit_test(model, X, lambda m, x, c: input_gradient(m, x, c), class_index=y)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)           # two classes: the other one is fixed


def test_quantus_tf_mprt_is_not_cascading_so_ours_is_used():
    """Why we do not call Quantus's MPRT (metrics module docstring): its first 'top layer only'
    model already has every layer re-drawn (keras clone_model without the weights), and it
    permutes weights instead of re-initialising. If an upgrade fixes this, this test fails: then
    consider Quantus's MPRT. Its similarity function agrees with ours."""
    from seis_keras.explain.metrics import map_similarity, randomised_cascade

    q = _quantus()
    keras.utils.set_random_seed(0)
    inp = keras.Input((40, 2))
    h = keras.layers.Conv1D(4, 5, name="conv1", activation="tanh")(inp)
    h = keras.layers.Dense(8, activation="tanh", name="fc1")(keras.layers.Flatten()(h))
    model = keras.Model(inp, keras.layers.Dense(1, name="logits")(h))
    wrapped = q.helpers.utils.get_wrapped_model(model, channel_first=False, softmax=False)
    name, theirs = next(wrapped.get_random_layer_generator(order="top_down", seed=1))
    assert name == "logits"
    assert not np.allclose(theirs.get_layer("conv1").get_weights()[0], model.get_layer("conv1").get_weights()[0])
    name, ours = next(randomised_cascade(model))
    assert name == "logits"
    for layer in ("conv1", "fc1"):                                # ours: only the logits re-drawn
        for a, b in zip(ours.get_layer(layer).get_weights(), model.get_layer(layer).get_weights()):
            np.testing.assert_array_equal(a, b)
    assert not np.allclose(ours.get_layer("logits").get_weights()[0], model.get_layer("logits").get_weights()[0])
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(4, 40, 2)), rng.normal(size=(4, 40, 2))
    b[1] = a[1] ** 3
    np.testing.assert_allclose(
        map_similarity(a, b, "spearman_abs"),
        q.similarity_func.correlation_spearman(np.abs(a).reshape(4, -1), np.abs(b).reshape(4, -1), batched=True),
        rtol=1e-12)
