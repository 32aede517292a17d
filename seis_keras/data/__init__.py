"""seis_keras.data: waveform stores, readers, transforms, tf.data pipelines, built-in data.

Names are imported lazily (``from seis_keras.data import WaveformStore`` loads only the store
module; TensorFlow is imported only for the pipeline names).
"""
import importlib

_LAZY = {
    # store / store_writer
    "WaveformStore": "store", "StoreWriter": "store", "write_store": "store", "Block": "store",
    # readers
    "read_norcia_zenodo": "readers", "convert_norcia_zenodo": "readers", "iter_norcia_traces": "readers",
    # transforms
    "Demean": "transforms", "Detrend": "transforms", "MaxNormalize": "transforms", "L2Normalize": "transforms",
    "JointNormalize": "transforms", "Bandpass": "transforms", "Lowpass": "transforms",
    "LogSpectrogram": "transforms", "Standardize": "transforms", "Compose": "transforms",
    # pipeline
    "make_dataset": "pipeline", "make_dataset_from_arrays": "pipeline", "dataset_signature": "pipeline",
    "sample_shape": "pipeline",
}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
