"""How a store folder is laid out, read as SeisBench reads it (used by :mod:`seis_keras.data.store`).

Pure helpers, each following SeisBench 0.12's ``WaveformDataset`` (``seisbench/data/base.py``):

* :func:`available_chunks`: a ``chunks`` file lists the chunk names; else ``waveforms.hdf5``
  means one unnamed chunk; else the names ``c`` with both ``metadata{c}.csv`` and
  ``waveforms{c}.hdf5``.
* :func:`read_data_format`: the ``data_format/`` group of datasets; bytes decoded, arrays
  (list-valued ``component_order``) as tuples; the same in every chunk.
* :func:`source_rates`: each trace's rate from ``trace_sampling_rate_hz``, else
  ``1 / trace_dt_s``, else ``data_format/sampling_rate``.
* :func:`component_mapping`: target components from a trace's own order, a missing one
  padded with zeros (``"pad"``), copied from the first component (``"copy"``) or left out
  (``"ignore"``).
* :func:`resample`: ``scipy.signal.decimate`` (an 8th-order Chebyshev IIR, causal unless
  ``zero_phase``) for an integer rate ratio, else ``scipy.signal.resample`` (FFT) to
  ``int(T * target / source)`` samples; rates within 1e-4 are not resampled.
"""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import scipy.signal

RATE_EPS = 1e-4  # SeisBench's tolerance for "the same sampling rate"
MISSING_COMPONENTS = ("pad", "copy", "ignore")


def available_chunks(path: Path) -> list[str]:
    """The chunk names of a store folder (``[""]`` for an unchunked one), sorted."""
    listed = path / "chunks"
    if listed.is_file():
        names = [x for x in listed.read_text().split("\n") if x.strip()]
        if names:
            return sorted(names)
    if (path / "waveforms.hdf5").is_file():
        return [""]
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such store folder (expected metadata.csv + waveforms.hdf5)")
    meta = {p.name[8:-4] for p in path.iterdir() if p.name.startswith("metadata") and p.name.endswith(".csv")}
    wave = {p.name[9:-5] for p in path.iterdir() if p.name.startswith("waveforms") and p.name.endswith(".hdf5")}
    if not meta & wave:
        raise FileNotFoundError(f"{path / 'waveforms.hdf5'}: file missing (a store holds metadata.csv + waveforms.hdf5, "
                                "or chunks metadata{c}.csv + waveforms{c}.hdf5)")
    return sorted(meta & wave)


def read_metadata(csv: Path) -> pd.DataFrame:
    """One chunk's metadata table (SeisBench's dtypes for the rate and component-order columns)."""
    try:
        return pd.read_csv(csv, low_memory=False, dtype={"trace_name": str, "trace_sampling_rate_hz": float,
                                                         "trace_dt_s": float, "trace_component_order": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ValueError(f"{csv}: cannot parse as CSV: {err}") from None
    except ValueError as err:  # a non-numeric trace_sampling_rate_hz / trace_dt_s
        raise ValueError(f"{csv}: trace_sampling_rate_hz / trace_dt_s: expected numbers ({err})") from None


def decode(value):
    """A ``data_format`` value as Python: bytes -> str, arrays -> tuples of str/numbers."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        if value.shape == ():
            return decode(value.item())
        return tuple(decode(v) for v in value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


def read_data_format(h5: h5py.File) -> dict:
    """``data_format/`` as a dict (empty when absent)."""
    group = h5.get("data_format")
    if not isinstance(group, h5py.Group):
        return {}
    return {k: decode(group[k][()]) for k in group if isinstance(group[k], h5py.Dataset)}


def as_order(value, where: str) -> str | tuple[str, ...]:
    """A component order as given (``"ZNE"``, ``["Z", "N", "E"]``, ``("HHZ", "HH1")``): a str when one letter each."""
    if isinstance(value, str):
        order = value
    elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        order = "".join(value) if all(len(v) == 1 for v in value) else tuple(value)
    else:
        raise ValueError(f"{where}: component order {value!r} (expected e.g. 'ZNE' or a list of component names)")
    if not len(order) or len(set(order)) != len(order):
        raise ValueError(f"{where}: component order {value!r} (expected distinct component names)")
    return order


def source_rates(meta: pd.DataFrame, fmt: dict, declared: float | None, default: float | None,
                 where: str) -> np.ndarray:
    """Each trace's sampling rate on disk (Hz), as SeisBench unifies it; refused unless finite and > 0."""
    n = len(meta)
    if declared is not None:
        rates = np.full(n, float(declared))
    else:
        rates = np.full(n, np.nan)
        if "trace_sampling_rate_hz" in meta:
            rates = meta["trace_sampling_rate_hz"].to_numpy(np.float64).copy()
        if "trace_dt_s" in meta:
            with np.errstate(divide="ignore"):
                dt_rate = 1.0 / meta["trace_dt_s"].to_numpy(np.float64)
            rates = np.where(np.isnan(rates), dt_rate, rates)
        fallback = fmt.get("sampling_rate", default)
        if fallback is not None:
            rates = np.where(np.isnan(rates), float(fallback), rates)
    bad = ~(np.isfinite(rates) & (rates > 0))
    if bad.any():
        i = int(np.argmax(bad))
        name = meta["trace_name"].iat[i] if "trace_name" in meta and n else i
        if np.isnan(rates[i]):
            raise ValueError(f"{where}: no sampling rate for trace_name {name!r} (expected data_format/sampling_rate, "
                             "trace_sampling_rate_hz or trace_dt_s, or pass source_sampling_rate=)")
        raise ValueError(f"{where}: sampling rate {rates[i]!r} Hz for trace_name {name!r} (expected a positive number)")
    return rates


def component_mapping(source, target, missing: str) -> list[int]:
    """Indices into the source channels giving the target order; ``len(source)`` is a zero channel ("pad")."""
    source, out = list(source), []
    for t in target:
        if t in source:
            out.append(source.index(t))
        elif missing == "pad":
            out.append(len(source))
        elif missing == "copy":
            out.append(0)
    return out


def same_rate(source: float, target: float) -> bool:
    return 1 - RATE_EPS < target / source < 1 + RATE_EPS


def resampled_length(n: int, source: float, target: float) -> int:
    """Samples after :func:`resample` of ``n`` samples."""
    if same_rate(source, target) or n == 0:
        return n
    if source % target < RATE_EPS:
        return -(-n // int(source // target))
    return int(n * target / source)


def resample(x: np.ndarray, source: float, target: float, axis: int, zero_phase: bool = False) -> np.ndarray:
    """Resample along ``axis`` from ``source`` to ``target`` Hz exactly as SeisBench's ``_resample``."""
    if same_rate(source, target) or x.shape[axis] == 0:
        return x
    if source % target < RATE_EPS:
        return scipy.signal.decimate(x, int(source // target), axis=axis, zero_phase=zero_phase)
    return scipy.signal.resample(x, int(x.shape[axis] * target / source), axis=axis)


def parse_slice(text: str, where: str) -> slice:
    parts = text.strip().split(":")
    if len(parts) not in (1, 2, 3) or (len(parts) == 1 and parts[0]):
        raise ValueError(f"{where}: expected a slice like ':3' or '0:2500', got {text!r}")
    try:
        return slice(*(int(p) if p.strip() else None for p in parts))
    except ValueError:
        raise ValueError(f"{where}: expected a slice like ':3' or '0:2500', got {text!r}") from None


def check_slice(sl: slice, size: int, where: str, axis: str) -> None:
    """Refuse a slice reaching past the dataset (numpy would clip it silently)."""
    for bound in (sl.start, sl.stop):
        if bound is not None and not -size <= bound <= size:
            raise ValueError(f"{where}: slice {sl.start if sl.start is not None else ''}:"
                             f"{sl.stop if sl.stop is not None else ''} on the {axis} axis reaches past the "
                             f"dataset's {size} (expected a slice inside it)")
    if sl.step is not None and sl.step < 1:
        raise ValueError(f"{where}: slice step {sl.step} on the {axis} axis (expected a positive step)")
    if len(range(*sl.indices(size))) == 0:
        raise ValueError(f"{where}: empty slice on the {axis} axis of a dataset of {size}")


def empty_aligned(shape, dtype=np.float32, align: int = 64) -> np.ndarray:
    """``np.empty`` whose data start on an ``align``-byte boundary.

    TensorFlow takes 64-byte aligned numpy arrays without copying them (``tf.numpy_function``
    results included); numpy's large allocations are only 16-byte aligned.
    """
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    raw = np.empty(nbytes + align, np.uint8)
    offset = (-raw.ctypes.data) % align
    return raw[offset:offset + nbytes].view(dtype).reshape(shape)


def channels_last(x: np.ndarray) -> np.ndarray:
    """(N, C, T) -> contiguous, aligned (N, T, C); OpenCV's channel merge is ~4x faster than numpy."""
    n, c, t = x.shape
    out = empty_aligned((n, t, c), x.dtype)
    if 1 < c <= 4 and n * t < 2**31 and x.dtype == np.float32:
        try:
            import cv2
        except ImportError:  # opencv is a dependency, but the numpy path gives the same bytes
            cv2 = None
        if cv2 is not None:
            merged = cv2.merge([x[:, i] for i in range(c)], out.reshape(n, t, c))
            if merged.ctypes.data == out.ctypes.data:
                return out
    out[...] = x.transpose(0, 2, 1)
    return out


def open_read_only(path) -> h5py.File:
    """Open an HDF5 file read-only; a truncated or corrupt file is a one-line ValueError."""
    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise ValueError(f"{path}: cannot open as HDF5 (truncated or corrupt?): {err}") from None
