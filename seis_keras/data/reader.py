"""The reader of :func:`seis_keras.data.pipeline.make_dataset`: one planned read -> ``(x, rows)`` in numpy.

:class:`PlanReader` is what the tf.data pipeline calls through ``tf.numpy_function`` (usable,
and tested, without TensorFlow): for one read of a :class:`~seis_keras.data.read_plan.ReadPlan`
it reads every run through this thread's own read-only HDF5 handle (:func:`reader_handle`,
opened lazily by the thread, never shared), scatters each run straight to its (permuted)
place in the output, applies the numpy transforms to the whole chunk at once, checks the
shape and returns 64-byte aligned float32 (TensorFlow copies unaligned arrays) with the
metadata rows of each trace.
"""
from __future__ import annotations

import os
import threading

import h5py
import numpy as np

from seis_keras.data.read_plan import ReadPlan, group_permutation
from seis_keras.data.store import WaveformStore, empty_aligned, open_read_only

_HANDLES = threading.local()


def reader_handle(path: str) -> "_ReaderHandle":
    """This thread's read-only handle on ``path``, opened on first use (~1 ms saved per read).

    Each thread of the tf.data pool keeps its own handle (h5py handles are not shared across
    threads here) and its opened datasets; a file replaced on disk (new inode or mtime) is
    reopened. The handles live as long as the thread.
    """
    st = os.stat(path)
    key = (st.st_ino, st.st_mtime_ns)
    cache = getattr(_HANDLES, "files", None)
    if cache is None:
        cache = _HANDLES.files = {}
    handle = cache.get(path)
    if handle is None or handle.key != key or not handle.h5.id.valid:
        if handle is not None and handle.h5.id.valid:
            handle.h5.close()
        cache[path] = handle = _ReaderHandle(key, open_read_only(path))
    return handle


class _ReaderHandle:
    """An open HDF5 file whose datasets are looked up once (``h5[key]`` costs ~0.1-0.3 ms)."""

    def __init__(self, key, h5: h5py.File):
        self.key, self.h5, self._datasets = key, h5, {}

    def __getitem__(self, name: str) -> h5py.Dataset:
        ds = self._datasets.get(name)
        if ds is None:
            ds = self._datasets[name] = self.h5[name]
        return ds


class PlanReader:
    """Reads of a plan as numpy: ``reader(read_ids, draw) -> (x float32 (n, *x_shape), rows int64 (n,))``.

    Args:
        store: the store.
        plan: its :class:`ReadPlan`.
        compose: the numpy transforms (a ``Compose``; applied per read).
        x_shape: the shape every trace must have after the transforms.
        shuffle: permute the traces of a read (with ``seed`` and the read's ``draw``).
        seed: the shuffle seed.
        window: ``(start, length)`` crop in samples.
        components: output channel order.
        augment: an :class:`~seis_keras.data.augment.Augmentations` applied to each read's raw
            windows before ``compose``, seeded by (seed, the read's draw, read ids); ``labels``
            (all rows' labels, or None) are only read.
    """

    def __init__(self, store: WaveformStore, plan: ReadPlan, compose, x_shape: tuple, *, shuffle: bool,
                 seed: int, window=None, components=None, augment=None, labels=None):
        self.store, self.plan, self.compose, self.x_shape = store, plan, compose, tuple(x_shape)
        self.shuffle, self.seed, self.window, self.components = shuffle, seed, window, components
        self.augment, self.labels = augment, labels
        self.h5_path = str(store.h5_path)
        self.h5_paths = [str(p) for p in store.h5_paths]

    def _handles(self):
        if len(self.h5_paths) == 1:
            return reader_handle(self.h5_path)
        return [reader_handle(p) for p in self.h5_paths]

    def __call__(self, read_ids, draw=0):
        store = self.store
        ids = [int(i) for i in np.atleast_1d(read_ids)]
        runs = [run for i in ids for run in self.plan.reads[i]]
        h5 = self._handles()
        n = sum(len(run) for run in runs)
        # one copy: each run is scattered straight to its (permuted) place in the output;
        # ``draw`` is new every epoch, so a group that holds the same shards again (always,
        # when one group holds every shard) is still permuted anew
        perm = group_permutation(self.seed, draw, ids, n) if self.shuffle else None
        x, rows, offset = None, np.empty(n, np.int64), 0
        for run in runs:
            chunk = store.read_run(h5, run, window=self.window, components=self.components)
            if x is None:
                x = chunk if len(runs) == 1 and perm is None else empty_aligned((n, *chunk.shape[1:]))
            elif chunk.shape[1:] != x.shape[1:]:
                raise ValueError(f"{self.h5_path}: trace_name {store.metadata['trace_name'].iat[int(run[0])]!r} has shape "
                                 f"{chunk.shape[1:]}, others {x.shape[1:]} (use window= to crop)")
            dest = slice(offset, offset + len(run)) if perm is None else perm[offset:offset + len(run)]
            if x is not chunk:
                x[dest] = chunk
            rows[dest] = run
            offset += len(run)
        if self.augment is not None:  # raw amplitudes first, seeded by (seed, epoch draw, read); labels only read
            x = self.augment(x, None if self.labels is None else self.labels[rows],
                             [self.seed, int(draw) % 2**63, *ids, 0xA06])
        if self.compose.transforms:
            x = self.compose(x)
        if x.shape[1:] != self.x_shape:
            raise ValueError(f"{self.h5_path}: trace_name {store.metadata['trace_name'].iat[int(rows[0])]!r} gives "
                             f"x of shape {x.shape[1:]}, expected {self.x_shape} (use window= to crop)")
        if x.dtype != np.float32 or not x.flags.c_contiguous or x.ctypes.data % 64:
            aligned = empty_aligned(x.shape)  # TensorFlow copies unaligned arrays anyway
            aligned[...] = x
            x = aligned
        return x, rows


__all__ = ["PlanReader", "reader_handle"]
