"""The detector's explanation sections on constructed models with known answers (issues 13, 15.12).

The quick-path test (test_detector.py) checks the section's wiring on a tiny trained model, where
no method need pass (it learns the amplitude contrast, not P and S); here the verdict logic of the
recipe's own functions (masks, the class explained, the settings from ``[trust]``) is checked where
the answer is known, and the last test trains the quick profile's model A, on which a method must
pass every check (issue 13's acceptance).
"""
import numpy as np
import pytest
from tensorflow import keras

from seis_keras.explain.optimal_input import optimal_input
from seis_keras.explain.trust import LocalisationResult, RandomisationResult, TrustSettings, judge
from seis_keras.recipes.config import load_config
from seis_keras.recipes.detector.backward_optimisation import bo_settings
from seis_keras.recipes.detector.config import DetectorConfig
from seis_keras.recipes.detector.recommended import comparison_method, frequency_summary
from seis_keras.recipes.detector.trust import (Trust, assess_methods, compared_methods, p_window_mask, real_localisation,
                                               settings_of, window_mask)

T, C = 500, 3
WINDOW = (150, 250)  # the constructed "P-S window" the model looks at


def _model(looks_everywhere: bool) -> keras.Model:
    """logit = sum over time (and a |x|-like pair of conv channels) of w_t * relu(±x), w_t = 0 outside WINDOW."""
    inp = keras.Input((T, C))
    h = keras.layers.Conv1D(2 * C, 1, name="conv1")(inp)
    h = keras.layers.Activation("relu")(h)
    h = keras.layers.Flatten()(h)
    out = keras.layers.Dense(1, name="logits")(h)
    model = keras.Model(inp, out)
    k = np.concatenate([np.eye(C), -np.eye(C)], axis=1)[None]  # relu(x), relu(-x) per component
    model.get_layer("conv1").set_weights([k.astype(np.float32), np.zeros(2 * C, np.float32)])
    w = np.zeros((T, 2 * C), np.float32)
    w[slice(None) if looks_everywhere else slice(*WINDOW)] = 1.0
    model.get_layer("logits").set_weights([w.reshape(-1, 1), np.zeros(1, np.float32)])
    return model


def test_the_verdict_finds_the_model_that_looks_at_the_window_and_flags_the_one_that_does_not():
    cfg = load_config(DetectorConfig, "detector", "quick", [
        "trust.randomisation_layers=['logits', 'conv1']", "trust.randomisation_layer=logits",
        "trust.randomisation_samples=8", "trust.n_samples=16", "trust.faithfulness_samples=16"])
    settings = settings_of(cfg)
    assert (settings.randomisation_layer, settings.randomisation_max, settings.localisation_min_ratio) == (
        "logits", 0.3, 1.8)
    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal((16, T, C))).astype(np.float32)
    # no amplitude cue: the window is where the model looks, not where the input is large (a map that
    # follows |x| would survive the randomisation of the logits)
    mask = window_mask(T, np.full(16, WINDOW[0]), np.full(16, WINDOW[1] - 1))
    methods = {"gradient_x_input": "gradient_x_input"}
    _, good = assess_methods(methods, _model(False), x, mask, settings, None, log=lambda *_: None)
    r = good["gradient_x_input"]
    assert r.verdict == "trusted", r.rule
    assert r.checks["localisation"].numbers["mass_accuracy"] == pytest.approx(1.0)
    assert r.checks["localisation"].numbers["uniform_share"] == pytest.approx(0.2)
    _, bad = assess_methods(methods, _model(True), x, mask, settings, None, log=lambda *_: None)
    r = bad["gradient_x_input"]
    assert r.checks["localisation"].verdict == "fail" and "localisation" in r.verdict
    assert r.checks["localisation"].numbers["mass_accuracy"] == pytest.approx(0.2, abs=0.03)


def test_real_window_localisation_counts_the_mass_in_p_minus_1_to_p_plus_12_s():
    fs, p = 20.0, np.array([100, 140])
    m = p_window_mask(T, p, fs, 1.0, 12.0)
    assert m.sum(axis=1).tolist() == [261, 261] and m[0, 80] and not m[0, 79] and m[0, 340] and not m[0, 341]
    maps = np.zeros((2, T, C))
    maps[0, 90:300, 0] = 1.0      # inside
    maps[1, :60, 1] = 1.0         # before P - 1 s: outside
    maps[1, 200, 2] = 3.0         # inside: 3 of 63
    q = real_localisation(maps, p, fs, 1.0, 12.0)
    assert q["mass_accuracy"] == pytest.approx((1.0 + 3 / 63) / 2)
    assert q["uniform_share"] == pytest.approx(261 / 500) and q["pointing_game"] == pytest.approx(1.0)


def test_the_compared_methods_are_the_papers_rules_then_the_configured_ones():
    cfg = load_config(DetectorConfig, "detector", "full", ["lrp.stabilised=false"])
    methods = compared_methods(cfg)
    assert list(methods)[:4] == ["beta_0", "beta_0.5", "beta_1", "epsilon"]
    assert methods["beta_0.5"] == "lrp.alpha_beta(beta=0.5, bias=false, stabilised=false, epsilon=1e-06)"
    assert methods["epsilon"] == "lrp.epsilon(epsilon=1e-06, bias=false, relative=false)"
    assert len(methods) == 4 + len(cfg.trust.methods)
    assert "integrated_gradients(steps=32, baseline=0.0, rule=riemann_trapezoid)" in methods.values()


def test_backward_optimisation_is_the_authors_plain_sgd_with_lr_6_by_default():
    """One step from zeros on a linear logit z = w.x + b is x1 = 6 (1 - sigmoid(b)) w (SGD on -BCE); Adam's first
    step would be ~lr * sign(w) whatever the gradient's size."""
    b = load_config(DetectorConfig, "detector", "full").bo
    assert (b.optimizer, b.learning_rate, b.momentum, b.real_init_learning_rate, b.objective, b.weight_decay) == (
        "sgd", 6.0, 0.0, 6.0, "loss", 1e-4)
    inp = keras.Input((8, 1))
    model = keras.Model(inp, keras.layers.Dense(1)(keras.layers.Flatten()(inp)))
    w = np.linspace(-0.02, 0.03, 8).astype(np.float32)
    model.layers[-1].set_weights([w[:, None], np.array([0.5], np.float32)])
    x1, loss = optimal_input(model, 1, **{**bo_settings(b), "steps": 1})
    expected = 6.0 * (1 - 1 / (1 + np.exp(-0.5))) * w
    np.testing.assert_allclose(x1[0, :, 0], expected, rtol=1e-5, atol=1e-7)
    # from a real sample, PyTorch's SGD(lr=6, weight_decay=1e-4) step: x1 = x0 - 6 (1e-4 x0 - dlog sigmoid(z)/dx)
    x0 = np.linspace(-1, 1, 8).astype(np.float32)[None, :, None]
    z0 = float(w @ x0[0, :, 0]) + 0.5
    x1r, _ = optimal_input(model, 1, init=x0, **{**bo_settings(b), "steps": 1})
    np.testing.assert_allclose(x1r[0, :, 0], x0[0, :, 0] - 6.0 * (1e-4 * x0[0, :, 0] - (1 - 1 / (1 + np.exp(-z0))) * w),
                               rtol=1e-5, atol=1e-7)
    assert loss[1, 0] < loss[0, 0] == pytest.approx(np.log1p(np.exp(-0.5)), rel=1e-5)
    adam, _ = optimal_input(model, 1, **{**bo_settings(load_config(DetectorConfig, "detector", "full", [
        "bo.optimizer=adam", "bo.learning_rate=0.01"]).bo), "steps": 1})
    assert not np.allclose(adam[0, :, 0], expected, atol=1e-4)


def test_relevance_spectra_of_a_linear_model_put_its_relevance_at_the_frequency_it_weighs():
    """Gradient x input of a linear logit <w, x> in the frequency domain (DFT-LRP) is Re(X_f conj(W_f)): all of it
    at 8 Hz when w is an 8 Hz tone, none above the 5 Hz split when w is a 1 Hz tone; the input is half and half."""
    fs, t = 20.0, np.arange(T) / 20.0
    high, low = np.sin(2 * np.pi * 8.0 * t + 0.3), np.sin(2 * np.pi * 1.0 * t + 0.7)
    x = (high + low)[None, :, None].repeat(C, axis=2)
    maps = {"w at 8 Hz": x * high[None, :, None], "w at 1 Hz": x * low[None, :, None]}
    freqs, curves, shares = frequency_summary(maps, x, fs, 5.0)
    assert freqs[-1] == 10.0 and curves["w at 8 Hz"].argmax() == np.argmin(np.abs(freqs - 8.0))
    assert curves["w at 1 Hz"].argmax() == np.argmin(np.abs(freqs - 1.0))
    assert shares["w at 8 Hz"]["relevance"] == pytest.approx(1.0, abs=1e-4)
    assert shares["w at 1 Hz"]["relevance"] == pytest.approx(0.0, abs=1e-4)
    assert shares["w at 8 Hz"]["input"] == pytest.approx(0.5, abs=1e-3)
    assert shares["w at 8 Hz"]["uniform"] == pytest.approx(np.mean(np.fft.rfftfreq(T, 1 / fs)[1:] >= 5.0))


def test_without_a_trusted_method_the_comparison_is_the_least_failing_other_method_labelled_flagged():
    def result(name, sim, mass):
        rand = RandomisationResult(["logits"], {"spearman_abs": np.array([[sim]]), "spearman": np.array([[sim]])})
        loc = LocalisationResult(np.array([mass]), np.array([True]), np.array([0.4]))
        return judge(name, randomisation=rand, localisation=loc, settings=TrustSettings(required=("randomisation",),
                                                                                        localisation_min_ratio=1.8))
    results = {"beta_0": result("beta_0", 0.9, 0.8), "a": result("a", 0.5, 0.9), "b": result("b", 0.4, 0.5),
               "c": result("c", 0.6, 0.9)}
    trust = Trust({n: n for n in results}, results, None, "beta_0", None, None, {}, {})
    name, role = comparison_method(trust)
    assert name == "a" and role.startswith("flagged")  # b fails two checks, c has a higher similarity
    results["d"] = result("d", 0.1, 0.9)
    trust = Trust({n: n for n in results}, results, "d", "beta_0", None, None, {}, {})
    assert comparison_method(trust) == ("d", "recommended (trusted)") and results["d"].trusted


def test_a_method_passes_every_check_on_a_detector_trained_on_the_built_in_data(tmp_path):
    """Issue 13's acceptance on a trained detector: model A of the quick profile's data and training (one run).

    The γ/z^B composite and occlusion must pass every check, and on the
    real earthquakes of detector_real_dev (evaluation only) put >= 0.75 of their positive relevance in
    [P - 1 s, P + 12 s] (uniform 0.52). A tinier model (800 windows, 6-15 epochs) learns the amplitude
    contrast of max-normalised windows (its occlusion evidence lies outside P-S), so it is not used here.
    """
    from seis_keras.explain.lrp import LRPSession
    from seis_keras.recipes.detector.data import load_data
    from seis_keras.recipes.detector.real_data import eval_windows
    from seis_keras.recipes.detector.study import input_contract
    from seis_keras.recipes.detector.training import train_runs
    from seis_keras.recipes.detector.trust import trust_section
    from seis_keras.recipes.runner import RunFolder
    from tests.conftest import SHARED_DATA

    composite = ("lrp.composite(dense=epsilon(epsilon=0.25, relative=true), conv=gamma(gamma=0.25), "
                 "input=zbox(low=-1, high=1))")
    cfg = load_config(DetectorConfig, "detector", "quick", [
        "train.runs=1", "lrp.betas=[0.0]", "lrp.epsilon_rule=false", "trust.n_samples=40",
        "trust.randomisation_samples=6", "trust.steps=10", "trust.faithfulness_samples=24",
        f"trust.methods=['{composite}', 'occlusion(mask=20, stride=10, score=logit)']"])
    contract = input_contract(cfg, built_in=True)
    real_store = SHARED_DATA / "detector_real_dev"
    with RunFolder("detector", tmp_path) as folder:
        data = load_data(cfg, contract, folder)
        training = train_runs(data, cfg, folder)
        real = None
        if real_store.is_dir():
            x, y, p = eval_windows(real_store, contract)
            keep = (y == 1) & np.isfinite(p)
            real = (x[keep], p[keep])
        with LRPSession(training.reference.h5_path) as session:
            t = trust_section(data, training, cfg, folder, session, real)
    verdicts = {name: r.verdict for name, r in t.results.items()}
    assert list(verdicts) == ["beta_0", "LRP composite (dense=ε (ε=0.25, relative=true), conv=γ, input=zbox "
                              "(low=-1.0, high=1.0))", "occlusion (mask=20, stride=10, score=logit)"]
    paper, comp, occ = t.results.values()
    # (the paper's αβ β = 0 keeps 0.48 of its positive-evidence ranking on the recipe's model A, but its verdict
    # changed when other tests ran first in the same process: not asserted here)
    assert comp.trusted and occ.trusted, verdicts
    assert t.headline == comp.method          # best trusted: the better localisation of the two
    assert comp.checks["localisation"].numbers["mass_accuracy"] >= 0.7
    # the |R| confound beside it: two independent re-initialisations are about as similar as trained vs random
    r = comp.randomisation
    assert r.mean("spearman_abs")[r.layers.index("conv4")] > 0.3 and r.control["spearman_abs"] > 0.3
    if real is not None:
        q = t.metrics["real_windows"]["methods"][comp.method]
        assert q["n_samples"] == len(real[0]) and q["mass_accuracy"] >= 0.75 > q["uniform_share"] + 0.2
