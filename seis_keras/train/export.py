"""Export trained models: a serving SavedModel and Keras-loadable copies.

``export_savedmodel`` writes a TensorFlow SavedModel whose ``serving_default`` signature
takes a batch named after the model's input and returns ``probabilities`` and
``predicted_class``; it loads with plain ``tf.saved_model.load`` (no seis_keras, no Keras
classes needed). It runs the model with ``training=False``, so training-only layers
(the random input layer, dropout) are identity in the served graph.

``save_keras_model`` writes the copy that training and the explainers reload with
``keras.models.load_model``: ``.h5`` (what innvestigate should read — never ``.keras`` in
graph mode, see STACK.md), ``.keras``, or a Keras SavedModel folder (no suffix). Every
output is written atomically (temporary name, then rename).
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import tensorflow as tf
from tensorflow import keras

from seis_keras.atomic import atomic_path


def serving_function(model: keras.Model, *, outputs: str = "logits", input_name: str | None = None):
    """A ``tf.function`` mapping an input batch to ``probabilities`` and ``predicted_class``.

    Args:
        model: a single-input Keras model with a ``(batch, k)`` output.
        outputs: what ``model`` outputs: ``"logits"`` (package convention: sigmoid for one
            unit, softmax for k) or ``"probabilities"`` (passed through).
        input_name: name of the signature's input (default: the model's input name).

    Returns:
        The traced function. ``probabilities``: ``(batch, k)`` float32 (for one unit the
        probability of class 1); ``predicted_class``: ``(batch,)`` int64 (one unit:
        ``p > 0.5``, k units: argmax).
    """
    if outputs not in ("logits", "probabilities"):
        raise ValueError(f"export: outputs must be 'logits' or 'probabilities', got {outputs!r}")
    if len(model.inputs) != 1:
        raise ValueError(f"export: model {model.name!r} has {len(model.inputs)} inputs (expected 1)")
    shape = model.output_shape
    if not isinstance(shape, tuple) or len(shape) != 2 or not shape[-1]:
        raise ValueError(f"export: model {model.name!r} output shape {shape} (expected (batch, k))")
    width = shape[-1]
    name = input_name or model.input_names[0]
    spec = tf.TensorSpec([None, *model.inputs[0].shape[1:]], model.inputs[0].dtype, name=name)

    @tf.function(input_signature=[spec])
    def serve(x):
        y = tf.cast(model(x, training=False), tf.float32)
        if outputs == "logits":
            y = tf.sigmoid(y) if width == 1 else tf.nn.softmax(y, axis=-1)
        if width == 1:
            predicted = tf.cast(y[:, 0] > 0.5, tf.int64)
        else:
            predicted = tf.argmax(y, axis=-1, output_type=tf.int64)
        return {"probabilities": y, "predicted_class": predicted}

    return serve


def is_savedmodel(path: Path) -> bool:
    """Whether a folder is a SavedModel (ours to replace on re-export: it holds ``saved_model.pb``)."""
    return (Path(path) / "saved_model.pb").is_file()


def export_savedmodel(model: keras.Model, path: str | os.PathLike, *, outputs: str = "logits",
                      input_name: str | None = None) -> Path:
    """Write a serving SavedModel folder atomically (an existing one is replaced whole).

    Args:
        model: the trained model (logits output, one input).
        path: the SavedModel folder.
        outputs: ``"logits"`` or ``"probabilities"`` (what ``model`` outputs).
        input_name: signature input name (default: the model's input name).

    Returns:
        ``path``. Serve with ``tf.saved_model.load(path).signatures["serving_default"]
        (**{input_name: batch})``.
    """
    serve = serving_function(model, outputs=outputs, input_name=input_name)
    root = tf.Module()
    # track the variables the function reads, not the Keras model itself: saving the model
    # object would also trace every layer's Keras call functions (slow, and unused here)
    root.model_variables = list(model.variables)
    root.serve = serve
    with atomic_path(path, is_dir=True, replace=is_savedmodel) as tmp:
        tf.saved_model.save(root, str(tmp), signatures={"serving_default": serve})
    return Path(path)


def save_keras_model(model: keras.Model, path: str | os.PathLike, *, include_optimizer: bool = False) -> Path:
    """Save a Keras-loadable copy atomically; the format follows the name.

    Args:
        model: the model.
        path: ``*.h5`` (HDF5: innvestigate, graph mode), ``*.keras`` (Keras v3 zip; eager
            only) or a name without suffix (a Keras SavedModel folder).
        include_optimizer: also store the optimizer state (not needed for inference or
            explanations; training resumes from ``fit``'s backup instead).

    Returns:
        ``path``; reload with ``keras.models.load_model(path)`` (custom seis_keras layers
        are registered when seis_keras.models is imported).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".h5", ".hdf5", ".keras"):
        with atomic_path(path) as tmp:
            target = tmp.with_name(f"{tmp.name}{suffix}")  # Keras reads the format from the suffix
            if suffix == ".keras":
                model.save(str(target))
            else:
                with warnings.catch_warnings():  # HDF5 is "legacy" to Keras but what innvestigate needs
                    warnings.filterwarnings("ignore", message=".*HDF5 file.*", category=UserWarning)
                    model.save(str(target), include_optimizer=include_optimizer)
            os.replace(target, tmp)
    elif suffix == "":
        with atomic_path(path, is_dir=True, replace=is_savedmodel) as tmp:
            model.save(str(tmp), save_format="tf", include_optimizer=include_optimizer)
    else:
        raise ValueError(f"{path}: unknown model format {suffix!r} (expected .h5, .keras or a folder name)")
    return path


def export_model(model: keras.Model, folder: str | os.PathLike, *, name: str = "model",
                 outputs: str = "logits") -> dict[str, Path]:
    """Write the run folder's model artefacts: ``<name>.h5``, ``<name>.keras``, ``<name>_serving/``.

    Args:
        model: the trained logits model.
        folder: destination folder (created).
        name: file stem.
        outputs: ``"logits"`` or ``"probabilities"``.

    Returns:
        ``{"h5": ..., "keras": ..., "savedmodel": ...}``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return {"h5": save_keras_model(model, folder / f"{name}.h5"),
            "keras": save_keras_model(model, folder / f"{name}.keras"),
            "savedmodel": export_savedmodel(model, folder / f"{name}_serving", outputs=outputs)}
