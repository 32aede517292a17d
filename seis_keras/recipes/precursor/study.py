"""What the sections of the precursor study share: the paper's numbers, the records, windows, the model.

:class:`PrecursorStudy` (made by the data section, immutable) holds the config, the store of
10 h records, the windowing at the store's rate and the model's input contract; the helpers
below turn it into labelled macro-windows, tf.data streams of sub-windows and models.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from seis_keras.data.precursor_windows import WindowingSettings, sub_window_dataset, training_windows
from seis_keras.data.store import WaveformStore
from seis_keras.data.transforms import JointNormalize
from seis_keras.models import contract_of, get_model
from seis_keras.models.contract import InputContract
from seis_keras.recipes.precursor.config import PrecursorConfig
from seis_keras.recipes.runner import PaperValue

NAME = "precursor"
CLASS_NAMES = ("noise", "precursor")

#: Table 2: test accuracy of the events 12, 13, 14, 15, 29, 30 (IU MAJO) and 39 (IU MA2).
TABLE2 = (1.00, 0.89, 0.50, 0.95, 1.00, 1.00, 0.97)

#: The paper's numbers (Ong et al.), used by metrics.json and report.md.
PAPER = {
    "train_accuracy_A": PaperValue(0.97, "§5.1", "test A (noise: interval 1 of 36), 1725/1776"),
    "test_accuracy_A": PaperValue(0.90, "§5.1, Fig. 4", "test A"),
    "test_correct_A": PaperValue("467/518", "§5.1", "test windows correctly classified, test A"),
    "train_accuracy_B": PaperValue(0.98, "§5.1", "test B (noise unrelated to the earthquakes)"),
    "test_accuracy_B": PaperValue(0.96, "§5.1", "test B"),
    "per_event_test_accuracy": PaperValue(", ".join(f"{v:.2f}" for v in TABLE2), "Table 2",
                                          "events 12, 13, 14, 15, 29, 30, 39 (39 from IU MA2)"),
    "rise_hours_before": PaperValue(3.3, "§5.2, Fig. 5", "mode A; 2.5 h with mode-B noise (not shown)"),
    "occlusion_window_score": PaperValue(0.811, "§6.1, Figs 6-7", "only all 3 channels occluded drop it below "
                                                                  "0.5; channel 0 alone: 81.1% -> 56.2%"),
    "significant_below_hz": PaperValue(3.5, "§6.2, Fig. 8", "significant frequencies mostly below 3.5 Hz"),
    "spectral_peaks_hz": PaperValue("0.16, 0.21", "§6.3, Fig. 11", "peaks of the smoothed relative difference"),
}


@dataclasses.dataclass(frozen=True)
class PrecursorStudy:
    """The records and settings every later section uses (made by the data section).

    Attributes:
        cfg: the validated config.
        store: the :class:`~seis_keras.data.store.WaveformStore` of 10 h records.
        lengths: samples of each record, ``(len(store),)``.
        fs: sampling rate of the store in Hz (= ``cfg.data.sampling_rate``).
        windowing: the :class:`WindowingSettings` at ``fs``.
        contract: the model's :class:`InputContract` (rate, sub-window length, components,
            ``JointNormalize``), stored beside the exported model.
        source: what the data are (for the report).
        built_in: the built-in records (the planted tremor is known).
        extra_origins: origin times added to the 48 h rule of mode B.
        metrics: the data section's summary (records, events, windows per mode).
    """

    cfg: PrecursorConfig
    store: WaveformStore
    lengths: np.ndarray
    fs: float
    windowing: WindowingSettings
    contract: InputContract
    source: str
    built_in: bool
    extra_origins: tuple = ()
    metrics: dict = dataclasses.field(default_factory=dict)


def model_contract(cfg: PrecursorConfig, sampling_rate: float, windowing: WindowingSettings) -> InputContract:
    """The precursor model's contract for this config: the paper's, at the data's rate and window length.

    Training normalises each 1000 s macro-window with this ``JointNormalize`` before cutting
    it into sub-windows; a scan (one window at a time) applies it per window.
    """
    return (contract_of("precursor")
            .replace(sampling_rate=float(sampling_rate), window_samples=windowing.sub_window_samples,
                     component_order=cfg.data.component_order, class_names=CLASS_NAMES)
            .with_transforms([JointNormalize(scale=windowing.normalisation)]))


def windows_of(study: PrecursorStudy, mode: str, split: str) -> pd.DataFrame:
    """The labelled macro-windows of a split for noise mode ``"A"`` or ``"B"``."""
    return training_windows(study.store.metadata, study.lengths, study.fs, study.windowing, mode=mode, split=split,
                            seed=study.cfg.seed, extra_origins=study.extra_origins,
                            where=str(study.store.path / "metadata.csv"))


def dataset(study: PrecursorStudy, windows: pd.DataFrame, *, shuffle: bool = False, seed: int = 0, lowpass=None):
    """Stream the sub-windows of ``windows`` (components in the config's order) as ``(x, y)`` batches."""
    t = study.cfg.train
    return sub_window_dataset(study.store, windows, study.windowing, batch_size=t.batch_size, shuffle=shuffle,
                              seed=seed, shuffle_buffer=t.shuffle_buffer, components=study.cfg.data.component_order,
                              lowpass=lowpass)


def build_model(study: PrecursorStudy, seed: int):
    """The precursor CNN at the configured size, its input built from the study's contract."""
    m = study.cfg.model
    return get_model("precursor", contract=study.contract, filters=tuple(m.filters), fc_units=m.fc_units,
                     dropout=m.dropout, noise_rms_fraction=m.noise_rms_fraction, random_layer_mode=m.random_layer_mode,
                     random_kernel_size=m.random_kernel_size, bn_momentum=m.bn_momentum, seed=seed)


def json_safe(obj):
    """``obj`` with numpy values as Python ones, dict keys as strings and non-finite floats as ``None``."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, (np.floating, np.integer, np.bool_)):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
