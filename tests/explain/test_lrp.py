"""Tests for seis_keras.explain.lrp (innvestigate in a worker) and lrp_reference (numpy).

The numpy reference is first checked on its own against independent computations
(eager GradientTape gradients, gradient x input, conservation); then innvestigate,
always through the worker process (this pytest process stays eager), must match it.
Workers are started once per module, two at a time, and shared by the tests: one
:class:`LRPSession` per model answers every rule; two single-rule workers
(:class:`LRPAnalyzer`, :func:`lrp`) must give the same numbers.
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

from seis_keras.explain.lrp import LRPAnalyzer, LRPSession, lrp
from seis_keras.explain.lrp_reference import lrp_reference
from seis_keras.explain.methods import explain
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


def _weights_only_file(folder):
    path = folder / "weights_only.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.zeros(3)
    return path


EPS_NO_BIAS = "lrp.epsilon(epsilon=0.001, bias=false)"
AB1_BIAS = "lrp.alpha_beta(beta=1, bias=true)"


@pytest.fixture(scope="module")
def workers(tmp_path_factory):
    """Every worker process of this module, started two at a time; closed at the end.

    Sessions: ``small`` (_small_net, batches of 5, at most 3 cached analyzers so that the
    weight-swap test also reloads), ``small_b`` (same architecture, other weights),
    ``detector``, ``precursor``. Single-rule workers on ``small``'s model: ``per_rule``
    (LRPAnalyzer epsilon without bias) and ``one_shot`` (lrp() alpha-beta with bias);
    ``broken`` (a session on an HDF5 file without a model, which must fail).
    """
    models = {"small": _small_net(), "small_b": _small_net(seed=3), "detector": _detector_zero_bias(),
              "precursor": _precursor_small()}
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=2)
    timeouts = dict(start_timeout=900, batch_timeout=900)
    futures = {
        "small": pool.submit(LRPSession, models["small"], batch_size=5, max_analyzers=3, **timeouts),
        "per_rule": pool.submit(LRPAnalyzer, models["small"], "epsilon", epsilon=1e-3, bias=False, **timeouts),
        "one_shot": pool.submit(lrp, models["small"], X_SMALL, "alpha_beta", beta=1.0, bias=True, **timeouts),
        "small_b": pool.submit(LRPSession, models["small_b"], **timeouts),
        "detector": pool.submit(LRPSession, models["detector"], **timeouts),
        "precursor": pool.submit(LRPSession, models["precursor"], **timeouts),
    }
    broken = _weights_only_file(tmp_path_factory.mktemp("broken"))
    futures["broken"] = pool.submit(_timed, LRPSession, broken, start_timeout=900)
    models.update(per_rule=models["small"], one_shot=models["small"], broken=broken)
    yield {name: (models[name], future) for name, future in futures.items()}
    pool.shutdown(wait=True)
    for name, future in futures.items():
        if name not in ("one_shot", "broken") and future.exception() is None:
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
    model, session = _get(workers, "small")
    R = session.analyze(X_SMALL, AB1_BIAS)
    assert R.shape == X_SMALL.shape and R.dtype == np.float32
    ref = lrp_reference(model, X_SMALL, "alpha_beta", beta=1.0, bias=True)
    assert _rel(R, ref) < 1e-5
    assert _rel(ref, lrp_reference(model, X_SMALL, "alpha_beta", beta=1.0, bias=False)) > 1e-3
    assert session.info["layers"].count("BatchNormalization") == 0  # folded in the worker


def test_alpha_beta_index_neurons_match_reference(workers):
    model, session = _get(workers, "small")
    method = "lrp.alpha_beta(beta=0.5)"
    ref_fixed = lrp_reference(model, X_SMALL, "alpha_beta", beta=0.5, bias=False, neuron=1)
    assert _rel(session.analyze(X_SMALL, method, neuron=1), ref_fixed) < 1e-5  # 12 samples in batches of 5
    per_sample = np.array([0, 1, 2] * 4)
    ref = lrp_reference(model, X_SMALL, "alpha_beta", beta=0.5, bias=False, neuron=per_sample)
    assert _rel(session.analyze(X_SMALL, method, neuron=per_sample), ref) < 1e-5
    assert _rel(ref, ref_fixed) > 0.1  # the neuron choice matters
    with pytest.raises(ValueError, match=r"ints in \[0, 3\)"):
        session.analyze(X_SMALL, method, neuron=3)


def test_gradient_rule_equals_gradient_tape(workers):
    model, session = _get(workers, "small")
    index = model.predict(X_SMALL, verbose=0).argmax(axis=1)
    grad, _ = _gradient(model, X_SMALL, index)
    R = session.analyze(X_SMALL, "gradient")
    assert R.shape == X_SMALL.shape
    assert _rel(R, grad) < 1e-5


def test_epsilon_without_bias_matches_reference(workers):
    """The detector recipe's rule (Majstorovic et al.: biases left out of the denominators)."""
    model, session = _get(workers, "small")
    R = session.analyze(X_SMALL, EPS_NO_BIAS)
    ref = lrp_reference(model, X_SMALL, "epsilon", epsilon=1e-3, bias=False)
    assert _rel(R, ref) < 1e-5
    assert _rel(ref, lrp_reference(model, X_SMALL, "epsilon", epsilon=1e-3, bias=True)) > 1e-3


def test_one_worker_equals_per_rule_workers(workers):
    """LRPAnalyzer / lrp() (a worker each) give what one session gives for both rules."""
    _, session = _get(workers, "small")
    _, per_rule = _get(workers, "per_rule")
    _, one_shot = _get(workers, "one_shot")
    np.testing.assert_allclose(per_rule.analyze(X_SMALL), session.analyze(X_SMALL, EPS_NO_BIAS), rtol=1e-6, atol=0)
    np.testing.assert_allclose(one_shot, session.analyze(X_SMALL, AB1_BIAS), rtol=1e-6, atol=0)
    assert per_rule.pid != session.pid


def test_set_weights_equals_a_fresh_worker_on_those_weights(workers, tmp_path):
    model_a, session = _get(workers, "small")
    model_b, fresh = _get(workers, "small_b")
    methods = [EPS_NO_BIAS, AB1_BIAS, "lrp.composite", "lrp.gamma(gamma=0.25)"]  # 4 > max_analyzers=3: reloads
    before = {m: session.analyze(X_SMALL, m) for m in methods[:2]}
    try:
        session.set_weights(model_b)
        for m in methods:
            np.testing.assert_allclose(session.analyze(X_SMALL, m), fresh.analyze(X_SMALL, m), rtol=1e-5,
                                       atol=1e-6 * np.abs(fresh.analyze(X_SMALL, m)).max())
        np.testing.assert_allclose(session.predict(X_SMALL), model_b.predict(X_SMALL, verbose=0), rtol=1e-5, atol=1e-6)
        session.set_weights(model_a)
        for m, R in before.items():
            np.testing.assert_allclose(session.analyze(X_SMALL, m), R, rtol=1e-6, atol=1e-7 * np.abs(R).max())
        # legacy and Keras-v3 weight files, a full-model file (.weights.h5 loads wrongly in graph mode)
        model_b.save_weights(tmp_path / "b_legacy.h5")
        model_b.save_weights(tmp_path / "b.weights.h5")
        model_b.save(tmp_path / "b_model.h5", save_format="h5")
        for path in (tmp_path / "b_legacy.h5", tmp_path / "b.weights.h5", tmp_path / "b_model.h5"):
            session.set_weights(path)
            np.testing.assert_allclose(session.analyze(X_SMALL, EPS_NO_BIAS), fresh.analyze(X_SMALL, EPS_NO_BIAS),
                                       rtol=1e-5, atol=1e-6)
        with pytest.raises(RuntimeError, match=r"set_weights: got 3 weight arrays, the model has \d+"):
            session.set_weights(model_b.get_weights()[:3])
        wrong = [np.zeros((2, 2))] + model_b.get_weights()[1:]
        with pytest.raises(RuntimeError, match=r"array 0 .* has shape \(2, 2\), expected"):
            session.set_weights(wrong)
    finally:
        session.set_weights(model_a)


def test_detector_epsilon_conserves_and_matches_reference(workers):
    model, session = _get(workers, "detector")
    X = np.random.default_rng(2).normal(size=(6, 500, 3)).astype("float32")
    R = session.analyze(X, "lrp.epsilon(epsilon=1e-7)")
    logit = model.layers[-2].output  # the sigmoid was stripped in the worker
    logits = keras.Model(model.inputs, logit).predict(X, verbose=0)[:, 0]
    np.testing.assert_allclose(R.sum(axis=(1, 2)), logits, rtol=1e-4)
    assert _rel(R, lrp_reference(model, X, "epsilon", epsilon=1e-7)) < 1e-5
    np.testing.assert_allclose(session.predict(X)[:, 0], logits, rtol=1e-5, atol=1e-6)


def test_explain_follows_the_target_convention(workers):
    """explain(): a 1-unit model's class 0 is -z (sign flipped per sample), k units index z[t]."""
    model, session = _get(workers, "detector")
    X = np.random.default_rng(4).normal(size=(8, 500, 3)).astype("float32")
    method = "lrp.epsilon(epsilon=1e-7)"
    R = session.analyze(X, method)
    z = session.predict(X)[:, 0]
    assert (z > 0).any() and (z < 0).any()
    np.testing.assert_array_equal(explain(model, X, method, class_index=1, session=session), R)
    np.testing.assert_array_equal(explain(model, X, method, session=session), R * np.sign(z)[:, None, None])
    small, s_small = _get(workers, "small")
    target = np.array([2, 0, 1] * 4)
    np.testing.assert_array_equal(explain(small, X_SMALL, EPS_NO_BIAS, class_index=target, session=s_small),
                                  s_small.analyze(X_SMALL, EPS_NO_BIAS, neuron=target))


def test_precursor_bn_folded_and_random_input_stripped(workers):
    model, session = _get(workers, "precursor")
    assert "RandomInputLayer" not in session.info["layers"]
    assert "BatchNormalization" not in session.info["layers"]
    X = np.random.default_rng(3).normal(size=(4, 96, 3)).astype("float32")
    R = session.analyze(X, "lrp.epsilon", neuron=0)
    ref = lrp_reference(model, X, "epsilon", epsilon=1e-6, neuron=0)
    assert _rel(R, ref) < 1e-5


def test_worker_start_prints_no_tensorflow_registration_errors(workers):
    """The worker sets TF_CPP_MIN_LOG_LEVEL=3 before importing TensorFlow (raw stderr, unfiltered)."""
    for name in ("small", "detector"):
        _, session = _get(workers, name)
        assert session.info["tf_cpp_min_log_level"] == "3"
        noisy = [line for line in session.stderr_lines if re.search(r"Unable to register cu(DNN|FFT|BLAS)", line)]
        assert noisy == []


def test_bad_input_raises_clear_errors(tmp_path, workers):
    _, session = _get(workers, "small")
    with pytest.raises(ValueError, match=r"expected \(N, 40, 3\)"):
        session.analyze(np.zeros((2, 41, 3)), "lrp.epsilon")
    with pytest.raises(ValueError, match="NaN or inf"):
        session.analyze(np.full((2, 40, 3), np.nan), "lrp.epsilon")
    with pytest.raises(ValueError, match="not an LRP method"):
        session.analyze(X_SMALL, "integrated_gradients")
    with pytest.raises(ValueError, match="unknown parameter 'eps'"):
        session.analyze(X_SMALL, "lrp.epsilon(eps=1)")
    with pytest.raises(ValueError, match="no such model"):
        LRPAnalyzer(tmp_path / "missing.h5")
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not an HDF5 file"):
        LRPAnalyzer(garbage)
    with pytest.raises(ValueError, match="rule 'lrp.magic' unknown"):
        LRPAnalyzer(garbage, "lrp.magic")
    # a worker-side failure is one line and the worker stays up
    with pytest.raises(RuntimeError, match=r"LRP worker: set_weights failed: ValueError: set_weights: got 1"):
        session.set_weights([np.zeros(3)])
    assert session.analyze(X_SMALL[:2], EPS_NO_BIAS).shape == (2, 40, 3)


def test_worker_failure_surfaces_in_caller(workers):
    _, future = workers["broken"]
    exc = future.exception(timeout=900)
    assert isinstance(exc, RuntimeError)
    assert re.search(r"LRP worker: loading .*weights_only\.h5 failed: \w+Error", str(exc))
    assert "\n" not in str(exc)
    assert exc.elapsed_s < 300  # reported as soon as the worker failed, not at the 900 s timeout


def test_killed_worker_raises_instead_of_hanging(workers):
    """Runs last: kills the per-rule worker."""
    _, analyzer = _get(workers, "per_rule")
    os.kill(analyzer.pid, signal.SIGKILL)
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match=r"LRP worker (died|is not running)"):
        analyzer.analyze(X_SMALL)
    assert time.monotonic() - t0 < 30
