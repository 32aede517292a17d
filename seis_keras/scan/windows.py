"""Windows of a continuous record and their probabilities (step 2 of :func:`seis_keras.scan.scan`).

The windows are a zero-copy ``numpy.lib.stride_tricks.sliding_window_view`` of the ``(T, C)``
record; only one batch at a time is materialised (channels-last, contiguous) and normalised.
While the compiled forward pass runs on batch ``k`` (TensorFlow releases the GIL), one helper
thread prepares batch ``k + 1`` (copy out of the view + the contract's normalisation), so the
numpy work overlaps the convolutions instead of adding to them. The results are the same
numbers as preparing each batch in turn (``prefetch=False``; tests/scan check it).
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def window_view(data: np.ndarray, n_win: int, step: int) -> np.ndarray:
    """Every ``step``-th window of ``n_win`` samples of ``data`` ``(T, C)``: a read-only view ``(N, C, n_win)``."""
    return sliding_window_view(data, n_win, axis=0)[::step]


def window_batch(view: np.ndarray, lo: int, hi: int, norm) -> np.ndarray:
    """Windows ``lo:hi`` of :func:`window_view` as a contiguous ``(n, n_win, C)`` float32 batch, normalised."""
    return norm(np.ascontiguousarray(view[lo:hi].transpose(0, 2, 1), dtype=np.float32))


def window_probabilities(predictor, norm, data: np.ndarray, n_win: int, step: int, batch_size: int,
                         *, prefetch: bool = True) -> np.ndarray:
    """The model's output ``(N, K)`` for every window of the record, ``batch_size`` windows per pass.

    Args:
        predictor: callable ``(n, n_win, C) float32 -> (n, K)`` (``scan.model._Predictor``).
        norm: the contract's window transform (``InputContract.transform()``).
        data: the record ``(T, C)`` float32 (``T >= n_win``).
        n_win, step: window length and step in samples.
        batch_size: windows per forward pass.
        prefetch: prepare the next batch on a helper thread while the forward pass runs.
    """
    view = window_view(data, n_win, step)
    n = len(view)
    starts = range(0, n, batch_size)
    probs = None

    def store(lo, p):
        nonlocal probs
        if probs is None:
            probs = np.empty((n, p.shape[1]), np.float32)
        probs[lo:lo + len(p)] = p

    if not prefetch or n <= batch_size:
        for lo in starts:
            store(lo, predictor(window_batch(view, lo, lo + batch_size, norm)))
        return probs
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="scan-windows") as pool:
        pending = pool.submit(window_batch, view, 0, batch_size, norm)
        for lo in starts:
            x = pending.result()
            if lo + batch_size < n:
                pending = pool.submit(window_batch, view, lo + batch_size, lo + 2 * batch_size, norm)
            store(lo, predictor(x))
    return probs
