"""§ Co-located pairs (Fig. 6): pre/post events at the same place and magnitude, and their spectral ratios.

Pairs of a foreshock and an aftershock with hypocentres within ``pairs.max_distance_km`` (paper
±500 m) and magnitudes within ``pairs.max_magnitude_difference`` (±0.1), each event in one pair
at most (closest first), among the events at the experiment station; multitaper amplitude
spectra (time-half-bandwidth ``pairs.multitaper_nw``) and the post/pre amplitude ratio per
frequency. The paper: aftershocks richer in 30–40 Hz for all 253 pairs at NRCA. Ours: the
geometric-mean ratio inside the band against a reference band, and the share of pairs
relatively richer in the band (on built-in data, beside the planted gain ratio).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from seis_keras.data import norcia as nd
from seis_keras.data.norcia_experiments import planted_band
from seis_keras.explain.spectral import multitaper_spectrum, spectral_ratio
from seis_keras.plots.norcia import pair_spectra
from seis_keras.recipes.norcia.config import NorciaConfig
from seis_keras.recipes.norcia.study import NorciaData


@dataclasses.dataclass
class PairsResult:
    """Fig. 6's numbers (``metrics``) and the mean post/pre amplitude ratio per frequency (None: no pair)."""

    metrics: dict
    freqs: np.ndarray | None = None
    mean_ratio: np.ndarray | None = None


def pairs(data: NorciaData, cfg: NorciaConfig, folder) -> PairsResult:
    """Fig. 6 at the experiment station: the pairs, their mean spectral ratios, one pair's spectra drawn.

    Args:
        data: the traces (the experiment station's are used).
        cfg: the recipe config (``pairs``, ``data``, ``explain.band_hz``).
        folder: the run folder (``figures/pairs_spectral_ratio.png``).

    Returns:
        :class:`PairsResult`; its metrics: ``n_pairs``, ``n_events``, the band, and with pairs found the
        mean ratios in the band and the reference band, the share of pairs richer in the band, the first
        50 pairs (and on built-in data ``planted_gain_ratio``).
    """
    p, d = cfg.pairs, cfg.data
    fs = d.sampling_rate
    store, meta = data.store, data.store.metadata
    rows = np.flatnonzero(data.station_mask(data.experiment_station))
    sub = meta.iloc[rows]
    found = nd.co_located_pairs(sub, max_distance_km=p.max_distance_km,
                                max_magnitude_difference=p.max_magnitude_difference,
                                mainshock_time=d.mainshock_time, one_to_one=p.one_to_one)
    band, kind = planted_band(meta, cfg.explain.band_hz)
    out = {"n_pairs": int(len(found)), "band": list(band), "band_kind": kind,
           "n_events": int(sub.source_id.nunique())}
    folder.log(f"co-located pairs: {len(found)}")
    if found.empty:
        return PairsResult(out)
    first_row = dict(zip(sub.source_id.astype(str), rows))  # one trace per event at one station
    pre_rows = np.array([first_row[str(i)] for i in found.pre_id])
    post_rows = np.array([first_row[str(i)] for i in found.post_id])
    pre_x, post_x = store.get_waveforms(pre_rows), store.get_waveforms(post_rows)
    f, ratio = spectral_ratio(post_x, pre_x, fs, nw=p.multitaper_nw, axis=1)  # (P, F, C) amplitude ratios
    _, pre_psd = multitaper_spectrum(pre_x[:1], fs, nw=p.multitaper_nw, axis=1)
    _, post_psd = multitaper_spectrum(post_x[:1], fs, nw=p.multitaper_nw, axis=1)
    log_ratio = np.log(ratio)
    in_band = (f >= band[0]) & (f <= band[1])
    ref = (f >= p.reference_band_hz[0]) & (f <= p.reference_band_hz[1])
    out.update({
        "mean_ratio_in_band": float(np.exp(log_ratio[:, in_band].mean())),
        "mean_ratio_reference_band": float(np.exp(log_ratio[:, ref].mean())),
        "reference_band_hz": list(p.reference_band_hz),
        "fraction_of_pairs_richer_in_band": float(np.mean(log_ratio[:, in_band].mean(axis=(1, 2))
                                                         > log_ratio[:, ref].mean(axis=(1, 2)))),
        "pairs": found.head(50).to_dict("records")})
    if "planted_band_gain" in meta.columns:
        g = meta.planted_band_gain.to_numpy(float)
        out["planted_gain_ratio"] = float(np.exp(np.mean(np.log(g[post_rows] / g[pre_rows]))))
    ex = found.iloc[0]
    title = (f"pair {ex.pre_id} (pre) / {ex.post_id} (post): {ex.distance_km * 1000:.0f} m, "
             f"ΔM {ex.magnitude_difference:.2f}")
    fig = pair_spectra(f, np.sqrt(pre_psd[0]), np.sqrt(post_psd[0]), ratio, pre_trace=pre_x[0], post_trace=post_x[0],
                       fs=fs, band=band, title=title)
    folder.save_figure(fig, "pairs_spectral_ratio")
    return PairsResult(out, f, np.exp(log_ratio.mean(axis=(0, 2))))  # geometric mean over pairs and components
