"""Sections 9–10, model A on a continuous record (``seis_keras.scan``; ours) and its export.

Model A slides over the built-in continuous record (:func:`seis_keras.data.synthetic.detector_continuous`,
events at known times) through the study's input contract; detections are matched with the
catalogue (recall, false alarms). The exported model is ``model/`` in the run folder
(:func:`seis_keras.train.export.export_model`: ``model.h5``, ``model.keras``,
``model_serving/``) with the same contract in ``model/input_contract.json``, so
``seis-keras scan --model RUN/model`` reads the windows exactly as the study did.
"""
from __future__ import annotations

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
            "recall": score["recall"], "false_alarms": score["n_false_alarms"], "settings": res.settings}


def export_reference(run: TrainedRun, contract: InputContract, folder: RunFolder) -> dict:
    """Export ``run`` (model A) into ``model/`` with its input contract (``input_contract.json``)."""
    target = folder.path / "model"
    paths = export_model(run.model, target, name="model", outputs="logits")
    contract_json = contract.to_json()
    write_json(target / CONTRACT_FILE, contract_json)
    return {"path": stored_path(folder, target), "run": run.name,
            "files": {k: stored_path(folder, v) for k, v in paths.items()}, "input_contract": contract_json}
