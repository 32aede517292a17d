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

__all__ = [
    "MODELS", "get_model", "with_probabilities", "detector", "norcia", "spectrogram",
    "precursor", "subduction", "receptive_field", "RandomInputLayer", "RedrawRandomKernel",
    "random_input_layers", "DETECTOR_CONV_LENGTHS", "NORCIA_LENGTHS", "NORCIA_PAPER_DILATION",
    "SPECTROGRAM_SHAPES",
]


def get_model(name: str, **settings) -> keras.Model:
    """Build a paper model by name.

    Args:
        name: ``"detector"``, ``"norcia"``, ``"spectrogram"``, ``"precursor"`` or
            ``"subduction"``.
        **settings: keyword settings of that model's builder (see its docstring).

    Returns:
        A fresh, uncompiled functional model whose output is the ``logits`` layer.

    Raises:
        ValueError: unknown name, or a setting the builder does not take.
    """
    if name not in MODELS:
        raise ValueError(f"get_model: unknown model {name!r} (expected one of {sorted(MODELS)})")
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
