"""An independent LRP oracle: innvestigate (our LRP path) against zennit (PyTorch).

Our numpy reference (``lrp_reference``) copies innvestigate's conventions, so it cannot catch a
convention that is wrong. zennit 0.5.1 is an implementation with its own rules, composites and
BatchNorm canonizer. Tiny variants of the detector (ZeroPadding + strided Conv1D, Flatten, Dense,
Dropout), Norcia (Conv1D -> BatchNorm -> MaxPool(3, stride 1) -> ReLU, GlobalAveragePooling,
Dropout) and subduction (Dense -> Dropout -> ReLU) models are built in Keras and as PyTorch twins
(``seis_keras.models.torch_ports``) with the same weights (random, signed biases, random BN
statistics) and signed inputs. innvestigate runs on the Keras model through the LRP worker (BN
folded by ``surgery.fold_batchnorm``) in float32; zennit on the twin in float64, BN merged by its
own canonizer. Relevance must agree to 1e-5 relative (max abs difference / max abs relevance; where
the problem itself is worse conditioned in float32, to twice zennit's own float32 error); where the
implementations differ, the difference is one of the conventions below, each tested on its own.

Conventions (innvestigate 2.1.2 = ours; Pytorch-LRP = moboehle/Pytorch-LRP, which Majstorovic et al.
2023 used for the detector's maps):

======================  ===============================  ==============================  ==========================
convention              innvestigate 2.1.2 (ours)        zennit 0.5.1                    Pytorch-LRP
======================  ===============================  ==============================  ==========================
epsilon denominator     z + eps*sign(z), sign(0) = +1    same                            z + eps*sign(z),
                                                                                         sign(0) = 0: R = 0 at z = 0
epsilon bias            in z; ``bias=False``: not        in z; ``zero_params="bias"``    never
alpha-beta split        sign of x*w, also at the input   same                            same
alpha-beta bias         ``bias=True``: the whole b in    b+ in z+, b- in z-              never
                        z+ and in z-; ``bias=False``:
                        none (the ``_IB`` rules)
alpha-beta stabiliser   none (exact 0 -> 1e-7)           eps*sign(z), eps 1e-6           eps*sign(z)
one-sign-only neuron    alpha*R (or -beta*R)             same                            R
BatchNorm               folded into the conv (exact)     canonizer (0.5.1 keeps eps:     relevance passes
                                                         x/sqrt(1+eps) per BN; fixed)    through
global average pool     z-rule (proportional)            Norm rule (proportional)        (not in the detector)
max pooling             winner takes all                 same (gradient)                 same
start                   the selected logit's value       what ``attr_output`` gives      winning output's value
sequential_preset_a     eps (with bias) at Dense,        = EpsilonPlus with the conv     -
                        alpha1beta0 whole-bias at conv   rule's bias convention changed
======================  ===============================  ==============================  ==========================

Tests by row: ``test_rules_match_zennit`` (epsilon with and without bias, alpha-beta beta 0 and 1
ignoring bias: the same conventions), ``test_alpha_beta_splits_by_sign_of_x_times_w``,
``test_alpha_beta_bias_convention``,
``test_alpha_beta_has_no_stabiliser``, ``test_one_sign_neurons_alpha_r_vs_pytorch_lrp_r``,
``test_epsilon_sign_of_zero``, ``test_zennit_batchnorm_merge_exact``,
``test_sequential_preset_a_is_epsilon_plus_with_whole_bias``. The innvestigate analyses run in one
:class:`LRPSession` (one worker) per model, which serves all of its rules;
``test_session_path_equals_lrp_analyzer`` ties that path to a separate ``LRPAnalyzer``. zennit-side rules that change a convention live in ``zennit_oracle.py``.
"""
import concurrent.futures
import importlib.metadata
from collections import OrderedDict

import numpy as np
import pytest

torch = pytest.importorskip("torch")
try:  # zennit is in the torch test extra (requirements/torch.txt); it imports torchvision
    from zennit.canonizers import SequentialMergeBatchNorm
    from zennit.composites import EpsilonPlus
    from zennit.rules import AlphaBeta, Epsilon
    from zennit.types import Convolution

    from tests.explain.zennit_oracle import (MergeBatchNormExact, PytorchLRPAlphaBeta, alpha_beta_whole_bias,
                                             channels_first, composite, pytorch_lrp_epsilon, rel, safe,
                                             tolerance, zennit_lrp)
except Exception as err:  # noqa: BLE001  (a torchvision that does not match torch raises RuntimeError)
    raise ImportError(f"tests/explain/test_lrp_oracle.py needs zennit and a torchvision that loads with "
                      f"torch {torch.__version__} (pip install -r requirements/torch.txt): {err}") from err

from tensorflow import keras  # noqa: E402

from seis_keras.explain.lrp import LRPAnalyzer, LRPSession, _rule_text  # noqa: E402
from seis_keras.models import get_model  # noqa: E402
from seis_keras.models import torch_ports  # noqa: E402

EPS = 1e-6  # the detector paper's epsilon
NORCIA_BLOCKS = ((4, 7, 1), (6, 5, 2))  # stride 1 and 2 (building innvestigate's alpha-beta costs ~2 s per block)


# ---------------------------------------------------------------- the three architectures
def _randomise(module, seed):
    """Weights ~ He normal, biases and BN means ~ N(0, 0.3) (signed), BN scales/variances ~ U(0.5, 1.5)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            if name.endswith(("running_var",)) or (name.startswith("bn") and name.endswith(".weight")):
                tensor.copy_(0.5 + torch.rand(tensor.shape, generator=gen))
            elif name.endswith(("running_mean", ".bias")):
                tensor.copy_(0.3 * torch.randn(tensor.shape, generator=gen))
            else:
                tensor.copy_(torch.randn(tensor.shape, generator=gen) * (2.0 / tensor[0].numel()) ** 0.5)
    return module.eval()


def _architectures():
    """name -> (keras model, torch twin (float64), X channels-last float32, neuron index per sample)."""
    rng = np.random.default_rng(0)
    specs = {
        "detector": (torch_ports.torch_detector(filters=4, n_conv_blocks=2, hidden_units=8, flat_length=8,
                                                dropout=0.2),
                     get_model("detector", input_length=32, filters=4, n_conv_blocks=2, hidden_units=8,
                               dropout=0.2),
                     torch_ports.port_detector_weights, (6, 32, 3), 1),
        "norcia": (torch_ports.torch_norcia(n_classes=3, blocks=NORCIA_BLOCKS),
                   get_model("norcia", n_classes=3, blocks=NORCIA_BLOCKS, input_length=40),
                   torch_ports.port_norcia_weights, (6, 40, 3), 3),
        "subduction": (torch_ports.torch_subduction(n_features=7, hidden_units=(10, 6)),
                       get_model("subduction", n_features=7, hidden_units=(10, 6)),
                       torch_ports.port_subduction_weights, (6, 7), 3),
    }
    out = {}
    for seed, (name, (twin, model, port, shape, n_out)) in enumerate(specs.items(), start=1):
        twin = _randomise(twin, seed)
        port(model, twin.state_dict())
        X = rng.normal(size=shape).astype("float32")
        out[name] = (model, twin.double(), X, np.arange(shape[0]) % n_out)
    return out


ZENNIT_RULES = {  # innvestigate rule key -> zennit composite with the same conventions
    "epsilon": lambda: composite(Epsilon(EPS)),
    "epsilon_ignore_bias": lambda: composite(Epsilon(EPS, zero_params="bias")),
    "alpha1beta0_ignore_bias": lambda: composite(AlphaBeta(1.0, 0.0, stabilizer=safe, zero_params="bias")),
    "alpha2beta1_ignore_bias": lambda: composite(AlphaBeta(2.0, 1.0, stabilizer=safe, zero_params="bias")),
}


# ---------------------------------------------------------------- innvestigate side
INNVESTIGATE_RULES = {  # key -> LRPAnalyzer settings
    "epsilon": dict(rule="epsilon", epsilon=EPS, bias=True),
    "epsilon_ignore_bias": dict(rule="epsilon", epsilon=EPS, bias=False),
    "alpha1beta0_ignore_bias": dict(rule="alpha_beta", beta=0.0, bias=False),
    "alpha1beta0_bias": dict(rule="alpha_beta", beta=0.0, bias=True),
    "alpha2beta1_ignore_bias": dict(rule="alpha_beta", beta=1.0, bias=False),
    "alpha2beta1_bias": dict(rule="alpha_beta", beta=1.0, bias=True),
    "sequential_preset_a": dict(rule="sequential_preset_a", epsilon=EPS),
}
# alpha1beta0 with bias at convolutions is already inside sequential_preset_a (detector, norcia):
# its separate job runs on the MLP only (each alpha-beta build costs ~3 s of CPU)
SKIPPED_JOBS = {"detector/alpha1beta0_bias", "norcia/alpha1beta0_bias"}


def _worker_config(rule, epsilon=EPS, beta=0.0, bias=True):
    """The config ``LRPAnalyzer`` sends its worker (index mode: one neuron per sample)."""
    return dict(rule=rule, epsilon=float(epsilon), beta=float(beta), bias=bool(bias), neuron_mode="index",
                disable_model_checks=False)


def _dense_net(w1, b1, w2):
    """Keras Dense(2) -> ReLU -> Dense(1) and its PyTorch twin (float64), weights in PyTorch layout."""
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, name="fc1"),
                              keras.layers.Activation("relu", name="relu1"), keras.layers.Dense(1, name="logits")])
    twin = torch.nn.Sequential(OrderedDict([("fc1", torch.nn.Linear(2, 2)), ("relu1", torch.nn.ReLU()),
                                            ("logits", torch.nn.Linear(2, 1))])).double()
    state = {"fc1.weight": np.array(w1, np.float32), "fc1.bias": np.array(b1, np.float32),
             "logits.weight": np.array([w2], np.float32), "logits.bias": np.zeros(1, np.float32)}
    twin.load_state_dict({k: torch.from_numpy(v.astype(np.float64)) for k, v in state.items()})
    return torch_ports.port_weights(model, state), twin.eval()


# one-sign neurons: x = (1, 2); fc1 rows (1, 1) [contributions 1, 2: positive only] and (2, -0.5)
# [2, -1: mixed]; h = (3, 1); logit = 1*3 + 0.5*1 = 3.5 [contributions 3, 0.5: positive only].
ONE_SIGN = dict(w1=[[1.0, 1.0], [2.0, -0.5]], b1=[0.0, 0.0], w2=[1.0, 0.5], x=[[1.0, 2.0]])
# sign(0): x = (0.5, 0.5); fc1 row (1, -1) with bias 1 is active (pre-activation 1) but its
# bias-free z is exactly 0; row (1, 2), bias 0: z = 1.5; logit = 1 + 1.5 = 2.5.
SIGN_ZERO = dict(w1=[[1.0, -1.0], [1.0, 2.0]], b1=[1.0, 0.0], w2=[1.0, 1.0], x=[[0.5, 0.5]])
SIGN_ZERO_EPS = 1e-3


@pytest.fixture(scope="module")
def oracle(tmp_path_factory):
    """Every innvestigate relevance — one :class:`LRPSession` (one worker) per model serving all
    its rules, the sessions run two at a time — and one separate LRPAnalyzer run; then the
    models and inputs they were run on."""
    folder = tmp_path_factory.mktemp("oracle")
    archs = _architectures()
    constructed = {name: _dense_net(spec["w1"], spec["b1"], spec["w2"])
                   for name, spec in (("one_sign", ONE_SIGN), ("sign_zero", SIGN_ZERO))}
    jobs: dict[str, list] = {}   # model path -> [(job name, method text, X, neuron)]
    for name, (model, _, X, neuron) in archs.items():
        path = str(folder / f"{name}.h5")
        model.save(path, save_format="h5")
        for key, settings in INNVESTIGATE_RULES.items():
            if f"{name}/{key}" not in SKIPPED_JOBS:
                jobs.setdefault(path, []).append((f"{name}/{key}", _method(**settings), X, neuron))
    for name, (model, _) in constructed.items():
        model.save(folder / f"{name}.h5", save_format="h5")
    jobs[str(folder / "one_sign.h5")] = [("one_sign", _method("alpha_beta", beta=1.0, bias=False),
                                          np.array(ONE_SIGN["x"], np.float32), np.zeros(1, int))]
    jobs[str(folder / "sign_zero.h5")] = [("sign_zero", _method("epsilon", SIGN_ZERO_EPS, bias=False),
                                           np.array(SIGN_ZERO["x"], np.float32), np.zeros(1, int))]

    def run_session(path):
        with LRPSession(path) as session:
            return {name: session.analyze(X, method, neuron=neuron) for name, method, X, neuron in jobs[path]}

    _, _, X, neuron = archs["norcia"]
    innvestigate = {}
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        analyzer_run = pool.submit(_analyzer_once, folder / "norcia.h5", X, neuron)
        for result in pool.map(run_session, list(jobs)):
            innvestigate.update(result)
        return dict(archs=archs, constructed=constructed, innvestigate=innvestigate,
                    analyzer=analyzer_run.result(timeout=900))


def _method(rule, epsilon=EPS, beta=0.0, bias=True) -> str:
    """The method text ``LRPAnalyzer(rule=..., epsilon=, beta=, bias=)`` runs."""
    return _rule_text(rule, float(epsilon), float(beta), bool(bias))


def _analyzer_once(path, X, neuron):
    with LRPAnalyzer(path, "epsilon", epsilon=EPS, neuron=0) as analyzer:
        return analyzer.analyze(X, neuron=neuron)


ARCHS = ("detector", "norcia", "subduction")


# ---------------------------------------------------------------- tests
def test_session_path_equals_lrp_analyzer(oracle):
    np.testing.assert_array_equal(oracle["analyzer"], oracle["innvestigate"]["norcia/epsilon"])


@pytest.mark.parametrize("name", ARCHS)
def test_twins_compute_the_same_logits(oracle, name):
    model, twin, X, _ = oracle["archs"][name]
    with torch.no_grad():
        expected = twin(channels_first(X)).numpy()
    assert rel(model(X, training=False).numpy(), expected) < 1e-5


@pytest.mark.parametrize("key", sorted(ZENNIT_RULES))
@pytest.mark.parametrize("name", ARCHS)
def test_rules_match_zennit(oracle, name, key):
    """Same conventions: epsilon with and without bias, alpha-beta (beta 0 and 1) ignoring biases."""
    _, twin, X, neuron = oracle["archs"][name]
    R = oracle["innvestigate"][f"{name}/{key}"]
    expected = zennit_lrp(twin, ZENNIT_RULES[key](), X, neuron)
    assert R.shape == X.shape
    assert rel(R, expected) < tolerance(twin, ZENNIT_RULES[key], X, neuron, expected)
    for other in ZENNIT_RULES:  # the agreement is specific to the rule: every other rule is far off
        if other != key:
            assert rel(oracle["innvestigate"][f"{name}/{other}"], expected) > 1e-2


@pytest.mark.parametrize("name", ARCHS)
def test_alpha_beta_splits_by_sign_of_x_times_w(oracle, name):
    """At the (signed) input layer innvestigate's alpha1beta0 counts x- * w- as activating, as
    zennit does (matched in test_rules_match_zennit); the classic z+ rule (x+ * w+ only) differs."""
    _, twin, X, neuron = oracle["archs"][name]
    classic = AlphaBeta(1.0, 0.0, stabilizer=safe, zero_params="bias")
    classic.input_modifiers[1] = torch.zeros_like  # drop the x- * w- branch
    classic_z_plus = zennit_lrp(twin, composite(classic), X, neuron)
    assert rel(oracle["innvestigate"][f"{name}/alpha1beta0_ignore_bias"], classic_z_plus) > 1e-2
    assert np.all(classic_z_plus[X < 0] == 0)  # classic z+ gives negative inputs nothing


@pytest.mark.parametrize("name, beta", [(name, 1.0) for name in ARCHS] + [("subduction", 0.0)])
def test_alpha_beta_bias_convention(oracle, name, beta):
    """innvestigate's ``bias=True`` adds the whole bias to z+ and z-; zennit adds b+ to z+ and b- to z-."""
    _, twin, X, neuron = oracle["archs"][name]
    R = oracle["innvestigate"][f"{name}/alpha{1 + beta:g}beta{beta:g}_bias"]
    native = zennit_lrp(twin, composite(AlphaBeta(1.0 + beta, beta, stabilizer=safe)), X, neuron)
    whole_bias = lambda: composite(alpha_beta_whole_bias(1.0 + beta, beta))  # noqa: E731
    expected = zennit_lrp(twin, whole_bias(), X, neuron)
    assert rel(R, native) > 1e-2  # the conventions differ on these models (signed biases) ...
    assert rel(R, expected) < tolerance(twin, whole_bias, X, neuron, expected)  # ... by the bias alone


@pytest.mark.parametrize("name", ARCHS)
def test_sequential_preset_a_is_epsilon_plus_with_whole_bias(oracle, name):
    """Preset A (epsilon at Dense, alpha1beta0 at conv) = zennit's EpsilonPlus composite, once its
    conv rule takes innvestigate's bias convention and no stabiliser."""
    _, twin, X, neuron = oracle["archs"][name]
    R = oracle["innvestigate"][f"{name}/sequential_preset_a"]
    native = zennit_lrp(twin, EpsilonPlus(epsilon=EPS, canonizers=[MergeBatchNormExact()]), X, neuron)
    adjusted = lambda: EpsilonPlus(epsilon=EPS, stabilizer=safe, canonizers=[MergeBatchNormExact()],  # noqa: E731
                                   layer_map=[(Convolution, alpha_beta_whole_bias(1.0, 0.0))])
    expected = zennit_lrp(twin, adjusted(), X, neuron)
    assert rel(R, expected) < tolerance(twin, adjusted, X, neuron, expected)
    if name == "subduction":  # no convolution: EpsilonPlus is epsilon everywhere, as is preset A
        assert rel(R, native) < 1e-5
        assert rel(R, oracle["innvestigate"]["subduction/epsilon"]) < 1e-6
    else:
        assert rel(R, native) > 1e-2


def test_alpha_beta_has_no_stabiliser(oracle):
    """innvestigate's alpha-beta is the eps -> 0 limit of the eps*sign(z) stabilised rule (zennit's and
    Pytorch-LRP's): the difference falls in proportion to eps, and at the detector paper's eps = 1e-6
    it is still larger than the 1e-5 agreement of the other rules (a neuron whose z- is small
    against eps loses its inhibitory share)."""
    _, twin, X, neuron = oracle["archs"]["detector"]
    R = oracle["innvestigate"]["detector/alpha2beta1_ignore_bias"]
    diffs = [rel(R, zennit_lrp(twin, composite(AlphaBeta(2.0, 1.0, stabilizer=eps, zero_params="bias")),
                                X, neuron)) for eps in (1e-4, EPS)]
    assert 50 < diffs[0] / diffs[1] < 200  # linear in eps
    assert diffs[1] > 1e-5
    print(f"detector alpha2beta1: an eps*sign(z) stabiliser with eps={EPS:g} changes relevance by {diffs[1]:.3g}")


def test_one_sign_neurons_alpha_r_vs_pytorch_lrp_r(oracle):
    """A neuron whose contributions all have one sign: innvestigate (and zennit) pass alpha*R,
    Pytorch-LRP passes R. Hand computation for ONE_SIGN with beta = 1 (alpha = 2), R_logit = 3.5:
    innvestigate: R_h = 2*(3, 0.5)/3.5*3.5 = (6, 1); R_x = 2*(1, 2)/3*6 + [2*(2, 0)/2 - (0, -1)/(-1)]*1 = (6, 7);
    Pytorch-LRP: R_h = (3, 0.5); R_x = (1, 2)/3*3 + [2*(2, 0)/2 - (0, -1)/(-1)]*0.5 = (2, 1.5) (sums to 3.5)."""
    _, twin = oracle["constructed"]["one_sign"]
    x, neuron = np.array(ONE_SIGN["x"]), np.zeros(1, int)
    R = oracle["innvestigate"]["one_sign"]
    np.testing.assert_allclose(R, [[6.0, 7.0]], rtol=1e-6)
    zennit_r = zennit_lrp(twin, composite(AlphaBeta(2.0, 1.0, stabilizer=safe, zero_params="bias")), x, neuron)
    np.testing.assert_allclose(zennit_r, R, rtol=1e-6)
    pytorch_lrp = zennit_lrp(twin, composite(PytorchLRPAlphaBeta(1.0, 1e-12)), x, neuron)
    np.testing.assert_allclose(pytorch_lrp, [[2.0, 1.5]], rtol=1e-9)
    # on the detector, that convention is the whole difference between Pytorch-LRP (eps -> 0) and us
    _, det, X, det_neuron = oracle["archs"]["detector"]
    R_det = oracle["innvestigate"]["detector/alpha2beta1_ignore_bias"]
    without = zennit_lrp(det, composite(PytorchLRPAlphaBeta(1.0, 0.0, one_sign_passes_r=False)), X, det_neuron)
    assert rel(R_det, without) < 1e-5
    with_r = zennit_lrp(det, composite(PytorchLRPAlphaBeta(1.0, 0.0)), X, det_neuron)
    print(f"detector alpha2beta1: Pytorch-LRP one-sign convention changes relevance by {rel(with_r, R_det):.3g}")


def test_epsilon_sign_of_zero(oracle):
    """An active neuron whose bias-free z is exactly 0: innvestigate and zennit divide by +eps
    (sign(0) = +1) and give it +-0.5/eps; Pytorch-LRP (sign(0) = 0) gives it nothing."""
    _, twin = oracle["constructed"]["sign_zero"]
    x, neuron = np.array(SIGN_ZERO["x"]), np.zeros(1, int)
    r_out = 2.5 / (2.5 + SIGN_ZERO_EPS) * np.array([1.0, 1.5])  # relevance of the two hidden neurons
    huge = 0.5 * r_out[0] / SIGN_ZERO_EPS * np.array([1.0, -1.0])
    normal = np.array([0.5, 1.0]) * r_out[1] / (1.5 + SIGN_ZERO_EPS)
    R = oracle["innvestigate"]["sign_zero"][0]
    np.testing.assert_allclose(R, huge + normal, rtol=1e-5)
    zennit_r = zennit_lrp(twin, composite(Epsilon(SIGN_ZERO_EPS, zero_params="bias")), x, neuron)[0]
    np.testing.assert_allclose(zennit_r, R, rtol=1e-5)
    pytorch_lrp = zennit_lrp(twin, composite(pytorch_lrp_epsilon(SIGN_ZERO_EPS)), x, neuron)[0]
    np.testing.assert_allclose(pytorch_lrp, normal, rtol=1e-12)


def test_zennit_batchnorm_merge_exact(oracle):
    """The oracle's BN merge keeps the twin's outputs (float64, 1e-12); zennit 0.5.1's own merge
    scales each merged BN's output by 1/sqrt(1 + eps)."""
    _, twin, X, _ = oracle["archs"]["norcia"]
    x = channels_first(X)
    with torch.no_grad():
        expected = twin(x).numpy()
        for canonizer, check in ((MergeBatchNormExact(), True), (SequentialMergeBatchNorm(), False)):
            instances = canonizer.apply(twin)
            assert len(instances) == len(NORCIA_BLOCKS)
            got = twin(x).numpy()
            for instance in instances:
                instance.remove()
            if check:
                assert rel(got, expected) < 1e-12
            elif importlib.metadata.version("zennit").startswith("0."):
                assert rel(got, expected) > 1e-6  # the 0.5.1 bug the oracle works around
        np.testing.assert_array_equal(twin(x).numpy(), expected)  # both merges are undone
