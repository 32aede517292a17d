"""seis_keras: Keras reproductions of five deep-learning earthquake studies and their explainers.

Import the pieces you need::

    from seis_keras.data import WaveformStore, make_dataset
    from seis_keras.models import get_model
"""
import os as _os

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
