"""Trust checks and verdicts on constructed models with known answers.

- A model that reads only one time window: its exact attribution (gradient × input) puts all
  relevance there (localisation passes in that window, fails in another), decorrelates when
  the weights are re-drawn (randomisation passes), and deletes faster than random.
- A model-independent "explanation" (|x|, Adebayo et al.'s edge detector; a fixed random map)
  is identical for every randomised model: randomisation must fail, exactly at r = 1.
"""
import json

import numpy as np
import pytest
from tensorflow import keras

from seis_keras.explain.saliency import input_gradient
from seis_keras.explain.trust import (TrustSettings, assess, best_trusted, judge, localisation_check,
                                      randomisation_check, trust_table, weight_swap_explainer)

T, C, LO, HI = 60, 2, 20, 35        # the model reads samples LO..HI-1 only


def _region_model(seed=0):
    """Flatten -> Dense(8, tanh) whose weights are zero outside the window -> logits."""
    keras.utils.set_random_seed(seed)
    inp = keras.Input((T, C))
    fc = keras.layers.Dense(8, activation="tanh", name="fc1")
    out = keras.layers.Dense(1, name="logits")(fc(keras.layers.Flatten()(inp)))
    model = keras.Model(inp, out)
    w, b = fc.get_weights()
    w = w.reshape(T, C, 8)
    w[:LO], w[HI:] = 0.0, 0.0
    fc.set_weights([w.reshape(T * C, 8), b])
    return model


def _window_mask(n, lo=LO, hi=HI):
    m = np.zeros((n, T), bool)
    m[:, lo:hi] = True
    return m


def grad_x_input(model, x):
    return input_gradient(model, x, np.ones(len(x), int)) * x


def gradient(model, x):
    return input_gradient(model, x, np.ones(len(x), int))


def abs_input(model, x):
    return np.abs(x)


def fixed_random_map(model, x):
    return np.random.default_rng(5).normal(size=x.shape)


@pytest.fixture(scope="module")
def case():
    model = _region_model()
    X = np.random.default_rng(0).normal(size=(24, T, C)).astype(np.float32)
    return model, X


def test_localisation_passes_in_the_read_window_and_fails_elsewhere(case):
    model, X = case
    R = grad_x_input(model, X)
    here = localisation_check(R, _window_mask(len(X)))
    elsewhere = localisation_check(R, _window_mask(len(X), 40, 55))
    np.testing.assert_allclose(here.mass_accuracy, 1.0)               # the gradient is exactly 0 outside
    np.testing.assert_array_equal(here.pointing_hits, True)
    np.testing.assert_allclose(here.uniform_share, (HI - LO) / T)
    np.testing.assert_allclose(elsewhere.mass_accuracy, 0.0)
    s = TrustSettings()
    assert judge("gxi", localisation=here, settings=s).checks["localisation"].verdict == "pass"
    v = judge("gxi", localisation=elsewhere, settings=s).checks["localisation"]
    assert v.verdict == "fail" and "0.00× the uniform share 0.25" in v.rule
    # |x| spreads like the input: mass = share within sampling noise -> fails the 1.5x rule
    flat = localisation_check(abs_input(model, X), _window_mask(len(X))).numbers
    assert abs(flat["mass_ratio"] - 1.0) < 0.15
    assert judge("|x|", localisation=localisation_check(abs_input(model, X), _window_mask(len(X))),
                 settings=s).checks["localisation"].verdict == "fail"


def test_randomisation_fails_for_input_only_maps_and_passes_for_gradient(case):
    model, X = case
    before = [w.copy() for w in model.get_weights()]
    for explainer in (abs_input, fixed_random_map):
        r = randomisation_check(model, X, explainer, samples=8, seed=1)
        assert r.layers == ["logits", "fc1"]
        np.testing.assert_allclose(r.similarity["spearman_abs"], 1.0)   # the model does not matter
        np.testing.assert_allclose(r.similarity["spearman"], 1.0)
        np.testing.assert_allclose(r.similarity["spearman_positive"], 1.0)
        v = judge("x", randomisation=r).checks["randomisation"]
        assert v.verdict == "fail" and "= 1.00 (≥ 0.30)" in v.rule
    r = randomisation_check(model, X, gradient, samples=8, seed=1, ssim=True)
    assert r.mean("spearman_abs")[-1] < 0.3 and r.similarity["ssim"].shape == (2, 8)
    assert judge("g", randomisation=r).checks["randomisation"].verdict == "pass"
    # re-drawing only the logits rescales each hidden unit: the |gradient| ranking survives,
    # so reading the verdict at that step fails
    assert r.mean("spearman_abs")[0] > 0.6
    assert judge("g", randomisation=r, settings=TrustSettings(randomisation_layer="logits")
                 ).checks["randomisation"].verdict == "fail"
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)                             # the trained model is untouched


def _linear_window_model():
    """logit = sum of channel 0 over the window - 1: the exact contributions are x * w."""
    inp = keras.Input((T, C))
    dense = keras.layers.Dense(1, name="logits")
    model = keras.Model(inp, dense(keras.layers.Flatten()(inp)))
    w = np.zeros((T, C), np.float32)
    w[LO:HI, 0] = 1.0
    dense.set_weights([w.reshape(-1, 1), np.array([-1.0], np.float32)])
    return model, w


def test_deletion_beats_random_for_true_attribution_not_for_a_random_map():
    from seis_keras.explain.trust_checks import faithfulness_check

    model, w = _linear_window_model()
    X = np.random.default_rng(2).uniform(0.2, 1.0, size=(32, T, C)).astype(np.float32)
    kw = dict(class_index=1, score="logit", steps=12, random_orders=4, seed=3)
    true = faithfulness_check(model, X, X * w, **kw)
    rand = faithfulness_check(model, X, fixed_random_map(model, X), **kw)
    q, qr = true.numbers, rand.numbers
    # true order: the score falls to the bias (-1) once the 15 read steps (25 %) are gone
    np.testing.assert_allclose(true.deletion[:, 3:], -1.0, atol=1e-5)
    # analytic: the true curve reaches its end after 1/4 of the steps (excess area ≈ 1/8 of the
    # score range), a random order is a straight line (1/2): ratio ≈ 0.25; insertion ≈ 7/8 / 1/2
    assert q["deletion_ratio"] == pytest.approx(0.25, abs=0.07)
    assert q["insertion_ratio"] == pytest.approx(1.75, abs=0.15)
    assert judge("true", faithfulness=true).checks["faithfulness"].verdict == "pass"
    # a random map is one more random order: its ratio is ~1 and it fails the 0.9 margin
    assert qr["deletion_ratio"] > 0.9
    assert judge("rand", faithfulness=rand).checks["faithfulness"].verdict == "fail"
    # both baselines average the same random orders (same seeds): identical curves
    np.testing.assert_array_equal(true.deletion_random, rand.deletion_random)


def test_assess_verdicts_table_json_and_headline(case):
    model, X = case
    s = TrustSettings(score="logit", steps=10, random_orders=3, randomisation_samples=8)
    mask = _window_mask(len(X))
    results = [assess(name, model, X, f, mask=mask, class_index=1, settings=s)
               for name, f in (("gradient x input", grad_x_input), ("|x|", abs_input),
                               ("random map", fixed_random_map))]
    gxi, absx, rnd = results
    assert gxi.verdict == "trusted" and gxi.trusted
    assert absx.verdict.startswith("flagged: fails randomisation")
    assert rnd.verdict.startswith("flagged: fails randomisation, localisation")
    assert "re-initialising logits … fc1 = 1.00" in absx.rule
    assert best_trusted(results) is gxi
    assert best_trusted([absx, rnd]) is None
    table = trust_table(results).splitlines()
    assert len(table) == 2 + 3 and all(line.count(" | ") == 7 for line in table[2:])
    assert "**trusted**" in table[2] and "\\|x\\|" in table[3]        # pipes escaped in cells
    d = json.loads(gxi.to_json())
    assert d["checks"]["localisation"]["numbers"]["mass_accuracy"] == pytest.approx(1.0)
    assert d["randomisation_curves"]["layers"] == ["logits", "fc1"]
    assert len(d["perturbation_curves"]["deletion"]) == s.steps + 1
    assert d["settings"]["steps"] == 10 and d["verdict"] == "trusted"
    assert 0.0 < gxi.extras["sparseness"] < 1.0
    # with the maps given and no explainer, randomisation cannot run: unchecked, not trusted
    unchecked = assess("maps only", model, X, relevance=grad_x_input(model, X), mask=mask, class_index=1, settings=s)
    assert unchecked.verdict == "unchecked: randomisation not run" and not unchecked.trusted


def test_weight_swap_explainer_matches_the_direct_path(case):
    model, X = case

    class Session:            # stands in for the LRP worker: its own model copy, weights swapped in
        def __init__(self, m):
            self.own = keras.models.clone_model(m)
            self.swaps = 0

        def set_weights(self, m):
            self.own.set_weights(m.get_weights())
            self.swaps += 1

        def analyze(self, x):
            return gradient(self.own, x)

    session = Session(model)
    swapped = randomisation_check(model, X, weight_swap_explainer(session.set_weights, session.analyze),
                                  samples=6, seed=4)
    direct = randomisation_check(model, X, gradient, samples=6, seed=4)
    assert session.swaps == 4          # trained + 2 cascade steps + the control's second copy (its first is step 2)
    for k in ("spearman_abs", "spearman", "spearman_positive"):
        np.testing.assert_array_equal(swapped.similarity[k], direct.similarity[k])
    assert swapped.control == direct.control


def test_settings_validation_and_config():
    s = TrustSettings.from_config({"randomisation_layer": "conv4", "randomisation_layers": ["logits", "conv4"],
                                   "fill": "linear"}, seed=3)
    assert s.randomisation_layers == ("logits", "conv4") and s.seed == 3 and s.fill == "linear"
    with pytest.raises(ValueError, match=r"\[trust\]: \['treshold'\] are not trust settings"):
        TrustSettings.from_config({"treshold": 0.3})
    with pytest.raises(ValueError, match="randomisation_similarity"):
        TrustSettings(randomisation_similarity="pearson")
    with pytest.raises(ValueError, match="TrustSettings.fill"):
        TrustSettings(fill="zeros")
    with pytest.raises(ValueError, match="TrustSettings.required"):
        TrustSettings(required=("sanity",))
    model = _region_model()
    X = np.zeros((2, T, C), np.float32)
    r = randomisation_check(model, X, abs_input, samples=2)
    with pytest.raises(ValueError, match="'conv4' is not in the cascade"):
        judge("x", randomisation=r, settings=TrustSettings(randomisation_layer="conv4"))
    with pytest.raises(ValueError, match="not layers with trainable weights"):
        randomisation_check(model, X, abs_input, layers=["conv9"])
    with pytest.raises(ValueError, match="expected maps shaped like X"):
        randomisation_check(model, X, lambda m, x: x[:, :10])


def test_maps_without_positive_relevance_fail_localisation_and_write_strict_json():
    loc = localisation_check(-np.ones((3, T, C)), _window_mask(3))
    res = judge("negative", localisation=loc, settings=TrustSettings(required=()))
    assert res.verdict == "flagged: fails localisation"
    assert res.rule == "no map has positive relevance"
    d = json.loads(res.to_json())                                  # allow_nan=False: would raise on NaN
    assert d["checks"]["localisation"]["numbers"]["mass_accuracy"] is None
    assert d["checks"]["localisation"]["numbers"]["maps_without_positive_relevance"] == 3
    assert d["checks"]["randomisation"]["verdict"] == "not run"
    assert "| negative | not run | — (0.25) |" in trust_table([res])


def test_faithfulness_ratios_probability_plain_logit_above_floor():
    from seis_keras.explain.trust_checks import FaithfulnessResult

    fr = np.linspace(0, 1, 5)
    fast = np.array([[0.9, 0.1, 0.1, 0.1, 0.1]])            # AUC 0.2
    line = np.array([[0.9, 0.7, 0.5, 0.3, 0.1]])            # AUC 0.5
    p = FaithfulnessResult(fr, fast, line, line[:, ::-1], line[:, ::-1]).numbers
    assert p["deletion_auc"] == pytest.approx(0.2) and p["deletion_ratio"] == pytest.approx(0.4)
    assert p["insertion_ratio"] == pytest.approx(1.0)
    # the same curves as logits shifted by -5: the ratio is taken above the floor (-4.9): unchanged
    q = FaithfulnessResult(fr, fast - 5, line - 5, line[:, ::-1] - 5, line[:, ::-1] - 5, score="logit").numbers
    assert q["deletion_auc"] == pytest.approx(-4.8) and q["deletion_ratio"] == pytest.approx(0.1 / 0.4)
    # a model whose score no removal can move: the ratio is undefined and the check fails
    flat = np.full((1, 5), 3.2)
    v = judge("flat", faithfulness=FaithfulnessResult(fr, flat, flat, flat, flat, score="logit")).checks["faithfulness"]
    assert v.verdict == "fail" and "cannot tell orders apart" in v.rule


def _energy_model(seed=0):
    """A kept (never re-initialised) ReLU filter bank under random-able upper layers: |R| follows the input energy."""
    keras.utils.set_random_seed(seed)
    inp = keras.Input((T, C))
    h = keras.layers.Conv1D(6, 5, padding="same", activation="relu", name="conv1")(inp)
    h = keras.layers.Dense(4, activation="relu", name="fc1")(h)
    out = keras.layers.Dense(1, name="logits")(keras.layers.Flatten()(h))
    return keras.Model(inp, out)


def test_positive_evidence_similarity_and_the_random_pair_control():
    """The |R| confound of a kept lower layer, and the measures that see through it.

    Inputs are quiet except a loud burst (samples LO..HI): any upper layers put the magnitude of
    gradient x input on the burst, so |R| stays similar after re-initialising fc1 and logits, and
    two independent re-initialisations are as similar as trained vs random (the control). The
    signed and positive-evidence maps depend on the upper layers' signs and drop.
    """
    from scipy import stats

    from seis_keras.explain.metrics import map_similarity
    from seis_keras.explain.trust_checks import randomisation_control

    model = _energy_model()
    rng = np.random.default_rng(1)
    X = (0.05 * rng.normal(size=(16, T, C))).astype(np.float32)
    X[:, LO:HI] += rng.normal(size=(16, HI - LO, C)).astype(np.float32) * 3
    r = randomisation_check(model, X, grad_x_input, layers=["logits", "fc1"], samples=16, seed=2)
    control = randomisation_control(model, X, grad_x_input, layers=["logits", "fc1"], samples=16, seed=2)
    assert r.mean("spearman_abs")[-1] > 0.5 and control["spearman_abs"] > 0.5        # the confound
    assert abs(r.mean("spearman_abs")[-1] - control["spearman_abs"]) < 0.2
    assert r.mean("spearman_positive")[-1] < r.mean("spearman_abs")[-1] - 0.2
    # spearman_positive is Spearman of max(R, 0), per sample (scipy as the independent computation)
    a, b = rng.normal(size=(3, 40)), rng.normal(size=(3, 40))
    ours = map_similarity(a, b, "spearman_positive")
    ref = [stats.spearmanr(np.maximum(u, 0), np.maximum(v, 0))[0] for u, v in zip(a, b)]
    np.testing.assert_allclose(ours, ref, rtol=1e-12)
    # the control's pair is the cascade's copy (seed) and one with seed + 1000: recomputed by hand
    from seis_keras.explain.metrics import randomised_cascade
    copies = []
    for s in (2, 1002):
        for _, clone in randomised_cascade(model, ["logits", "fc1"], seed=s):
            pass
        copies.append(grad_x_input(clone, X))
    assert control["spearman"] == pytest.approx(float(map_similarity(*copies, "spearman").mean()), abs=1e-12)
    # the verdict reads the configured measure
    s_abs, s_pos = TrustSettings(), TrustSettings(randomisation_similarity="spearman_positive")
    assert judge("g", randomisation=r, settings=s_abs).checks["randomisation"].verdict == "fail"
    v = judge("g", randomisation=r, settings=s_pos).checks["randomisation"]
    assert v.verdict == "pass" and "Spearman R⁺" in v.rule


def test_assess_carries_the_two_copies_control_into_the_result_and_the_table(case):
    from seis_keras.explain.trust_checks import randomisation_control

    model, X = case
    s = TrustSettings(score="logit", steps=5, random_orders=2, randomisation_samples=8)
    r = assess("|x|", model, X, abs_input, class_index=1, settings=s)
    # |x| is the same map for any weights: both similarities are exactly 1, and the table says so
    assert r.randomisation.control == {"layer": "fc1", "spearman_abs": 1.0, "spearman": 1.0, "spearman_positive": 1.0}
    assert "1.00 (fc1; two random copies 1.00)" in trust_table([r])
    g = assess("gxi", model, X, grad_x_input, class_index=1, settings=s)
    assert g.randomisation.control == pytest.approx(
        {"layer": "fc1", **randomisation_control(model, X, grad_x_input, layers=["logits", "fc1"], samples=8, seed=0)})
    assert g.to_dict()["randomisation_control"]["layer"] == "fc1"
    # the control runs down to the verdict layer, not the cascade's end
    top = assess("gxi", model, X, grad_x_input, class_index=1,
                 settings=TrustSettings(score="logit", steps=5, random_orders=2, randomisation_samples=8,
                                        randomisation_layer="logits"))
    assert top.randomisation.control["layer"] == "logits" and "(logits; two random copies" in trust_table([top])
    off = assess("gxi", model, X, grad_x_input, class_index=1,
                 settings=TrustSettings(score="logit", steps=5, random_orders=2, randomisation_samples=8,
                                        randomisation_control=False))
    assert off.randomisation.control is None and "two random copies" not in trust_table([off]).splitlines()[2]
