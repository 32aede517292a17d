"""seis_keras.models: the five paper models, the random input layer and a registry.

Every model ends in a Dense layer named ``logits`` (1 unit: binary, read through a sigmoid;
k units: k classes, read through a softmax); :func:`with_probabilities` appends that
activation as a layer named ``probabilities``.

    >>> from seis_keras.models import get_model, with_probabilities
    >>> model = get_model("norcia", n_classes=4)
    >>> probabilities = with_probabilities(model)
"""
from __future__ import annotations

from typing import Callable

from tensorflow import keras

from seis_keras.models import detector as _detector
from seis_keras.models import norcia as _norcia
from seis_keras.models import precursor as _precursor
from seis_keras.models import spectrogram as _spectrogram
from seis_keras.models import subduction as _subduction
from seis_keras.models.contract import CONTRACT_FILE, InputContract, transform_from_spec, transform_spec
from seis_keras.models.detector import DETECTOR_CONV_LENGTHS, detector
from seis_keras.models.layers import RandomInputLayer, RedrawRandomKernel, random_input_layers
from seis_keras.models.norcia import NORCIA_LENGTHS, NORCIA_PAPER_DILATION, norcia
from seis_keras.models.precursor import precursor, receptive_field
from seis_keras.models.spectrogram import SPECTROGRAM_SHAPES, spectrogram
from seis_keras.models.subduction import subduction

#: Model builders by name; each takes keyword settings with documented defaults.
MODELS: dict[str, Callable[..., keras.Model]] = {
    "detector": detector,
    "norcia": norcia,
    "spectrogram": spectrogram,
    "precursor": precursor,
    "subduction": subduction,
}

#: Each model's paper input contract (``None``: tabular) and citation, from its module.
CONTRACTS: dict[str, InputContract | None] = {name: m.CONTRACT for name, m in (
    ("detector", _detector), ("norcia", _norcia), ("spectrogram", _spectrogram), ("precursor", _precursor),
    ("subduction", _subduction))}
CITATIONS: dict[str, str] = {name: m.CITATION for name, m in (
    ("detector", _detector), ("norcia", _norcia), ("spectrogram", _spectrogram), ("precursor", _precursor),
    ("subduction", _subduction))}


def _waveform_shape(shape: tuple) -> dict:
    return {"input_length": int(shape[0]), "n_components": int(shape[1])}


def _spectrogram_shape(shape: tuple) -> dict:
    return {"n_frequencies": int(shape[0]), "n_times": int(shape[1]), "n_components": int(shape[2])}


#: How a contract's input shape (one window, after its transforms) becomes builder settings.
_SHAPE_SETTINGS = {"detector": _waveform_shape, "norcia": _waveform_shape, "precursor": _waveform_shape,
                   "spectrogram": _spectrogram_shape}

__all__ = [
    "MODELS", "CONTRACTS", "CITATIONS", "InputContract", "CONTRACT_FILE", "contract_of", "transform_spec",
    "transform_from_spec", "get_model", "with_probabilities", "detector", "norcia", "spectrogram",
    "precursor", "subduction", "receptive_field", "RandomInputLayer", "RedrawRandomKernel",
    "random_input_layers", "DETECTOR_CONV_LENGTHS", "NORCIA_LENGTHS", "NORCIA_PAPER_DILATION",
    "SPECTROGRAM_SHAPES",
]


def contract_of(name: str) -> InputContract:
    """The paper input contract of a waveform model (``models/<name>.py``'s ``CONTRACT``)."""
    if name not in MODELS:
        raise ValueError(f"contract_of: unknown model {name!r} (expected one of {sorted(MODELS)})")
    if CONTRACTS[name] is None:
        raise ValueError(f"contract_of: {name!r} is a tabular model and has no waveform input contract")
    return CONTRACTS[name]


def get_model(name: str, *, contract: InputContract | None = None, **settings) -> keras.Model:
    """Build a paper model by name.

    Args:
        name: ``"detector"``, ``"norcia"``, ``"spectrogram"``, ``"precursor"`` or
            ``"subduction"``.
        contract: an :class:`InputContract` (e.g. ``contract_of(name).replace(sampling_rate=100.0,
            window_samples=2500)``); the model's input shape is built from it (window length,
            components, and the transforms' output shape). A shape setting that disagrees
            with it is an error. ``None``: the builder's defaults (the paper's).
        **settings: keyword settings of that model's builder (see its docstring).

    Returns:
        A fresh, uncompiled functional model whose output is the ``logits`` layer.

    Raises:
        ValueError: unknown name, a setting the builder does not take, or a contract that
            does not fit the model.
    """
    if name not in MODELS:
        raise ValueError(f"get_model: unknown model {name!r} (expected one of {sorted(MODELS)})")
    if contract is not None:
        if name not in _SHAPE_SETTINGS:
            raise ValueError(f"get_model({name!r}): a tabular model takes no input contract")
        for key, value in _SHAPE_SETTINGS[name](contract.input_shape).items():
            if key in settings and settings[key] != value:
                raise ValueError(f"get_model({name!r}): {key}={settings[key]!r} disagrees with the input contract "
                                 f"({value} from {contract.window_samples} samples at {contract.sampling_rate:g} Hz, "
                                 f"components {contract.component_order!r})")
            settings[key] = value
    builder = MODELS[name]
    try:
        return builder(**settings)
    except TypeError as err:
        if "unexpected keyword argument" in str(err):
            raise ValueError(f"get_model({name!r}): {err}") from None
        raise


def with_probabilities(model: keras.Model) -> keras.Model:
    """Append the output activation to a logits model.

    Args:
        model: a model whose output is ``(batch, k)`` logits.

    Returns:
        A model sharing ``model``'s layers and weights with one more layer named
        ``probabilities``: ``Activation("sigmoid")`` for one unit, ``Activation("softmax")``
        for k > 1 units (an ``Activation`` layer, which innvestigate's
        ``model_wo_softmax`` / ``model_wo_output_activation`` know how to strip).

    Raises:
        ValueError: if the output is not two-dimensional.
    """
    shape = model.output_shape
    if not isinstance(shape, tuple) or len(shape) != 2 or shape[-1] is None:
        raise ValueError(f"with_probabilities: model {model.name!r} output shape {shape} "
                         "(expected (batch, k) logits)")
    activation = "sigmoid" if shape[-1] == 1 else "softmax"
    outputs = keras.layers.Activation(activation, name="probabilities")(model.output)
    return keras.Model(model.inputs, outputs, name=f"{model.name}_probabilities")
