"""Scan continuous data with a trained waveform model: probability traces and detections.

:func:`scan` slides a window classifier (the Majstorović et al. 2023 detector by default, or
any of our waveform models given its :class:`InputContract`) over continuous 3-component
data that obspy can read, like SeisBench's ``annotate`` / ``classify``:

1. **Preparation**, per station (``network.station.location``): each trace's component is
   found with :func:`seis_keras.data.ingest.component_of` (``"ENZ"``; numbered horizontals
   ``1``/``2`` read as N/E), every contiguous segment is resampled to the contract's rate
   with the same FFT resampling as :mod:`seis_keras.data.ingest` (obspy ``Trace.resample``,
   Hann taper) and merged on one sampling grid with a gap mask; the components are cut to
   their common time span.
2. **Windows**: a zero-copy ``numpy.lib.stride_tricks.sliding_window_view`` of the
   ``(T, C)`` record with step ``stride_s``; windows are materialised one batch at a time
   (``batch_size``), passed through the contract's normalisation (the detector:
   :class:`~seis_keras.data.transforms.Demean` + per-window
   :class:`~seis_keras.data.transforms.MaxNormalize`) and fed to one compiled
   ``tf.function`` with a fixed batch shape (no retracing; the last batch is padded).
3. **Probabilities**: logits go through a sigmoid (1 unit) or softmax (k units). One
   ``obspy.Trace`` per station and class (channel ``<model>_<class>``), one value per window,
   sampling rate ``1 / stride_s``; a value is stamped at the window's centre
   (``time_reference="center"``) or start (``"start"``). Windows touching a data gap are NaN
   (``gap_policy="mask"``) or scanned with the gap zero-filled (``"fill"``).
4. **Detections**: runs of windows with probability ``>= threshold``; runs closer than
   ``min_gap_s`` (from the end of one run's last window to the start of the next run's first
   window) are merged. One row per detection: ``trace_id``, ``class``, ``start_time`` (start of
   the first window above threshold), ``end_time`` (end of the last one), ``peak_time``
   (centre of the most probable window), ``peak_probability``, ``n_windows``.

:func:`match_detections` scores detections against known event times (recall, false alarms).
:func:`add_scan_command` / :func:`run_scan` are the ``seis-keras scan`` command line.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import weakref
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from seis_keras.data import transforms as T

__all__ = ["InputContract", "DETECTOR_CONTRACT", "ScanResult", "scan", "prepare_stream", "find_detections",
           "match_detections", "probability_table", "load_scan_model", "add_scan_command", "run_scan", "CONTRACT_FILE"]

#: File name of an input contract stored beside (or inside) an exported model.
CONTRACT_FILE = "input_contract.json"
_TRANSFORM_NAMES = ("Demean", "Detrend", "MaxNormalize", "L2Normalize", "JointNormalize")


@dataclasses.dataclass(frozen=True)
class InputContract:
    """What a waveform model expects: rate, window length, channel order, normalisation.

    Attributes:
        sampling_rate: Hz (detector: 20).
        window_samples: samples per window; ``None`` takes the model's input length.
        component_order: channel order of the model input (detector: ``"ENZ"``).
        transforms: names of :mod:`seis_keras.data.transforms` classes applied to each window,
            in order, with their default settings (detector: ``("Demean", "MaxNormalize")``).
        class_names: one name per probability column (1-unit model: the positive class);
            ``None``: ``("earthquake",)`` for one unit, ``class0`` … for k units.
    """

    sampling_rate: float = 20.0
    window_samples: int | None = None
    component_order: str = "ENZ"
    transforms: tuple[str, ...] = ("Demean", "MaxNormalize")
    class_names: tuple[str, ...] | None = None

    def __post_init__(self):
        bad = [t for t in self.transforms if t not in _TRANSFORM_NAMES]
        if bad:
            raise ValueError(f"InputContract.transforms: {bad} unknown (expected names from {_TRANSFORM_NAMES})")
        if not self.sampling_rate > 0:
            raise ValueError(f"InputContract.sampling_rate: expected > 0, got {self.sampling_rate}")

    def transform(self) -> T.Compose:
        """The window normalisation as a :class:`~seis_keras.data.transforms.Compose`."""
        return T.Compose([getattr(T, name)() for name in self.transforms])

    def to_json(self) -> dict:
        """JSON-safe dict (``InputContract(**d)`` rebuilds it)."""
        d = dataclasses.asdict(self)
        d["transforms"] = list(self.transforms)
        d["class_names"] = None if self.class_names is None else list(self.class_names)
        return d

    @classmethod
    def from_json(cls, d: dict, where: str = "input contract") -> "InputContract":
        """Build from :meth:`to_json` output; unknown keys are an error naming ``where``."""
        known = {f.name for f in dataclasses.fields(cls)}
        extra = sorted(set(d) - known)
        if extra:
            raise ValueError(f"{where}: unknown keys {extra} (expected some of {sorted(known)})")
        d = dict(d)
        for key in ("transforms", "class_names"):
            if d.get(key) is not None:
                d[key] = tuple(d[key])
        return cls(**d)


#: The detector's contract (Majstorović et al. 2023: 25 s at 20 Hz, E/N/Z, max-normalised).
DETECTOR_CONTRACT = InputContract(sampling_rate=20.0, window_samples=500, component_order="ENZ")


@dataclasses.dataclass
class ScanResult:
    """What :func:`scan` returns.

    Attributes:
        probabilities: ``obspy.Stream``, one trace per station and class.
        detections: DataFrame, one row per detection (columns in the module docstring).
        settings: the settings used (stride, threshold, contract ...).
    """

    probabilities: object
    detections: pd.DataFrame
    settings: dict


# --- model -------------------------------------------------------------------------------
class _Predictor:
    """Fixed-batch compiled forward pass returning probabilities ``(B, K)``."""

    def __init__(self, model, output: str, batch_size: int):
        import tensorflow as tf

        self.batch_size = int(batch_size)
        if not isinstance(model, tf.keras.Model) and hasattr(model, "structured_input_signature"):
            fn, shape = _signature_fn(model)
        else:
            shape = tuple(model.input_shape[1:])
            last = model.layers[-1]
            act = getattr(getattr(last, "activation", None), "__name__", "")
            if output == "auto":
                output = "probabilities" if (last.name == "probabilities" or act in ("sigmoid", "softmax")) else "logits"

            def fn(x):
                return model(x, training=False)
        self.input_shape = shape
        self.output = output
        spec = tf.TensorSpec((self.batch_size, *shape), tf.float32)

        @tf.function(input_signature=[spec])
        def forward(x):
            z = tf.cast(fn(x), tf.float32)
            if output == "logits":
                z = tf.sigmoid(z) if z.shape[-1] == 1 else tf.nn.softmax(z, axis=-1)
            return z

        self._forward = forward

    def __call__(self, x: np.ndarray) -> np.ndarray:
        n = len(x)
        if n < self.batch_size:
            x = np.concatenate([x, np.zeros((self.batch_size - n, *x.shape[1:]), np.float32)])
        return self._forward(x).numpy()[:n]


_PREDICTORS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _predictor(model, output: str, batch_size: int) -> _Predictor:
    """The compiled forward pass of ``model``, built once per (output, batch size) and reused."""
    try:
        per_model = _PREDICTORS.setdefault(model, {})
    except TypeError:  # not weak-referenceable
        return _Predictor(model, output, batch_size)
    key = (output, int(batch_size))
    if key not in per_model:
        per_model[key] = _Predictor(model, output, batch_size)
    return per_model[key]


def _signature_fn(sig):
    """A ``serving_default`` concrete function as ``x -> output`` and its input shape."""
    args, kwargs = sig.structured_input_signature
    specs = list(kwargs.values()) or list(args)
    if len(specs) != 1:
        raise ValueError(f"serving signature: expected one input, got {len(specs)}")
    name = next(iter(kwargs)) if kwargs else None
    shape = tuple(specs[0].shape[1:])

    def fn(x):
        out = sig(**{name: x}) if name else sig(x)
        if isinstance(out, dict):
            if "probabilities" in out:
                out = out["probabilities"]
            elif len(out) == 1:
                out = next(iter(out.values()))
            else:
                raise ValueError(f"serving signature: expected a 'probabilities' output or one output, got {sorted(out)}")
        return out
    return fn, shape


def load_scan_model(path: str | os.PathLike):
    """Load a model for scanning and its stored contract, if any.

    Args:
        path: a Keras model file (``.h5``/``.keras``), a Keras SavedModel directory, a
            ``tf.saved_model`` export with a ``serving_default`` signature (its
            ``probabilities`` output is used, or its only output, taken as probabilities unless
            named ``logits``), or a folder written by :func:`seis_keras.train.export.export_model`
            (``<name>.h5`` is loaded, else ``<name>_serving/``). An ``input_contract.json``
            inside the folder (or beside the file) is read as its :class:`InputContract`.

    Returns:
        ``(model or signature, InputContract or None, output kind "auto"/"logits"/"probabilities")``.
    """
    import tensorflow as tf
    from tensorflow import keras

    import seis_keras.models  # noqa: F401  (registers custom layers)

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such model (expected a Keras model file or a SavedModel directory)")
    contract = None
    for cand in (path / CONTRACT_FILE, path.parent / CONTRACT_FILE):
        if cand.is_file():
            contract = InputContract.from_json(json.loads(cand.read_text()), where=str(cand))
            break
    if path.is_dir() and not (path / "saved_model.pb").is_file():  # an export_model folder
        found = sorted(path.glob("*.h5")) or sorted(p for p in path.glob("*_serving") if (p / "saved_model.pb").is_file())
        if not found:
            raise ValueError(f"{path}: folder without saved_model.pb, *.h5 or *_serving/ (expected an exported model)")
        path = found[0]
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as err:  # not Keras-loadable: try a plain tf.saved_model export
        if not (path / "saved_model.pb").is_file():
            raise ValueError(f"{path}: cannot load as a Keras model ({type(err).__name__}: {err})") from None
        model = None
    if isinstance(model, keras.Model):
        return model, contract, "auto"
    loaded = tf.saved_model.load(str(path))
    if "serving_default" not in loaded.signatures:
        raise ValueError(f"{path}: SavedModel without a 'serving_default' signature")
    sig = loaded.signatures["serving_default"]
    outs = list(sig.structured_outputs) if isinstance(sig.structured_outputs, dict) else []
    kind = "logits" if outs == ["logits"] else "probabilities"
    sig._seis_keras_owner = loaded  # keep the trackable object (and its variables) alive
    return sig, contract, kind


# --- stream preparation -------------------------------------------------------------------
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
    from seis_keras.data.ingest import _merge_channel, _resampled, component_of

    order, fs = contract.component_order, float(contract.sampling_rate)
    stations: dict[tuple, dict[str, list]] = {}
    for tr in stream:
        s = tr.stats
        letter = component_of(s.channel, order, channel_map=channel_map, trace_id=tr.id)
        stations.setdefault((s.network, s.station, s.location), {}).setdefault(letter, []).append(tr)
    out = []
    for (net, sta, loc), comps in sorted(stations.items()):
        missing = [c for c in order if c not in comps]
        if missing:
            have = sorted({t.stats.channel for trs in comps.values() for t in trs})
            raise ValueError(f"{net}.{sta}.{loc}: component {missing[0]!r} missing (have channels {have}, "
                             f"expected all of {order!r})")
        chans = {c: _merge_channel([_resampled(t, fs, "resample", True, "hann", "lanczos", 0.8) for t in comps[c]], fs)
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


# --- detections -----------------------------------------------------------------------------
def find_detections(prob: np.ndarray, *, threshold: float, window_s: float, stride_s: float, min_gap_s: float,
                    start, trace_id: str = "", class_name: str = "") -> pd.DataFrame:
    """Runs of ``prob >= threshold`` merged across gaps shorter than ``min_gap_s``.

    Args:
        prob: ``(N,)`` probability of window ``k`` starting at ``start + k * stride_s`` (NaN = no value).
        threshold: detection threshold.
        window_s: window length in seconds.
        stride_s: window step in seconds.
        min_gap_s: runs separated by less than this (last window's end to next first window's start)
            are one detection.
        start: ``UTCDateTime`` of the first window's start.
        trace_id, class_name: copied into the rows.

    Returns:
        DataFrame with ``trace_id``, ``class``, ``start_time``, ``end_time``, ``peak_time`` (ISO UTC),
        ``peak_probability``, ``n_windows``.
    """
    cols = ["trace_id", "class", "start_time", "end_time", "peak_time", "peak_probability", "n_windows"]
    above = np.nan_to_num(np.asarray(prob, np.float64), nan=-1.0) >= threshold
    if not above.any():
        return pd.DataFrame(columns=cols)
    edges = np.diff(np.concatenate([[0], above.astype(np.int8), [0]]))
    lo, hi = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1  # inclusive window indices
    merged = [[lo[0], hi[0]]]
    for a, b in zip(lo[1:], hi[1:]):
        if a * stride_s - (merged[-1][1] * stride_s + window_s) < min_gap_s:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    rows = []
    p = np.nan_to_num(np.asarray(prob, np.float64), nan=-1.0)
    for a, b in merged:
        k = a + int(np.argmax(p[a:b + 1]))
        rows.append({"trace_id": trace_id, "class": class_name, "start_time": str(start + a * stride_s),
                     "end_time": str(start + b * stride_s + window_s),
                     "peak_time": str(start + k * stride_s + window_s / 2), "peak_probability": float(p[k]),
                     "n_windows": int(above[a:b + 1].sum())})
    return pd.DataFrame(rows, columns=cols)


def match_detections(detections: pd.DataFrame, event_times: Sequence, *, event_ends: Sequence | None = None,
                     tolerance_s: float = 0.0) -> dict:
    """Score detections against known events (e.g. the P onsets of a catalogue).

    Each event is the interval ``[event_times[i], event_ends[i]]`` (a single instant without
    ``event_ends``; e.g. P onset to coda end). An event is found when some detection's
    ``[start_time - tol, end_time + tol]`` overlaps it; a detection overlapping no event is a
    false alarm.

    Args:
        detections: :func:`scan` / :func:`find_detections` table.
        event_times: event start times (anything ``UTCDateTime`` reads).
        event_ends: optional event end times, same length.
        tolerance_s: widen every detection by this on both sides.

    Returns:
        dict with ``n_events``, ``n_detections``, ``recall``, ``n_false_alarms``,
        ``event_found`` (list of bool), ``detection_matched`` (list of bool).
    """
    from obspy import UTCDateTime

    ev0 = np.array([float(UTCDateTime(str(t)).timestamp) for t in event_times])
    ev1 = ev0 if event_ends is None else np.array([float(UTCDateTime(str(t)).timestamp) for t in event_ends])
    if len(ev1) != len(ev0):
        raise ValueError(f"event_ends: {len(ev1)} values for {len(ev0)} events")
    if len(detections):
        s = np.array([UTCDateTime(t).timestamp for t in detections["start_time"]]) - tolerance_s
        e = np.array([UTCDateTime(t).timestamp for t in detections["end_time"]]) + tolerance_s
    else:
        s = e = np.zeros(0)
    inside = (ev0[:, None] <= e[None, :]) & (ev1[:, None] >= s[None, :])
    found, matched = inside.any(axis=1), inside.any(axis=0)
    return {"n_events": int(len(ev0)), "n_detections": int(len(s)),
            "recall": float(found.mean()) if len(ev0) else float("nan"),
            "n_false_alarms": int((~matched).sum()), "event_found": found.tolist(),
            "detection_matched": matched.tolist()}


# --- scan ---------------------------------------------------------------------------------
def scan(model, stream, *, stride_s: float = 2.5, threshold: float = 0.5, min_gap_s: float = 5.0,
         component_order: str | None = None, batch_size: int = 512, contract: InputContract | None = None,
         output: str = "auto", time_reference: str = "center", gap_policy: str = "mask",
         detection_classes: Sequence[str] | None = None, channel_map=None) -> ScanResult:
    """Slide a window classifier over continuous data.

    Args:
        model: a Keras model (logits or probabilities output), a ``serving_default``
            signature, or a path for :func:`load_scan_model`.
        stream: ``obspy.Stream`` or path(s)/glob(s) obspy can read.
        stride_s: window step in seconds (default 2.5 s = 10 % of the detector's window; must
            be a whole number of samples at the contract's rate).
        threshold: detection threshold on the probability (0.5).
        min_gap_s: runs of windows above threshold closer than this are merged (5 s).
        component_order: overrides ``contract.component_order`` (default ``"ENZ"``).
        batch_size: windows per forward pass (512: fastest on CPU, the batch stays in cache).
        contract: the model's :class:`InputContract`; default: the one stored with a model path,
            else :data:`DETECTOR_CONTRACT` with the window length taken from the model.
        output: ``"auto"`` (a ``logits`` output layer gets a sigmoid/softmax, a sigmoid/softmax
            layer is used as is), ``"logits"`` or ``"probabilities"``.
        time_reference: stamp each value at the window ``"center"`` (default) or ``"start"``.
        gap_policy: ``"mask"`` (windows touching a gap are NaN) or ``"fill"`` (zeros in gaps).
        detection_classes: class names to detect; default the only class of a 1-unit model,
            every class but the first (taken as noise) of a k-unit model.
        channel_map: explicit channel code -> component letter.

    Returns:
        A :class:`ScanResult`.
    """
    import obspy
    from numpy.lib.stride_tricks import sliding_window_view

    kind = output
    if isinstance(model, (str, os.PathLike)):
        model, stored, kind = load_scan_model(model)
        contract = contract or stored
        kind = output if output != "auto" else kind
    if output not in ("auto", "logits", "probabilities"):
        raise ValueError(f"output: expected 'auto', 'logits' or 'probabilities', got {output!r}")
    if time_reference not in ("center", "start"):
        raise ValueError(f"time_reference: expected 'center' or 'start', got {time_reference!r}")
    if gap_policy not in ("mask", "fill"):
        raise ValueError(f"gap_policy: expected 'mask' or 'fill', got {gap_policy!r}")
    if not isinstance(stream, obspy.Stream):
        paths = [stream] if isinstance(stream, (str, os.PathLike)) else list(stream)
        st = obspy.Stream()
        for p in paths:
            try:
                st += obspy.read(str(p))
            except Exception as err:
                raise ValueError(f"{p}: obspy cannot read it ({type(err).__name__}: {err})") from None
        stream = st
    predictor = _predictor(model, kind, batch_size)
    contract = contract or dataclasses.replace(DETECTOR_CONTRACT, window_samples=None)
    if component_order:
        contract = dataclasses.replace(contract, component_order=component_order)
    n_win = contract.window_samples or int(predictor.input_shape[0])
    if predictor.input_shape[0] not in (None, n_win) or predictor.input_shape[-1] != len(contract.component_order):
        raise ValueError(f"model input {predictor.input_shape} does not match the contract "
                         f"({n_win} samples x {len(contract.component_order)} components)")
    fs = float(contract.sampling_rate)
    step = int(round(stride_s * fs))
    if step < 1 or abs(step - stride_s * fs) > 1e-6 * max(1.0, stride_s * fs):
        raise ValueError(f"stride_s={stride_s}: expected a positive multiple of the sample interval 1/{fs:g} s")
    window_s = n_win / fs
    norm = contract.transform()
    stations = prepare_stream(stream, contract, channel_map=channel_map)

    traces, found = [], []
    for sta in stations:
        data, gap = sta["data"], sta["gap"]
        if gap_policy == "fill":
            data = np.where(gap[:, None], 0.0, data).astype(np.float32)
        if len(data) < n_win:
            continue
        view = sliding_window_view(data, n_win, axis=0)[::step]  # (N, C, T) zero-copy
        gap_win = sliding_window_view(gap, n_win)[::step].any(axis=1) if gap_policy == "mask" else None
        n = len(view)
        probs = None
        for lo in range(0, n, batch_size):
            x = np.ascontiguousarray(view[lo:lo + batch_size].transpose(0, 2, 1), dtype=np.float32)
            p = predictor(norm(x))
            if probs is None:
                probs = np.empty((n, p.shape[1]), np.float32)
            probs[lo:lo + len(p)] = p
        if gap_win is not None:
            probs[gap_win] = np.nan
        names = contract.class_names or (("earthquake",) if probs.shape[1] == 1
                                         else tuple(f"class{k}" for k in range(probs.shape[1])))
        if len(names) != probs.shape[1]:
            raise ValueError(f"contract.class_names: {len(names)} names for {probs.shape[1]} model outputs")
        detect = detection_classes or (names if len(names) == 1 else names[1:])
        offset = window_s / 2 if time_reference == "center" else 0.0
        net, st_code, loc = sta["id"].split(".")
        for k, name in enumerate(names):
            tr = obspy.Trace(data=np.ascontiguousarray(probs[:, k]))
            tr.stats.network, tr.stats.station, tr.stats.location = net, st_code, loc
            tr.stats.channel = f"{getattr(model, 'name', 'model')}_{name}"
            tr.stats.class_name = name
            tr.stats.sampling_rate = 1.0 / (step / fs)
            tr.stats.starttime = sta["start"] + offset
            traces.append(tr)
            if name in detect:
                found.append(find_detections(probs[:, k], threshold=threshold, window_s=window_s,
                                             stride_s=step / fs, min_gap_s=min_gap_s, start=sta["start"],
                                             trace_id=f"{sta['id']}.{sta['channel']}", class_name=name))
    detections = (pd.concat(found, ignore_index=True) if found else
                  find_detections(np.zeros(0), threshold=threshold, window_s=window_s, stride_s=1.0,
                                  min_gap_s=min_gap_s, start=None))
    settings = {"stride_s": step / fs, "threshold": threshold, "min_gap_s": min_gap_s, "window_s": window_s,
                "batch_size": batch_size, "time_reference": time_reference, "gap_policy": gap_policy,
                "output": predictor.output, "contract": contract.to_json()}
    return ScanResult(obspy.Stream(traces), detections, settings)


def probability_table(probabilities) -> pd.DataFrame:
    """Probability traces as a table: ``trace_id``, ``time`` (ISO UTC) and one column per class."""
    frames = {}
    for tr in probabilities:
        key = f"{tr.stats.network}.{tr.stats.station}.{tr.stats.location}"
        cls = tr.stats.get("class_name", tr.stats.channel)
        times = [str(tr.stats.starttime + k * tr.stats.delta) for k in range(tr.stats.npts)]
        df = frames.setdefault(key, pd.DataFrame({"trace_id": key, "time": times}))
        df[cls] = tr.data
    return pd.concat(frames.values(), ignore_index=True) if frames else pd.DataFrame(columns=["trace_id", "time"])


# --- command line -------------------------------------------------------------------------
def add_scan_command(subparsers) -> argparse.ArgumentParser:
    """Add ``scan`` to a ``seis-keras`` subcommand parser (``parser.add_subparsers()``)."""
    p = subparsers.add_parser("scan", help="slide a trained model over continuous data",
                              description="Probability traces and detections (CSV files) of continuous "
                                          "data obspy can read.")
    p.add_argument("--model", required=True, help="trained model: Keras file/SavedModel dir (a run's model/)")
    p.add_argument("--stream", required=True, nargs="+", help="waveform files or globs (obspy-readable)")
    p.add_argument("--out", default="scan", help="output folder (default: scan)")
    p.add_argument("--stride-s", type=float, default=2.5, help="window step in seconds (default 2.5)")
    p.add_argument("--threshold", type=float, default=0.5, help="detection threshold (default 0.5)")
    p.add_argument("--min-gap-s", type=float, default=5.0, help="merge detections closer than this (default 5)")
    p.add_argument("--component-order", default=None, help="model channel order (default: the contract's, ENZ)")
    p.add_argument("--batch-size", type=int, default=512, help="windows per forward pass (default 512)")
    p.set_defaults(func=run_scan)
    return p


def run_scan(args) -> int:
    """Run ``seis-keras scan``: write ``probabilities.csv``, ``detections.csv``, ``scan.json``.

    ``probabilities.csv`` has one row per window: ``trace_id``, ``time`` (ISO UTC, the value's
    stamp) and one column per class (MiniSEED cannot hold the long ``<model>_<class>`` channel names).
    """
    from seis_keras.atomic import write_json, write_text

    result = scan(args.model, args.stream, stride_s=args.stride_s, threshold=args.threshold,
                  min_gap_s=args.min_gap_s, component_order=args.component_order, batch_size=args.batch_size)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "probabilities.csv", probability_table(result.probabilities).to_csv(index=False))
    write_text(out / "detections.csv", result.detections.to_csv(index=False))
    write_json(out / "scan.json", {**result.settings, "model": str(args.model),
                                   "stream": [str(s) for s in args.stream], "n_detections": len(result.detections)})
    print(f"{len(result.detections)} detections; wrote {out}/probabilities.csv, detections.csv, scan.json")
    return 0
