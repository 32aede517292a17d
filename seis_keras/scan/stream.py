"""Continuous data on the model's sampling grid: resampled, merged, components aligned."""
from __future__ import annotations

import math

import numpy as np

from seis_keras.models.contract import InputContract

def prepare_stream(stream, contract: InputContract, *, channel_map=None) -> list[dict]:
    """Resample and merge each station's components on one grid (step 1 of the docstring).

    Args:
        stream: ``obspy.Stream``.
        contract: gives the target rate and the component order.
        channel_map: explicit channel code -> component letter (see ``ingest.component_of``).

    Returns:
        One dict per station: ``id`` (``NET.STA.LOC``), ``channel`` (band+instrument code),
        ``start`` (``UTCDateTime`` of sample 0), ``data`` ``(T, C)`` float32 in
        ``contract.component_order``, ``gap`` ``(T,)`` bool.
    """
    from seis_keras.data.ingest import group_by_station, merge_channel, resample_trace

    order, fs = contract.component_order, float(contract.sampling_rate)
    for tr in stream:
        values = np.ma.getdata(tr.data)
        bad = ~np.isfinite(values) & ~np.ma.getmaskarray(tr.data)
        if bad.any():  # FFT resampling would spread them over the whole segment: NaN probabilities
            raise ValueError(f"{tr.id}: {int(bad.sum())} NaN/inf samples from {tr.stats.starttime} (expected finite "
                             "values; mask or remove them)")
    out = []
    for (net, sta, loc), comps in group_by_station(stream, order, channel_map=channel_map, source="stream").items():
        chans = {c: merge_channel([resample_trace(t, fs, "resample", True, "hann", "lanczos", 0.8) for t in comps[c]], fs)
                 for c in order}
        t0 = max(ch.start for ch in chans.values())
        t1 = min(ch.start + (len(ch.data) - 1) / fs for ch in chans.values())
        n = int(math.floor((t1 - t0) * fs + 1e-6)) + 1
        if n < 1:
            raise ValueError(f"{net}.{sta}.{loc}: the components do not overlap in time")
        data = np.zeros((n, len(order)), np.float32)
        gap = np.zeros(n, bool)
        for j, c in enumerate(order):
            ch = chans[c]
            i0 = int(round((t0 - ch.start) * fs))
            data[:, j] = ch.data[i0:i0 + n]
            gap |= ch.gap[i0:i0 + n]
        band = comps[order[0]][0].stats.channel[:-1]
        out.append({"id": f"{net}.{sta}.{loc}", "channel": band, "start": t0, "data": data, "gap": gap})
    return out
