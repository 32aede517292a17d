"""LRP composites and the rules beyond innvestigate's, in the worker: conservation, numpy reference, innvestigate.

Three worker sessions (one per architecture, every method built in the same worker):
a bias-free net with padding before its first conv (relevance must be conserved by the
bounded / flat / w^2 input rules), a net with biases, BatchNorm, MaxPool and GAP (the
worker must equal the numpy reference rule by rule), and a Dense-only net (the input
rule lands on a Dense layer). A subprocess then checks our per-layer map against
innvestigate's own preset and input-rule classes.
"""
import concurrent.futures
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tensorflow import keras

from seis_keras.explain.lrp import LRPSession
from seis_keras.explain.lrp_reference import lrp_reference

L = keras.layers
ROOT = Path(__file__).resolve().parents[2]


def _padded_zero_bias(seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((20, 2))
    x = L.ZeroPadding1D(2)(inp)
    x = L.Activation("relu")(L.Conv1D(4, 5, strides=2, use_bias=False, name="conv1")(x))
    x = L.ZeroPadding1D(1)(x)
    x = L.Activation("relu")(L.Conv1D(5, 3, use_bias=False, name="conv2")(x))
    x = L.Dense(6, use_bias=False, activation="relu", name="fc1")(L.Flatten()(x))
    return keras.Model(inp, L.Dense(2, use_bias=False, name="logits")(x))


def _biased_bn(seed=1):
    """No padding before conv1: innvestigate's own input-layer rules apply here too."""
    keras.utils.set_random_seed(seed)
    b = keras.initializers.RandomNormal(stddev=0.3, seed=seed)
    inp = keras.Input((30, 3))
    x = L.Conv1D(5, 5, bias_initializer=b, name="conv1")(inp)
    x = L.BatchNormalization(name="bn1")(x)
    x = L.Activation("relu")(L.MaxPooling1D(3, 1)(x))
    x = L.Activation("relu")(L.Conv1D(6, 3, strides=2, bias_initializer=b, name="conv2")(x))
    x = L.Dropout(0.3)(L.GlobalAveragePooling1D()(x))
    model = keras.Model(inp, L.Dense(3, bias_initializer=b, name="logits")(x))
    rng = np.random.default_rng(seed)
    bn = model.get_layer("bn1")
    bn.set_weights([rng.uniform(0.3, 2.0, w.shape) if "variance" in w.name else rng.normal(0, 0.5, w.shape)
                    for w in bn.weights])
    return model


def _dense_only(seed=2):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((7,))
    x = L.Activation("relu")(L.Dropout(0.2)(L.Dense(8, name="fc1")(inp)))
    x = L.Activation("relu")(L.Dense(5, name="fc2")(x))
    return keras.Model(inp, L.Dense(2, name="logits")(x))


RNG = np.random.default_rng(5)
DATA = {"padded": RNG.normal(size=(6, 20, 2)).astype("float32"),
        "biased": RNG.normal(size=(6, 30, 3)).astype("float32"),
        "dense": RNG.normal(size=(8, 7)).astype("float32")}
FACTORIES = {"padded": _padded_zero_bias, "biased": _biased_bn, "dense": _dense_only}


@pytest.fixture(scope="module")
def sessions():
    models = {name: f() for name, f in FACTORIES.items()}
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(LRPSession, m, start_timeout=900, batch_timeout=900)
                   for name, m in models.items()}
        opened = {name: (models[name], f.result(timeout=900)) for name, f in futures.items()}
    yield opened
    for _, session in opened.values():
        session.close()


def _rel(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - b)) / np.max(np.abs(b)))


CONSERVING = [  # on the padded bias-free net: sum of relevance = logit (the first conv behind padding)
    "lrp.composite(dense=epsilon(epsilon=1e-9), conv=gamma(gamma=0.25, bias=false), input=zbox(low=-4, high=4))",
    "lrp.epsilon_plus_flat(epsilon=1e-9)",
    "lrp.composite(dense=epsilon(epsilon=1e-9), conv=alpha_beta(beta=1, stabilised=true, epsilon=1e-9), "
    "input=w_square)",
]


@pytest.mark.parametrize("method", CONSERVING)
def test_composites_conserve_relevance_behind_padding(sessions, method):
    model, session = sessions["padded"]
    X = DATA["padded"]
    R = session.analyze(X, method)
    top = model.predict(X, verbose=0).max(axis=1)
    np.testing.assert_allclose(R.sum(axis=(1, 2)), top, rtol=2e-5)
    assert _rel(R, lrp_reference(model, X, method)) < 1e-5


def test_alpha_beta_conservation_needs_the_stabilised_rule(sessions):
    """beta = 1 without stabilisation gives alpha R at one-sign neurons: the sum drifts from the logit."""
    model, session = sessions["padded"]
    X = DATA["padded"]
    top = model.predict(X, verbose=0).max(axis=1)
    plain = session.analyze(X, "lrp.composite(dense=epsilon(epsilon=1e-9), conv=alpha_beta(beta=1), input=none)")
    assert np.max(np.abs(plain.sum(axis=(1, 2)) / top - 1)) > 1e-2
    assert _rel(plain, lrp_reference(model, X, "lrp.composite(dense=epsilon(epsilon=1e-9), "
                                               "conv=alpha_beta(beta=1), input=none)")) < 1e-5


BIASED = [
    "lrp.epsilon(epsilon=0.25, relative=true)",
    "lrp.gamma(gamma=0.25)",
    "lrp.alpha_beta(beta=0.5, stabilised=true)",
    "lrp.epsilon_gamma_box(low=-3, high=3)",
    "lrp.sequential_preset_a_flat",
    "lrp.composite",  # the default: relative epsilon / gamma / zbox from the data range
]


@pytest.mark.parametrize("method", BIASED)
def test_rules_match_the_numpy_reference_with_biases_and_batchnorm(sessions, method):
    model, session = sessions["biased"]
    X = DATA["biased"]
    R = session.analyze(X, method)
    assert R.shape == X.shape and R.dtype == np.float32
    assert _rel(R, lrp_reference(model, X, method)) < 1e-5


def test_per_sample_neurons_and_the_default_bounds(sessions):
    model, session = sessions["biased"]
    X = DATA["biased"]
    neuron = np.array([0, 1, 2, 2, 1, 0])
    R = session.analyze(X, "lrp.gamma(gamma=0.5, bias=false)", neuron=neuron)
    assert _rel(R, lrp_reference(model, X, "lrp.gamma(gamma=0.5, bias=false)", neuron=neuron)) < 1e-5
    explicit = f"lrp.composite(input=zbox(low={float(X.min())!r}, high={float(X.max())!r}))"
    np.testing.assert_array_equal(session.analyze(X, "lrp.composite"), session.analyze(X, explicit))


@pytest.mark.parametrize("method", ["lrp.composite(input=zbox(low=-3, high=3))", "lrp.epsilon_plus_flat"])
def test_input_rule_on_a_dense_first_layer(sessions, method):
    model, session = sessions["dense"]
    X = DATA["dense"]
    R = session.analyze(X, method)
    assert _rel(R, lrp_reference(model, X, method)) < 1e-5
    # the input rule is really applied at fc1: without it the map differs
    assert _rel(session.analyze(X, method.replace("input=zbox(low=-3, high=3)", "input=none")
                                .replace("epsilon_plus_flat", "epsilon_plus")), R) > 1e-3


EQUIVALENCE = r"""
import json, sys
import numpy as np
from seis_keras.explain.lrp_worker import Worker
import innvestigate.analyzer as ia
import innvestigate.analyzer.relevance_based.relevance_rule as rrule
import innvestigate.backend.checks as ichecks
from innvestigate.analyzer.relevance_based.relevance_analyzer import LRP

class Eps01(rrule.EpsilonRule):
    def __init__(self, layer, state):
        super().__init__(layer, state, epsilon=0.1, bias=True)

out = {}
for name, path in (("biased", sys.argv[1]), ("padded", sys.argv[2])):
    w = Worker(path)
    X = np.random.default_rng(0).normal(size=(5,) + tuple(w.model.input_shape[1:])).astype("float32")
    idx = w.predict(X).argmax(axis=1)
    ours = lambda text: w.analyze(text, X, idx)[0]
    def innv(cls, **kw):
        a = cls(w.model, neuron_selection_mode="index", **kw)
        a.create_analyzer_model()
        return a.analyze(X, neuron_selection=idx)
    conditions = [(ichecks.is_dense_layer, Eps01), (ichecks.is_conv_layer, rrule.Alpha1Beta0Rule)]
    res = {"preset_a": (ours("lrp.sequential_preset_a"), innv(ia.LRPSequentialPresetA, epsilon=0.1)),
           "preset_a_flat": (ours("lrp.sequential_preset_a_flat"), innv(ia.LRPSequentialPresetAFlat, epsilon=0.1))}
    if name == "biased":
        base = "lrp.composite(dense=epsilon(epsilon=0.1), conv=alpha_beta(beta=0, bias=true), input={})"
        res["w_square"] = (ours(base.format("w_square")), innv(LRP, rule=list(conditions), input_layer_rule="WSquare"))
        res["zbox"] = (ours(base.format("zbox(low=-2.5, high=3)")), innv(LRP, rule=list(conditions),
                                                                         input_layer_rule=(-2.5, 3.0)))
    else:
        res["innvestigate_flat_is_plain_a"] = (innv(ia.LRPSequentialPresetAFlat, epsilon=0.1),
                                               innv(ia.LRPSequentialPresetA, epsilon=0.1))
    for key, (a, b) in res.items():
        out[f"{name}:{key}"] = float(np.max(np.abs(a - b)) / np.max(np.abs(b)))
print("RESULT " + json.dumps(out))
"""


def test_per_layer_map_equals_innvestigates_own_presets_and_input_rules(tmp_path):
    paths = []
    for name in ("biased", "padded"):
        path = tmp_path / f"{name}.h5"
        FACTORIES[name]().save(path, save_format="h5")
        paths.append(str(path))
    script = tmp_path / "equivalence.py"
    script.write_text(EQUIVALENCE)
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, str(script), *paths], capture_output=True, text=True, env=env,
                          timeout=900, cwd=tmp_path)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    diff = json.loads(lines[0][7:])
    for key in ("biased:preset_a", "biased:preset_a_flat", "biased:w_square", "biased:zbox", "padded:preset_a"):
        assert diff[key] < 1e-6, (key, diff)
    # innvestigate's is_input_layer does not look through ZeroPadding1D: its "flat" preset is
    # the plain one on a padded net, ours applies the flat rule at conv1
    assert diff["padded:innvestigate_flat_is_plain_a"] < 1e-6
    assert diff["padded:preset_a_flat"] > 1e-2
