"""A continuous three-component synthetic record with known earthquakes, for testing scanners.

The record is sampled at a native rate above the detector's 20 Hz (100 Hz by default) so a
sliding-window scanner has to resample it. Noise and earthquakes follow the same physics as
``detector_data`` (see ``seis_keras.data.synthetic.detector``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from seis_keras.data.synthetic import wavefield as wf
from seis_keras.data.synthetic.detector import DetectorPhysics, background_noise, earthquake_signals


def detector_continuous(duration_s: float = 3600.0, n_events: int = 10, seed: int = 0, *,
                        sampling_rate: float = 100.0, magnitude_range: tuple[float, float] = (1.5, 3.5),
                        min_separation_s: float = 90.0, event_segment_s: float = 80.0,
                        start_time: str = "2016-01-01T00:00:00Z", network: str = "SY",
                        station: str = "SYN", channel_prefix: str = "HH",
                        physics: DetectorPhysics = DetectorPhysics()):
    """A continuous E/N/Z record with ``n_events`` earthquakes at known P and S times.

    Args:
        duration_s: record length in seconds.
        n_events: number of earthquakes; their P onsets are at least ``min_separation_s`` apart
            and at least 10 s from the record's ends.
        seed: same seed → identical traces and catalogue.
        sampling_rate: native rate in Hz (100; the scanner resamples to the model's 20 Hz).
        magnitude_range: magnitudes of the events (1.5–3.5, all well above the noise).
        min_separation_s: minimum time between consecutive P onsets.
        event_segment_s: each event's signal is generated on a segment this long starting 5 s
            before P and tapered over its last 10%.
        start_time: the first sample's time (UTC).
        network, station, channel_prefix: trace ids (channels ``HHE``, ``HHN``, ``HHZ``).
        physics: noise and earthquake settings; ``physics.magnitude_range`` is replaced by
            ``magnitude_range``.

    Returns:
        ``(stream, events)``: an ``obspy.Stream`` of three float32 traces (E, N, Z) and a
        DataFrame, one row per event, sorted by time, with ``source_id``,
        ``p_time``/``s_time``/``coda_end_time`` (ISO UTC), ``p_sample``/``s_sample`` (native-rate
        samples from the record start), ``source_magnitude``, ``source_distance_km``,
        ``source_depth_km``, ``source_corner_frequency_hz``.
    """
    from obspy import Stream, Trace, UTCDateTime

    fs = float(sampling_rate)
    n_total = int(round(duration_s * fs))
    seg = int(round(event_segment_s * fs))
    usable = duration_s - 20.0 - event_segment_s
    if n_events > 0 and usable < (n_events - 1) * min_separation_s:
        raise ValueError(f"detector_continuous: {n_events} events {min_separation_s} s apart do not fit in "
                         f"{duration_s} s (expected duration_s >= n_events * min_separation_s + {20 + event_segment_s})")
    rng = np.random.default_rng([seed, 7])
    noise, _ = background_noise(rng, 1, n_total, fs, physics)
    record = noise[0]  # (T, 3)
    rows = []
    if n_events > 0:
        # P times: sorted uniform draws with the separation added back (exact spacing guarantee)
        slack = usable - (n_events - 1) * min_separation_s
        p_s = 10.0 + np.sort(rng.uniform(0.0, slack, n_events)) + np.arange(n_events) * min_separation_s
        mag = wf.gutenberg_richter(rng, n_events, *magnitude_range, physics.b_value)
        dist = rng.uniform(*physics.distance_range_km, n_events)
        depth = rng.uniform(*physics.depth_range_km, n_events)
        p_sample = np.round(p_s * fs)
        onset_in_seg = np.full(n_events, 5.0 * fs)
        sig, truth = earthquake_signals(rng, seg, fs, onset_in_seg, mag, dist, depth,
                                        np.full(n_events, physics.noise_rms_um), physics)
        taper = np.ones(seg)
        k = max(seg // 10, 1)
        taper[-k:] = 0.5 * (1 + np.cos(np.linspace(0, np.pi, k)))
        t0 = UTCDateTime(start_time)
        for i in range(n_events):
            a = int(p_sample[i] - onset_in_seg[i])
            b = min(a + seg, n_total)
            record[a:b] += sig[i, : b - a] * taper[: b - a, None]
            s_sample = p_sample[i] + (truth["s_sample"][i] - onset_in_seg[i])
            coda_end = p_sample[i] + (truth["coda_end_sample"][i] - onset_in_seg[i])
            rows.append({
                "source_id": f"synthetic_event_{i:05d}",
                "p_time": str(t0 + p_sample[i] / fs), "s_time": str(t0 + s_sample / fs),
                "coda_end_time": str(t0 + coda_end / fs),
                "p_sample": int(p_sample[i]), "s_sample": float(s_sample),
                "source_magnitude": mag[i], "source_distance_km": dist[i], "source_depth_km": depth[i],
                "source_corner_frequency_hz": truth["corner_hz"][i],
            })
    stream = Stream()
    for c, comp in enumerate("ENZ"):
        tr = Trace(data=np.ascontiguousarray(record[:, c], dtype=np.float32))
        tr.stats.network, tr.stats.station, tr.stats.channel = network, station, channel_prefix + comp
        tr.stats.sampling_rate = fs
        tr.stats.starttime = UTCDateTime(start_time)
        stream.append(tr)
    events = pd.DataFrame(rows, columns=["source_id", "p_time", "s_time", "coda_end_time", "p_sample", "s_sample",
                                         "source_magnitude", "source_distance_km", "source_depth_km",
                                         "source_corner_frequency_hz"])
    return stream, events
