"""The worker side of :class:`seis_keras.explain.lrp.LRPAnalyzer` (runs in its own process).

innvestigate only works with eager execution disabled, which must happen before any
model exists and cannot be undone, while the rest of seis_keras is eager. So the
analyzer lives in a *spawned* process running :func:`serve`: it disables eager
execution first, loads the saved model (``.h5`` or Keras SavedModel directory), rebuilds
it for LRP (random-input layer removed, BatchNorm folded, output activation stripped),
builds the innvestigate analyzer once and answers batches over a pipe.

Protocol (tuples over a ``multiprocessing`` connection):

- worker -> caller, once: ``("ready", info)`` or ``("error", message)`` (then exits);
- caller -> worker: ``("analyze", X, neuron_indices_or_None)`` -> ``("result", R)`` or
  ``("error", message)`` (the worker stays up);
- caller -> worker: ``("close",)`` -> the worker exits at once (``os._exit``); a closed
  pipe -> it returns.
"""
from __future__ import annotations

import os
import time
import traceback

__all__ = ["serve", "build_analyzer", "ANALYZER_RULES"]

#: rule name -> innvestigate analyzer class name (see :func:`build_analyzer`).
ANALYZER_RULES = {
    "epsilon": "LRPEpsilon",
    "alpha_beta": "LRPAlphaBeta",
    "z_plus": "LRPZPlus",
    "gradient": "Gradient",
    "sequential_preset_a": "LRPSequentialPresetA",
    "sequential_preset_b": "LRPSequentialPresetB",
}


def build_analyzer(model, config: dict):
    """Create the innvestigate analyzer for ``config`` on a logits ``model`` (graph mode).

    Args:
        model: a keras model without BatchNorm/random-input layers, outputting logits.
        config: ``rule``, ``epsilon``, ``beta``, ``bias``, ``neuron_mode``
            (``"max_activation"`` or ``"index"``), ``disable_model_checks``.

    Returns:
        The innvestigate analyzer (its Keras analysis model already built).
    """
    import innvestigate.analyzer as ia

    rule = config["rule"]
    common = dict(neuron_selection_mode=config["neuron_mode"],
                  disable_model_checks=config["disable_model_checks"])
    if rule == "epsilon":
        analyzer = ia.LRPEpsilon(model, epsilon=config["epsilon"], bias=config["bias"], **common)
    elif rule == "alpha_beta":
        beta = float(config["beta"])
        analyzer = ia.LRPAlphaBeta(model, alpha=1.0 + beta, beta=beta, bias=config["bias"], **common)
    elif rule == "z_plus":
        analyzer = ia.LRPZPlus(model, **common)
    elif rule == "gradient":
        analyzer = ia.Gradient(model, **common)
    elif rule in ("sequential_preset_a", "sequential_preset_b"):
        cls = ia.LRPSequentialPresetA if rule.endswith("a") else ia.LRPSequentialPresetB
        analyzer = cls(model, epsilon=config["epsilon"], **common)
    else:
        raise ValueError(f"rule '{rule}' unknown (expected one of {', '.join(ANALYZER_RULES)})")
    analyzer.create_analyzer_model()
    return analyzer


def _load_for_lrp(path: str):
    """Load a saved model in graph mode and rebuild it into an LRP-ready logits model."""
    from tensorflow import keras

    from seis_keras.models.surgery import fold_batchnorm, logits_model, strip_random_input

    if str(path).endswith(".keras"):
        raise ValueError(f"{path}: .keras files load wrong weights in graph mode; pass .h5 or a SavedModel dir")
    model = keras.models.load_model(path, compile=False)
    return logits_model(fold_batchnorm(strip_random_input(model)))


def _message(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" (at {os.path.basename(last[0].filename)}:{last[0].lineno})" if last else ""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}{where}"


def serve(conn, path: str, config: dict) -> None:
    """Worker main loop: load ``path``, build the analyzer, answer ``analyze`` requests.

    Args:
        conn: the worker's end of a ``multiprocessing.Pipe``.
        path: ``.h5`` file or Keras SavedModel directory.
        config: analyzer settings, see :func:`build_analyzer`.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import logging
        import warnings

        warnings.filterwarnings("ignore")
        logging.getLogger().setLevel(logging.ERROR)  # keras' "compiled metrics" notes on load
        import tensorflow as tf

        tf.compat.v1.disable_eager_execution()
        tf.get_logger().setLevel("ERROR")
        import numpy as np

        import seis_keras.models  # noqa: F401  (registers the custom layers)

        t0 = time.perf_counter()
        model = _load_for_lrp(path)
        analyzer = build_analyzer(model, config)
        in_shape = tuple(model.inputs[0].shape.as_list()[1:])
        n_out = int(model.outputs[0].shape[-1])
        warm = np.zeros((1,) + tuple(d or 1 for d in in_shape), dtype=np.float32)
        _analyze(analyzer, warm, np.zeros(1, dtype=int) if config["neuron_mode"] == "index" else None)
        info = {"input_shape": in_shape, "n_outputs": n_out, "build_s": time.perf_counter() - t0,
                "layers": [type(layer).__name__ for layer in model.layers]}
    except BaseException as exc:  # noqa: BLE001  (everything goes back to the caller)
        conn.send(("error", f"loading/building the analyzer for {path} failed: {_message(exc)}"))
        conn.close()
        return
    conn.send(("ready", info))

    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg[0] != "analyze":
            conn.close()
            os._exit(0)  # skip TensorFlow's slow interpreter teardown
        try:
            conn.send(("result", _analyze(analyzer, msg[1], msg[2])))
        except BaseException as exc:  # noqa: BLE001
            conn.send(("error", f"analyze failed: {_message(exc)}"))


def _analyze(analyzer, X, neuron):
    import numpy as np

    if neuron is None:
        out = analyzer.analyze(X)
    else:
        out = analyzer.analyze(X, neuron_selection=np.asarray(neuron, dtype=int))
    return np.asarray(out, dtype=np.float32)
