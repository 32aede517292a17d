"""Virtual inspection layers (DFT-LRP / STDFT-LRP): transforms, closed form, spectral model, gradients."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import signal
from tensorflow import keras

from seis_keras.explain.frequency import (band_share, band_shares, coefficients_to_bins, dft, energy_spectrum,
                                          input_band_share, inverse_dft, inverse_dft_matrix, inverse_stdft,
                                          inverse_stdft_matrix, pool_frequencies, stdft, stdft_starts,
                                          uniform_band_share)
from seis_keras.explain.frequency.relevance import frequency_relevance, time_frequency_relevance
from seis_keras.explain.frequency.virtual import dft_lrp, spectral_model, stdft_lrp
from seis_keras.explain.lrp import lrp
from seis_keras.explain.saliency import input_gradient

RNG = np.random.default_rng(7)


# ---------------------------------------------------------------- transforms
@pytest.mark.parametrize("t", [16, 17])
def test_dft_layout_inverse_and_matrix(t):
    x = RNG.normal(size=(3, t, 2))
    s = dft(x)
    y = np.fft.rfft(x, axis=1) / np.sqrt(t)
    k = t // 2 + 1
    np.testing.assert_allclose(s[:, :k], y.real, atol=1e-12)
    np.testing.assert_allclose(s[:, k:], y.imag[:, 1:1 + (t - 1) // 2], atol=1e-12)
    np.testing.assert_allclose(inverse_dft(s), x, atol=1e-12)
    # the Dense kernel (cos/sin basis, no FFT) reproduces the signal, Nyquist row (-1)^n included
    np.testing.assert_allclose(np.einsum("npc,pt->ntc", s, inverse_dft_matrix(t)), x, atol=1e-12)


def test_stdft_inverse_matrix_and_windows():
    t, window, hop = 50, 16, 8
    x = RNG.normal(size=(2, t, 3))
    starts = stdft_starts(t, window, hop)
    assert starts.tolist() == [0, 8, 16, 24, 32, 34]  # regular hop plus one flush with the end
    s = stdft(x, window, hop)
    assert s.shape == (2, 6, window, 3)
    w = signal.windows.cosine(window)
    np.testing.assert_allclose(s[:, 2], dft(x[:, 16:32] * w[:, None]), atol=1e-12)
    np.testing.assert_allclose(inverse_stdft(s, t, hop), x, atol=1e-12)
    v = inverse_stdft_matrix(t, window, hop)
    np.testing.assert_allclose(np.einsum("nqc,qt->ntc", s.reshape(2, -1, 3), v), x, atol=1e-12)
    with pytest.raises(ValueError, match="uncovered"):
        stdft(x, window, hop, "hann")
    with pytest.raises(ValueError, match="hop"):
        stdft(x, window, window + 1)


def test_energy_spectrum_parseval_and_tone():
    fs, t = 100.0, 200
    n = np.arange(t)
    x = np.stack([np.sin(2 * np.pi * 20.0 * n / fs), 0.5 * np.cos(2 * np.pi * 35.0 * n / fs)], axis=1)[None]
    f, e = energy_spectrum(x, fs)
    np.testing.assert_allclose(e.sum(axis=1), (x ** 2).sum(axis=1), rtol=1e-12)
    assert f[np.argmax(e[0, :, 0])] == 20.0 and f[np.argmax(e[0, :, 1])] == 35.0


# ---------------------------------------------------------------- closed form
def test_dft_lrp_of_linear_model_equals_analytic_answer():
    """f(x) = sum w x: R_t = w x; frequency k's relevance is its coefficients' share s_p (W w)_p."""
    t, c = 40, 2
    x = RNG.normal(size=(5, t, c))
    w = RNG.normal(size=(t, c))
    r_time = x * w
    analytic_per_coef = dft(x) * np.einsum("pt,tc->pc", inverse_dft_matrix(t), w)[None]
    expected = coefficients_to_bins(analytic_per_coef)
    got = dft_lrp(r_time, x, epsilon=0.0)
    np.testing.assert_allclose(got, expected, atol=1e-10)
    np.testing.assert_allclose(got.sum(axis=(1, 2)), r_time.sum(axis=(1, 2)), rtol=1e-10)


def test_dft_lrp_pure_tone_weights_put_all_relevance_on_their_bin():
    t, k0 = 64, 5
    n = np.arange(t)
    w = np.cos(2 * np.pi * k0 * n / t + 0.3)[:, None]
    x = (np.sin(2 * np.pi * k0 * n / t) + 3 * np.cos(2 * np.pi * 17 * n / t) + 0.5)[None, :, None]
    R = dft_lrp(x * w, x, epsilon=0.0)[0, :, 0]
    np.testing.assert_allclose(R[k0], (x[0, :, 0] * w[:, 0]).sum(), rtol=1e-10)
    np.testing.assert_allclose(np.delete(R, k0), 0.0, atol=1e-10)


def _explicit_virtual_lrp(r_time, s_flat, v, epsilon):
    """LRP-epsilon through x = s @ V written out per coefficient (the paper's rule, brute force)."""
    x = np.einsum("nqc,qt->ntc", s_flat, v)
    z = x + epsilon * np.where(x >= 0, 1.0, -1.0)
    return np.einsum("nqc,qt,ntc->nqc", s_flat, v, r_time / z)


def test_stdft_lrp_equals_explicit_rule_and_conserves():
    t, window, hop, eps = 48, 12, 5, 1e-3
    x = RNG.normal(size=(3, t, 2))
    r_time = RNG.normal(size=x.shape)
    s = stdft(x, window, hop)
    m = s.shape[1]
    explicit = _explicit_virtual_lrp(r_time, s.reshape(3, -1, 2), inverse_stdft_matrix(t, window, hop), eps)
    expected = coefficients_to_bins(explicit.reshape(3, m, window, 2), axis=2)
    got = stdft_lrp(r_time, x, window=window, hop=hop, epsilon=eps)
    assert got.shape == (3, m, window // 2 + 1, 2)
    np.testing.assert_allclose(got, expected, atol=1e-10)
    conserved = (r_time * x / (x + eps * np.where(x >= 0, 1, -1))).sum(axis=(1, 2))
    np.testing.assert_allclose(got.sum(axis=(1, 2, 3)), conserved, rtol=1e-9)
    np.testing.assert_allclose(dft_lrp(r_time, x, epsilon=eps).sum(axis=(1, 2)), conserved, rtol=1e-9)


def test_dft_lrp_stabiliser_absorbs_relevance_only_where_x_is_small():
    x = np.array([[[1.0], [-2.0], [1e-7], [0.5]]])
    r = np.array([[[1.0], [1.0], [1.0], [1.0]]])
    total = dft_lrp(r, x, epsilon=1e-6).sum()
    kept = [1 / (1 + 1e-6), -2 / (-2 - 1e-6), 1e-7 / (1e-7 + 1e-6), 0.5 / (0.5 + 1e-6)]
    np.testing.assert_allclose(total, sum(kept), rtol=1e-9)  # sample 3 keeps only 1/11 of its relevance
    np.testing.assert_allclose(dft_lrp(r, x, epsilon=0.0).sum(), 4.0, rtol=1e-9)


# ---------------------------------------------------------------- models
def _small_model(t=64, c=2, n_out=3, seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((t, c), name="waveform")
    h = keras.layers.Conv1D(4, 5, name="conv1")(inp)
    h = keras.layers.BatchNormalization(name="bn1")(h)
    h = keras.layers.Activation("relu")(h)
    h = keras.layers.Flatten()(h)
    out = keras.layers.Dense(n_out, name="logits")(h)
    model = keras.Model(inp, out)
    bn = model.get_layer("bn1")
    bn.set_weights([RNG.uniform(0.5, 1.5, 4), RNG.normal(size=4) * 0.1, RNG.normal(size=4) * 0.1,
                    RNG.uniform(0.5, 2.0, 4)])
    return model


def _band_model(fs=100.0, t=256, band=(30.0, 40.0)):
    """Fixed FIR band-pass conv, ReLU, mean: uses only what passes the band."""
    taps = signal.firwin(51, band, pass_zero=False, fs=fs)
    inp = keras.Input((t, 1), name="waveform")
    h = keras.layers.Conv1D(1, len(taps), use_bias=False, name="conv1")(inp)
    h = keras.layers.Activation("relu")(h)
    h = keras.layers.GlobalAveragePooling1D()(h)
    out = keras.layers.Dense(1, name="logits")(h)
    model = keras.Model(inp, out)
    model.get_layer("conv1").set_weights([taps[::-1].reshape(-1, 1, 1).astype(np.float32)])
    model.get_layer("logits").set_weights([np.ones((1, 1), np.float32), np.zeros(1, np.float32)])
    return model


def _band_input(n=4, fs=100.0, t=256):
    tt = np.arange(t) / fs
    x = np.stack([3.0 * np.sin(2 * np.pi * 5.0 * tt + i) + 0.3 * np.sin(2 * np.pi * 35.0 * tt + 2 * i)
                  + 0.3 * RNG.normal(size=t) for i in range(n)])
    return x[:, :, None].astype(np.float32)


def test_spectral_model_reproduces_the_model_for_dft_and_stdft():
    model = _small_model()
    X = RNG.normal(size=(4, 64, 2)).astype(np.float32)
    ref = model(X).numpy()
    spec = spectral_model(model)
    assert spec.input_shape == (None, 64, 2) and spec.get_layer("virtual_inverse_dft").trainable is False
    np.testing.assert_allclose(spec(dft(X).astype(np.float32)).numpy(), ref, atol=1e-4)
    spec_tf = spectral_model(model, window=16, hop=8)
    assert spec_tf.input_shape == (None, 7, 16, 2)
    np.testing.assert_allclose(spec_tf(stdft(X, 16, 8).astype(np.float32)).numpy(), ref, atol=1e-4)


def test_gradient_methods_on_the_spectral_input_match_the_closed_form():
    model = _small_model()
    X = RNG.normal(size=(3, 64, 2)).astype(np.float32)
    targets = np.argmax(model(X).numpy(), axis=1)
    g = input_gradient(model, X, targets).astype(np.float64)
    f, gxi = frequency_relevance(model, X, method="gradient_x_input", fs=50.0)
    assert f[-1] == 25.0 and gxi.shape == (3, 33, 2)
    np.testing.assert_allclose(gxi, dft_lrp(X * g, X, epsilon=0.0), atol=2e-5)
    _, _, gxi_tf = time_frequency_relevance(model, X, method="gradient_x_input", window=16, hop=8)
    np.testing.assert_allclose(gxi_tf, stdft_lrp(X * g, X, window=16, hop=8, epsilon=0.0), atol=2e-5)

    base = 0.2 * RNG.normal(size=(64, 2)).astype(np.float32)
    steps = 16
    ig_time = np.zeros(X.shape)
    for a in (np.arange(steps) + 0.5) / steps:
        ig_time += input_gradient(model, base + a * (X - base), targets)
    ig_time *= (X - base) / steps
    _, ig = frequency_relevance(model, X, method="integrated_gradients", steps=steps, baseline=base)
    np.testing.assert_allclose(ig, dft_lrp(ig_time, X - base, epsilon=0.0), atol=2e-5)
    logits = model(X).numpy()[np.arange(3), targets] - model(np.broadcast_to(base, X.shape)).numpy()[np.arange(3), targets]
    np.testing.assert_allclose(ig.sum(axis=(1, 2)), logits, rtol=0.05, atol=0.02)


def test_one_unit_model_class_zero_explains_minus_the_logit():
    model = _band_model()
    X = _band_input(2)
    _, r1 = frequency_relevance(model, X, method="gradient_x_input", class_index=1)
    _, r0 = frequency_relevance(model, X, method="gradient_x_input", class_index=0)
    np.testing.assert_allclose(r0, -r1, atol=1e-7)
    np.testing.assert_allclose(r1.sum(axis=(1, 2)), model(X).numpy()[:, 0], rtol=1e-3)  # ReLU net, no bias


def test_band_model_gets_its_relevance_in_its_band():
    fs, band = 100.0, (30.0, 40.0)
    model, X = _band_model(fs), _band_input(4, fs)
    assert input_band_share(X, fs, band).max() < 0.05  # the input is mostly 5 Hz
    f, R = frequency_relevance(model, X, method="gradient_x_input", fs=fs)
    f2, R_lrp = frequency_relevance(model, X, method="lrp", rule="epsilon", fs=fs)
    for r in (R, R_lrp):
        assert band_share(r, f, (26.0, 44.0), kind="absolute").min() > 0.99
        assert band_share(r, f, band).min() > 0.9
        low = np.abs(r[:, f <= 10.0]).sum(axis=(1, 2)) / np.abs(r).sum(axis=(1, 2))
        assert low.max() < 5e-3  # the 5 Hz energy (~98% of the input) gets almost none (FIR stopband)
    shares = band_shares(R_lrp, f2, X, band, fs=fs)
    assert shares["relevance_over_uniform"] > 4.0 and shares["relevance_over_input"] > 20.0
    # on 1 Hz cells (components summed) the band-only model keeps its answer: the cells add nothing that is not there
    cells = band_shares(R_lrp, f2, X, band, fs=fs, resolution_hz=1.0, sum_channels=True)
    assert cells["relevance"] > 0.9 and cells["relevance_over_input"] > 20.0


def test_lrp_through_the_prepended_layer_agrees_with_the_closed_form():
    model = _small_model()
    X = RNG.normal(size=(5, 64, 2)).astype(np.float32)
    targets = np.argmax(model(X).numpy(), axis=1)
    settings = dict(epsilon=1e-3)
    r_time = lrp(model, X, "epsilon", neuron=targets, **settings).astype(np.float64)
    f, closed = frequency_relevance(r_time, X, epsilon=1e-3)
    _, via_layer = frequency_relevance(model, X, method="lrp_spectral", lrp_settings=settings)
    scale = np.abs(closed).max()
    np.testing.assert_allclose(via_layer, closed, atol=1e-4 * scale)
    _, _, closed_tf = time_frequency_relevance(r_time, X, window=16, hop=8, epsilon=1e-3)
    _, _, via_layer_tf = time_frequency_relevance(model, X, window=16, hop=8, method="lrp_spectral",
                                                  lrp_settings=settings)
    np.testing.assert_allclose(via_layer_tf, closed_tf, atol=1e-4 * scale)
    np.testing.assert_allclose(closed_tf.sum(axis=(1, 2, 3)), closed.sum(axis=(1, 2)), rtol=1e-9)


# ---------------------------------------------------------------- shares and errors
def test_band_shares_planted_numbers():
    freqs = np.arange(11.0)  # 0..10 Hz
    R = np.zeros((2, 11, 1))
    R[0, 3, 0], R[0, 7, 0], R[0, 0, 0] = 3.0, 1.0, 100.0  # DC left out
    R[1, 4, 0], R[1, 8, 0] = 2.0, -2.0
    np.testing.assert_allclose(band_share(R, freqs, (2.0, 5.0)), [0.75, 1.0])
    np.testing.assert_allclose(band_share(R, freqs, (2.0, 5.0), kind="absolute"), [0.75, 0.5])
    np.testing.assert_allclose(band_share(R, freqs, (2.0, 5.0), exclude_dc=False), [3.0 / 104.0, 1.0])
    assert np.isnan(band_share(R, freqs, (2.0, 5.0), kind="signed")[1])  # total 0
    assert uniform_band_share(freqs, (2.0, 5.0)) == pytest.approx(0.4)  # 4 of 10 bins
    # time-frequency maps: frequency axis 2 by default, any axis on request
    np.testing.assert_allclose(band_share(np.stack([R, R], axis=1), freqs, (2.0, 5.0)), [0.75, 1.0])
    np.testing.assert_allclose(band_share(np.moveaxis(R, 1, 2)[..., None], freqs, (2.0, 5.0), freq_axis=2),
                               [0.75, 1.0])
    n = np.arange(100)
    X = np.stack([np.sin(2 * np.pi * 3 * n / 10.0), np.sin(2 * np.pi * 0.8 * n / 10.0)])[:, :, None]
    np.testing.assert_allclose(input_band_share(X, 10.0, (2.0, 4.0)), [1.0, 0.0], atol=1e-12)


@pytest.mark.parametrize("call, match", [
    (lambda: dft_lrp(np.zeros((2, 8, 1)), np.zeros((2, 9, 1))), "relevance"),
    (lambda: dft_lrp(np.zeros((8, 1)), np.zeros((8, 1))), r"\(N, T, C\)"),
    (lambda: frequency_relevance(np.zeros((2, 8, 1)), np.ones((2, 8, 1)), method="lrp"), "model"),
    (lambda: frequency_relevance(np.zeros((2, 8, 1)), np.ones((2, 8, 1)), method="shap"), "method"),
    (lambda: band_share(np.zeros((2, 5, 1)), np.arange(6.0), (1, 2)), "freqs"),
    (lambda: band_share(np.zeros((2, 5, 1)), np.arange(5.0), (3, 2)), "band"),
    (lambda: band_share(np.zeros((2, 5, 1)), np.arange(5.0), (1, 2), kind="max"), "kind"),
    (lambda: band_share(np.zeros((2, 5, 4, 1)), np.arange(5.0), (1, 2), freq_axis=1, sum_axes=(1,)), "sum_axes"),
    (lambda: band_share(np.zeros((2, 5, 4, 1)), np.arange(5.0), (1, 2), freq_axis=1, sum_axes=(2, -2)), "sum_axes"),
    (lambda: dft_lrp(np.zeros((1, 8, 1)), np.ones((1, 8, 1)), epsilon=-1.0), "epsilon"),
])
def test_bad_input_gives_one_line_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_band_share_on_cells_sums_the_signed_relevance_before_the_positive_part():
    freqs = np.arange(41) * 0.25  # 0 ... 10 Hz, four bins per 1 Hz cell
    noisy = ((freqs >= 1) & (freqs < 4)) | ((freqs >= 7) & (freqs < 10))  # 24 bins, six whole cells
    R = np.zeros((2, 41, 2))
    R[:, (freqs >= 4) & (freqs < 6), 0] = 1.0  # 8 in-band bins, 1 each: the planted relevance
    R[0, noisy, 0] = 3.0 * (-1.0) ** np.arange(noisy.sum())  # sample 0: +3/-3 bin to bin, 0 in every cell
    R[1, noisy, 0], R[1, noisy, 1] = 3.0, -3.0  # sample 1: opposite on the two components, 0 in their sum
    band = (4.0, 6.0)
    # each bin of each component: the cancelling terms count (sample 0: 12 bins x 3; sample 1: 24 bins x 3)
    np.testing.assert_allclose(band_share(R, freqs, band), [8 / 44, 8 / 80])
    np.testing.assert_allclose(band_share(R, freqs, band, resolution_hz=1.0), [1.0, 8 / 80])
    np.testing.assert_allclose(band_share(R, freqs, band, sum_channels=True), [8 / 44, 1.0])
    np.testing.assert_allclose(band_share(R, freqs, band, resolution_hz=1.0, sum_channels=True), [1.0, 1.0])
    # a cell is inside when all its bins are: [4, 5) and [5, 6), not [6, 7) (only its 6.00 Hz bin is in the band)
    assert uniform_band_share(freqs, band) == pytest.approx(9 / 40)
    assert uniform_band_share(freqs, band, resolution_hz=1.0) == pytest.approx(8 / 40)
    shares = band_shares(R, freqs, np.zeros((2, 80, 1)) + RNG.normal(size=(2, 80, 1)), band, fs=20.0,
                         resolution_hz=1.0, sum_channels=True)
    assert shares["relevance_over_uniform"] == pytest.approx(5.0) and shares["resolution_hz"] == 1.0
    # pooling keeps the signed sums; 0 Hz left out; channels summed on request
    pooled, low, high = pool_frequencies(R, freqs, 1.0, sum_channels=True)
    assert pooled.shape == (2, 11) and low[0] == 0.25 and high[0] == 0.75 and low[-1] == high[-1] == 10.0
    np.testing.assert_allclose(pooled.sum(axis=1), R[:, 1:].sum(axis=(1, 2)))
    np.testing.assert_allclose(pooled[0, 4:6], [4.0, 4.0])
    per_channel, _, _ = pool_frequencies(R, freqs, 1.0)
    assert per_channel.shape == (2, 2, 11) and per_channel[1, 1, 1] == pytest.approx(-12.0)
    # the input's energy share on the same bins: a 5.5 Hz tone lies in the cells, a 6.25 Hz tone does not
    n = np.arange(80)
    X = np.stack([np.sin(2 * np.pi * 5.5 * n / 20.0), np.sin(2 * np.pi * 6.25 * n / 20.0)])[:, :, None]
    np.testing.assert_allclose(input_band_share(X, 20.0, band, resolution_hz=1.0), [1.0, 0.0], atol=1e-12)
    with pytest.raises(ValueError, match="no whole cell"):
        band_share(R, freqs, (4.2, 4.8), resolution_hz=1.0)
    with pytest.raises(ValueError, match="resolution_hz"):
        band_share(R, freqs, band, resolution_hz=0.0)


def test_band_share_sum_axes_sums_time_before_the_positive_part():
    """(N, F, T, C) map: +/-2 alternating in time in every row (0 per row), +1 in the band rows: rows see the band."""
    freqs = np.arange(11.0)                      # 0 ... 10 Hz, band 4-5 Hz: 2 of the 10 non-DC rows
    R = np.zeros((1, 11, 6, 2))
    R[0, :, :, 0] = 2.0 * (-1.0) ** np.arange(6)
    R[0, 4:6] += 1.0
    band = (4.0, 5.0)
    # cells: in-band cells +3/-1 (positive part 3 x 3 per row and channel 0, 1 x 6 on channel 1), out-of-band 3 x 2
    np.testing.assert_allclose(band_share(R, freqs, band, freq_axis=1), [2 * 15 / (2 * 15 + 8 * 6)])
    np.testing.assert_allclose(band_share(R, freqs, band, freq_axis=1, sum_axes=(2,)), [1.0])
    np.testing.assert_allclose(band_share(R, freqs, band, freq_axis=1, sum_axes=(2,), sum_channels=True), [1.0])
    np.testing.assert_allclose(band_share(R, freqs, band, freq_axis=1, sum_axes=(-2, 3)),
                               band_share(R.sum(axis=(2, 3))[:, :, None], freqs, band))
    pooled, low, _ = pool_frequencies(R, freqs, freq_axis=1, sum_axes=(2, 3))
    assert pooled.shape == (1, 10) and low[0] == 1.0
    np.testing.assert_allclose(pooled[0], np.where((freqs[1:] >= 4) & (freqs[1:] <= 5), 12.0, 0.0))
    assert band_shares(R, freqs, RNG.normal(size=(1, 20, 2)), band, fs=20.0, freq_axis=1,
                       sum_axes=(2, 3))["relevance_over_uniform"] == pytest.approx(5.0)
