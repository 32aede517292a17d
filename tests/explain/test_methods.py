"""The method vocabulary: parsing, validation messages, cheap import, explain() dispatch, the CLI flag."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from seis_keras.explain.methods import (ALIASES, LAYER_RULES, METHODS, NAMED_COMPOSITES, MethodSpec, explain,
                                        parse_method)

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_are_filled_and_text_round_trips():
    spec = parse_method("lrp.alpha_beta(beta=0.5)")
    assert spec.name == "lrp.alpha_beta" and spec.backend == "lrp"
    assert spec.as_dict() == {"beta": 0.5, "bias": False, "stabilised": False, "epsilon": 1e-6}
    assert spec.label == "LRP-αβ (β=0.5)"
    assert parse_method(spec.text) == spec and parse_method(spec) is spec
    assert parse_method("lrp.epsilon(epsilon=1e-6, bias=false)")["bias"] is False
    assert parse_method("lrp.epsilon(bias=False)") == parse_method("lrp.epsilon(bias=false)")  # Python or TOML
    assert parse_method("smoothgrad(samples=50, noise=0.2)").as_dict() == {"samples": 50, "noise": 0.2,
                                                                           "absolute": False}
    assert parse_method("integrated_gradients(steps=64)")["steps"] == 64
    assert parse_method("saliency").backend == "gradient" and parse_method("saliency").params == ()
    for name in METHODS:  # every method parses bare and round-trips
        assert parse_method(parse_method(name).text) == parse_method(name)
    for old, new in ALIASES.items():
        assert parse_method(old) == parse_method(new)


def test_composites_nest_layer_rules():
    spec = parse_method("lrp.composite(dense=epsilon(epsilon=0.25, relative=true), conv=gamma, "
                        "input=zbox(low=-1, high=[1, 2, 3]))")
    dense, conv, inp = spec["dense"], spec["conv"], spec["input"]
    assert dense == MethodSpec("epsilon", (("epsilon", 0.25), ("bias", True), ("relative", True)), layer_rule=True)
    assert conv.name == "gamma" and conv["gamma"] == 0.25
    assert inp["low"] == -1.0 and inp["high"] == (1.0, 2.0, 3.0)
    assert parse_method(spec.text) == spec
    default = parse_method("lrp.composite")
    assert default["input"].name == "zbox" and default["input"]["low"] is None  # data range at analysis time
    assert parse_method("lrp.composite(input=none)")["input"] is None
    quoted = parse_method('lrp.composite(conv="alpha_beta(beta=1)")')  # a TOML string inside the text
    assert quoted["conv"]["beta"] == 1.0


def test_named_composites_expand_to_their_rules():
    box = parse_method("lrp.epsilon_gamma_box(low=-1, high=1, gamma=0.5)").expanded()
    assert box.name == "lrp.composite"
    assert box["conv"]["gamma"] == 0.5 and box["input"]["low"] == -1.0 and box["dense"]["epsilon"] == 1e-6
    flat = parse_method("lrp.sequential_preset_a_flat").expanded()
    assert flat["dense"]["epsilon"] == 0.1 and flat["conv"]["bias"] is True and flat["input"].name == "flat"
    assert parse_method("lrp.epsilon_plus").expanded()["input"] is None
    for name in NAMED_COMPOSITES:
        assert parse_method(name).expanded().name == "lrp.composite"


@pytest.mark.parametrize("text, message", [
    ("lrp.eps", r"unknown method 'lrp.eps' \(allowed: lrp.epsilon, lrp.alpha_beta"),
    ("epsilon", r"did you mean lrp.epsilon\?"),
    ("lrp.epsilon(eps=1)", r"unknown parameter 'eps' for lrp.epsilon \(allowed: epsilon, bias, relative\)"),
    ("lrp.epsilon(epsilon=-1)", r"parameter 'epsilon' must be > 0, got -1.0"),
    ("lrp.epsilon(epsilon=inf)", r"parameter 'epsilon' must be finite"),
    ("lrp.epsilon(bias=1)", r"parameter 'bias' must be true or false, got 1"),
    ("lrp.alpha_beta(beta=-0.5)", r"parameter 'beta' must be >= 0"),
    ("lrp.alpha_beta(beta=1, stabilised=true, bias=true)", r"has no bias term"),
    ("lrp.composite(conv=zbox)", r"rule 'zbox' is for the input layer only"),
    ("lrp.composite(dense=foo)", r"unknown dense rule 'foo' \(allowed: epsilon, alpha_beta, z_plus, gamma"),
    ("lrp.composite(dense=none)", r"the dense slot needs a rule"),
    ("lrp.composite(foo=1)", r"unknown parameter 'foo' for lrp.composite \(allowed: dense, conv, input\)"),
    ("lrp.composite(input=zbox(low=[1, x]))", r"parameter 'low' must be a finite number, a list of them"),
    ("smoothgrad(samples=2.5)", r"parameter 'samples' must be a whole number"),
    ("smoothgrad(samples=0)", r"parameter 'samples' must be >= 1"),
    ("integrated_gradients(rule=simpson)", r"must be one of riemann_trapezoid, riemann_right"),
    ("lrp.epsilon(1e-6)", r"write parameters as name=value"),
    ("lrp.epsilon(epsilon=1, epsilon=2)", r"parameter 'epsilon' given twice"),
    ("lrp.epsilon(", r"not readable"),
    ("__import__('os').system('true')", r"expected a name like lrp.epsilon"),
    ("", r"expected text such as 'lrp.epsilon'"),
])
def test_bad_methods_give_one_line_errors(text, message):
    with pytest.raises(ValueError, match=message) as info:
        parse_method(text)
    assert "\n" not in str(info.value)


def test_replace_validates_like_parsing():
    spec = parse_method("lrp.epsilon")
    assert spec.replace(epsilon=0.5)["epsilon"] == 0.5
    with pytest.raises(ValueError, match="unknown parameter 'beta'"):
        spec.replace(beta=1.0)
    with pytest.raises(ValueError, match="must be > 0"):
        spec.replace(epsilon=0.0)


def test_parsing_imports_no_tensorflow():
    code = ("import sys; from seis_keras.explain.methods import parse_method; "
            "parse_method('lrp.composite(conv=gamma, input=zbox(low=-1, high=1))'); "
            "import seis_keras.explain; seis_keras.explain.parse_method('smoothgrad'); "
            "print('tensorflow' in sys.modules, 'innvestigate' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]


def test_every_layer_rule_has_a_label():
    for name in LAYER_RULES:
        text = f"lrp.composite(input={name}(low=-1, high=1))" if name == "zbox" else f"lrp.composite(conv={name})"
        assert parse_method(text).label.startswith("LRP composite (")


# ---------------------------------------------------------------- explain() on the gradient methods
def _model(seed=0):
    from tensorflow import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input((30, 2))
    h = keras.layers.Activation("tanh")(keras.layers.Conv1D(3, 5, name="conv1")(inp))
    return keras.Model(inp, keras.layers.Dense(3, name="logits")(keras.layers.Flatten()(h)))


def test_explain_dispatches_the_gradient_methods():
    from seis_keras.explain import saliency as sal_fn
    from seis_keras.explain.saliency import gradient_x_input, integrated_gradients, smoothgrad

    model = _model()
    X = np.random.default_rng(0).normal(size=(4, 30, 2)).astype(np.float32)
    g = sal_fn(model, X, class_index=[0, 1, 2, 0])
    np.testing.assert_array_equal(explain(model, X, "gradient", class_index=[0, 1, 2, 0]), g)
    np.testing.assert_array_equal(explain(model, X, "saliency", class_index=[0, 1, 2, 0]), np.abs(g))
    np.testing.assert_array_equal(explain(model, X, "gradient_x_input"), gradient_x_input(model, X))
    np.testing.assert_array_equal(explain(model, X, "integrated_gradients(steps=8, rule=riemann_right)"),
                                  integrated_gradients(model, X, steps=8, rule="riemann_right"))
    a = explain(model, X, "smoothgrad(samples=4, noise=0.1)", seed=3)
    np.testing.assert_array_equal(a, smoothgrad(model, X, samples=4, noise=0.1, seed=3))
    assert np.abs(a - explain(model, X, "smoothgrad(samples=4, noise=0.1)", seed=4)).max() > 0
    with pytest.raises(ValueError, match="unknown method"):
        explain(model, X, "deep_taylor")


def test_cli_method_flag_uses_the_vocabulary(capsys):
    from seis_keras import cli
    from seis_keras.commands import EXPLAIN_METHODS

    assert EXPLAIN_METHODS == tuple(METHODS)
    with pytest.raises(SystemExit) as info:
        cli.main(["explain", "--model", "m.h5", "--data", "store", "--method", "lrp.epsilon(eps=1)"])
    assert info.value.code == 2
    assert "unknown parameter 'eps' for lrp.epsilon" in capsys.readouterr().err
