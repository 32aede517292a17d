"""The LRP worker process: ``python -m seis_keras.explain.lrp_worker`` (started by LRPSession).

innvestigate only works with eager execution disabled, which must happen before any
model exists and cannot be undone, while the rest of seis_keras is eager. So LRP runs in
a separate Python process started as a module, never through ``multiprocessing``: a
``spawn`` child re-imports the caller's ``__main__`` script, which dies (or re-runs the
script) when that script has no ``if __name__ == "__main__":`` guard.

The worker silences TensorFlow's C++ log (``TF_CPP_MIN_LOG_LEVEL=3``: the cuDNN / cuFFT /
cuBLAS factory-registration errors printed at import) before TensorFlow is imported,
disables eager execution, loads the model once, rebuilds it for LRP (random-input layer
removed, BatchNorm folded, output activation stripped) and then serves requests. Each
method's innvestigate analyzer is built on first use and cached (all in one graph: Keras'
``_UNSAFE_GRAPH_OP_LAYER_CREATION`` keeps the rules' constant tensors symbolic instead of
evaluating each in a new session callable, whose cost grew with the graph: five detector
analyzers built one after another took 404 s with Keras' default and 34 s so, results
bit-identical — ``bench/explain_lrp.py --builds``, 2 cores at load 14); when more than
``max_analyzers`` are cached the graph is cleared and the model reloaded.

Protocol: length-prefixed pickles (8-byte little-endian size, then ``pickle`` protocol
5) over the worker's stdin (requests) and a duplicate of its original stdout (replies);
the worker's own fd 1 is pointed at stderr so nothing printed can corrupt the stream.

- ``("load", {"path", "disable_model_checks", "max_analyzers"})`` -> ``("ready", info)``
  or ``("error", message)`` (the worker then exits);
- ``("analyze", method_text, X, neuron_or_None)`` -> ``("result", R, build_seconds)``;
  ``neuron`` is None (each sample's largest logit) or one int per sample;
- ``("predict", X)`` -> ``("result", logits)``;
- ``("set_weights", weights)`` with a list of arrays (the original model's
  ``get_weights()`` order) or a file path (``.h5`` weights or model, SavedModel dir) ->
  ``("ok", None)``: the weights are loaded into the original architecture and folded
  again; every cached analyzer follows (they read the model's variables);
- ``("close",)`` -> the worker exits. End of input also ends it.
Any failure of a request answers ``("error", "Type: first line (at file:line)")`` and the
worker stays up.
"""
from __future__ import annotations

import os
import pickle
import struct
import sys
import time
import traceback

__all__ = ["main", "send_message", "read_message", "Worker", "WORKER_ENV"]

#: environment the worker sets before TensorFlow is imported
WORKER_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3"}
_HEADER = struct.Struct("<Q")


def send_message(fd: int, message) -> None:
    """Write one length-prefixed pickle to a blocking file descriptor."""
    data = pickle.dumps(message, protocol=5)
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def read_message(fd: int):
    """Read one length-prefixed pickle from a blocking file descriptor (EOFError at end)."""
    (size,) = _HEADER.unpack(_read_exact(fd, _HEADER.size))
    return pickle.loads(_read_exact(fd, size))


def _read_exact(fd: int, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError("end of input")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def message_of(exc: BaseException) -> str:
    """``Type: first line (at file:line)`` of an exception."""
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" (at {os.path.basename(last[0].filename)}:{last[0].lineno})" if last else ""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}{where}"


class Worker:
    """The worker's state: the loaded model, its LRP rebuild and the analyzer cache."""

    def __init__(self, path: str, disable_model_checks: bool = False, max_analyzers: int = 32):
        import numpy as np
        import tensorflow as tf

        tf.compat.v1.disable_eager_execution()
        tf.get_logger().setLevel("ERROR")
        from keras.src.engine import base_layer_utils

        # keep constant inputs of TF-op layers symbolic instead of evaluating each one in a new
        # session callable (the cost that grew with the graph); only affects get_config of
        # those layers, which nothing here uses
        base_layer_utils._UNSAFE_GRAPH_OP_LAYER_CREATION = True
        import seis_keras.models  # noqa: F401  (registers the custom layers)

        self.np, self.path = np, str(path)
        self.disable_model_checks, self.max_analyzers = bool(disable_model_checks), int(max_analyzers)
        self.weights = None  # original-model weights set by set_weights (None: the file's)
        self._load()

    def _load(self):
        from tensorflow import keras

        from seis_keras.models.surgery import fold_batchnorm, logits_model, strip_random_input

        if self.path.endswith(".keras"):
            raise ValueError(f"{self.path}: .keras files load wrong weights in graph mode; pass .h5 or a SavedModel dir")
        keras.backend.clear_session()
        self.original = keras.models.load_model(self.path, compile=False)
        if self.weights is not None:
            self.original.set_weights(self.weights)
        self.model = logits_model(fold_batchnorm(strip_random_input(self.original)))
        self._forward = keras.backend.function(self.model.inputs, self.model.outputs)
        self.analyzers = {}

    def info(self) -> dict:
        return {"input_shape": tuple(self.model.inputs[0].shape.as_list()[1:]),
                "n_outputs": int(self.model.outputs[0].shape[-1]),
                "layers": [type(layer).__name__ for layer in self.model.layers],
                "layer_names": [layer.name for layer in self.model.layers],
                "n_weights": len(self.original.get_weights()), "pid": os.getpid(),
                "tf_cpp_min_log_level": os.environ.get("TF_CPP_MIN_LOG_LEVEL")}

    def analyzer(self, text: str):
        """The cached analyzer of a method (built on first use); returns (analyzer, build_s)."""
        from seis_keras.explain.lrp_rules import build_analyzer
        from seis_keras.explain.methods import parse_method

        if text in self.analyzers:
            return self.analyzers[text], 0.0
        if len(self.analyzers) >= self.max_analyzers:
            self._load()  # a fresh graph: the old analyzers' ops would otherwise stay in it
        t0 = time.perf_counter()
        analyzer = build_analyzer(self.model, parse_method(text), disable_model_checks=self.disable_model_checks)
        self.analyzers[text] = analyzer
        return analyzer, time.perf_counter() - t0

    def predict(self, X):
        return self.np.asarray(self._forward([X])[0], dtype=self.np.float32)

    def analyze(self, text: str, X, neuron):
        np = self.np
        analyzer, build_s = self.analyzer(text)
        index = self.predict(X).argmax(axis=1) if neuron is None else np.asarray(neuron, dtype=int)
        R = analyzer.analyze(X, neuron_selection=index)
        return np.asarray(R, dtype=np.float32), build_s

    def set_weights(self, weights) -> None:
        from tensorflow import keras

        from seis_keras.models.surgery import folded_weights

        np = self.np
        if isinstance(weights, str):
            weights = self._weights_from_file(weights)
        current = self.original.get_weights()
        if len(weights) != len(current):
            raise ValueError(f"set_weights: got {len(weights)} weight arrays, the model has {len(current)} "
                             "(expected the same architecture)")
        for i, (new, old) in enumerate(zip(weights, current)):
            if np.shape(new) != old.shape:
                var = self.original.weights[i].name
                raise ValueError(f"set_weights: array {i} ({var}) has shape {np.shape(new)}, expected {old.shape}")
        weights = [np.asarray(w, dtype=old.dtype) for w, old in zip(weights, current)]
        self.original.set_weights(weights)
        self.weights = weights
        values = folded_weights(self.original)
        assignments = []
        for layer in self.model.layers:
            if layer.weights:
                assignments += zip(layer.weights, values[layer.name])
        keras.backend.batch_set_value(assignments)

    def _weights_from_file(self, path: str):
        from tensorflow import keras

        if os.path.isdir(path):
            return keras.models.load_model(path, compile=False).get_weights()
        if path.endswith((".keras", ".weights.h5")):  # LRPSession reads these eagerly and sends arrays
            raise ValueError(f"{path}: Keras-v3 files load wrong weights in graph mode; pass .h5 or a SavedModel dir")
        clone = keras.models.clone_model(self.original)
        clone.load_weights(path)
        return clone.get_weights()


def serve(fd_in: int, fd_out: int) -> None:
    """Answer requests until ``close`` or end of input (see the module docstring)."""
    try:
        kind, options = read_message(fd_in)
    except EOFError:
        return
    try:
        if kind != "load":
            raise ValueError(f"first request must be 'load', got {kind!r}")
        worker = Worker(options["path"], options.get("disable_model_checks", False),
                        options.get("max_analyzers", 32))
        info = worker.info()
    except BaseException as exc:  # noqa: BLE001  (everything goes back to the caller)
        send_message(fd_out, ("error", f"loading {options.get('path')} failed: {message_of(exc)}"))
        return
    send_message(fd_out, ("ready", info))
    while True:
        try:
            message = read_message(fd_in)
        except EOFError:
            return
        try:
            if message[0] == "close":
                return
            if message[0] == "analyze":
                R, build_s = worker.analyze(message[1], message[2], message[3])
                reply = ("result", R, build_s)
            elif message[0] == "predict":
                reply = ("result", worker.predict(message[1]))
            elif message[0] == "set_weights":
                worker.set_weights(message[1])
                reply = ("ok", None)
            else:
                raise ValueError(f"unknown request {message[0]!r}")
        except BaseException as exc:  # noqa: BLE001
            reply = ("error", f"{message[0]} failed: {message_of(exc)}")
        send_message(fd_out, reply)


def main() -> None:
    """Entry point: protect the protocol stream, silence TensorFlow, serve, exit fast."""
    os.environ.update(WORKER_ENV)
    fd_out = os.dup(1)
    os.dup2(2, 1)  # stray prints (TensorFlow, innvestigate) go to stderr, not into the protocol
    sys.stdout = sys.stderr
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    logging.getLogger().setLevel(logging.ERROR)  # keras' "compiled metrics" notes on load
    code = 0
    try:
        serve(0, fd_out)
    except BaseException as exc:  # noqa: BLE001  (a broken pipe: the caller is gone)
        print(f"LRP worker: {message_of(exc)}", file=sys.stderr)
        code = 1
    sys.stderr.flush()
    os._exit(code)  # skip TensorFlow's slow interpreter teardown


if __name__ == "__main__":
    main()
