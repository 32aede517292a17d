"""Sections 9–10 of the precursor study: scan a continuous record, export the model.

Section 9 slides the first mode-A network over the first test event record with
:func:`seis_keras.scan.scan` (its input contract: each window normalised jointly by itself,
not per 1000 s macro-window as in training): P(precursor) through the ten hours. Section 10
writes that network as ``model/`` (Keras SavedModel with ``input_contract.json``, usable by
``seis-keras scan --model``) and ``serving/`` (a serving SavedModel: probabilities and
predicted class).
"""
from __future__ import annotations

import json

import numpy as np
import obspy

from seis_keras.atomic import atomic_path
from seis_keras.models.contract import CONTRACT_FILE
from seis_keras.plots import precursor as plots
from seis_keras.recipes.precursor.study import PrecursorStudy, json_safe
from seis_keras.recipes.runner import RunFolder
from seis_keras.scan import scan
from seis_keras.train.export import export_savedmodel


def record_stream(study: PrecursorStudy, row: int) -> obspy.Stream:
    """One record of the store as an ``obspy.Stream`` (channels ``BH<component>``)."""
    meta = study.store.metadata
    order = study.cfg.data.component_order
    x = study.store.get_waveforms(row, components=order)
    t0 = obspy.UTCDateTime(str(meta["trace_start_time"].iat[row]))
    sta = str(meta["station_code"].iat[row]) if "station_code" in meta.columns else "SYN"
    return obspy.Stream([obspy.Trace(np.ascontiguousarray(x[:, j]), header={
        "network": "XX", "station": sta, "channel": f"BH{c}", "sampling_rate": study.fs, "starttime": t0})
        for j, c in enumerate(order)])


def scan_record(study: PrecursorStudy, folder: RunFolder, model) -> dict:
    """Slide ``model`` over the first test event record: P(precursor) through time, detections."""
    meta = study.store.metadata
    rows = np.flatnonzero((meta["record_kind"].astype(str) == "event") & (meta["split"].astype(str) == "test"))
    row = int(rows[0])
    origin = obspy.UTCDateTime(str(meta["source_origin_time"].iat[row]))
    s = study.cfg.scan
    res = scan(model, record_stream(study, row), stride_s=s.stride_s, threshold=s.threshold, contract=study.contract,
               detection_classes=("precursor",))
    tr = [t for t in res.probabilities if t.stats.class_name == "precursor"][0]
    times = np.array([tr.stats.starttime + k * tr.stats.delta for k in range(tr.stats.npts)])
    hours = np.array([(origin - t) / 3600.0 for t in times])
    macro_h = study.cfg.windows.macro_window_s / 3600.0
    onset = float(meta["tremor_onset_hours"].iat[row]) if study.built_in else None
    folder.save_figure(plots.scan_probability(hours, tr.data, threshold=s.threshold, onset_hours=onset,
                                              precursor_hours=macro_h,
                                              title=f"Scan of test record {meta['source_id'].iat[row]}"),
                       "scan_continuous_record")
    folder.write_text("scan_detections.csv", res.detections.to_csv(index=False))
    last = hours <= macro_h
    first = hours >= hours.max() - 12 * macro_h
    return json_safe({"record": str(meta["source_id"].iat[row]), "n_windows": int(tr.stats.npts),
                      "mean_probability_last_1000s": float(np.nanmean(tr.data[last])) if last.any() else None,
                      "mean_probability_first_12_intervals": float(np.nanmean(tr.data[first])),
                      "n_detections": int(len(res.detections)), "settings": res.settings})


def export_model(study: PrecursorStudy, folder: RunFolder, model) -> dict:
    """``model`` as ``model/`` (+ its input contract) and ``serving/``; paths relative to the run folder."""
    target = folder.path / "model"
    contract = study.contract.to_json()
    with atomic_path(target, is_dir=True) as tmp:
        model.save(tmp, save_format="tf", include_optimizer=False)
        (tmp / CONTRACT_FILE).write_text(json.dumps(contract, indent=2))
    serving = export_savedmodel(model, folder.path / "serving")
    return {"path": folder.relative(target), "serving": folder.relative(serving), "input_contract": contract}
