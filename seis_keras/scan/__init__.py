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
2. **Windows** (:mod:`seis_keras.scan.windows`): a zero-copy
   ``numpy.lib.stride_tricks.sliding_window_view`` of the ``(T, C)`` record with step
   ``stride_s``; windows are materialised one batch at a time (``batch_size``), passed
   through the contract's normalisation (the detector: per-window
   :class:`~seis_keras.data.transforms.MaxNormalize`, done inside the compiled pass when it has an
   exact TensorFlow version, :mod:`seis_keras.scan.fused`) and fed to one compiled
   ``tf.function`` with a fixed batch shape (no retracing; the last batch is padded); a chain
   model's ``ZeroPadding1D`` layers are folded into its convolutions there (same outputs).
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

Modules: ``contract`` (:class:`InputContract`, :class:`ScanResult`), ``model`` (loading,
compiled forward pass), ``stream`` (step 1), ``windows`` (step 2), ``detections`` (step 4, scoring, tables),
``cli`` (command line); :func:`scan` itself is here.
"""
from __future__ import annotations

import dataclasses
import os
import sys
import types
from typing import Sequence

import numpy as np
import pandas as pd

from seis_keras.data.transforms import Compose
from seis_keras.models import contract_of
from seis_keras.models.contract import CONTRACT_FILE, InputContract
from seis_keras.scan.cli import add_scan_command, run_scan
from seis_keras.scan.contract import ScanResult
from seis_keras.scan.detections import find_detections, match_detections, probability_table
from seis_keras.scan.fused import graph_transform
from seis_keras.scan.model import _predictor, load_scan_model
from seis_keras.scan.stream import prepare_stream
from seis_keras.scan.windows import window_probabilities, window_view

__all__ = ["InputContract", "ScanResult", "scan", "prepare_stream", "find_detections",
           "match_detections", "probability_table", "load_scan_model", "add_scan_command", "run_scan", "CONTRACT_FILE"]


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
        batch_size: windows per forward pass (512; bench/scan.py compares 512/1024/2048).
        contract: the model's :class:`InputContract`; default: the one stored with a model path,
            else the detector's (``contract_of("detector")``: Majstorović et al.) with the window length
            taken from the model.
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

    check_scan_settings(stride_s=stride_s, threshold=threshold, min_gap_s=min_gap_s, batch_size=batch_size)
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
        from seis_keras.data.ingest import read_stream

        stream = read_stream(stream)
    predictor = _predictor(model, kind, batch_size)
    model_name = model.name if hasattr(model, "layers") else "model"  # a Keras model, or a serving signature
    contract = contract or contract_of("detector").replace(window_samples=None)
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
    if contract.transforms and graph_transform(contract.transforms) is not None:  # normalise in the compiled pass
        predictor = _predictor(model, kind, batch_size, tuple(contract.transforms))
    # the transforms the predictor does not apply in its graph are applied here, in numpy
    norm = Compose([]) if predictor.transforms == tuple(contract.transforms) else contract.transform()
    stations = prepare_stream(stream, contract, channel_map=channel_map)

    traces, found, short = [], [], []
    for sta in stations:
        data, gap = sta["data"], sta["gap"]
        if gap_policy == "fill":
            data = np.where(gap[:, None], 0.0, data).astype(np.float32)
        if len(data) < n_win:
            short.append(f"{sta['id']} ({len(data) / fs:.2f} s)")
            continue
        gap_win = window_view(gap[:, None], n_win, step).any(axis=(1, 2)) if gap_policy == "mask" else None
        probs = window_probabilities(predictor, norm, data, n_win, step, batch_size)
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
            tr.stats.channel = f"{model_name}_{name}"
            tr.stats.class_name = name
            tr.stats.sampling_rate = 1.0 / (step / fs)
            tr.stats.starttime = sta["start"] + offset
            traces.append(tr)
            if name in detect:
                found.append(find_detections(probs[:, k], threshold=threshold, window_s=window_s,
                                             stride_s=step / fs, min_gap_s=min_gap_s, start=sta["start"],
                                             trace_id=f"{sta['id']}.{sta['channel']}", class_name=name))
    if short and len(short) == len(stations):
        raise ValueError(f"stream: every station's record is shorter than one window of {window_s:g} s: "
                         f"{', '.join(short[:5])} (expected at least {n_win} samples at {fs:g} Hz)")
    detections = (pd.concat(found, ignore_index=True) if found else
                  find_detections(np.zeros(0), threshold=threshold, window_s=window_s, stride_s=1.0,
                                  min_gap_s=min_gap_s, start=None))
    settings = {"stride_s": step / fs, "threshold": threshold, "min_gap_s": min_gap_s, "window_s": window_s,
                "batch_size": batch_size, "time_reference": time_reference, "gap_policy": gap_policy,
                "output": predictor.output, "contract": contract.to_json(),
                "skipped_stations": [f"{s}: shorter than one window" for s in short]}
    return ScanResult(obspy.Stream(traces), detections, settings)


def check_scan_settings(*, stride_s: float, threshold: float, min_gap_s: float, batch_size: int) -> None:
    """The scan's numbers, checked before any work (``--threshold nan`` would write invalid JSON)."""
    import math

    if not (math.isfinite(threshold) and 0.0 <= threshold <= 1.0):
        raise ValueError(f"threshold={threshold}: expected a probability in [0, 1]")
    if not (math.isfinite(stride_s) and stride_s > 0):
        raise ValueError(f"stride_s={stride_s}: expected a positive number of seconds")
    if not (math.isfinite(min_gap_s) and min_gap_s >= 0):
        raise ValueError(f"min_gap_s={min_gap_s}: expected a number of seconds >= 0")
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size}: expected a positive integer")


class _CallableModule(types.ModuleType):
    """Lets ``seis_keras.scan(model, stream)`` call :func:`scan` while the package stays importable."""

    def __call__(self, *args, **kwargs):
        return scan(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
