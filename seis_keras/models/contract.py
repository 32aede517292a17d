"""What a waveform model expects as input: its :class:`InputContract`.

Every waveform model module (``models/detector.py``, ``norcia.py``, ``precursor.py``,
``spectrogram.py``) exports a ``CONTRACT`` — the paper's sampling rate, window length,
component order and per-window transforms — and a ``CITATION``. :func:`seis_keras.models.get_model`
builds a model whose input shape follows a contract, a recipe derives its pipeline and the
``input_contract.json`` stored beside an exported model from it, and ``seis_keras.scan`` and
``seis-keras train/explain/export`` read it back. So a model's input contract lives in one place.

Transforms are named by *spec strings* — a class of :mod:`seis_keras.data.transforms` with its
settings as Python literals — ``"MaxNormalize"``, ``"Bandpass(fmin=3.0, fmax=6.0, fs=100.0)"``,
``"Standardize(mean=[0.1, 0.2, 0.3], std=[1.0, 1.0, 1.0])"``. :func:`transform_spec` writes the
spec of a transform instance, :func:`transform_from_spec` builds one back.

    >>> from seis_keras.models import contract_of
    >>> c = contract_of("detector").replace(sampling_rate=100.0, window_samples=2500)
    >>> c.input_shape
    (2500, 3)
"""
from __future__ import annotations

import ast
import dataclasses
import inspect

import numpy as np

from seis_keras.data import transforms as T

CONTRACT_FILE = "input_contract.json"

#: The transform classes a contract may name (every concrete class of seis_keras.data.transforms).
TRANSFORMS = {name: cls for name, cls in vars(T).items()
              if isinstance(cls, type) and issubclass(cls, T.Transform) and not inspect.isabstract(cls)
              and not name.startswith("_") and name != "Compose"}


def transform_from_spec(spec: str, where: str = "transform") -> T.Transform:
    """Build a transform from its spec string (``"Bandpass(fmin=1.0, fmax=5.0, fs=20.0)"``).

    Raises:
        ValueError: unknown class, positional arguments, non-literal values or settings the
            class does not take; the message names ``where``.
    """
    try:
        node = ast.parse(spec.strip(), mode="eval").body
    except SyntaxError:
        raise ValueError(f"{where}: {spec!r} is not a transform spec (expected Name or Name(key=value, ...))") from None
    if isinstance(node, ast.Name):
        name, kwargs = node.id, {}
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.args:
        name = node.func.id
        try:
            kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
        except ValueError:
            raise ValueError(f"{where}: {spec!r}: settings must be literals (numbers, strings, lists)") from None
    else:
        raise ValueError(f"{where}: {spec!r} is not a transform spec (expected Name or Name(key=value, ...))")
    if name not in TRANSFORMS:
        raise ValueError(f"{where}: transform {name!r} unknown (expected one of {', '.join(sorted(TRANSFORMS))})")
    try:
        return TRANSFORMS[name](**kwargs)
    except TypeError as err:
        raise ValueError(f"{where}: {spec!r}: {err}") from None


def transform_spec(transform: T.Transform) -> str:
    """The spec string of a transform instance: its class and the settings that differ from the defaults.

    A setting ``p`` of the constructor is read from the attribute ``p`` or, for fitted
    statistics, ``p_`` (``Standardize(mean=...)`` stores ``mean_``).
    """
    name = type(transform).__name__
    if name not in TRANSFORMS:
        raise ValueError(f"transform_spec: {name} is not a transform a contract can name")
    parts = []
    for p in inspect.signature(type(transform).__init__).parameters.values():
        if p.name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        value = getattr(transform, p.name, getattr(transform, p.name + "_", None))
        if isinstance(value, np.ndarray):
            value = value.tolist()
        elif isinstance(value, np.generic):
            value = value.item()
        if p.default is not p.empty and _equal(value, p.default):
            continue
        parts.append(f"{p.name}={value!r}")
    return f"{name}({', '.join(parts)})" if parts else name


def _equal(a, b) -> bool:
    try:
        return bool(a == b) if not isinstance(a, list) else a == b
    except (TypeError, ValueError):
        return False


@dataclasses.dataclass(frozen=True)
class InputContract:
    """What a waveform model expects: rate, window length, channel order, normalisation.

    Attributes:
        sampling_rate: Hz (detector: 20).
        window_samples: samples per window; ``None`` takes the model's input length.
        component_order: channel order of the model input (detector: ``"ENZ"``).
        transforms: spec strings of :mod:`seis_keras.data.transforms` classes applied to each
            window, in order (detector: ``("MaxNormalize",)``; see the module docstring).
        class_names: one name per probability column (1-unit model: the positive class);
            ``None``: ``("earthquake",)`` for one unit, ``class0`` … for k units.
    """

    sampling_rate: float = 20.0
    window_samples: int | None = None
    component_order: str = "ENZ"
    transforms: tuple[str, ...] = ("MaxNormalize",)
    class_names: tuple[str, ...] | None = None

    def __post_init__(self):
        object.__setattr__(self, "transforms", tuple(self.transforms))
        if self.class_names is not None:
            object.__setattr__(self, "class_names", tuple(self.class_names))
        if not (isinstance(self.sampling_rate, (int, float)) and self.sampling_rate > 0):
            raise ValueError(f"InputContract.sampling_rate: expected > 0, got {self.sampling_rate!r}")
        if self.window_samples is not None and not (isinstance(self.window_samples, int) and self.window_samples > 0):
            raise ValueError(f"InputContract.window_samples: expected a positive integer or None, "
                             f"got {self.window_samples!r}")
        if not self.component_order or len(set(self.component_order)) != len(self.component_order):
            raise ValueError(f"InputContract.component_order: expected distinct component codes like 'ENZ', "
                             f"got {self.component_order!r}")
        for spec in self.transforms:
            transform_from_spec(spec, where="InputContract.transforms")

    @property
    def n_components(self) -> int:
        return len(self.component_order)

    @property
    def window_s(self) -> float | None:
        """Window length in seconds (``None`` when the window length is the model's)."""
        return None if self.window_samples is None else self.window_samples / self.sampling_rate

    @property
    def input_shape(self) -> tuple:
        """The model's input shape for one window: the transforms' output of ``(window_samples, C)``."""
        if self.window_samples is None:
            raise ValueError("InputContract.input_shape: window_samples is None (the model decides the length)")
        return tuple(self.transform().output_shape((self.window_samples, self.n_components)))

    def transform(self) -> T.Compose:
        """The window transforms as one :class:`~seis_keras.data.transforms.Compose`."""
        return T.Compose([transform_from_spec(s, where="InputContract.transforms") for s in self.transforms])

    def transform_list(self) -> list:
        """The window transforms as a list of instances (for ``make_dataset(transforms=...)``)."""
        return list(self.transform().transforms)

    def replace(self, **changes) -> "InputContract":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def with_transforms(self, transforms) -> "InputContract":
        """A copy whose transforms are these instances or spec strings."""
        return self.replace(transforms=tuple(t if isinstance(t, str) else transform_spec(t) for t in transforms))

    def to_json(self) -> dict:
        """JSON-safe dict (``InputContract.from_json`` rebuilds it)."""
        d = dataclasses.asdict(self)
        d["transforms"] = list(self.transforms)
        d["class_names"] = None if self.class_names is None else list(self.class_names)
        return d

    @classmethod
    def from_json(cls, d: dict, where: str = "input contract") -> "InputContract":
        """Build from :meth:`to_json` output; unknown keys or bad values are an error naming ``where``."""
        if not isinstance(d, dict):
            raise ValueError(f"{where}: expected a JSON object with the input contract, got {type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        extra = sorted(set(d) - known)
        if extra:
            raise ValueError(f"{where}: unknown keys {extra} (expected some of {sorted(known)})")
        d = dict(d)
        for key in ("transforms", "class_names"):
            if d.get(key) is not None:
                d[key] = tuple(d[key])
        try:
            return cls(**d)
        except ValueError as err:
            raise ValueError(f"{where}: {err}") from None
