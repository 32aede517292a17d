"""tf.data pipelines that stream a :class:`~seis_keras.data.store.WaveformStore` from disk.

The requested rows are cut into **shards**: runs of rows stored contiguously in one HDF5 block
(read with one h5py slice), at most ``shard_size`` traces each. Every shard is read by its own
generator, which opens ``waveforms.hdf5`` read-only itself (no handle is shared between
threads), applies the numpy transforms to the whole chunk at once, and yields it. The shards
are interleaved (``cycle_length`` in flight), then — when shuffling — unbatched into a
shuffle buffer; the elements are batched and prefetched. Memory is bounded by
``cycle_length * shard_size`` traces plus the shuffle buffer, whatever the store's size.

Order: without shuffling the batches follow ``indices`` exactly as given. With shuffling,
shard order, the order inside each shard and the shuffle buffer are all seeded by ``seed``
(``deterministic=True``: the same seed gives the same batches, epoch after epoch).

Under ``tf.distribute`` the dataset carries ``AutoShardPolicy.DATA``; pass it to
``strategy.experimental_distribute_dataset`` (each global batch is split across replicas).
"""
from __future__ import annotations

from typing import Callable, Sequence

import h5py
import numpy as np
import tensorflow as tf

from seis_keras.data.store import WaveformStore
from seis_keras.data.transforms import Compose

Label = str | Callable | None


def _store(store) -> WaveformStore:
    return store if isinstance(store, WaveformStore) else WaveformStore(store)


def _positions(store: WaveformStore, indices) -> np.ndarray:
    n = len(store)
    if indices is None:
        return np.arange(n, dtype=np.int64)
    idx = np.asarray(indices)
    if idx.dtype == bool:
        if len(idx) != n:
            raise ValueError(f"indices: boolean mask of length {len(idx)} for a store of {n} traces")
        return np.flatnonzero(idx).astype(np.int64)
    idx = idx.astype(np.int64).ravel()
    if len(idx) and (idx.min() < -n or idx.max() >= n):
        raise ValueError(f"indices: values must lie in [0, {n}) for {store.path}")
    idx = np.where(idx < 0, idx + n, idx)
    if len(np.unique(idx)) != len(idx):
        raise ValueError("indices: duplicates given (each trace is read once per epoch)")
    return idx


def _labels(store: WaveformStore, label: Label) -> np.ndarray | None:
    if label is None:
        return None
    if callable(label):
        y = np.asarray(label(store.metadata))
        if len(y) != len(store):
            raise ValueError(f"label: the callable returned {len(y)} values for {len(store)} metadata rows")
    else:
        if label not in store.metadata.columns:
            raise ValueError(f"{store.path / 'metadata.csv'}: column {label!r} missing (needed as label)")
        y = store.metadata[label].to_numpy()
    if y.dtype.kind in "iub":
        return y.astype(np.int32)
    if y.dtype.kind == "f":
        return y.astype(np.float32)
    raise ValueError(f"label {label!r}: expected numbers, got dtype {y.dtype}")


def _meta_arrays(store: WaveformStore, columns: Sequence[str]) -> dict[str, np.ndarray]:
    out = {}
    for col in columns:
        if col not in store.metadata.columns:
            raise ValueError(f"{store.path / 'metadata.csv'}: column {col!r} missing (asked for in metadata_columns)")
        v = store.metadata[col].to_numpy()
        if v.dtype.kind in "iu":
            v = v.astype(np.int64)
        elif v.dtype.kind == "f":
            v = v.astype(np.float64)
        elif v.dtype.kind != "b":
            v = v.astype(str).astype(object)
        out[col] = v
    return out


def _spec_dtype(a: np.ndarray) -> tf.DType:
    return tf.string if a.dtype == object else tf.as_dtype(a.dtype)


def _transform(transforms) -> Compose:
    if isinstance(transforms, Compose):
        return transforms
    return Compose(list(transforms) if isinstance(transforms, (list, tuple)) else [transforms])


def sample_shape(store, *, indices=None, transforms=(), window=None) -> tuple[int, ...]:
    """Shape of one element's ``x`` (no batch axis) after ``window`` and ``transforms``.

    Taken from the first requested trace; every other trace must give the same shape.
    """
    store = _store(store)
    pos = _positions(store, indices)
    if len(pos) == 0:
        raise ValueError(f"indices: no traces selected from {store.path}")
    t, c = store.trace_shape(int(pos[0]))
    if window is not None:
        t = int(window[1])
    compose = _transform(transforms)
    if all(hasattr(tr, "output_shape") for tr in compose.transforms):
        return tuple(int(s) for s in compose.output_shape((t, c)))
    return tuple(compose(np.zeros((1, t, c), np.float32)).shape[1:])


def dataset_signature(store, *, indices=None, label: Label = "label", transforms=(), window=None,
                      metadata_columns: Sequence[str] = ()) -> tuple:
    """The ``element_spec`` of :func:`make_dataset` batches (batch axis ``None``).

    Returns:
        ``(x_spec, y_spec)``, ``(x_spec, y_spec, {column: spec})``, ``(x_spec, {column: spec})``
        or ``(x_spec,)`` when there is neither label nor metadata.
    """
    store = _store(store)
    shape = sample_shape(store, indices=indices, transforms=transforms, window=window)
    specs: list = [tf.TensorSpec((None, *shape), tf.float32)]
    y = _labels(store, label)
    if y is not None:
        specs.append(tf.TensorSpec((None, *y.shape[1:]), tf.as_dtype(y.dtype)))
    meta = _meta_arrays(store, metadata_columns)
    if meta:
        specs.append({k: tf.TensorSpec((None,), _spec_dtype(v)) for k, v in meta.items()})
    return tuple(specs)


def make_shards(store: WaveformStore, positions: np.ndarray, shard_size: int, *, sort: bool) -> list[list[np.ndarray]]:
    """Group the rows into shards: lists of contiguous runs with at most ``shard_size`` traces."""
    shards: list[list[np.ndarray]] = []
    current: list[np.ndarray] = []
    count = 0
    for run in store.runs(positions, max_len=shard_size, sort=sort):
        if count + len(run) > shard_size and current:
            shards.append(current)
            current, count = [], 0
        current.append(run)
        count += len(run)
    if current:
        shards.append(current)
    return shards


def make_dataset(store, *, indices=None, label: Label = "label", transforms=(), batch_size: int = 32,
                 shuffle: bool = False, seed: int = 0, deterministic: bool = True, drop_remainder: bool = False,
                 metadata_columns: Sequence[str] = (), window: tuple[int, int] | None = None,
                 shuffle_buffer: int = 4096, cycle_length: int = 4, shard_size: int = 256,
                 components: str | None = None) -> tf.data.Dataset:
    """Stream batches of a store without loading it.

    Args:
        store: a :class:`WaveformStore` or its folder.
        indices: metadata rows to use (ints or a boolean mask; default all), no duplicates.
        label: a metadata column name, a callable ``f(store.metadata) -> array`` with one value
            per metadata row (all rows, not only ``indices``), or ``None`` (unlabelled).
            Integers become int32, floats float32.
        transforms: a transform or sequence of them (numpy, batch-wise), applied per shard.
        batch_size: elements per batch.
        shuffle: shuffle shards, rows within shards and elements (buffer ``shuffle_buffer``).
        seed: seeds all shuffling.
        deterministic: keep the order reproducible (``False`` lets faster shards overtake).
        drop_remainder: drop the last partial batch (gives a static batch dimension).
        metadata_columns: metadata columns to yield in a dict beside ``x`` and ``y``.
        window: ``(start, length)`` samples to crop, read from disk without the rest.
        shuffle_buffer: elements in the shuffle buffer (default 4096).
        cycle_length: shards read concurrently (default 4).
        shard_size: maximum traces per shard read (default 256).
        components: output channel order, default the store's ``component_order``.

    Returns:
        ``tf.data.Dataset`` of batches ``(x, y)``, ``(x, y, meta)``, ``(x, meta)`` or ``x``;
        ``x`` is float32 ``(batch, *sample_shape)``.
    """
    store = _store(store)
    pos = _positions(store, indices)
    if batch_size < 1 or shard_size < 1 or cycle_length < 1:
        raise ValueError("batch_size, shard_size and cycle_length must be >= 1")
    compose = _transform(transforms)
    signature = dataset_signature(store, indices=pos, label=label, transforms=compose, window=window,
                                  metadata_columns=metadata_columns)
    x_shape = tuple(signature[0].shape[1:])
    y_all = _labels(store, label)
    meta_all = _meta_arrays(store, metadata_columns)
    shards = make_shards(store, pos, shard_size, sort=shuffle)
    h5_path = str(store.h5_path)

    def read_shard(shard_id):
        shard_id = int(shard_id)
        runs = shards[shard_id]
        with h5py.File(h5_path, "r") as h5:
            chunks = [store.read_run(h5, run, window=window, components=components) for run in runs]
        for run, chunk in zip(runs, chunks):
            if chunk.shape[1:] != chunks[0].shape[1:]:
                raise ValueError(f"{h5_path}: trace_name {store.metadata['trace_name'].iat[int(run[0])]!r} has shape "
                                 f"{chunk.shape[1:]}, others {chunks[0].shape[1:]} (use window= to crop)")
        x = np.concatenate(chunks) if len(chunks) > 1 else chunks[0]
        rows = np.concatenate(runs) if len(runs) > 1 else runs[0]
        if shuffle:
            perm = np.random.default_rng([seed, shard_id]).permutation(len(rows))
            x, rows = x[perm], rows[perm]
        if compose.transforms:
            x = compose(x)
        if x.shape[1:] != x_shape:
            raise ValueError(f"{h5_path}: trace_name {store.metadata['trace_name'].iat[int(rows[0])]!r} gives "
                             f"x of shape {x.shape[1:]}, expected {x_shape} (use window= to crop)")
        out = [x]
        if y_all is not None:
            out.append(y_all[rows])
        if meta_all:
            out.append({k: v[rows] for k, v in meta_all.items()})
        yield tuple(out)

    def shard_dataset(shard_id):
        return tf.data.Dataset.from_generator(read_shard, output_signature=signature, args=(shard_id,))

    ds = tf.data.Dataset.range(len(shards))
    if shuffle:
        ds = ds.shuffle(max(len(shards), 1), seed=seed, reshuffle_each_iteration=True)
    ds = ds.interleave(shard_dataset, cycle_length=cycle_length, block_length=1,
                       num_parallel_calls=cycle_length, deterministic=deterministic)
    if shuffle:
        ds = ds.unbatch().shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    else:
        ds = ds.rebatch(batch_size, drop_remainder=drop_remainder)
    if len(signature) == 1:
        ds = ds.map(lambda x: x)
    ds = ds.prefetch(tf.data.AUTOTUNE)
    return ds.with_options(_options(deterministic))


def _options(deterministic: bool) -> tf.data.Options:
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    options.deterministic = deterministic
    return options


def make_dataset_from_arrays(x, y=None, *, transforms=(), batch_size: int = 32, shuffle: bool = False,
                             seed: int = 0, drop_remainder: bool = False, metadata: dict | None = None,
                             shuffle_buffer: int | None = None) -> tf.data.Dataset:
    """The same batches as :func:`make_dataset` from arrays already in memory.

    Args:
        x: waveforms ``(N, T, C)``; ``transforms`` are applied once, up front.
        y: labels ``(N, ...)`` or ``None``.
        batch_size, shuffle, seed, drop_remainder: as :func:`make_dataset`.
        metadata: optional dict of ``(N,)`` arrays yielded beside ``x`` and ``y``.
        shuffle_buffer: default the whole array (a full shuffle).

    Returns:
        ``tf.data.Dataset`` of ``(x, y)``, ``(x, y, meta)``, ``(x, meta)`` or ``x`` batches.
    """
    x = np.asarray(x, np.float32)
    compose = _transform(transforms)
    if compose.transforms:
        x = compose(x)
    parts: list = [x]
    if y is not None:
        y = np.asarray(y)
        if len(y) != len(x):
            raise ValueError(f"y: {len(y)} labels for {len(x)} waveforms")
        parts.append(y.astype(np.int32) if y.dtype.kind in "iub" else y.astype(np.float32))
    if metadata:
        parts.append({k: np.asarray(v) for k, v in metadata.items()})
    ds = tf.data.Dataset.from_tensor_slices(tuple(parts) if len(parts) > 1 else x)
    if shuffle:
        ds = ds.shuffle(shuffle_buffer or max(len(x), 1), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
    return ds.with_options(_options(True))
