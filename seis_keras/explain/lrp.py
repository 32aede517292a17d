"""Layer-wise relevance propagation (LRP) with innvestigate, in one worker process per model.

innvestigate 2.1.2 needs eager execution disabled, which cannot be undone in a process
and would break the rest of seis_keras (training, tf-keras-vis, shap). An
:class:`LRPSession` therefore starts ``python -m seis_keras.explain.lrp_worker`` (a plain
subprocess: it never imports the caller's script, so a script without an
``if __name__ == "__main__":`` guard works) that loads the saved model **once**, rebuilds it
for LRP (:func:`~seis_keras.models.surgery.strip_random_input`,
:func:`~seis_keras.models.surgery.fold_batchnorm` — innvestigate's own BatchNorm handling is
~30x wrong —, :func:`~seis_keras.models.surgery.logits_model`) and builds each method's
analyzer on first use (then cached), so several rules cost one worker start::

    with LRPSession(model) as session:
        R_eps = session.analyze(X, "lrp.epsilon(bias=false)")
        R_ab = session.analyze(X, "lrp.alpha_beta(beta=1)")
        session.set_weights(randomised_model)      # same architecture, BN folded again
        R_rand = session.analyze(X, "lrp.epsilon(bias=false)")

Methods are the LRP part of :mod:`seis_keras.explain.methods` (``lrp.epsilon``,
``lrp.alpha_beta``, ``lrp.z_plus``, ``lrp.gamma``, ``lrp.composite(...)`` and the named
composites) plus ``gradient`` (innvestigate's). Relevance starts at the selected logit,
sign included. :class:`LRPAnalyzer` (one rule, its own worker) and :func:`lrp` (one call)
are thin wrappers kept for existing code.

Costs (bench/explain_lrp.py; 2 cores shared at load 11-14): the worker start (TensorFlow
import + model load) ~20 s; an analyzer build 2-8 s on the detector (23-150 s before the
worker kept the rules' constants symbolic); repeat ``analyze`` calls 0.5-2x one eager
gradient pass. The detector recipe's four rules on 256 windows: 286 s with one spawned
worker per rule before, 98 s with one worker per rule now, 47 s in one session.
Agreement with the float64 numpy reference is ~1e-6 relative (float32 rounding);
where a denominator ``z`` is nearly zero (epsilon without bias, small epsilon) rounding
is amplified by ``1 / (z + epsilon)`` and single samples can differ by a few 1e-5.

Rules of :class:`LRPAnalyzer` (``rule=``): ``"epsilon"`` (``lrp.epsilon``), ``"alpha_beta"``
(``lrp.alpha_beta``, alpha = 1 + beta, by default **without biases**: innvestigate's
``bias=True`` adds the whole bias to both denominators, which explodes for negative biases),
``"z_plus"``, ``"gradient"``, ``"sequential_preset_a"`` / ``"_b"``, or any method text of
:mod:`seis_keras.explain.methods` (which documents each), e.g.
``"lrp.composite(conv=gamma, input=zbox(low=-1, high=1))"``.

:func:`seis_keras.explain.lrp_reference.lrp_reference` is an independent numpy version
of every rule, used by the tests.

Conventions, checked against zennit 0.5.1 (PyTorch; its own rules, composites and BatchNorm
canonizer) on the detector, Norcia and subduction architectures by
``tests/explain/test_lrp_oracle.py`` (agreement to 1e-5 relative, or the difference tested as
one of these rows), beside moboehle/Pytorch-LRP, the library Majstorovic et al. 2023 used:

====================  ===========================  ==========================  ========================
convention            innvestigate 2.1.2 (ours)    zennit 0.5.1                Pytorch-LRP
====================  ===========================  ==========================  ========================
epsilon denominator   z + eps*sign(z), sign(0)=+1  same                        sign(0) = 0: R = 0 at z = 0
epsilon bias          in z; ``bias=False``: not    in z unless zeroed          never
alpha-beta split      sign of x*w, also at input   same                        same
alpha-beta bias       ``bias=True``: whole b in    b+ in z+, b- in z-          never
                      z+ and in z- (else none)
alpha-beta stabiliser none (exact 0 -> 1e-7)       eps*sign(z)                 eps*sign(z)
one-sign-only neuron  alpha*R (or -beta*R)         same                        R
BatchNorm             folded (exact)               merged (0.5.1 keeps eps)    passed through
preset A              eps at Dense, alpha1beta0    EpsilonPlus, conv rule      -
                      whole-bias at conv           with b instead of b+
====================  ===========================  ==========================  ========================

How much the stabiliser and one-sign rows matter for the detector paper's maps (Pytorch-LRP, eps = 1e-6,
no bias) against ours (``"alpha_beta"``, ``bias=False``), measured with zennit on the full-size
detector trained on 836 built-in windows (Adam, 20 epochs), 64 held-out windows, max abs
difference / max abs relevance (median over windows): beta = 0: 1.2e-2 (1.4e-4), all from the
stabiliser (the one-sign rule changes nothing when alpha = 1); beta = 0.5: 5.2e-2 (3.2e-2);
beta = 1: 7.0e-2 (5.7e-2), mostly from the one-sign rule. innvestigate's alpha-beta ignores
``epsilon`` (``lrp.alpha_beta(stabilised=true)`` gives the Pytorch-LRP rule); the epsilon rule itself matches Pytorch-LRP (``bias=False``) except at z = 0 exactly.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
import warnings
import weakref
from pathlib import Path

import numpy as np

from seis_keras.explain.lrp_client import WorkerProcess
from seis_keras.explain.methods import MethodSpec, parse_method

__all__ = ["LRPSession", "LRPAnalyzer", "lrp", "RULES"]

_SAVE_LOCK = threading.Lock()  # Keras' model.save is not thread-safe (sessions started from threads)

#: ``rule=`` names of :class:`LRPAnalyzer` (older vocabulary; any method text works too)
RULES = ("epsilon", "alpha_beta", "z_plus", "gradient", "sequential_preset_a", "sequential_preset_b")


def _model_path(model_or_path, tmpdir_holder: list) -> Path:
    """A path the worker can load safely (temporary ``.h5`` for in-memory/.keras models)."""
    if isinstance(model_or_path, (str, os.PathLike)):
        path = Path(model_or_path).absolute()
        if not path.exists():
            raise ValueError(f"{path}: no such model (expected a .h5 file or a Keras SavedModel directory)")
        if path.is_dir():
            if not (path / "saved_model.pb").exists():
                raise ValueError(f"{path}: directory without saved_model.pb (expected a Keras SavedModel)")
            return path
        if path.suffix in (".h5", ".hdf5"):
            import h5py

            if not h5py.is_hdf5(path):
                raise ValueError(f"{path}: not an HDF5 file (expected a Keras .h5 model)")
            return path
        if path.suffix != ".keras":
            raise ValueError(f"{path}: unknown model format '{path.suffix}' (expected .h5, .keras or a SavedModel dir)")
        from seis_keras.explain.targets import resolve_model  # eager load of .keras, re-saved as .h5 below

        model_or_path = resolve_model(path)
    from tensorflow import keras  # only for models given in memory (the caller has TF already)

    if not isinstance(model_or_path, keras.Model):
        raise ValueError(f"LRPSession: expected a keras.Model or a model path, got {type(model_or_path).__name__}")
    tmpdir = tempfile.mkdtemp(prefix="seis_keras-lrp-")
    tmpdir_holder.append(tmpdir)
    path = Path(tmpdir) / "model.h5"
    with _SAVE_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "HDF5 is legacy": on purpose here
        model_or_path.save(path, save_format="h5", include_optimizer=False)
    return path


def _remove_dirs(dirs: list) -> None:
    for tmpdir in dirs:
        shutil.rmtree(tmpdir, ignore_errors=True)
    dirs.clear()


def _lrp_spec(method) -> MethodSpec:
    spec = parse_method(method)
    if spec.backend != "lrp" and spec.name != "gradient":
        raise ValueError(f"method '{method}': not an LRP method (the worker runs lrp.* and gradient; "
                         f"use seis_keras.explain.explain for {spec.name})")
    return spec


class LRPSession:
    """One innvestigate worker for one model: any LRP method, any number of batches.

    Args:
        model_or_path: an in-memory keras model (saved to a temporary ``.h5`` for the
            worker), a ``.h5``/``.hdf5`` file or a Keras SavedModel directory. A
            ``.keras`` file is loaded here (eager) and re-saved as ``.h5``, because
            graph mode loads ``.keras`` weights wrongly.
        batch_size: samples sent to the worker per request.
        start_timeout: seconds to wait for the worker to start and load the model.
        batch_timeout: seconds to wait for one request (a method's first batch includes
            building its analyzer).
        disable_model_checks: skip innvestigate's model checks (e.g. for a model with
            ``ReLU()`` layers; results are the same).
        max_analyzers: analyzers cached in the worker; past that its graph is cleared
            and the model reloaded (each analyzer adds ~1-2k graph ops).

    Attributes:
        info: ``input_shape``, ``n_outputs``, ``layers`` (classes of the LRP model),
            ``layer_names``, ``n_weights``, ``pid``, ``start_s``.
        build_s: seconds each method's analyzer took to build, by method text.

    Raises:
        ValueError: bad settings or model path.
        RuntimeError: the worker failed (its one-line message), died or timed out.
    """

    def __init__(self, model_or_path, *, batch_size: int = 256, start_timeout: float = 600.0,
                 batch_timeout: float = 600.0, disable_model_checks: bool = False, max_analyzers: int = 32):
        if not (isinstance(batch_size, (int, np.integer)) and batch_size >= 1):
            raise ValueError(f"LRPSession: batch_size must be an int >= 1, got {batch_size!r}")
        if not (isinstance(max_analyzers, (int, np.integer)) and max_analyzers >= 1):
            raise ValueError(f"LRPSession: max_analyzers must be an int >= 1, got {max_analyzers!r}")
        self.batch_size, self.batch_timeout = int(batch_size), float(batch_timeout)
        self.build_s: dict[str, float] = {}
        self._tmpdirs: list = []
        self._worker = None
        self._finalizer = weakref.finalize(self, _remove_dirs, self._tmpdirs)
        self._eager_copy = None  # the model loaded here, for Keras-v3 weight files (see set_weights)
        try:
            path = _model_path(model_or_path, self._tmpdirs)
            self._model_file = path
            self._worker = WorkerProcess()
            self.info = self._worker.start(
                {"path": str(path), "disable_model_checks": bool(disable_model_checks),
                 "max_analyzers": int(max_analyzers)}, float(start_timeout))
        except BaseException:
            self.close()
            raise

    @property
    def pid(self) -> int | None:
        """Process id of the worker (None once closed)."""
        return None if self._worker is None else self._worker.pid

    @property
    def stderr_lines(self) -> list[str]:
        """The worker's last stderr lines as it wrote them (before filtering TensorFlow noise)."""
        return [] if self._worker is None else list(self._worker.stderr_raw)

    def _check_batch(self, X, what: str) -> np.ndarray:
        if self._worker is None:
            raise RuntimeError(f"LRPSession: {what} after close()")
        X = np.asarray(X, dtype=np.float32)
        expected = tuple(self.info["input_shape"])
        if X.ndim != len(expected) + 1 or any(e is not None and e != s for e, s in zip(expected, X.shape[1:])):
            shown = ", ".join("?" if e is None else str(e) for e in expected)
            raise ValueError(f"LRPSession.{what}: X has shape {X.shape}, expected (N, {shown})")
        if not np.all(np.isfinite(X)):
            raise ValueError(f"LRPSession.{what}: X holds NaN or inf values")
        return X

    def _neurons(self, neuron, n: int):
        if isinstance(neuron, str):
            if neuron != "predicted":
                raise ValueError(f"LRPSession.analyze: neuron '{neuron}' unknown (expected 'predicted' or class indices)")
            return None
        index = np.broadcast_to(np.asarray(neuron), (n,))
        n_out = self.info["n_outputs"]
        if index.dtype.kind not in "iu" or (n and (index.min() < 0 or index.max() >= n_out)):
            raise ValueError(f"LRPSession.analyze: neuron must hold ints in [0, {n_out}), got {neuron!r}")
        return index.astype(np.int64)

    def analyze(self, X, method="lrp.epsilon", *, neuron="predicted") -> np.ndarray:
        """Relevance of each input value for the selected logit.

        Args:
            X: batch ``(N, *input_shape)`` (converted to float32), e.g. ``(N, 500, 3)``.
            method: method text or :class:`~seis_keras.explain.methods.MethodSpec` of an
                LRP method or ``gradient``. ``zbox`` bounds left unset are taken from
                this ``X`` (its minimum and maximum); set them to build the analyzer
                once for all batches.
            neuron: ``"predicted"`` (each sample's largest logit; for a 1-unit model its
                single logit, as in the detector paper), an int class index for every
                sample, or one int per sample.

        Returns:
            float32 array shaped like ``X`` (for ``gradient``, the gradient).
        """
        spec = _with_bounds(_lrp_spec(method), X)
        X = self._check_batch(X, "analyze")
        index = self._neurons(neuron, len(X))
        text = spec.text
        out = []
        for start in range(0, len(X), self.batch_size):
            chunk = np.ascontiguousarray(X[start:start + self.batch_size])
            what = f"analysing samples {start}-{start + len(chunk) - 1} with {text}"
            R, build_s = self._worker.request(
                ("analyze", text, chunk, None if index is None else index[start:start + len(chunk)]),
                self.batch_timeout, what)
            if build_s:
                self.build_s[text] = build_s
            out.append(R)
        return np.concatenate(out, axis=0) if out else np.zeros_like(X)

    def predict(self, X) -> np.ndarray:
        """Logits ``(N, k)`` of the worker's LRP model (BatchNorm folded) for ``X``."""
        X = self._check_batch(X, "predict")
        out = [self._worker.request(("predict", np.ascontiguousarray(X[i:i + self.batch_size])),
                                    self.batch_timeout, "predicting")
               for i in range(0, len(X), self.batch_size)]
        return np.concatenate(out, axis=0) if out else np.zeros((0, self.info["n_outputs"]), np.float32)

    def set_weights(self, weights) -> None:
        """Swap the model's weights in the live worker (BatchNorm folded again).

        Every cached analyzer follows at once (no rebuild), so many weight sets (e.g. the
        cascading model-randomisation test of Adebayo et al. 2018) cost one worker.

        Args:
            weights: a keras model of the same architecture (its ``get_weights()``), a
                list of arrays in that order, a ``.h5`` weights or model file, a Keras
                SavedModel directory, or a Keras-v3 ``.weights.h5`` / ``.keras`` file
                (read here, eagerly: graph mode loads those formats with wrong weights,
                silently — measured max |R| error 415 on a small net).

        Raises:
            ValueError: no such file.
            RuntimeError: from the worker, a different number of arrays or a shape that
                does not match (one line).
        """
        if self._worker is None:
            raise RuntimeError("LRPSession: set_weights after close()")
        if isinstance(weights, (str, os.PathLike)):
            path = Path(weights).absolute()
            if not path.exists():
                raise ValueError(f"{path}: no such weights file (expected .h5 or a SavedModel directory)")
            if path.name.endswith((".weights.h5", ".keras")):
                payload = self._read_v3_weights(path)
            else:
                payload = str(path)
        elif isinstance(weights, (list, tuple)):
            payload = [np.asarray(w) for w in weights]
        elif hasattr(weights, "get_weights"):
            payload = [np.asarray(w) for w in weights.get_weights()]
        else:
            raise ValueError(f"LRPSession.set_weights: expected a keras model, a list of arrays or a path, "
                             f"got {type(weights).__name__}")
        self._worker.request(("set_weights", payload), self.batch_timeout, "setting the weights")

    def _read_v3_weights(self, path: Path) -> list:
        from seis_keras.explain.targets import resolve_model  # eager Keras here: v3 files need it

        if path.suffix == ".keras":
            return resolve_model(path).get_weights()
        if self._eager_copy is None:
            self._eager_copy = resolve_model(self._model_file)
        self._eager_copy.load_weights(path)
        return self._eager_copy.get_weights()

    def close(self) -> None:
        """Stop the worker and remove temporary files (idempotent)."""
        if self._worker is not None:
            self._worker.stop()
            self._worker = None
        _remove_dirs(self._tmpdirs)

    def __enter__(self) -> "LRPSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _with_bounds(spec: MethodSpec, X) -> MethodSpec:
    """Fill unset zbox bounds of ``spec`` from the data range of ``X``."""
    expanded = spec.expanded()
    if expanded.name != "lrp.composite":
        return spec
    rule = expanded["input"]
    if rule is None or rule.name != "zbox" or (rule["low"] is not None and rule["high"] is not None):
        return spec
    X = np.asarray(X, dtype=np.float32)
    low = float(X.min()) if rule["low"] is None else rule["low"]
    high = float(X.max()) if rule["high"] is None else rule["high"]
    return expanded.replace(input=rule.replace(low=low, high=high))


def _rule_text(rule: str, epsilon: float, beta: float, bias: bool | None) -> str:
    if rule == "epsilon":
        return f"lrp.epsilon(epsilon={epsilon!r}, bias={'true' if bias in (None, True) else 'false'})"
    if rule == "alpha_beta":
        return f"lrp.alpha_beta(beta={beta!r}, bias={'true' if bias else 'false'})"
    if rule in ("sequential_preset_a", "sequential_preset_b"):
        return f"lrp.{rule}(epsilon={epsilon!r})"
    return "lrp.z_plus" if rule == "z_plus" else rule


class LRPAnalyzer:
    """One LRP method in its own worker (:class:`LRPSession`); ``analyze`` as often as needed.

    Args:
        model_or_path: see :class:`LRPSession`.
        rule: one of :data:`RULES` (see the module docstring) or any LRP method text.
        epsilon: stabiliser of the epsilon rule (and of the presets' Dense layers);
            default 1e-6 as in Majstorovic et al. 2023.
        beta: beta of the alpha-beta rule, alpha = 1 + beta (``>= 0``; default 0).
        bias: include biases in the denominators. ``None`` (default) = the rule's
            default: True for ``"epsilon"``, False for ``"alpha_beta"``.
        neuron: ``"predicted"`` or an int class index used for every sample (then
            :meth:`analyze` also accepts one index per sample).
        batch_size, start_timeout, batch_timeout, disable_model_checks: see
            :class:`LRPSession`.

    Raises:
        ValueError: bad settings or input path.
        RuntimeError: the worker failed (message from the worker), died or timed out.
    """

    def __init__(self, model_or_path, rule: str = "epsilon", *, epsilon: float = 1e-6, beta: float = 0.0,
                 bias: bool | None = None, neuron="predicted", batch_size: int = 256,
                 start_timeout: float = 600.0, batch_timeout: float = 600.0,
                 disable_model_checks: bool = False):
        if not epsilon > 0:
            raise ValueError(f"LRPAnalyzer: epsilon must be > 0, got {epsilon}")
        if not beta >= 0:
            raise ValueError(f"LRPAnalyzer: beta must be >= 0 (alpha = 1 + beta), got {beta}")
        if isinstance(neuron, str):
            if neuron != "predicted":
                raise ValueError(f"LRPAnalyzer: neuron '{neuron}' unknown (expected 'predicted' or a class index)")
        elif not (isinstance(neuron, (int, np.integer)) and not isinstance(neuron, bool) and neuron >= 0):
            raise ValueError(f"LRPAnalyzer: neuron must be 'predicted' or an int >= 0, got {neuron!r}")
        text = _rule_text(rule, float(epsilon), float(beta), bias) if rule in RULES else rule
        try:
            self.spec = _lrp_spec(text)
        except ValueError as exc:
            raise ValueError(f"LRPAnalyzer: rule '{rule}' unknown or invalid (expected one of "
                             f"{', '.join(RULES)} or an LRP method text): {exc}") from None
        self.rule, self.epsilon, self.beta, self.neuron = rule, float(epsilon), float(beta), neuron
        self.bias = (rule == "epsilon") if bias is None else bool(bias)
        self._session = LRPSession(model_or_path, batch_size=batch_size, start_timeout=start_timeout,
                                   batch_timeout=batch_timeout, disable_model_checks=disable_model_checks)
        self.info = self._session.info
        if not isinstance(neuron, str) and neuron >= self.info["n_outputs"]:
            n_out = self.info["n_outputs"]
            self.close()
            raise ValueError(f"LRPAnalyzer: neuron {neuron} out of range for a model with {n_out} logits")

    @property
    def pid(self) -> int | None:
        """Process id of the worker (None once closed)."""
        return self._session.pid

    def analyze(self, X, neuron=None) -> np.ndarray:
        """Relevance of each input sample for the selected logit.

        Args:
            X: batch ``(N, *input_shape)`` (converted to float32), e.g. ``(N, 500, 3)``.
            neuron: only for an analyzer built with an int ``neuron``: an int or one int
                per sample overriding it (e.g. the true classes).

        Returns:
            float32 array shaped like ``X`` (for ``rule="gradient"``, the gradient).
        """
        if self.neuron == "predicted":
            if neuron is not None:
                raise ValueError("LRPAnalyzer.analyze: neuron= needs an analyzer built with an int neuron (index mode)")
            return self._session.analyze(X, self.spec, neuron="predicted")
        return self._session.analyze(X, self.spec, neuron=self.neuron if neuron is None else neuron)

    def close(self) -> None:
        """Stop the worker and remove temporary files (idempotent)."""
        self._session.close()

    def __enter__(self) -> "LRPAnalyzer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def lrp(model_or_path, X, rule: str = "epsilon", *, neuron="predicted", **settings) -> np.ndarray:
    """One-shot LRP: start a worker, analyse ``X``, stop the worker.

    Args:
        model_or_path: see :class:`LRPSession`.
        X: batch ``(N, *input_shape)``.
        rule: see :class:`LRPAnalyzer`.
        neuron: ``"predicted"``, an int class index, or one int per sample.
        **settings: further :class:`LRPAnalyzer` keyword arguments.

    Returns:
        float32 relevance shaped like ``X``.
    """
    per_sample = not isinstance(neuron, (str, int, np.integer))
    with LRPAnalyzer(model_or_path, rule, neuron=0 if per_sample else neuron, **settings) as analyzer:
        return analyzer.analyze(X, neuron=neuron if per_sample else None)
