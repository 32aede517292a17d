"""The result of a scan (the input contract lives with the models: :mod:`seis_keras.models.contract`)."""
from __future__ import annotations

import dataclasses

import pandas as pd



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
