"""Sections 9–10, model A on continuous records (``seis_keras.scan``; ours) and its export.

Model A slides over the built-in continuous record (:func:`seis_keras.data.synthetic.detector_continuous`,
events at known times) through the study's input contract; detections are matched with the
catalogue (recall, false alarms). Then the **false-alarm rate** on records without events
(issue 12): a built-in record with no events, as it is and with glitches (spikes and steps of
``scan.glitch_factor`` × the largest demeaned value of the 25 s around them, ``scan.glitches_per_hour``,
seeded; :func:`inject_glitches`), and obspy's two bundled hour-long noise records (CA.STS2 and
CA.0438, EHZ at 200 Hz; ``obspy/signal/tests/data/ref_STS2``, ``ref_unknown``), as they are and
with the same glitches. Those records have one component: E and N are the same trace circularly
shifted by 1/3 and 2/3 of its length (real noise of that station on every component, not a real
three-component record). Every detection on them is a false alarm; the rate is per hour of record.
The exported model is ``model/`` in the run folder
(:func:`seis_keras.train.export.export_model`: ``model.h5``, ``model.keras``,
``model_serving/``) with the same contract in ``model/input_contract.json``, so
``seis-keras scan --model RUN/model`` reads the windows exactly as the study did.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from seis_keras.atomic import write_json
from seis_keras.data.synthetic import detector_continuous
from seis_keras.models.contract import CONTRACT_FILE, InputContract
from seis_keras.plots import detector as plots
from seis_keras.recipes.detector.config import DetectorConfig
from seis_keras.recipes.detector.study import TrainedRun, Training, stored_path
from seis_keras.recipes.runner import RunFolder
from seis_keras.scan import match_detections, scan
from seis_keras.train.export import export_model

#: The continuous record's seed is ``seed + RECORD_SEED_OFFSET`` (another draw than the windows').
RECORD_SEED_OFFSET = 7
#: The record without events and the glitches: seeds ``seed + QUIET_SEED_OFFSET`` and ``+ 1``.
QUIET_SEED_OFFSET = 13
#: obspy's bundled hour-long single-component noise records (paths inside the obspy package).
OBSPY_NOISE_RECORDS = ("signal/tests/data/ref_STS2", "signal/tests/data/ref_unknown")


def scan_record(training: Training, contract: InputContract, cfg: DetectorConfig, folder: RunFolder) -> dict:
    """Model A over the built-in continuous record; recall and false alarms against its catalogue."""
    s = cfg.scan
    stream, events = detector_continuous(s.duration_s, s.n_events, seed=cfg.seed + RECORD_SEED_OFFSET)
    res = scan(training.reference.model, stream, stride_s=s.stride_s, threshold=s.threshold, min_gap_s=s.min_gap_s,
               contract=contract)
    score = match_detections(res.detections, events["p_time"], event_ends=events["coda_end_time"])
    folder.write_text("scan_detections.csv", res.detections.to_csv(index=False))
    folder.save_figure(plots.scan_figure(stream, res.probabilities[0], events, res.detections, s.threshold),
                       "scan_continuous_record")
    return {"record_s": s.duration_s, "n_events": score["n_events"], "n_detections": score["n_detections"],
            "recall": score["recall"], "false_alarms": score["n_false_alarms"], "settings": res.settings,
            "false_alarm_rate": false_alarm_rates(training.reference.model, contract, cfg, folder)}


def inject_glitches(stream, *, per_hour: float, factor: float, kinds, seed: int, window_s: float):
    """A copy of ``stream`` with spikes and steps at random times and components (seeded).

    ``round(per_hour × duration / 1 h)`` glitches at uniform times (at least ``window_s`` from
    the ends), each of a kind drawn from ``kinds`` on one random trace of the stream, of height
    ``factor`` × the largest absolute value (mean removed) of that trace in the ``window_s``
    around it, random sign: a spike is one sample, a step lasts to the end of the record.

    Returns:
        ``(stream, glitches)``: the copy and a table of ``time`` (ISO UTC), ``kind``, ``trace_id``, ``height``.
    """
    rng = np.random.default_rng(seed)
    out = stream.copy()
    t0 = max(tr.stats.starttime for tr in out)
    t1 = min(tr.stats.endtime for tr in out)
    duration = float(t1 - t0)
    n = int(round(per_hour * duration / 3600.0))
    at = np.sort(rng.uniform(window_s, max(duration - window_s, window_s), n))
    kind = rng.integers(0, len(kinds), n)
    which = rng.integers(0, len(out), n)
    sign = rng.choice([-1.0, 1.0], n)
    rows = []
    for k in range(n):
        tr = out[int(which[k])]
        fs = tr.stats.sampling_rate
        tr.data = tr.data.astype(np.float32)
        i = int(round((t0 + at[k] - tr.stats.starttime) * fs))
        half = int(window_s * fs / 2)
        local = tr.data[max(i - half, 0):i + half]
        height = float(sign[k] * factor * np.abs(local - local.mean()).max())
        if kinds[kind[k]] == "spike":
            tr.data[i] += height
        else:
            tr.data[i:] += height
        rows.append({"time": str(t0 + at[k]), "kind": kinds[kind[k]], "trace_id": tr.id, "height": height})
    return out, pd.DataFrame(rows, columns=["time", "kind", "trace_id", "height"])


def obspy_noise_record(path: str):
    """One of obspy's bundled single-component noise records as E/N/Z (E, N: the trace shifted by 1/3, 2/3)."""
    import obspy  # optional heavy dependency: only this section reads obspy's bundled records

    tr = obspy.read(str(Path(obspy.__file__).parent / path))[0]
    tr.data = tr.data.astype(np.float32)
    st = obspy.Stream()
    for comp, lag in (("E", 1 / 3), ("N", 2 / 3), ("Z", 0.0)):
        c = tr.copy()
        c.data = np.roll(tr.data, int(round(lag * tr.stats.npts)))
        c.stats.channel = c.stats.channel[:-1] + comp
        st.append(c)
    return st


def false_alarm_rates(model, contract: InputContract, cfg: DetectorConfig, folder: RunFolder | None = None) -> dict:
    """Detections per hour of model A on records without events, with and without injected glitches.

    With ``folder``, every detection (record, variant, times, peak probability) goes to
    ``scan_false_alarms.csv`` and the injected glitches to ``scan_glitches.csv``.
    """
    s = cfg.scan
    records = {"built_in": detector_continuous(s.glitch_record_s, 0, seed=cfg.seed + QUIET_SEED_OFFSET)[0]}
    if s.obspy_records:
        records.update({Path(p).name: obspy_noise_record(p) for p in OBSPY_NOISE_RECORDS})
    out, found, planted = {}, [], []
    for name, stream in records.items():
        glitched, glitches = inject_glitches(stream, per_hour=s.glitches_per_hour, factor=s.glitch_factor,
                                             kinds=s.glitch_kinds, seed=cfg.seed + QUIET_SEED_OFFSET + 1,
                                             window_s=contract.window_s)
        entry = {}
        for variant, st in (("as_is", stream), ("glitches", glitched)):
            res = scan(model, st, stride_s=s.stride_s, threshold=s.threshold, min_gap_s=s.min_gap_s,
                       contract=contract)
            hours = res.probabilities[0].stats.npts * s.stride_s / 3600.0
            entry[variant] = {"hours": hours, "n_detections": int(len(res.detections)),
                              "false_alarms_per_hour": len(res.detections) / hours}
            found.append(res.detections.assign(record=name, variant=variant))
            if variant == "glitches":
                hit = match_detections(res.detections, glitches["time"]) if len(glitches) else None
                entry[variant].update({"n_glitches": int(len(glitches)),
                                       "n_glitches_detected": 0 if hit is None else int(sum(hit["event_found"]))})
        planted.append(glitches.assign(record=name))
        out[name] = {"trace_ids": sorted({tr.id for tr in stream}), **entry}
    if folder is not None:
        folder.write_text("scan_false_alarms.csv", pd.concat(found, ignore_index=True).to_csv(index=False))
        folder.write_text("scan_glitches.csv", pd.concat(planted, ignore_index=True).to_csv(index=False))
    return {"records": out, "glitch_factor": s.glitch_factor, "glitches_per_hour": s.glitches_per_hour,
            "glitch_kinds": list(s.glitch_kinds)}


def export_reference(run: TrainedRun, contract: InputContract, folder: RunFolder) -> dict:
    """Export ``run`` (model A) into ``model/`` with its input contract (``input_contract.json``)."""
    target = folder.path / "model"
    paths = export_model(run.model, target, name="model", outputs="logits")
    contract_json = contract.to_json()
    write_json(target / CONTRACT_FILE, contract_json)
    return {"path": stored_path(folder, target), "run": run.name,
            "files": {k: stored_path(folder, v) for k, v in paths.items()}, "input_contract": contract_json}
