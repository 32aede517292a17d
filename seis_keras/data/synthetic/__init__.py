"""Built-in data with planted, documented physics (ground truth in the metadata).

One generator per study, each deterministic by ``seed``, each able to write a waveform store
(``path=``) through :class:`seis_keras.data.store.StoreWriter`:

* ``detector_data`` / ``detector_continuous`` — earthquake vs noise windows, and a continuous
  record with known P/S times (Majstorović et al. 2023). By default the windows look like raw
  real records (``DetectorRealism``: Peterson-bounded non-stationary noise, three instrument
  families, non-earthquake transients; ``realistic.py``, ``noise_models.py``,
  ``instruments.py``, ``transients.py``); ``realism=None`` gives the clean windows.
* ``norcia_data`` — pre/post-mainshock traces with a planted 30–40 Hz change (Laurenti 2024).
* ``precursor_data`` / ``precursor_records`` — 10 h records with a growing 0.16–0.21 Hz tremor
  before events, and tremor-free noise records (Ong et al.).
* ``subduction_table`` / ``subduction_rule`` — along-strike segment features with a planted
  maximum-magnitude rule (ml4szeq).

When a store is written, :class:`~seis_keras.data.store.StoreWriter` keeps the generated
``trace_name`` as ``trace_name_original`` and names each row by its block position.
"""
from seis_keras.data.synthetic.continuous import detector_continuous
from seis_keras.data.synthetic.detector import DetectorPhysics, detector_data
from seis_keras.data.synthetic.instruments import InstrumentSettings
from seis_keras.data.synthetic.noise_models import NoiseSettings
from seis_keras.data.synthetic.realistic import DetectorRealism
from seis_keras.data.synthetic.transients import TransientSettings
from seis_keras.data.synthetic.norcia import NORCIA_STATIONS, PLANTED_BAND_HZ, NorciaSettings, norcia_data, planted_band_gain
from seis_keras.data.synthetic.precursor import PrecursorSettings, precursor_data, precursor_records
from seis_keras.data.synthetic.subduction import (FEATURE_COLUMNS, PLANTED_COEFFICIENTS, PLANTED_FEATURES,
                                                  subduction_rule, subduction_table)

__all__ = ["DetectorPhysics", "DetectorRealism", "InstrumentSettings", "NoiseSettings", "TransientSettings",
           "detector_data", "detector_continuous", "NORCIA_STATIONS", "PLANTED_BAND_HZ",
           "NorciaSettings", "norcia_data", "planted_band_gain", "PrecursorSettings", "precursor_data",
           "precursor_records", "FEATURE_COLUMNS", "PLANTED_COEFFICIENTS", "PLANTED_FEATURES", "subduction_rule",
           "subduction_table"]
