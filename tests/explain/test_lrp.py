"""Tests for seis_keras.explain.lrp (innvestigate in a worker) and lrp_reference (numpy).

The numpy reference is first checked on its own against independent computations
(eager GradientTape gradients, gradient x input, conservation); then innvestigate,
always through the spawned worker (this pytest process stays eager), must match it.
Workers are started once per module, several at a time, and shared by the tests.
"""
import concurrent.futures
import os
import re
import signal
import time

import h5py
import numpy as np
import pytest
import tensorflow as tf
from tensorflow import keras

from seis_keras.explain.lrp import LRPAnalyzer, lrp
from seis_keras.explain.lrp_reference import lrp_reference
from seis_keras.models import get_model, with_probabilities

L = keras.layers


def _small_net(seed=0, zero_bias=False, padding="valid"):
    """ZeroPadding, strided/dilated Conv1D, BN, MaxPool, ReLU, GAP, Dense, Dropout: (40, 3) -> 3 logits."""
    keras.utils.set_random_seed(seed)
    bias_init = "zeros" if zero_bias else keras.initializers.RandomNormal(stddev=0.3, seed=seed)
    inp = keras.Input((40, 3))
    x = L.ZeroPadding1D(1)(inp)
    x = L.Conv1D(5, 3, strides=2, bias_initializer=bias_init, name="conv1")(x)
    x = L.Activation("relu")(x)
    x = L.Conv1D(6, 3, dilation_rate=2, padding=padding, bias_initializer=bias_init, name="conv2")(x)
    x = L.BatchNormalization(name="bn2")(x) if not zero_bias else x
    x = L.MaxPooling1D(3, 1, padding=padding)(x)
    x = L.Activation("relu")(x)
    x = L.Conv1D(8, 3, strides=2, bias_initializer=bias_init, name="conv3")(x)
    x = L.Activation("relu")(x)
    x = L.GlobalAveragePooling1D()(x)
    x = L.Dense(6, activation="relu", bias_initializer=bias_init, name="fc1")(x)
    x = L.Dropout(0.3)(x)
    out = L.Dense(3, bias_initializer=bias_init, name="logits")(x)
    return _randomise_bn(keras.Model(inp, out), seed)


def _randomise_bn(model, seed):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, L.BatchNormalization):
            layer.set_weights([rng.uniform(0.3, 2.0, w.shape) if "variance" in w.name
                               else rng.normal(0.0, 0.5, w.shape) for w in layer.weights])
    return model


def _zero_biases(model):
    for layer in model.layers:
        if getattr(layer, "use_bias", False):
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel, np.zeros_like(bias)])
    return model


def _rel(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - b)) / np.max(np.abs(b)))


def _gradient(model, X, index):
    X = tf.constant(X)
    with tf.GradientTape() as tape:
        tape.watch(X)
        logits = model(X, training=False)
        selected = tf.gather(logits, index, axis=1, batch_dims=1)
    return tape.gradient(selected, X).numpy(), selected.numpy()


X_SMALL = np.random.default_rng(1).normal(size=(12, 40, 3)).astype("float32")


# ---------------------------------------------------------------- numpy reference alone
def test_reference_gradient_equals_gradient_tape():
    for padding in ("valid", "same"):
        model = _small_net(seed=3, padding=padding)
        index = model.predict(X_SMALL, verbose=0).argmax(axis=1)
        grad, _ = _gradient(model, X_SMALL, index)
        ref = lrp_reference(model, X_SMALL, "gradient")
        assert ref.shape == X_SMALL.shape
        assert _rel(ref, grad) < 1e-5


def test_reference_epsilon_zero_bias_is_gradient_times_input_and_conserves():
    model = _small_net(seed=4, zero_bias=True)
    index = np.arange(len(X_SMALL)) % 3  # one class per sample
    grad, selected = _gradient(model, X_SMALL, index)
    R = lrp_reference(model, X_SMALL, "epsilon", epsilon=1e-12, neuron=index)
    assert _rel(R, X_SMALL * grad) < 1e-5  # LRP-0 = gradient x input in a bias-free ReLU net
    np.testing.assert_allclose(R.sum(axis=(1, 2)), selected, rtol=1e-5, atol=1e-5 * np.abs(selected).max())
    R_b = lrp_reference(_small_net(seed=4), X_SMALL, "epsilon", epsilon=1e-12)
    assert not np.allclose(R_b.sum(axis=(1, 2)), _small_net(seed=4).predict(X_SMALL, verbose=0).max(axis=1),
                           rtol=1e-3)  # with biases (and bias=True) relevance leaks into them


def test_reference_alpha_beta_conserves_and_keeps_sign():
    model = _small_net(seed=5, zero_bias=True)
    logits = model.predict(X_SMALL, verbose=0)
    # alpha1beta0 without biases conserves exactly (every relevant neuron has a positive part);
    # for beta > 0 a neuron without inhibitory inputs breaks conservation, so no check there
    R0 = lrp_reference(model, X_SMALL, "alpha_beta", beta=0.0)
    top = logits.max(axis=1)
    np.testing.assert_allclose(R0.sum(axis=(1, 2)), top, rtol=1e-5, atol=1e-5 * np.abs(top).max())
    signs = np.sign(logits.max(axis=1))[:, None, None]
    assert np.all(R0 * signs >= -1e-12)  # alpha1beta0: every relevance has the logit's sign
    np.testing.assert_allclose(lrp_reference(model, X_SMALL, "z_plus"), R0)


def test_reference_rejects_unsupported_layers():
    inp = keras.Input((10, 2))
    out = L.Dense(2)(L.Flatten()(L.LSTM(3, return_sequences=True)(inp)))
    with pytest.raises(ValueError, match="LSTM.*not supported"):
        lrp_reference(keras.Model(inp, out), np.zeros((1, 10, 2)))
    with pytest.raises(ValueError, match="rule 'deep_taylor' unknown"):
        lrp_reference(_small_net(), X_SMALL, "deep_taylor")


# ---------------------------------------------------------------- innvestigate in workers
def _detector_zero_bias():
    keras.utils.set_random_seed(7)
    return with_probabilities(_zero_biases(get_model("detector", hidden_units=16)))


def _precursor_small():
    model = get_model("precursor", input_length=96, filters=(4, 4, 6, 6, 6, 8, 8), fc_units=8,
                      kernel_init_stddev=0.3)
    for layer in model.layers:
        if getattr(layer, "use_bias", False):
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel, np.random.default_rng(8).normal(0, 0.2, bias.shape)])
    return with_probabilities(_randomise_bn(model, 9))


CASES = {
    # name: (model factory, LRPAnalyzer settings)
    "alpha_beta_0.5": (_small_net, dict(rule="alpha_beta", beta=0.5, neuron=1, batch_size=5)),
    "alpha_beta_1_bias": (_small_net, dict(rule="alpha_beta", beta=1.0, bias=True)),
    "epsilon_ignore_bias": (_small_net, dict(rule="epsilon", epsilon=1e-3, bias=False)),
    "detector": (_detector_zero_bias, dict(rule="epsilon", epsilon=1e-7)),
    "precursor": (_precursor_small, dict(rule="epsilon", neuron=0)),
}


def _weights_only_file(folder):
    path = folder / "weights_only.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.zeros(3)
    return path


@pytest.fixture(scope="module")
def workers(tmp_path_factory):
    """All worker processes of this module, started two at a time; closed at the end.

    Besides the analyzers of CASES: ``"gradient"`` (a one-shot :func:`lrp` call) and
    ``"broken"`` (an analyzer on an HDF5 file without a model, which must fail).
    """
    models = {name: factory() for name, (factory, _) in CASES.items()}
    models["gradient"] = _small_net()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=2)
    futures = {name: pool.submit(LRPAnalyzer, models[name], **settings)
               for name, (_, settings) in CASES.items()}
    futures["gradient"] = pool.submit(lrp, models["gradient"], X_SMALL, "gradient")
    broken = _weights_only_file(tmp_path_factory.mktemp("broken"))
    futures["broken"] = pool.submit(_timed, LRPAnalyzer, broken, start_timeout=900)
    models["broken"] = broken
    yield {name: (models[name], future) for name, future in futures.items()}
    pool.shutdown(wait=True)
    for name, future in futures.items():
        if name in CASES and future.exception() is None:
            future.result().close()


def _timed(fn, *args, **kwargs):
    t0 = time.monotonic()
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        exc.elapsed_s = time.monotonic() - t0
        raise


def _get(workers, name):
    model, future = workers[name]
    return model, future.result(timeout=900)


def test_alpha_beta_with_bias_matches_reference(workers):
    model, analyzer = _get(workers, "alpha_beta_1_bias")
    R = analyzer.analyze(X_SMALL)
    assert R.shape == X_SMALL.shape and R.dtype == np.float32
    ref = lrp_reference(model, X_SMALL, "alpha_beta", beta=1.0, bias=True)
    assert _rel(R, ref) < 1e-5
    assert _rel(ref, lrp_reference(model, X_SMALL, "alpha_beta", beta=1.0, bias=False)) > 1e-3
    assert analyzer.info["layers"].count("BatchNormalization") == 0  # folded in the worker


def test_alpha_beta_index_neurons_match_reference(workers):
    model, analyzer = _get(workers, "alpha_beta_0.5")
    ref_fixed = lrp_reference(model, X_SMALL, "alpha_beta", beta=0.5, bias=False, neuron=1)
    assert _rel(analyzer.analyze(X_SMALL), ref_fixed) < 1e-5  # 12 samples in batches of 5
    per_sample = np.array([0, 1, 2] * 4)
    ref = lrp_reference(model, X_SMALL, "alpha_beta", beta=0.5, bias=False, neuron=per_sample)
    assert _rel(analyzer.analyze(X_SMALL, neuron=per_sample), ref) < 1e-5
    assert _rel(ref, ref_fixed) > 0.1  # the neuron choice matters
    with pytest.raises(ValueError, match=r"ints in \[0, 3\)"):
        analyzer.analyze(X_SMALL, neuron=3)


def test_one_shot_gradient_rule_equals_gradient_tape(workers):
    model, R = _get(workers, "gradient")
    index = model.predict(X_SMALL, verbose=0).argmax(axis=1)
    grad, _ = _gradient(model, X_SMALL, index)
    assert R.shape == X_SMALL.shape
    assert _rel(R, grad) < 1e-5


def test_detector_epsilon_conserves_and_matches_reference(workers):
    model, analyzer = _get(workers, "detector")
    X = np.random.default_rng(2).normal(size=(6, 500, 3)).astype("float32")
    R = analyzer.analyze(X)
    logit = model.layers[-2].output  # the sigmoid was stripped in the worker
    logits = keras.Model(model.inputs, logit).predict(X, verbose=0)[:, 0]
    np.testing.assert_allclose(R.sum(axis=(1, 2)), logits, rtol=1e-4)
    assert _rel(R, lrp_reference(model, X, "epsilon", epsilon=1e-7)) < 1e-5


def test_precursor_bn_folded_and_random_input_stripped(workers):
    model, analyzer = _get(workers, "precursor")
    assert "RandomInputLayer" not in analyzer.info["layers"]
    assert "BatchNormalization" not in analyzer.info["layers"]
    X = np.random.default_rng(3).normal(size=(4, 96, 3)).astype("float32")
    R = analyzer.analyze(X)
    ref = lrp_reference(model, X, "epsilon", epsilon=1e-6, neuron=0)
    assert _rel(R, ref) < 1e-5


def test_epsilon_without_bias_matches_reference(workers):
    """The detector recipe's rule (Majstorovic et al.: biases left out of the denominators)."""
    model, analyzer = _get(workers, "epsilon_ignore_bias")
    R = analyzer.analyze(X_SMALL)
    ref = lrp_reference(model, X_SMALL, "epsilon", epsilon=1e-3, bias=False)
    assert _rel(R, ref) < 1e-5
    assert _rel(ref, lrp_reference(model, X_SMALL, "epsilon", epsilon=1e-3, bias=True)) > 1e-3


def test_bad_input_raises_clear_errors(tmp_path, workers):
    _, analyzer = _get(workers, "alpha_beta_0.5")
    with pytest.raises(ValueError, match=r"expected \(N, 40, 3\)"):
        analyzer.analyze(np.zeros((2, 41, 3)))
    with pytest.raises(ValueError, match="no such model"):
        LRPAnalyzer(tmp_path / "missing.h5")
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not an HDF5 file"):
        LRPAnalyzer(garbage)
    with pytest.raises(ValueError, match="rule 'lrp.magic' unknown"):
        LRPAnalyzer(garbage, "lrp.magic")


def test_worker_failure_surfaces_in_caller(workers):
    _, future = workers["broken"]
    exc = future.exception(timeout=900)
    assert isinstance(exc, RuntimeError)
    assert re.search(r"LRP worker: loading/building the analyzer for .*weights_only\.h5 failed: \w+Error", str(exc))
    assert exc.elapsed_s < 300  # reported as soon as the worker failed, not at the 900 s timeout


def test_killed_worker_raises_instead_of_hanging(workers):
    """Runs last: kills the alpha_beta_1_bias worker."""
    _, analyzer = _get(workers, "alpha_beta_1_bias")
    os.kill(analyzer._proc.pid, signal.SIGKILL)
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match="LRP worker died"):
        analyzer.analyze(X_SMALL)
    assert time.monotonic() - t0 < 30
