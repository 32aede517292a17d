"""The input contract of a waveform model, and the result of a scan."""
from __future__ import annotations

import dataclasses

import pandas as pd

from seis_keras.data import transforms as T

CONTRACT_FILE = "input_contract.json"
_TRANSFORM_NAMES = ("Demean", "Detrend", "MaxNormalize", "L2Normalize", "JointNormalize")


@dataclasses.dataclass(frozen=True)
class InputContract:
    """What a waveform model expects: rate, window length, channel order, normalisation.

    Attributes:
        sampling_rate: Hz (detector: 20).
        window_samples: samples per window; ``None`` takes the model's input length.
        component_order: channel order of the model input (detector: ``"ENZ"``).
        transforms: names of :mod:`seis_keras.data.transforms` classes applied to each window,
            in order, with their default settings (detector: ``("Demean", "MaxNormalize")``).
        class_names: one name per probability column (1-unit model: the positive class);
            ``None``: ``("earthquake",)`` for one unit, ``class0`` … for k units.
    """

    sampling_rate: float = 20.0
    window_samples: int | None = None
    component_order: str = "ENZ"
    transforms: tuple[str, ...] = ("Demean", "MaxNormalize")
    class_names: tuple[str, ...] | None = None

    def __post_init__(self):
        bad = [t for t in self.transforms if t not in _TRANSFORM_NAMES]
        if bad:
            raise ValueError(f"InputContract.transforms: {bad} unknown (expected names from {_TRANSFORM_NAMES})")
        if not self.sampling_rate > 0:
            raise ValueError(f"InputContract.sampling_rate: expected > 0, got {self.sampling_rate}")

    def transform(self) -> T.Compose:
        """The window normalisation as a :class:`~seis_keras.data.transforms.Compose`."""
        return T.Compose([getattr(T, name)() for name in self.transforms])

    def to_json(self) -> dict:
        """JSON-safe dict (``InputContract(**d)`` rebuilds it)."""
        d = dataclasses.asdict(self)
        d["transforms"] = list(self.transforms)
        d["class_names"] = None if self.class_names is None else list(self.class_names)
        return d

    @classmethod
    def from_json(cls, d: dict, where: str = "input contract") -> "InputContract":
        """Build from :meth:`to_json` output; unknown keys are an error naming ``where``."""
        known = {f.name for f in dataclasses.fields(cls)}
        extra = sorted(set(d) - known)
        if extra:
            raise ValueError(f"{where}: unknown keys {extra} (expected some of {sorted(known)})")
        d = dict(d)
        for key in ("transforms", "class_names"):
            if d.get(key) is not None:
                d[key] = tuple(d[key])
        return cls(**d)


#: The detector's contract (Majstorović et al. 2023: 25 s at 20 Hz, E/N/Z, max-normalised).
DETECTOR_CONTRACT = InputContract(sampling_rate=20.0, window_samples=500, component_order="ENZ")


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
