"""Loading a model for scanning and its compiled fixed-batch forward pass."""
from __future__ import annotations

import json
import os
import weakref
from pathlib import Path

import numpy as np

from seis_keras.models.contract import CONTRACT_FILE, InputContract
from seis_keras.scan.fused import fused_forward, graph_transform

class _Predictor:
    """Fixed-batch compiled forward pass returning probabilities ``(B, K)``.

    A Keras chain model runs through :func:`seis_keras.scan.fused.fused_forward` (``fused`` is
    then True) unless ``fuse=False`` (bench/scan.py compares the two); any other model or a
    serving signature runs as it is. ``transforms`` (spec strings with an exact TF version,
    :func:`seis_keras.scan.fused.graph_transform`) are applied to the batch inside the graph.
    """

    def __init__(self, model, output: str, batch_size: int, fuse: bool = True, transforms: tuple = ()):
        import tensorflow as tf

        self.batch_size = int(batch_size)
        self.fused = False
        self.transforms = tuple(transforms)  # the contract's window transforms applied in the graph
        preprocess = graph_transform(self.transforms) if self.transforms else None
        if self.transforms and preprocess is None:
            raise ValueError(f"transforms {self.transforms}: no exact TensorFlow version "
                             "(scan/fused.py graph_transform)")
        if not isinstance(model, tf.keras.Model) and hasattr(model, "structured_input_signature"):
            fn, shape = _signature_fn(model)
        else:
            shape = tuple(model.input_shape[1:])
            last = model.layers[-1]
            act = getattr(getattr(last, "activation", None), "__name__", "")
            if output == "auto":
                output = "probabilities" if (last.name == "probabilities" or act in ("sigmoid", "softmax")) else "logits"

            fused = fused_forward(model) if fuse else None  # same outputs, no padding copies (scan/fused.py)
            self.fused = fused is not None

            def fn(x):
                return fused(x) if fused is not None else model(x, training=False)
        self.input_shape = shape
        self.output = output
        spec = tf.TensorSpec((self.batch_size, *shape), tf.float32)

        @tf.function(input_signature=[spec])
        def forward(x):
            z = tf.cast(fn(preprocess(x) if preprocess is not None else x), tf.float32)
            if output == "logits":
                z = tf.sigmoid(z) if z.shape[-1] == 1 else tf.nn.softmax(z, axis=-1)
            return z

        self._forward = forward

    def __call__(self, x: np.ndarray) -> np.ndarray:
        n = len(x)
        if n < self.batch_size:
            x = np.concatenate([x, np.zeros((self.batch_size - n, *x.shape[1:]), np.float32)])
        return self._forward(x).numpy()[:n]


_PREDICTORS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _predictor(model, output: str, batch_size: int, transforms: tuple = ()) -> _Predictor:
    """The compiled forward pass of ``model``, built once per (output, batch size, in-graph transforms) and reused."""
    try:
        per_model = _PREDICTORS.setdefault(model, {})
    except TypeError:  # not weak-referenceable
        return _Predictor(model, output, batch_size, transforms=transforms)
    key = (output, int(batch_size), tuple(transforms))
    if key not in per_model:
        per_model[key] = _Predictor(model, output, batch_size, transforms=transforms)
    return per_model[key]


def _signature_fn(sig):
    """A ``serving_default`` concrete function as ``x -> output`` and its input shape."""
    args, kwargs = sig.structured_input_signature
    specs = list(kwargs.values()) or list(args)
    if len(specs) != 1:
        raise ValueError(f"serving signature: expected one input, got {len(specs)}")
    name = next(iter(kwargs)) if kwargs else None
    shape = tuple(specs[0].shape[1:])

    def fn(x):
        out = sig(**{name: x}) if name else sig(x)
        if isinstance(out, dict):
            if "probabilities" in out:
                out = out["probabilities"]
            elif len(out) == 1:
                out = next(iter(out.values()))
            else:
                raise ValueError(f"serving signature: expected a 'probabilities' output or one output, got {sorted(out)}")
        return out
    return fn, shape


def _is_keras_h5(path: Path) -> bool:
    """Whether an ``.h5`` file holds a whole Keras model (``model_config``), not weights only."""
    import h5py

    try:
        with h5py.File(path, "r") as h5:
            return "model_config" in h5.attrs
    except OSError:
        return False


def model_in_folder(folder: Path) -> Path:
    """The model file of a run or export folder: a whole-model ``.h5`` (``model.h5`` first), else ``*_serving/``.

    Weights-only files (``best_weights.h5``, ``weights.h5`` of a ``seis-keras train`` run) are
    never picked: they hold no architecture.
    """
    models = [p for p in sorted(folder.glob("*.h5")) if _is_keras_h5(p)]
    models.sort(key=lambda p: (p.name != "model.h5", not (folder / f"{p.stem}_serving").is_dir(), p.name))
    if models:
        return models[0]
    serving = sorted(p for p in folder.glob("*_serving") if (p / "saved_model.pb").is_file())
    if serving:
        return serving[0]
    weights = sorted(p.name for p in folder.glob("*.h5"))
    raise ValueError(f"{folder}: no model in the folder (expected saved_model.pb, a Keras model .h5 or *_serving/"
                     f"{'; ' + ', '.join(weights) + ' hold weights only' if weights else ''})")


def load_scan_model(path: str | os.PathLike):
    """Load a model for scanning and its stored contract, if any.

    Args:
        path: a Keras model file (``.h5``/``.keras``), a Keras SavedModel directory, a
            ``tf.saved_model`` export with a ``serving_default`` signature (its
            ``probabilities`` output is used, or its only output, taken as probabilities unless
            named ``logits``), or a folder written by :func:`seis_keras.train.export.export_model`
            or ``seis-keras train`` (its whole-model ``.h5`` is loaded, ``model.h5`` first, never
            a weights-only ``best_weights.h5``; else ``<name>_serving/``). An ``input_contract.json``
            inside the folder (or beside the file) is read as its :class:`InputContract`.

    Returns:
        ``(model or signature, InputContract or None, output kind "auto"/"logits"/"probabilities")``.
    """
    import tensorflow as tf
    from tensorflow import keras

    import seis_keras.models  # noqa: F401  (registers custom layers)

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such model (expected a Keras model file or a SavedModel directory)")
    contract = None
    for cand in (path / CONTRACT_FILE, path.parent / CONTRACT_FILE):
        if cand.is_file():
            try:
                stored = json.loads(cand.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError) as err:
                raise ValueError(f"{cand}: not valid JSON ({err}; expected an input contract)") from None
            if not isinstance(stored, dict):
                raise ValueError(f"{cand}: expected a JSON object (an input contract), got {type(stored).__name__}")
            contract = InputContract.from_json(stored, where=str(cand))
            break
    if path.is_dir() and not (path / "saved_model.pb").is_file():  # an export_model or `seis-keras train` folder
        path = model_in_folder(path)
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as err:  # not Keras-loadable: try a plain tf.saved_model export
        if not (path / "saved_model.pb").is_file():
            raise ValueError(f"{path}: cannot load as a Keras model ({type(err).__name__}: {err})") from None
        model = None
    if isinstance(model, keras.Model):
        return model, contract, "auto"
    loaded = tf.saved_model.load(str(path))
    if "serving_default" not in loaded.signatures:
        raise ValueError(f"{path}: SavedModel without a 'serving_default' signature")
    sig = loaded.signatures["serving_default"]
    outs = list(sig.structured_outputs) if isinstance(sig.structured_outputs, dict) else []
    kind = "logits" if outs == ["logits"] else "probabilities"
    sig._seis_keras_owner = loaded  # keep the trackable object (and its variables) alive
    return sig, contract, kind
