"""seis_keras: Keras reproductions of five deep-learning earthquake studies and their explainers.

Import the pieces you need::

    from seis_keras.data import WaveformStore, make_dataset
    from seis_keras.models import get_model
    from seis_keras.scan import scan          # also callable as seis_keras.scan(model, stream)
"""
import os as _os

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"


def __getattr__(name):
    # ``seis_keras.scan(model, stream)``: the scan package is callable (see seis_keras/scan).
    if name == "scan":
        import importlib

        return importlib.import_module("seis_keras.scan")
    raise AttributeError(f"module 'seis_keras' has no attribute {name!r}")
