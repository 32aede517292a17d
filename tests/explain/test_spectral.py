"""Spectral helpers against direct numpy/scipy computations."""
import numpy as np
import pytest
from scipy import signal

from seis_keras.explain import spectral as sp


def test_spectrogram_matches_manual_fft_windows():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2, 5000, 3))
    f, t, S = sp.spectrogram(X, 40.0, window=1000, stride=500, axis=1)
    assert S.shape == (2, 501, 9, 3)
    w = signal.get_window("hann", 1000)
    seg = X[1, 1500:2500, 2]
    np.testing.assert_allclose(S[1, :, 3, 2], np.abs(np.fft.rfft(seg * w)), rtol=1e-8)
    f1, t1, S1 = sp.spectrogram(X[1, :, 2], 40.0, window=1000, stride=500, axis=-1)
    np.testing.assert_allclose(S1, S[1, :, :, 2])
    np.testing.assert_allclose(t[:2], [12.5, 25.0])


def test_cumulative_spectra_and_relative_difference():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(6, 128, 3))
    y = np.array([0, 1, 0, 1, 1, 0])
    f, spec = sp.class_cumulative_spectra(X, y, 40.0)
    ref1 = sum(np.abs(np.fft.rfft(X[i, :, c])) for i in (1, 3, 4) for c in range(3))
    np.testing.assert_allclose(spec[1], ref1)
    np.testing.assert_allclose(sp.relative_difference([3.0, 1.0], [2.0, 2.0], percent=True), [50.0, -50.0])
    with pytest.raises(ValueError, match="b: reference spectrum has zeros"):
        sp.relative_difference([1.0], [0.0])


def test_savgol_width_conversion_and_smoothing():
    df = 40.0 / 16384
    assert sp.savgol_width_to_bins(0.062, df) == 25          # Ong: 0.062 Hz -> 25.4 bins -> 25
    assert sp.savgol_width_to_bins(0.1, 0.01) == 11          # 10 -> odd 11
    assert sp.savgol_width_to_bins(0.001, 0.01, polyorder=3) == 5
    freqs = np.arange(400) * df
    v = np.random.default_rng(2).normal(size=400)
    np.testing.assert_allclose(sp.smooth_spectrum(v, freqs, width_hz=0.062), signal.savgol_filter(v, 25, 2))


def test_peaks_found_at_planted_frequencies():
    freqs = np.linspace(0, 1, 1001)
    v = np.exp(-((freqs - 0.16) / 0.01) ** 2) + 0.8 * np.exp(-((freqs - 0.21) / 0.01) ** 2)
    np.testing.assert_allclose(sp.find_spectral_peaks(freqs, v, n_peaks=2), [0.16, 0.21])
    assert sp.find_spectral_peaks(freqs, v, fmin=0.18).tolist() == [0.21]


def test_multitaper_k1_equals_single_dpss_periodogram_and_ratio():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(256, 2))
    f, P = sp.multitaper_spectrum(x, 100.0, nw=3, k=1)
    taper = signal.windows.dpss(256, 3, Kmax=1, norm=2)[0]
    ref = np.abs(np.fft.rfft(x[:, 1] * taper)) ** 2 / 100.0
    ref[1:128] *= 2
    np.testing.assert_allclose(P[:, 1], ref, rtol=1e-10)
    # Parseval-like check for K tapers: total power ~ variance
    f, P4 = sp.multitaper_spectrum(x[:, 0], 100.0, nw=4, axis=0)
    assert P4.shape == (129,)
    np.testing.assert_allclose(np.sum(P4) * (f[1] - f[0]), np.var(x[:, 0]), rtol=0.15)
    f, r = sp.spectral_ratio(3 * x, x, 100.0, axis=0)
    np.testing.assert_allclose(r, 3.0, rtol=1e-6)


def test_band_power_fraction_and_sigma_lrp():
    fs, t = 100.0, np.arange(1000) / 100.0
    R = np.zeros((2, 1000, 1))
    R[0, :, 0] = np.sin(2 * np.pi * 35 * t)
    R[1, :, 0] = np.sin(2 * np.pi * 5 * t) + np.sin(2 * np.pi * 35 * t)
    frac = sp.band_power_fraction(R, (30, 40), fs)
    np.testing.assert_allclose(frac, [1.0, 0.5], atol=1e-6)
    x = np.ones_like(R)
    np.testing.assert_allclose(sp.band_power_fraction(R, (30, 40), fs, x=x, method="relevance_times_signal"), frac)
    Rl = np.zeros((2, 100, 3))
    Rl[0, 10, 0] = Rl[0, 30, 1] = 1.0      # two equal spikes 20 samples apart: sigma = 10
    Rl[0, 50, 2] = -5.0                    # negative relevance is ignored
    Rl[1, 40, 0] = 2.0
    np.testing.assert_allclose(sp.sigma_lrp(Rl, fs=20.0), [10 / 20.0, 0.0])
    assert np.isnan(sp.sigma_lrp(-np.ones((1, 5)))[0])
