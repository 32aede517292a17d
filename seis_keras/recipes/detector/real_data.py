"""Section 3b, every run on labelled windows of other records (``--eval-data STORE``; issue 12, ours).

The built-in test split says how well a model learned the built-in windows; ``--eval-data``
says whether it holds on other records (the shared dev set ``detector_real_dev``: 100 real
earthquake + 100 real noise windows from Californian networks is one). Any store in our or
SeisBench layout with a ``label`` column (1 earthquake, 0 noise) or ``trace_category`` /
``source_event_category`` is read once, conformed to the contract's rate and window when it
differs (as ``--data`` stores are), and passed through **the model's input contract** (the
same transforms as training). Every run is scored with the ``[evaluation]`` threshold:
accuracy, precision, recall, F1 (earthquake class), per-class accuracy, confusion matrix; and
the **spike robustness**: each noise window again with one spike (one sample, one component,
``eval_data.spike_factor`` × the window's largest demeaned value; :func:`seis_keras.data.augment.one_spike`,
``eval_data.spike_copies`` seeded copies), the share called earthquake. The same spike figure
is computed on the built-in test split's noise windows (section ``robustness``, always).

Nothing is trained, tuned or selected on these windows: they are scored after the models are
final, and the threshold is the config's.

:func:`eval_windows` gives ``(x, y, p_sample)`` of a store for other sections (explanation
localisation: ``p_sample`` is the P arrival sample in the window, NaN without a pick).
"""
from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from seis_keras.data.augment import one_spike
from seis_keras.data.detector import conform_store, earthquake_labels, load_windows, needs_conforming
from seis_keras.data.store import WaveformStore
from seis_keras.models.contract import InputContract
from seis_keras.recipes.detector.config import DetectorConfig
from seis_keras.recipes.detector.study import DetectorData, Training, stored_path
from seis_keras.recipes.detector.training import CLASS_NAMES
from seis_keras.recipes.runner import RunFolder
from seis_keras.scan.model import load_scan_model
from seis_keras.train.evaluate import classification_metrics, positive_probability, summarise_runs

P_COLUMN = "trace_p_arrival_sample"


@dataclasses.dataclass(frozen=True)
class EvalWindows:
    """A labelled store's windows, read once.

    Attributes:
        path: the store given.
        raw: ``(n, T, C)`` windows at the contract's rate, length and component order, before the transforms.
        x: the same through the contract's transforms (the model's input).
        y: ``(n,)`` 1 earthquake, 0 noise.
        p_sample: ``(n,)`` P arrival sample in the window (float, NaN without a pick).
        meta: the store's metadata (conformed when it was; index reset).
        conformed: whether the store was resampled / cropped to the contract's windows.
    """

    path: Path
    raw: np.ndarray
    x: np.ndarray
    y: np.ndarray
    p_sample: np.ndarray
    meta: pd.DataFrame
    conformed: bool

    def picked_earthquakes(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(x, p_sample)`` of the earthquakes with a P pick (the trust section's real windows); None if none."""
        keep = (self.y == 1) & np.isfinite(self.p_sample)
        return (self.x[keep], self.p_sample[keep]) if keep.any() else None


@dataclasses.dataclass(frozen=True)
class EvalScore:
    """The ``eval_data`` section: its ``metrics`` and the windows it read (for later sections)."""

    metrics: dict
    windows: EvalWindows


def check_eval_store(path: str | Path) -> Path:
    """Refuse a missing or unlabelled ``--eval-data`` store before any work (one-line errors)."""
    path = Path(path)
    if not (path / "metadata.csv").is_file():
        raise FileNotFoundError(f"{path}: --eval-data is not a store (expected a folder with metadata.csv and "
                                "waveforms.hdf5, labelled by a 'label' column or trace_category)")
    with WaveformStore(path) as store:
        earthquake_labels(store.metadata, str(path / "metadata.csv"))
    return path


def read_eval_windows(path: str | Path, contract: InputContract, *, pick_offset_s: float, block_size: int = 1024,
                      work_dir: str | Path | None = None) -> EvalWindows:
    """A labelled store as the model sees it (see :class:`EvalWindows`).

    Args:
        path: the store.
        contract: the model's input contract (rate, window, components, transforms).
        pick_offset_s: where a conformed earthquake window starts before its P pick (``data.pick_offset_s``).
        block_size: HDF5 block of a conformed copy.
        work_dir: where a conformed copy is written (default: a temporary folder, removed after reading).
    """
    path = check_eval_store(path)
    with WaveformStore(path) as source, tempfile.TemporaryDirectory() as tmp:
        labels = earthquake_labels(source.metadata, str(path / "metadata.csv"))
        conformed = needs_conforming(source, contract.sampling_rate, contract.window_samples)
        read = path
        if conformed:
            read = conform_store(source, Path(work_dir) if work_dir is not None else Path(tmp) / "conformed",
                                 sampling_rate=contract.sampling_rate, window_s=contract.window_s,
                                 pick_offset_s=pick_offset_s, component_order=contract.component_order,
                                 block_size=block_size)
        with WaveformStore(read) as store:
            raw = load_windows(store, np.arange(len(store)), components=contract.component_order)
            meta = store.metadata.reset_index(drop=True)
    p = (pd.to_numeric(meta[P_COLUMN], errors="coerce").to_numpy(np.float64) if P_COLUMN in meta.columns
         else np.full(len(meta), np.nan))
    return EvalWindows(path, raw, contract.transform()(raw), labels, p, meta, conformed)


def eval_windows(path: str | Path, contract: InputContract, *, pick_offset_s: float = 5.0,
                 work_dir: str | Path | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(x, y, p_sample)`` of a labelled store: model-input windows, labels, P samples (NaN: no pick)."""
    w = read_eval_windows(path, contract, pick_offset_s=pick_offset_s, work_dir=work_dir)
    return w.x, w.y, w.p_sample


def spike_robustness(model, noise_raw: np.ndarray, contract: InputContract, *, factor: float, copies: int,
                     seed: int, threshold: float) -> dict:
    """The share of noise windows with one spike that ``model`` calls earthquakes.

    Copy ``k`` of every window gets its spike from ``one_spike(noise_raw, factor=factor,
    seed=[seed, k])`` (a random sample of a random component, ``factor`` × the window's
    largest demeaned value), then the contract's transforms, then the model.

    Returns:
        ``called_earthquake`` (share over all spiked windows; None without noise windows),
        ``n_windows`` (spiked windows scored), ``n_called``, ``factor``, ``copies``, and
        ``unspiked_called_earthquake`` (the same windows without the spike, for reference).
    """
    noise_raw = np.asarray(noise_raw, np.float32)
    out = {"factor": factor, "copies": copies, "n_windows": int(len(noise_raw) * copies)}
    if len(noise_raw) == 0:
        return {**out, "n_called": 0, "called_earthquake": None, "unspiked_called_earthquake": None}
    norm = contract.transform()
    called = sum(int((positive_probability(model, norm(one_spike(noise_raw, factor=factor, seed=[seed, k])))
                      >= threshold).sum()) for k in range(copies))
    plain = float((positive_probability(model, norm(noise_raw)) >= threshold).mean())
    return {**out, "n_called": called, "called_earthquake": called / out["n_windows"],
            "unspiked_called_earthquake": plain}


def score_windows(model, x: np.ndarray, y: np.ndarray, noise_raw: np.ndarray, contract: InputContract,
                  cfg: DetectorConfig) -> dict:
    """Classification metrics of ``model`` on model-input windows ``x`` and its spike robustness."""
    p = positive_probability(model, x)
    m = classification_metrics(y, (p >= cfg.evaluation.threshold).astype(int), n_classes=2, class_names=CLASS_NAMES)
    e = cfg.eval_data
    m["spike"] = spike_robustness(model, noise_raw, contract, factor=e.spike_factor, copies=e.spike_copies,
                                  seed=cfg.seed + e.seed_offset, threshold=cfg.evaluation.threshold)
    return m


def _summary(per_run: dict) -> dict:
    runs = list(per_run.values())
    keys = ("accuracy", "precision", "recall", "f1")
    flat = [{**{k: r[k] for k in keys}, "noise_accuracy": r["per_class_accuracy"][0],
             "earthquake_accuracy": r["per_class_accuracy"][1],
             "spike_called_earthquake": r["spike"]["called_earthquake"]} for r in runs]
    return summarise_runs(flat, ddof=1 if len(runs) > 1 else 0)


def evaluation_split_robustness(training: Training, data: DetectorData, cfg: DetectorConfig) -> dict:
    """Spike robustness of every run on the built-in (or ``--data``) evaluation split's noise windows."""
    noise_rows = data.test.rows[data.test.y == 0]
    raw = load_windows(data.store, noise_rows, components=data.contract.component_order)
    e = cfg.eval_data
    per_run = {r.name: spike_robustness(r.model, raw, data.contract, factor=e.spike_factor, copies=e.spike_copies,
                                        seed=cfg.seed + e.seed_offset, threshold=cfg.evaluation.threshold)
               for r in training.runs}
    values = [v["called_earthquake"] for v in per_run.values() if v["called_earthquake"] is not None]
    return {"spike_called_earthquake": {"runs": per_run, "mean": float(np.mean(values)) if values else None}}


def score_eval_data(training: Training, path: str | Path, contract: InputContract, cfg: DetectorConfig,
                    folder: RunFolder) -> EvalScore:
    """Every run on the ``--eval-data`` store: metrics per run, mean ± std over runs (evaluation only)."""
    w = read_eval_windows(path, contract, pick_offset_s=cfg.data.pick_offset_s, block_size=cfg.data.block_size,
                          work_dir=folder.path / "data" / "eval_conformed")
    noise_raw = w.raw[w.y == 0]
    per_run = {r.name: score_windows(r.model, w.x, w.y, noise_raw, contract, cfg) for r in training.runs}
    for name, m in per_run.items():
        folder.log(f"run {name} on --eval-data: accuracy {m['accuracy']:.4f} (noise {m['per_class_accuracy'][0]:.3f}, "
                   f"earthquakes {m['per_class_accuracy'][1]:.3f}), noise + spike called earthquake "
                   f"{m['spike']['called_earthquake']}")
    has_p = np.isfinite(w.p_sample) & (w.y == 1)
    return EvalScore({"store": stored_path(folder, w.path), "n_windows": int(len(w.y)),
                      "n_earthquakes": int(w.y.sum()), "n_noise": int((w.y == 0).sum()), "conformed": w.conformed,
                      "transforms": list(contract.transforms), "threshold": cfg.evaluation.threshold,
                      "n_earthquakes_with_p": int(has_p.sum()),
                      "p_sample_median": float(np.median(w.p_sample[has_p])) if has_p.any() else None,
                      "runs": per_run, "summary": _summary(per_run)}, w)


def evaluate_exported(model_path: str | Path, store: str | Path, *, threshold: float = 0.5,
                      spike_factor: float = 8.0, spike_copies: int = 3, seed: int = 0,
                      pick_offset_s: float = 5.0) -> dict:
    """An exported detector (``RUN/model``, as ``seis-keras scan --model`` takes it) on a labelled store.

    The windows are read through the model's stored ``input_contract.json`` (the transforms it
    was trained with); the metrics are those of the ``eval_data`` section for one run. Spike
    positions are drawn with ``seed`` (the recipe uses ``seed + eval_data.seed_offset``). A store at
    another rate or window length is conformed, earthquake windows starting ``pick_offset_s``
    before P (``data.pick_offset_s``).

    Raises:
        ValueError: the model is not a Keras model with one logit output or has no stored contract.
    """
    model, contract, kind = load_scan_model(model_path)
    if contract is None or not hasattr(model, "layers") or kind == "probabilities":
        raise ValueError(f"{model_path}: expected an exported detector folder (a Keras logits model with "
                         "input_contract.json, as RUN/model of the detector recipe)")
    w = read_eval_windows(store, contract, pick_offset_s=pick_offset_s)
    p = positive_probability(model, w.x)
    m = classification_metrics(w.y, (p >= threshold).astype(int), n_classes=2, class_names=CLASS_NAMES)
    m["spike"] = spike_robustness(model, w.raw[w.y == 0], contract, factor=spike_factor, copies=spike_copies,
                                  seed=seed, threshold=threshold)
    return {**m, "threshold": threshold, "transforms": list(contract.transforms)}
