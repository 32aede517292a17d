"""What the sections of the norcia_shap recipe share: data and labels, the split, the preprocessing, the paper's numbers."""
from __future__ import annotations

import dataclasses

import numpy as np
from scipy import signal

from seis_keras.data import norcia as nd
from seis_keras.data.pipeline import make_dataset
from seis_keras.data.store import WaveformStore
from seis_keras.data.transforms import LogSpectrogram, Standardize
from seis_keras.models import InputContract, contract_of
from seis_keras.recipes.norcia_shap.config import NorciaShapConfig
from seis_keras.recipes.runner import PaperValue

NAME = "norcia_shap"
CLASS_NAMES = ("foreshock", "aftershock")

#: The slides' test metrics (all stations; random split by trace) and NRCA alone.
PAPER = {
    "accuracy": PaperValue(0.9575, "slides", "all 9 stations, random split by trace"),
    "precision": PaperValue(0.9477, "slides", "aftershock = positive class"),
    "recall": PaperValue(0.9707, "slides"),
    "f1": PaperValue(0.9591, "slides"),
    "nrca_accuracy": PaperValue(0.9957, "slides", "NRCA alone"),
}


@dataclasses.dataclass
class NorciaData:
    """The traces, their labels (0 pre / 1 post) and split, and the stations used.

    Attributes:
        store: the waveform store.
        source: what the data are.
        skipped: Zenodo traces left out on reading.
        mask: traces of the selected stations.
        labels: ``(N,)`` 0 foreshock / 1 aftershock (from the mainshock time).
        split: ``(N,)`` ``"train"`` / ``"dev"`` / ``"test"`` (``""`` outside ``mask``).
        grouping: what the split keeps together: ``"trace"`` (nothing: the code's) or ``"event"``.
    """

    store: WaveformStore
    source: str
    skipped: list
    mask: np.ndarray
    labels: np.ndarray
    split: np.ndarray
    grouping: str

    def rows(self, part: str) -> np.ndarray:
        return np.flatnonzero(self.split == part)

    @property
    def metrics(self) -> dict:
        meta = self.store.metadata
        counts = {p: int((self.split == p).sum()) for p in nd.SPLITS}
        several = int((meta[self.mask].assign(s=self.split[self.mask]).groupby("source_id").s.nunique() > 1).sum())
        return {"source": self.source, "n_traces": int(self.mask.sum()), "n_skipped": len(self.skipped),
                "split": counts, "split_grouping": self.grouping, "events_in_several_splits": several}


def load_data(data, cfg: NorciaShapConfig, workdir, seed: int) -> NorciaData:
    """§ Data: the Norcia traces (Zenodo layout, a store, or built-in), pre/post labels, the random split."""
    d = cfg.data
    stations = d.station_list
    store, desc, skipped = nd.open_norcia(data, workdir, stations=stations, component_order=d.component_order,
                                          n_events=d.builtin_events, seed=seed)
    if abs(store.sampling_rate - d.sampling_rate) > 1e-9:
        raise ValueError(f"{store.path}: sampling rate {store.sampling_rate:g} Hz, but data.sampling_rate = "
                         f"{d.sampling_rate:g} (the spectrogram CNN is built for the store's rate: set it to match)")
    mask = nd.select_stations(store.metadata, stations)
    labels = nd.pre_post_labels(store.metadata, d.mainshock_time, time_column=d.time_column)
    data = NorciaData(store, desc, skipped, mask, labels, np.full(len(mask), "", dtype=object), "")
    return with_split(data, cfg.split.primary, cfg, seed)


def with_split(data: NorciaData, grouping: str, cfg: NorciaShapConfig, seed: int) -> NorciaData:
    """``data`` with the random 70/15/15 split of ``grouping``: ``"trace"`` (the code) or ``"event"``.

    Both draw from the same seed: the trace split permutes traces, the event split permutes
    events (``source_id``) and gives every trace of an event its event's split.
    """
    split = nd.random_split(data.store.metadata, fractions=cfg.split.fractions,
                            group="source_id" if grouping == "event" else None, seed=seed, mask=data.mask)
    return dataclasses.replace(data, split=split, grouping=grouping)


#: How each split is labelled in reports.
SPLIT_LABELS = {"trace": "random split by trace (the code, published)",
                "event": "random split by event (no event in two splits)"}


def log_spectrogram(cfg: NorciaShapConfig) -> LogSpectrogram:
    p = cfg.preprocess
    return LogSpectrogram(fs=cfg.data.sampling_rate, nperseg=p.nperseg, noverlap=p.noverlap,
                          quantise_uint8=p.quantise_uint8)


def spectrogram_axes(cfg: NorciaShapConfig, n_samples: int = 2500) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies (Hz) and segment-centre times (s) of the spectrogram rows and columns."""
    f, t, _ = signal.spectrogram(np.zeros(n_samples), fs=cfg.data.sampling_rate, nperseg=cfg.preprocess.nperseg,
                                 noverlap=cfg.preprocess.noverlap)
    return f, t


def training_statistics(store, rows: np.ndarray, spectrogram, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std of the log spectrograms of ``rows``, streamed (float64 sums).

    Equal to ``Standardize().fit(all training spectrograms)`` without holding them in memory.
    """
    if len(rows) == 0:
        raise ValueError("training split is empty: no statistics to standardise with")
    s1 = s2 = 0.0
    n = 0
    for x in make_dataset(store, indices=rows, label=None, transforms=[spectrogram], batch_size=batch_size):
        x = np.asarray(x, np.float64).reshape(-1, x.shape[-1])
        s1, s2, n = s1 + x.sum(axis=0), s2 + (x ** 2).sum(axis=0), n + len(x)
    mean = s1 / n
    return mean, np.sqrt(np.maximum(s2 / n - mean ** 2, 0.0))


def input_contract(data: NorciaData, cfg: NorciaShapConfig) -> InputContract:
    """§ Preprocessing (SPEC §3): the model's contract — log spectrogram, then the training mean/std.

    The window length is the store's (2500 samples for the Norcia traces); the transforms are
    ``LogSpectrogram`` (scipy spectrogram, log1p, min-max per channel, with
    ``preprocess.quantise_uint8`` rounded down to the PNG files' 8-bit levels) and
    ``Standardize`` with the per-channel statistics of the training spectrograms.
    """
    spec = log_spectrogram(cfg)
    mean, std = training_statistics(data.store, data.rows("train"), spec)
    return contract_of("spectrogram").replace(
        sampling_rate=cfg.data.sampling_rate, window_samples=int(data.store.trace_shape(0)[0]),
        component_order=data.store.component_order, class_names=CLASS_NAMES).with_transforms([spec, Standardize(mean=mean, std=std)])


def predict(model, store, rows, transforms) -> np.ndarray:
    """Logits of ``rows``."""
    ds = make_dataset(store, indices=rows, label=None, transforms=transforms, batch_size=256)
    return np.asarray(model.predict(ds, verbose=0))
