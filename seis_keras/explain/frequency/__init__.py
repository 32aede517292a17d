"""Relevance in the frequency and time-frequency domain: virtual inspection layers.

Vielhaben, Lapuschkin, Montavon & Samek (2024), *Pattern Recognition* 150:110309,
"Explainable AI for time series via virtual inspection layers" (DFT-LRP, STDFT-LRP). The
spectrum of a relevance map is not the relevance of a frequency; here relevance is
propagated from the time samples into the DFT (or short-time DFT) coefficients through a
fixed, invertible linear "virtual" layer, so it answers "which frequencies (when) did the
network use", conserving the total relevance.

    >>> from seis_keras.explain.frequency import frequency_relevance, band_shares
    >>> freqs, R_f = frequency_relevance(model, X, method="lrp", rule="epsilon", fs=100.0)
    >>> band_shares(R_f, freqs, X, (30.0, 40.0), fs=100.0)   # relevance / input / uniform

Modules: :mod:`.transforms` (the coefficient layouts and their inverses, numpy),
:mod:`.virtual` (closed-form DFT-LRP/STDFT-LRP, the prepended-layer spectral model for
innvestigate, gradients on the spectral input), :mod:`.relevance` (the two entry points),
:mod:`.shares` (band shares, on DFT bins or on
frequency cells of a given width: ``resolution_hz``). Figures: :mod:`seis_keras.plots.frequency`.

Why not the authors' code: github.com/jvielhaben/DFT-LRP (also inside ``signxai2``) is PyTorch
(torch + zennit, not in the pinned stack) and builds dense T x T Fourier matrices; the rule
is a few lines here, evaluated with FFTs (O(T log T): the precursor's T = 16384 windows
would need 1 GB matrices), and its layouts are kept (real and imaginary parts, one-sided
spectrum, epsilon 1e-6). ``scipy.signal.stft`` is not used for the STDFT because its
boundary padding and scaling do not give the exact linear inverse the virtual layer needs;
its tapers (``scipy.signal.get_window``) are.

TensorFlow is imported only when a function of :mod:`.virtual`/:mod:`.relevance` is used.
"""
from __future__ import annotations

import importlib

from seis_keras.explain.frequency.shares import (SHARE_KINDS, band_share, band_shares, input_band_share,
                                                 pool_frequencies, uniform_band_share)
from seis_keras.explain.frequency.transforms import (coefficients_to_bins, dft, energy_spectrum, inverse_dft,
                                                     inverse_dft_matrix, inverse_stdft, inverse_stdft_matrix,
                                                     stdft, stdft_coverage, stdft_starts)

_LAZY = {
    "frequency_relevance": "relevance",
    "time_frequency_relevance": "relevance",
    "METHODS": "relevance",
    "dft_lrp": "virtual",
    "stdft_lrp": "virtual",
    "spectral_model": "virtual",
    "spectral_gradients": "virtual",
}

__all__ = sorted(["SHARE_KINDS", "band_share", "band_shares", "input_band_share", "pool_frequencies",
                  "uniform_band_share",
                  "coefficients_to_bins", "dft", "energy_spectrum", "inverse_dft", "inverse_dft_matrix",
                  "inverse_stdft", "inverse_stdft_matrix", "stdft", "stdft_coverage", "stdft_starts",
                  *_LAZY])


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'seis_keras.explain.frequency' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"seis_keras.explain.frequency.{_LAZY[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
