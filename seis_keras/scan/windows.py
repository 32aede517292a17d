"""Windows of a continuous record and their probabilities (step 2 of :func:`seis_keras.scan.scan`).

The windows are a zero-copy ``numpy.lib.stride_tricks.sliding_window_view`` of the ``(T, C)``
record; only one batch at a time is materialised (channels-last, contiguous) and normalised,
so memory stays at one batch whatever the record's length. Preparing a batch costs ~5 % of its
forward pass (bench/scan.py: 0.016-0.029 s vs 0.33-0.59 s for 8,631 windows), so overlapping
the two on a helper thread was tried and dropped: paired runs under load 8-11 gave 0.70-1.31 x,
no resolvable gain. With the normalisation in the compiled pass (``scan/fused.py``) a batch is a
copy only (~0.001 s for 8,631 windows). Batches of 1024 or 256 against 512: 1.05-1.12x and
0.94-1.00x paired (bench/scan.py, load 3-4.6), unresolved; 512 stays.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def window_view(data: np.ndarray, n_win: int, step: int) -> np.ndarray:
    """Every ``step``-th window of ``n_win`` samples of ``data`` ``(T, C)``: a read-only view ``(N, C, n_win)``."""
    return sliding_window_view(data, n_win, axis=0)[::step]


def window_batch(view: np.ndarray, lo: int, hi: int, norm) -> np.ndarray:
    """Windows ``lo:hi`` of :func:`window_view` as a contiguous ``(n, n_win, C)`` float32 batch, normalised."""
    return norm(np.ascontiguousarray(view[lo:hi].transpose(0, 2, 1), dtype=np.float32))


def window_probabilities(predictor, norm, data: np.ndarray, n_win: int, step: int, batch_size: int) -> np.ndarray:
    """The model's output ``(N, K)`` for every window of the record, ``batch_size`` windows per pass.

    Args:
        predictor: callable ``(n, n_win, C) float32 -> (n, K)`` (``scan.model._Predictor``).
        norm: the contract's window transform (``InputContract.transform()``).
        data: the record ``(T, C)`` float32 (``T >= n_win``).
        n_win, step: window length and step in samples.
        batch_size: windows per forward pass.
    """
    view = window_view(data, n_win, step)
    n = len(view)
    probs = None
    for lo in range(0, n, batch_size):
        p = predictor(window_batch(view, lo, lo + batch_size, norm))
        if probs is None:
            probs = np.empty((n, p.shape[1]), np.float32)
        probs[lo:lo + len(p)] = p
    return probs
