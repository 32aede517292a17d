"""Section 6 of the precursor study: spectral analysis (§6.3, Figs 9–11).

Fig. 9: spectrogram of the sub-window chosen by the time occlusion (FFT window 1000, stride
500, channel 0). Fig. 10: cumulative amplitude spectra of all precursor and all noise
sub-windows (all 3 channels), train and test. Fig. 11: their relative difference in percent,
smoothed by a Savitzky–Golay filter over 0.062 Hz, and its highest peaks (paper: 0.16 and
0.21 Hz).
"""
from __future__ import annotations

import numpy as np

from seis_keras.explain.spectral import (amplitude_spectrum, find_spectral_peaks, relative_difference,
                                         smooth_spectrum, spectrogram)
from seis_keras.plots import precursor as plots
from seis_keras.recipes.precursor.study import CLASS_NAMES, PrecursorStudy, dataset, json_safe, windows_of
from seis_keras.recipes.runner import RunFolder


def planted_band(study: PrecursorStudy) -> tuple[float, float] | None:
    """The planted tremor band (built-in data) to mark on the figures, else ``None``."""
    return tuple(study.cfg.synthetic.tremor_band) if study.built_in else None


def class_spectra(study: PrecursorStudy, split: str) -> tuple[np.ndarray, dict]:
    """Summed amplitude spectra of the noise and precursor sub-windows of a split (streamed)."""
    sums, freqs = {0: 0.0, 1: 0.0}, None
    for xb, yb in dataset(study, windows_of(study, "A", split)):
        freqs, a = amplitude_spectrum(xb.numpy(), study.fs, axis=1)
        y = yb.numpy()
        for c in (0, 1):
            if (y == c).any():
                sums[c] = sums[c] + a[y == c].sum(axis=(0, 2))
    return freqs, {CLASS_NAMES[c]: np.asarray(v) for c, v in sums.items()}


def spectra(study: PrecursorStudy, folder: RunFolder, chosen: np.ndarray) -> dict:
    """Spectrogram of the chosen window; cumulative spectra; relative difference and its peaks."""
    s, band = study.cfg.spectra, planted_band(study)
    win = min(s.spectrogram_window, len(chosen))
    f, t, amp = spectrogram(chosen, study.fs, window=win, stride=min(s.spectrogram_stride, win), axis=0)
    ch, comps = s.spectrogram_channel, study.cfg.data.component_order
    folder.save_figure(plots.spectrogram_figure(
        f, t, amp.sum(axis=-1) if ch < 0 else amp[..., ch], band=band,
        title=f"Spectrogram (Fig. 9), {'all channels' if ch < 0 else f'channel {ch} ({comps[ch]})'}"),
        "fig9_spectrogram")
    cum, rel, peaks, out = {}, {}, {}, {}
    lo, hi = s.peak_search_hz
    for split in ("train", "test"):
        freqs, cum[split] = class_spectra(study, split)
        keep = freqs > 0
        r = np.zeros_like(freqs)
        r[keep] = relative_difference(cum[split]["precursor"][keep], cum[split]["noise"][keep], percent=True)
        sm = np.zeros_like(freqs)
        sm[keep] = smooth_spectrum(r[keep], freqs[keep], width_hz=s.savgol_width_hz, polyorder=s.savgol_polyorder)
        rel[split] = (r, sm)
        found = find_spectral_peaks(freqs, sm, fmin=lo, fmax=hi, n_peaks=3)
        peaks[split] = float(found[0]) if len(found) else None
        out[split] = {"peaks_hz": found.tolist(), "highest_peak_hz": peaks[split],
                      "highest_peak_percent": None if not len(found) else float(sm[np.argmin(abs(freqs - found[0]))])}
    folder.save_figure(plots.cumulative_spectra(freqs, cum, band=band), "fig10_cumulative_spectra")
    folder.save_figure(plots.relative_difference(freqs, rel, band=band, peaks=peaks), "fig11_relative_difference")
    out["frequency_resolution_hz"] = float(freqs[1] - freqs[0])
    shown = (freqs > 0) & (freqs <= hi)  # the smoothed curves up to the peak search's top (§6.2: < 3.5 Hz)
    out["relative_difference_smoothed"] = {"freqs_hz": freqs[shown], **{k: v[1][shown] for k, v in rel.items()}}
    return json_safe(out)
