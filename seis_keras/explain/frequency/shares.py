"""Band shares: "share in 30-40 Hz: relevance x, input y, uniform z".

- :func:`band_share`: the share of the relevance in a frequency band, per sample, for
  relevance per frequency (N, F, C), per time-frequency cell (N, M, F, C), or any map with
  a frequency axis (a spectrogram model's SHAP map (N, F, T, C): ``freq_axis=1``).
- :func:`input_band_share`: the share of the input's energy in the band (one-sided DFT
  energy, Parseval: :func:`~.transforms.energy_spectrum`).
- :func:`uniform_band_share`: the share of the frequency bins in the band, i.e. what a
  relevance spread evenly over frequency would put there.
- :func:`band_shares`: the three, averaged over a batch, with the two ratios.
- :func:`pool_frequencies`: relevance summed (signed) over frequency bands of a given width
  and, on request, over the channels and other axes: the cells the positive part is taken of.

Bands are inclusive, ``f_lo <= f <= f_hi``. The 0 Hz bin is left out of numerator and
denominator by default in all three (``exclude_dc``), so they stay comparable.

**Resolution** (``resolution_hz``, ``sum_channels``). By default the positive part is taken
of each DFT bin of each channel: 1/T Hz wide (0.04 Hz for a 25 s trace). The DFT-LRP
relevance of one bin, ``c_k Re(Y_k conj(U_k))``, carries cross terms of random sign between
neighbouring bins and between components (a ReLU network mixes them); over a band of any
width they cancel, in a positive part they do not, so a per-bin share counts them as
relevance spread over every frequency with energy, and it depends on the record length T,
not on the network. ``resolution_hz = w`` sums the signed relevance over bands
``[k w, (k+1) w)`` first (a band cell is inside ``band`` when all its bins are), and
``sum_channels`` adds the components: the relevance *of a frequency band* on the whole
trace. The uniform and input shares use the same bins, so the ratios stay comparable.

**Whole-map rows** (``sum_axes``). A time-frequency map (a spectrogram model's SHAP map
(N, F, T, C), STDFT relevance (N, M, F, C)) has one value per cell (frequency, time, channel);
its positive part per cell counts random-sign fluctuations of single cells (an explainer's
sampling noise, cross terms between cells) as relevance in every row, wherever they cancel
over time. ``sum_axes`` names further axes of ``relevance`` (not the sample or frequency axis)
summed (signed) before the positive part, as ``sum_channels`` does for the last: summing time
and channels (``sum_axes=(2, 3)`` on (N, F, T, C) maps) gives the relevance *of a frequency
row on the whole map*, the quantity the DFT shares above measure on a trace.
"""
from __future__ import annotations

import operator

import numpy as np

from seis_keras.explain.frequency.transforms import energy_spectrum

__all__ = ["SHARE_KINDS", "band_share", "input_band_share", "uniform_band_share", "band_shares", "pool_frequencies"]

#: How relevance is counted: positive part (default, as ``metrics.relevance_mass_accuracy``),
#: absolute value, or signed (sum in band / total sum; can leave [0, 1]).
SHARE_KINDS = ("positive", "absolute", "signed")


def _parse_band(band):
    try:
        lo, hi = (float(b) for b in band)
    except (TypeError, ValueError):
        raise ValueError(f"band: expected (f_lo, f_hi) in Hz, got {band!r}") from None
    if not lo <= hi:
        raise ValueError(f"band: expected f_lo <= f_hi, got ({lo}, {hi})")
    return lo, hi


def _cells(freqs, exclude_dc: bool, resolution_hz):
    """Kept bins and their band cells: ``(keep (F,), cell index per kept bin, lowest, highest bin Hz per cell)``."""
    freqs = np.asarray(freqs, dtype=np.float64)
    if freqs.ndim != 1:
        raise ValueError(f"freqs: expected a 1-D frequency axis in Hz, got shape {freqs.shape}")
    keep = freqs > 0 if exclude_dc else np.ones(len(freqs), dtype=bool)
    f = freqs[keep]
    if resolution_hz is None:
        cell = np.arange(len(f))
    else:
        w = float(resolution_hz) if isinstance(resolution_hz, (int, float, np.number)) else float("nan")
        if not w > 0:
            raise ValueError(f"resolution_hz: expected a band width > 0 Hz (or None: each DFT bin), got {resolution_hz!r}")
        if len(f) and np.any(np.diff(f) <= 0):
            raise ValueError("freqs: expected increasing bin frequencies (pooling needs contiguous bands)")
        k = np.floor(f / w + 1e-9).astype(np.int64)
        cell = np.concatenate([[0], np.cumsum(np.diff(k) != 0)]) if len(k) else k
    n = int(cell[-1]) + 1 if len(cell) else 0
    low = np.full(n, np.inf)
    high = np.full(n, -np.inf)
    np.minimum.at(low, cell, f)
    np.maximum.at(high, cell, f)
    return keep, cell, low, high


def _inside(low, high, band, resolution_hz=None):
    lo, hi = _parse_band(band)
    inside = (low >= lo) & (high <= hi)
    if resolution_hz is not None and len(low) and not inside.any():
        raise ValueError(f"band: ({lo:g}, {hi:g}) Hz holds no whole cell of resolution_hz={resolution_hz:g} "
                         "(expected a band at least one cell wide, on the cell edges k * resolution_hz)")
    return inside


def _summed_axes(sum_axes, ndim: int, axis: int, sum_channels: bool) -> tuple[int, ...]:
    """The axes summed before the positive part: ``sum_axes`` and, with ``sum_channels``, the last."""
    try:
        given = [operator.index(a) for a in sum_axes]
    except TypeError:
        given = None
    axes = None if given is None or any(not -ndim <= a < ndim for a in given) else {a % ndim for a in given}
    if axes is None or len(axes) != len(given) or 0 in axes or axis in axes:
        raise ValueError(f"sum_axes: expected distinct axes of the {ndim}-D relevance other than the sample axis 0 "
                         f"and the frequency axis {axis}, got {sum_axes!r}")
    if sum_channels and ndim >= 3 and axis != ndim - 1:
        axes.add(ndim - 1)
    return tuple(sorted(axes))


def pool_frequencies(relevance: np.ndarray, freqs: np.ndarray, resolution_hz: float | None = None, *,
                     freq_axis: int | None = None, sum_channels: bool = False, exclude_dc: bool = True,
                     sum_axes: tuple[int, ...] = ()):
    """Relevance summed (signed) over frequency cells ``[k w, (k+1) w)`` and, optionally, other axes.

    Args:
        relevance: (N, F, C), (N, M, F, C) or any (N, ...) map with a frequency axis.
        freqs: (F,) increasing bin frequencies in Hz.
        resolution_hz: cell width ``w`` in Hz; None: each bin its own cell.
        freq_axis: the frequency axis; default 1 for 3-D input, 2 for 4-D.
        sum_channels: also sum the last axis (the channels; not when it is the frequency axis).
        exclude_dc: leave the 0 Hz bin out.
        sum_axes: further axes of ``relevance`` summed (e.g. time; module docstring).

    Returns:
        ``(pooled, low, high)``: the map with its frequency axis moved last and replaced by the
        cells (summed axes removed), and each cell's lowest and highest bin in Hz.
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
    if not np.all(np.isfinite(R)):
        raise ValueError("relevance: non-finite values (NaN/inf); expected finite relevance")
    keep, cell, low, high = _cells(freqs, exclude_dc, resolution_hz)
    summed = _summed_axes(sum_axes, R.ndim, axis, sum_channels)
    if summed:
        R = R.sum(axis=summed)
        axis -= sum(a < axis for a in summed)
    R = np.moveaxis(R, axis, -1)[..., keep]
    if resolution_hz is not None and R.shape[-1]:
        R = np.add.reduceat(R, np.flatnonzero(np.diff(cell, prepend=-1)), axis=-1)
    return R, low, high


def band_share(relevance: np.ndarray, freqs: np.ndarray, band, *, kind: str = "positive",
               freq_axis: int | None = None, exclude_dc: bool = True, resolution_hz: float | None = None,
               sum_channels: bool = False, sum_axes: tuple[int, ...] = ()) -> np.ndarray:
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
        resolution_hz: None (default): each DFT bin is a cell; ``w``: the bins are summed over
            cells ``[k w, (k+1) w)`` first, a cell counting as inside when all its bins are
            (module docstring).
        sum_channels: sum the channels (last axis) before the positive part.
        sum_axes: further axes summed (signed) before the positive part: ``(2, 3)`` on
            (N, F, T, C) maps is the share of each frequency row's whole-map relevance
            (module docstring, "Whole-map rows").

    Returns:
        float64 (N,); NaN where a sample has no relevance of that kind outside DC.
    """
    if kind not in SHARE_KINDS:
        raise ValueError(f"kind: expected one of {', '.join(SHARE_KINDS)}, got {kind!r}")
    R, low, high = pool_frequencies(relevance, freqs, resolution_hz, freq_axis=freq_axis,
                                    sum_channels=sum_channels, exclude_dc=exclude_dc, sum_axes=sum_axes)
    inside = _inside(low, high, band, resolution_hz)
    R = {"positive": np.clip(R, 0, None), "absolute": np.abs(R), "signed": R}[kind]
    R = R.reshape(len(R), -1, R.shape[-1]).sum(axis=1)  # (N, cells)
    total = R.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total != 0, R[:, inside].sum(axis=1) / total, np.nan)


def input_band_share(X: np.ndarray, fs: float, band, *, exclude_dc: bool = True,
                     resolution_hz: float | None = None) -> np.ndarray:
    """Share of each sample's input energy inside ``band`` (channels summed).

    Args:
        X: batch (N, T, C).
        fs: sampling rate in Hz.
        band: (f_lo, f_hi) Hz, inclusive.
        exclude_dc: leave the 0 Hz bin out.
        resolution_hz: count the bins of the cells :func:`band_share` counts at this resolution.

    Returns:
        float64 (N,) in [0, 1]; NaN for an all-zero (or constant, with exclude_dc) sample.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 3:
        raise ValueError(f"X: expected a batch (N, T, C), got shape {X.shape}")
    freqs, energy = energy_spectrum(X, fs, axis=1)
    return band_share(energy, freqs, band, kind="signed", exclude_dc=exclude_dc, resolution_hz=resolution_hz)


def uniform_band_share(freqs: np.ndarray, band, *, exclude_dc: bool = True,
                       resolution_hz: float | None = None) -> float:
    """Share of the frequency bins inside ``band``: the share of a relevance flat in frequency.

    Args:
        freqs, band, exclude_dc: as :func:`band_share`.
        resolution_hz: count the bins of the cells inside ``band`` at this resolution.

    Returns:
        float in [0, 1].
    """
    keep, cell, low, high = _cells(freqs, exclude_dc, resolution_hz)
    if not keep.any():
        raise ValueError("freqs: no bins left (only 0 Hz with exclude_dc=True)")
    return float(_inside(low, high, band, resolution_hz)[cell].sum() / keep.sum())


def band_shares(relevance: np.ndarray, freqs: np.ndarray, X: np.ndarray, band, *, fs: float,
                kind: str = "positive", freq_axis: int | None = None, exclude_dc: bool = True,
                resolution_hz: float | None = None, sum_channels: bool = False,
                sum_axes: tuple[int, ...] = ()) -> dict:
    """Relevance, input and uniform shares of ``band``, means over the batch, for reports.

    Args:
        relevance: relevance per frequency (or cell) of the batch ``X``.
        freqs: the relevance's bin frequencies (Hz).
        X: the explained batch (N, T, C) (its own DFT bins give the input share).
        band: (f_lo, f_hi) Hz.
        fs: sampling rate of ``X``.
        kind, freq_axis, exclude_dc, resolution_hz, sum_channels, sum_axes: as :func:`band_share`.

    Returns:
        dict with ``band``, ``relevance``, ``input``, ``uniform`` (means; NaN samples left
        out), ``relevance_over_uniform``, ``relevance_over_input``, ``n``, ``resolution_hz``,
        ``sum_channels``.
    """
    r = band_share(relevance, freqs, band, kind=kind, freq_axis=freq_axis, exclude_dc=exclude_dc,
                   resolution_hz=resolution_hz, sum_channels=sum_channels, sum_axes=sum_axes)
    if len(r) != len(np.asarray(X)):
        raise ValueError(f"X: expected {len(r)} samples (one per relevance map), got {len(np.asarray(X))}")
    x = input_band_share(X, fs, band, exclude_dc=exclude_dc, resolution_hz=resolution_hz)
    u = uniform_band_share(freqs, band, exclude_dc=exclude_dc, resolution_hz=resolution_hz)
    rel = float(np.nanmean(r)) if np.isfinite(r).any() else float("nan")
    inp = float(np.nanmean(x)) if np.isfinite(x).any() else float("nan")
    return {"band": [float(band[0]), float(band[1])], "relevance": rel, "input": inp, "uniform": u,
            "relevance_over_uniform": rel / u if u > 0 else float("nan"),
            "relevance_over_input": rel / inp if inp > 0 else float("nan"), "n": int(len(r)),
            "resolution_hz": None if resolution_hz is None else float(resolution_hz),
            "sum_channels": bool(sum_channels)}
