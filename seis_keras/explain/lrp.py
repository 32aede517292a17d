"""Layer-wise relevance propagation (LRP) with innvestigate, run in a spawned worker process.

innvestigate 2.1.2 needs eager execution disabled, which cannot be undone in a process
and would break the rest of seis_keras (training, tf-keras-vis, shap). An
:class:`LRPAnalyzer` therefore starts one ``spawn`` worker
(:mod:`seis_keras.explain.lrp_worker`) that loads the saved model, rebuilds it for LRP
(:func:`~seis_keras.models.surgery.strip_random_input`,
:func:`~seis_keras.models.surgery.fold_batchnorm` — innvestigate's own BatchNorm
handling is ~30x wrong —, :func:`~seis_keras.models.surgery.logits_model`), builds the
analyzer **once** (~5 s with the TensorFlow import) and then analyses any number of
batches streamed through a pipe (bench/explain_lrp.py on 2 heavily shared CPU cores:
~0.15-0.7 ms per detector window, ~0.05-0.3 s per Norcia trace, 0.2-3.3x one eager
gradient pass; the worker start costs ~10 s on an idle machine, up to 2 min there). Use it as a context manager, or call :func:`lrp` for one batch.

Agreement with the float64 numpy reference is ~1e-6 relative (float32 rounding); where a
denominator ``z`` is nearly zero (epsilon rule without bias, small epsilon) rounding is
amplified by ``1 / (z + epsilon)`` and single samples can differ by a few 1e-5.

Rules (``rule=``), all starting from the selected logit (sign included):

- ``"epsilon"``: LRP-epsilon, innvestigate ``LRPEpsilon`` (``lrp.epsilon``): denominators
  ``z + epsilon * sign(z)``, ``sign(0) = +1``; ``bias=False`` leaves the biases out of
  ``z`` (the Majstorovic et al. 2023 / Pytorch-LRP variant).
- ``"alpha_beta"``: LRP-alpha-beta with ``alpha = 1 + beta`` (paper: beta in 0, 0.5, 1),
  innvestigate's generic ``LRPAlphaBeta``. By default **without biases** (``bias=False``,
  the ``_IB`` "ignore bias" variant: for beta = 0 identical to ``lrp.alpha_1_beta_0_IB``,
  for beta = 1 to ``lrp.alpha_2_beta_1_IB``), because innvestigate's ``bias=True`` adds
  the whole bias to both the activating and the inhibiting denominator, which explodes
  for negative biases (../shared/STACK.md). Contributions are split by the sign of
  ``x * w``, also in the first layer.
- ``"z_plus"``: innvestigate ``lrp.z_plus`` (= alpha 1, beta 0, no bias, sign of ``x*w``).
- ``"gradient"``: the plain gradient of the selected logit (innvestigate ``gradient``).
- ``"sequential_preset_a"`` / ``"sequential_preset_b"``: innvestigate's presets
  (epsilon at Dense layers with this ``epsilon``, alpha1beta0 / alpha2beta1 with bias at
  convolutions; innvestigate's own default epsilon there is 0.1).

:func:`seis_keras.explain.lrp_reference.lrp_reference` is an independent numpy version
of the first four, used by the tests.

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
``epsilon``; the epsilon rule itself matches Pytorch-LRP (``bias=False``) except at z = 0 exactly.
"""
from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
import time
import warnings
import weakref
from pathlib import Path

import numpy as np

from seis_keras.explain.lrp_worker import ANALYZER_RULES, serve

__all__ = ["LRPAnalyzer", "lrp", "RULES"]

RULES = tuple(ANALYZER_RULES)


def _stop(proc, conn, tmpdir):
    """Shut a worker down (polite, then terminate) and remove the temporary model."""
    try:
        if proc is not None and proc.is_alive():
            try:
                conn.send(("close",))
            except (OSError, ValueError):
                pass
            proc.join(5.0)
            if proc.is_alive():
                proc.terminate()
                proc.join(5.0)
    finally:
        try:
            conn.close()
        except (OSError, AttributeError):
            pass
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)


class LRPAnalyzer:
    """One innvestigate analyzer in a worker process; ``analyze`` batches as often as needed.

    Args:
        model_or_path: an in-memory keras model (saved to a temporary ``.h5`` for the
            worker), a ``.h5``/``.hdf5`` file or a Keras SavedModel directory. A
            ``.keras`` file is loaded here (eager) and re-saved as ``.h5``, because
            graph mode loads ``.keras`` weights wrongly. Custom layers must be
            registered by importing ``seis_keras.models``.
        rule: one of :data:`RULES` (see the module docstring).
        epsilon: stabiliser of the epsilon rule (and of the presets' Dense layers);
            default 1e-6 as in Majstorovic et al. 2023.
        beta: beta of the alpha-beta rule, alpha = 1 + beta (``>= 0``; default 0).
        bias: include biases in the denominators. ``None`` (default) = the rule's
            sensible default: True for ``"epsilon"``, False for ``"alpha_beta"``
            (ignore-bias variant, see above). Ignored by the other rules.
        neuron: ``"predicted"`` (largest logit per sample; for a 1-unit model its
            single logit, as in the detector paper) or an int class index used for
            every sample (then :meth:`analyze` also accepts one index per sample).
        batch_size: samples sent to the worker per request.
        start_timeout: seconds to wait for the worker to load the model and build the
            analyzer before giving up.
        batch_timeout: seconds to wait for one batch.
        disable_model_checks: skip innvestigate's model checks (e.g. for a model with
            ``ReLU()`` layers; results are the same).

    Raises:
        ValueError: bad settings or input path.
        RuntimeError: the worker failed (message from the worker), died or timed out.
    """

    def __init__(self, model_or_path, rule: str = "epsilon", *, epsilon: float = 1e-6, beta: float = 0.0,
                 bias: bool | None = None, neuron="predicted", batch_size: int = 256,
                 start_timeout: float = 600.0, batch_timeout: float = 600.0,
                 disable_model_checks: bool = False):
        if rule not in ANALYZER_RULES:
            raise ValueError(f"LRPAnalyzer: rule '{rule}' unknown (expected one of {', '.join(RULES)})")
        if not epsilon > 0:
            raise ValueError(f"LRPAnalyzer: epsilon must be > 0, got {epsilon}")
        if not beta >= 0:
            raise ValueError(f"LRPAnalyzer: beta must be >= 0 (alpha = 1 + beta), got {beta}")
        if isinstance(neuron, str):
            if neuron != "predicted":
                raise ValueError(f"LRPAnalyzer: neuron '{neuron}' unknown (expected 'predicted' or a class index)")
            mode = "max_activation"
        elif isinstance(neuron, (int, np.integer)) and not isinstance(neuron, bool) and neuron >= 0:
            mode = "index"
        else:
            raise ValueError(f"LRPAnalyzer: neuron must be 'predicted' or an int >= 0, got {neuron!r}")
        if not (isinstance(batch_size, (int, np.integer)) and batch_size >= 1):
            raise ValueError(f"LRPAnalyzer: batch_size must be an int >= 1, got {batch_size!r}")
        self.rule, self.epsilon, self.beta, self.neuron = rule, float(epsilon), float(beta), neuron
        self.bias = (rule == "epsilon") if bias is None else bool(bias)
        self.batch_size, self.batch_timeout = int(batch_size), float(batch_timeout)
        self._proc = self._conn = None
        self._tmpdir = None
        self._finalizer = None
        self.info: dict = {}

        path = self._model_path(model_or_path)
        config = dict(rule=rule, epsilon=self.epsilon, beta=self.beta, bias=self.bias, neuron_mode=mode,
                      disable_model_checks=bool(disable_model_checks))
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=serve, args=(child, str(path), config), daemon=True,
                                 name=f"seis_keras-lrp-{rule}")
        self._proc.start()
        child.close()
        self._finalizer = weakref.finalize(self, _stop, self._proc, self._conn, self._tmpdir)
        try:
            kind, payload = self._receive(float(start_timeout), "loading the model and building the analyzer")
            if kind == "error":
                raise RuntimeError(f"LRP worker: {payload}")
        except BaseException:
            self.close()
            raise
        self.info = payload
        if mode == "index" and neuron >= payload["n_outputs"]:
            n_out = payload["n_outputs"]
            self.close()
            raise ValueError(f"LRPAnalyzer: neuron {neuron} out of range for a model with {n_out} logits")

    def _model_path(self, model_or_path) -> Path:
        """A path the worker can load safely (temporary ``.h5`` for in-memory/.keras models)."""
        if isinstance(model_or_path, (str, os.PathLike)):
            path = Path(model_or_path)
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
            from tensorflow import keras

            import seis_keras.models  # noqa: F401  (registers the custom layers)

            model_or_path = keras.models.load_model(path, compile=False)
        from tensorflow import keras

        if not isinstance(model_or_path, keras.Model):
            raise ValueError(f"LRPAnalyzer: expected a keras.Model or a model path, got {type(model_or_path).__name__}")
        self._tmpdir = tempfile.mkdtemp(prefix="seis_keras-lrp-")
        path = Path(self._tmpdir) / "model.h5"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "HDF5 is legacy": on purpose here
                model_or_path.save(path, save_format="h5", include_optimizer=False)
        except BaseException:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            raise
        return path

    def _receive(self, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while True:
            if self._conn.poll(0.05):
                try:
                    return self._conn.recv()
                except (EOFError, OSError):
                    self._proc.join(2.0)
                    raise RuntimeError(f"LRP worker died while {what} (exit code {self._proc.exitcode})") from None
            if not self._proc.is_alive() and not self._conn.poll(0):
                hint = ""
                if self._proc.exitcode == 1 and not self.info:
                    hint = ("; see the worker's traceback above (a script starting LRPAnalyzer needs an "
                            "`if __name__ == \"__main__\":` guard, spawned workers re-import it)")
                raise RuntimeError(f"LRP worker died while {what} (exit code {self._proc.exitcode}){hint}")
            if time.monotonic() > deadline:
                self._proc.terminate()
                raise RuntimeError(f"LRP worker gave no answer within {timeout:g} s while {what}")

    def analyze(self, X, neuron=None) -> np.ndarray:
        """Relevance of each input sample for the selected logit.

        Args:
            X: batch ``(N, *input_shape)`` (converted to float32), e.g. ``(N, 500, 3)``.
            neuron: only for an analyzer built with an int ``neuron``: an int or one int
                per sample overriding it (e.g. the true classes).

        Returns:
            float32 array shaped like ``X`` (for ``rule="gradient"``, the gradient).
        """
        if self._proc is None:
            raise RuntimeError("LRPAnalyzer: analyze() after close()")
        X = np.asarray(X, dtype=np.float32)
        expected = tuple(self.info["input_shape"])
        if X.ndim != len(expected) + 1 or any(e is not None and e != s for e, s in zip(expected, X.shape[1:])):
            shown = ", ".join("?" if e is None else str(e) for e in expected)
            raise ValueError(f"LRPAnalyzer.analyze: X has shape {X.shape}, expected (N, {shown})")
        index = self._neuron_array(neuron, len(X))
        out = []
        for start in range(0, len(X), self.batch_size):
            stop = start + self.batch_size
            chunk = np.ascontiguousarray(X[start:stop])
            try:
                self._conn.send(("analyze", chunk, None if index is None else index[start:stop]))
            except (OSError, ValueError):  # broken pipe: the worker is gone
                self._proc.join(1.0)
                raise RuntimeError(f"LRP worker died before analysing samples {start}-{start + len(chunk) - 1} "
                                   f"(exit code {self._proc.exitcode})") from None
            kind, payload = self._receive(self.batch_timeout, f"analysing samples {start}-{start + len(chunk) - 1}")
            if kind == "error":
                raise RuntimeError(f"LRP worker: {payload}")
            out.append(payload)
        return np.concatenate(out, axis=0) if out else np.zeros_like(X)

    def _neuron_array(self, neuron, n):
        if self.neuron == "predicted":
            if neuron is not None:
                raise ValueError("LRPAnalyzer.analyze: neuron= needs an analyzer built with an int neuron (index mode)")
            return None
        index = np.broadcast_to(np.asarray(self.neuron if neuron is None else neuron), (n,))
        if index.dtype.kind not in "iu" or (n and (index.min() < 0 or index.max() >= self.info["n_outputs"])):
            raise ValueError(f"LRPAnalyzer.analyze: neuron must hold ints in [0, {self.info['n_outputs']}), got {neuron!r}")
        return index.astype(np.int64)

    def close(self) -> None:
        """Stop the worker and remove temporary files (idempotent)."""
        if self._finalizer is not None:
            self._finalizer()
        elif self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
        self._proc = None

    def __enter__(self) -> "LRPAnalyzer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def lrp(model_or_path, X, rule: str = "epsilon", *, neuron="predicted", **settings) -> np.ndarray:
    """One-shot LRP: start a worker, analyse ``X``, stop the worker.

    Args:
        model_or_path: see :class:`LRPAnalyzer`.
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
