"""Band shares: "share in 30-40 Hz: relevance x, input y, uniform z".

- :func:`band_share`: the share of the relevance in a frequency band, per sample, for
  relevance per frequency (N, F, C), per time-frequency cell (N, M, F, C), or any map with
  a frequency axis (a spectrogram model's SHAP map (N, F, T, C): ``freq_axis=1``).
- :func:`input_band_share`: the share of the input's energy in the band (one-sided DFT
  energy, Parseval: :func:`~.transforms.energy_spectrum`).
- :func:`uniform_band_share`: the share of the frequency bins in the band, i.e. what a
  relevance spread evenly over frequency would put there.
- :func:`band_shares`: the three, averaged over a batch, with the two ratios.

Bands are inclusive, ``f_lo <= f <= f_hi``. The 0 Hz bin is left out of numerator and
denominator by default in all three (``exclude_dc``), so they stay comparable.
"""
from __future__ import annotations

import numpy as np

from seis_keras.explain.frequency.transforms import energy_spectrum

__all__ = ["SHARE_KINDS", "band_share", "input_band_share", "uniform_band_share", "band_shares"]

#: How relevance is counted: positive part (default, as ``metrics.relevance_mass_accuracy``),
#: absolute value, or signed (sum in band / total sum; can leave [0, 1]).
SHARE_KINDS = ("positive", "absolute", "signed")


def _band_mask(freqs, band, exclude_dc: bool):
    freqs = np.asarray(freqs, dtype=np.float64)
    if freqs.ndim != 1:
        raise ValueError(f"freqs: expected a 1-D frequency axis in Hz, got shape {freqs.shape}")
    try:
        lo, hi = (float(b) for b in band)
    except (TypeError, ValueError):
        raise ValueError(f"band: expected (f_lo, f_hi) in Hz, got {band!r}") from None
    if not lo <= hi:
        raise ValueError(f"band: expected f_lo <= f_hi, got ({lo}, {hi})")
    keep = freqs > 0 if exclude_dc else np.ones(len(freqs), dtype=bool)
    return keep, keep & (freqs >= lo) & (freqs <= hi)


def band_share(relevance: np.ndarray, freqs: np.ndarray, band, *, kind: str = "positive",
               freq_axis: int | None = None, exclude_dc: bool = True) -> np.ndarray:
    """Share of each sample's relevance inside ``band``.

    Args:
        relevance: (N, F, C) from ``frequency_relevance``, (N, M, F, C) from
            ``time_frequency_relevance``, or any (N, ...) map with a frequency axis.
        freqs: (F,) bin frequencies in Hz.
        band: (f_lo, f_hi) Hz, inclusive.
        kind: one of :data:`SHARE_KINDS`; each cell (frequency, channel, time) is clipped or
            rectified before summing.
        freq_axis: the frequency axis; default 1 for 3-D input, 2 for 4-D.
        exclude_dc: leave the 0 Hz bin out.

    Returns:
        float64 (N,); NaN where a sample has no relevance of that kind outside DC.
    """
    R = np.asarray(relevance, dtype=np.float64)
    if R.ndim < 2:
        raise ValueError(f"relevance: expected (N, F, C) or (N, M, F, C), got shape {R.shape}")
    axis = (1 if R.ndim == 3 else 2) if freq_axis is None else freq_axis % R.ndim
    if axis == 0:
        raise ValueError("freq_axis: axis 0 is the sample axis")
    if R.shape[axis] != len(np.asarray(freqs)):
        raise ValueError(f"freqs: {len(np.asarray(freqs))} values, expected {R.shape[axis]} "
                         f"(relevance axis {axis}, shape {R.shape})")
    if kind not in SHARE_KINDS:
        raise ValueError(f"kind: expected one of {', '.join(SHARE_KINDS)}, got {kind!r}")
    if not np.all(np.isfinite(R)):
        raise ValueError("relevance: non-finite values (NaN/inf); expected finite relevance")
    keep, inside = _band_mask(freqs, band, exclude_dc)
    R = {"positive": np.clip(R, 0, None), "absolute": np.abs(R), "signed": R}[kind]
    R = np.moveaxis(R, axis, -1).reshape(len(R), -1, R.shape[axis]).sum(axis=1)  # (N, F)
    total = R[:, keep].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total != 0, R[:, inside].sum(axis=1) / total, np.nan)


def input_band_share(X: np.ndarray, fs: float, band, *, exclude_dc: bool = True) -> np.ndarray:
    """Share of each sample's input energy inside ``band`` (channels summed).

    Args:
        X: batch (N, T, C).
        fs: sampling rate in Hz.
        band: (f_lo, f_hi) Hz, inclusive.
        exclude_dc: leave the 0 Hz bin out.

    Returns:
        float64 (N,) in [0, 1]; NaN for an all-zero (or constant, with exclude_dc) sample.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 3:
        raise ValueError(f"X: expected a batch (N, T, C), got shape {X.shape}")
    freqs, energy = energy_spectrum(X, fs, axis=1)
    return band_share(energy, freqs, band, kind="signed", exclude_dc=exclude_dc)


def uniform_band_share(freqs: np.ndarray, band, *, exclude_dc: bool = True) -> float:
    """Share of the frequency bins inside ``band``: the share of a relevance flat in frequency.

    Returns:
        float in [0, 1].
    """
    keep, inside = _band_mask(freqs, band, exclude_dc)
    if not keep.any():
        raise ValueError("freqs: no bins left (only 0 Hz with exclude_dc=True)")
    return float(inside.sum() / keep.sum())


def band_shares(relevance: np.ndarray, freqs: np.ndarray, X: np.ndarray, band, *, fs: float,
                kind: str = "positive", freq_axis: int | None = None, exclude_dc: bool = True) -> dict:
    """Relevance, input and uniform shares of ``band``, means over the batch, for reports.

    Args:
        relevance: relevance per frequency (or cell) of the batch ``X``.
        freqs: the relevance's bin frequencies (Hz).
        X: the explained batch (N, T, C) (its own DFT bins give the input share).
        band: (f_lo, f_hi) Hz.
        fs: sampling rate of ``X``.
        kind, freq_axis, exclude_dc: as :func:`band_share`.

    Returns:
        dict with ``band``, ``relevance``, ``input``, ``uniform`` (means; NaN samples left
        out), ``relevance_over_uniform``, ``relevance_over_input``, ``n``.
    """
    r = band_share(relevance, freqs, band, kind=kind, freq_axis=freq_axis, exclude_dc=exclude_dc)
    if len(r) != len(np.asarray(X)):
        raise ValueError(f"X: expected {len(r)} samples (one per relevance map), got {len(np.asarray(X))}")
    x = input_band_share(X, fs, band, exclude_dc=exclude_dc)
    u = uniform_band_share(freqs, band, exclude_dc=exclude_dc)
    rel = float(np.nanmean(r)) if np.isfinite(r).any() else float("nan")
    inp = float(np.nanmean(x)) if np.isfinite(x).any() else float("nan")
    return {"band": [float(band[0]), float(band[1])], "relevance": rel, "input": inp, "uniform": u,
            "relevance_over_uniform": rel / u if u > 0 else float("nan"),
            "relevance_over_input": rel / inp if inp > 0 else float("nan"), "n": int(len(r))}
