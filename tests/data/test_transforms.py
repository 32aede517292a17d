"""Tests for seis_keras.data.transforms, each against a direct per-trace numpy/scipy computation."""
import numpy as np
import pytest
from scipy import signal

from seis_keras.data.transforms import (Bandpass, Compose, Demean, Detrend, JointNormalize, L2Normalize,
                                        LogSpectrogram, Lowpass, MaxNormalize, Standardize)

RNG = np.random.default_rng(0)
X = (RNG.normal(size=(4, 300, 3)) * [1.0, 3.0, 0.5] + [2.0, -1.0, 0.3]).astype(np.float32)


def test_demean_and_detrend():
    out = Demean()(X)
    for i in range(len(X)):
        np.testing.assert_allclose(out[i], X[i] - X[i].mean(axis=0), atol=1e-5)
    t = np.arange(300)
    ramp = X + (0.05 * t)[None, :, None].astype(np.float32)
    out = Detrend()(ramp)
    for i in range(len(X)):
        for c in range(3):
            slope, icpt = np.polyfit(t, ramp[i, :, c].astype(np.float64), 1)
            np.testing.assert_allclose(out[i, :, c], ramp[i, :, c] - (slope * t + icpt), atol=1e-4)
    np.testing.assert_allclose(Detrend()(ramp[1]), out[1], atol=1e-6)


def test_max_normalize_majstorovic():
    out = MaxNormalize()(X)
    for i in range(len(X)):
        np.testing.assert_allclose(out[i], X[i] / np.abs(X[i]).max(), rtol=1e-6)
    assert np.isclose(np.abs(out).max(axis=(1, 2)), 1.0).all()
    assert (MaxNormalize()(np.zeros((2, 10, 3))) == 0).all()


def test_l2_normalize_laurenti():
    x = X.copy()
    x[0, :, 2] = 0.0
    out = L2Normalize()(x)
    for i in range(len(x)):
        for c in range(3):
            norm = np.linalg.norm(x[i, :, c].astype(np.float64))
            expect = x[i, :, c] / norm if norm > 0 else x[i, :, c]
            np.testing.assert_allclose(out[i, :, c], expect, rtol=1e-5, atol=1e-7)
    assert (out[0, :, 2] == 0).all()
    np.testing.assert_allclose(np.linalg.norm(out[1:], axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("scale", ["std", "max"])
def test_joint_normalize_ong(scale):
    out = JointNormalize(scale=scale)(X)
    for i in range(len(X)):
        d = X[i].astype(np.float64) - X[i].mean(axis=0)
        s = d.std() if scale == "std" else np.abs(d).max()
        np.testing.assert_allclose(out[i], d / s, rtol=1e-5, atol=1e-6)
    # one joint scale keeps the relative amplitudes of the components
    ratio_in = X.std(axis=1) / X.std(axis=1)[:, :1]
    np.testing.assert_allclose(out.std(axis=1) / out.std(axis=1)[:, :1], ratio_in, rtol=1e-4)
    with pytest.raises(ValueError, match="scale"):
        JointNormalize(scale="rms")


def _tone(freqs, fs, n):
    t = np.arange(n) / fs
    return np.stack([np.sin(2 * np.pi * f * t) for f in freqs], axis=-1)[None].astype(np.float32)


def test_bandpass_passes_band_and_matches_sosfiltfilt_per_channel():
    fs, n = 100.0, 4000
    x = _tone([2.0, 15.0, 40.0], fs, n)
    out = Bandpass(10, 20, fs)(x)[0, 500:-500]
    amp = np.abs(out).max(axis=0)
    assert amp[1] > 0.98 and amp[0] < 0.01 and amp[2] < 0.01
    sos = signal.butter(4, [10, 20], "bandpass", fs=fs, output="sos")
    for c in range(3):
        np.testing.assert_allclose(Bandpass(10, 20, fs)(X)[:, :, c],
                                   np.stack([signal.sosfiltfilt(sos, X[i, :, c].astype(np.float64)) for i in range(4)]),
                                   atol=1e-5)
    low = Bandpass(0, 3, fs)(x)[0, 500:-500]
    assert np.abs(low[:, 0]).max() > 0.95 and np.abs(low[:, 1]).max() < 0.01
    high = Bandpass(30, 50, fs)(x)[0, 500:-500]
    assert np.abs(high[:, 2]).max() > 0.95 * np.abs(x[0, :, 2]).max() and np.abs(high[:, 1]).max() < 0.01
    with pytest.raises(ValueError, match="fmin < fmax"):
        Bandpass(20, 10, fs)


def test_lowpass_zero_phase_gain_at_cutoff():
    fs, n, fc = 40.0, 8000, 2.0
    x = _tone([fc, 0.5, 8.0], fs, n)
    out = Lowpass(fc, fs, order=8)(x)[0, 1000:-1000]
    amp = np.abs(out).max(axis=0)
    # forward-backward Butterworth: |H(fc)|^2 = 0.5
    assert abs(amp[0] - 0.5) < 0.01 and amp[1] > 0.99 and amp[2] < 1e-3
    # zero phase: the passband tone is not delayed
    np.testing.assert_allclose(out[:, 1], x[0, 1000:-1000, 1], atol=0.01)
    causal = Lowpass(fc, fs, order=8, zero_phase=False)(x)[0, 1000:-1000, 1]
    assert np.abs(causal - x[0, 1000:-1000, 1]).max() > 0.1


def _log_spectrogram_direct(trace, fs=100.0, nperseg=64, noverlap=48):
    """One channel, by hand: Tukey(0.25) window, segment mean removed, one-sided density."""
    win = signal.get_window(("tukey", 0.25), nperseg)
    hop = nperseg - noverlap
    n_seg = (len(trace) - noverlap) // hop
    segs = np.stack([trace[k * hop:k * hop + nperseg] for k in range(n_seg)]).astype(np.float64)
    segs = segs - segs.mean(axis=1, keepdims=True)
    p = np.abs(np.fft.rfft(segs * win, axis=1)) ** 2 / (fs * (win ** 2).sum())
    p[:, 1:-1] *= 2
    s = np.log1p(p.T)
    return (s - s.min()) / (s.max() - s.min())


def test_log_spectrogram_magrini_shape_and_values():
    x = RNG.normal(size=(2, 2500, 3)).astype(np.float32)
    tr = LogSpectrogram()
    out = tr(x)
    assert out.shape == (2, 33, 153, 3) == tr.output_shape(x.shape)
    assert tr.output_shape((None, 2500, 3)) == (None, 33, 153, 3)
    for i in range(2):
        for c in range(3):
            np.testing.assert_allclose(out[i, :, :, c], _log_spectrogram_direct(x[i, :, c]), atol=1e-5)
    assert out.min() == 0.0 and out.max() == 1.0
    assert tr(x[1]).shape == (33, 153, 3)


def test_standardize_fit_and_compose():
    spec = LogSpectrogram()(RNG.normal(size=(3, 2500, 3)).astype(np.float32))
    st = Standardize().fit(spec)
    for c in range(3):
        assert np.isclose(st.mean_[c], spec[..., c].astype(np.float64).mean())
        assert np.isclose(st.std_[c], spec[..., c].astype(np.float64).std())
    z = st(spec)
    np.testing.assert_allclose(z.reshape(-1, 3).mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(z.reshape(-1, 3).std(axis=0), 1, atol=1e-4)
    with pytest.raises(ValueError, match="fit"):
        Standardize()(spec)
    x = RNG.normal(size=(2, 2500, 3)).astype(np.float32)
    comp = Compose([Demean(), LogSpectrogram(), st])
    np.testing.assert_allclose(comp(x), st(LogSpectrogram()(Demean()(x))), atol=1e-6)
    assert comp.output_shape((2, 2500, 3)) == (2, 33, 153, 3)
    with pytest.raises(ValueError, match=r"expected \(N, T, C\)"):
        Demean()(np.zeros(5))
