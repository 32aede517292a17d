"""SHAP attributions (Lundberg & Lee 2017) for logit models; Magrini & Marrocco setting.

Named ``shap_values`` (not ``shap``) so that no module of ours can shadow the ``shap``
package in any import mode.

- :func:`gradient_shap`: expected gradients through ``shap.GradientExplainer`` (works with
  BatchNorm, logits or softmax); values add up to f(x) - E f(background) only
  approximately (sampling; exact for linear models).
- :func:`deep_shap`: ``shap.DeepExplainer`` (DeepLIFT-SHAP, exact additivity). It fails on
  fused BatchNorm and poisons the process that ran it (STACK.md), so by default it runs in
  a spawned worker process. Give it BN-free models, ``BatchNormalization(fused=False)`` or
  folded BN.
- :func:`partition_shap`: Magrini & Marrocco's setting: Partition explainer with an
  inpainting image masker over log-spectrograms (N, 33, 153, 3), ``max_evals=1000``,
  ``batch_size=50``, explaining the top predicted class's logit. shap's stock inpainting
  masker casts the *whole* image to uint8 before ``cv2.inpaint`` (so [0, 1] or standardised
  spectrograms are truncated to 0/1 integers); ``float_inpaint=True`` (default) inpaints
  each channel in float32 with the same OpenCV method and radius and keeps unmasked
  values exact. ``float_inpaint=False`` uses shap's masker unchanged.
- :func:`batch_class_mean_maps`: the authors' aggregation (SPEC §3): each map divided by the
  signed max of its batch (32 samples in their code), averaged over the channels; per batch
  the mean over its correctly classified samples of each class; the class mean is the mean
  of those per-batch means.
- :func:`class_mean_maps`: one normalisation for all maps (the max |value|), channel mean,
  one mean over all correctly classified samples per class.

All explainers return the selected target's attribution shaped like ``X`` (see
``seis_keras.explain.targets`` for ``class_index``; for a 1-unit model class 0 is -logit).
"""
from __future__ import annotations

import contextlib
import multiprocessing
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from seis_keras.explain.targets import ClassIndex, predict_logits, resolve_model, resolve_targets, select_scores


@contextlib.contextmanager
def _quiet_shap():
    """Silence shap's 'TF > 2.4' and Keras's set_learning_phase deprecation warnings."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*(TensorFlow version is newer than 2\.4|learning_phase|keras_is_keras3).*")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module=r"shap(\..*)?$")
        yield


def _import_shap():
    """Import shap with its import-time deprecation warnings silenced."""
    with _quiet_shap():
        warnings.filterwarnings("ignore", category=PendingDeprecationWarning)
        import shap
    return shap


def _select(values: np.ndarray, targets: np.ndarray, x_shape: tuple) -> np.ndarray:
    """(N, *input, k) attributions -> the target's (N, *input); class 0 of 1 unit negated."""
    if isinstance(values, list):  # older shap: one array per output
        values = np.stack(values, axis=-1)
    values = np.asarray(values)
    if values.shape == x_shape:  # single output squeezed
        values = values[..., None]
    if values.shape[:-1] != x_shape:
        raise ValueError(f"shap returned shape {values.shape}, expected {x_shape} + (outputs,)")
    if values.shape[-1] == 1:
        sign = (2.0 * targets - 1.0).reshape((-1,) + (1,) * (values.ndim - 2))
        return (values[..., 0] * sign).astype(np.float32)
    out = np.take_along_axis(values, targets.reshape((-1,) + (1,) * (values.ndim - 1)), axis=-1)
    return out[..., 0].astype(np.float32)


def gradient_shap(model, X: np.ndarray, background: np.ndarray, *,
                  class_index: ClassIndex = "predicted", nsamples: int = 200,
                  batch_size: int = 50, local_smoothing: float = 0.0, seed: int = 0) -> np.ndarray:
    """Expected-gradients SHAP values via ``shap.GradientExplainer``.

    Args:
        model: Keras model outputting logits (N, k), or a saved-model path (``.keras``/``.h5`` file or Keras SavedModel dir).
        X: batch to explain, shaped like the model input.
        background: reference samples (M, ...) that define E f (e.g. 50–200 training samples).
        class_index: ``"predicted"``, an int, or one int per sample.
        nsamples: background/interpolation draws per sample (shap default 200).
        batch_size: rows per gradient call inside shap.
        local_smoothing: std of noise added to the interpolated inputs (SmoothGrad-like; 0 off).
        seed: shap's ``rseed``.

    Returns:
        float32 attributions shaped like ``X``.
    """
    shap = _import_shap()

    model = resolve_model(model)
    X = np.asarray(X, dtype=np.float32)
    background = np.asarray(background, dtype=np.float32)
    if background.shape[1:] != X.shape[1:]:
        raise ValueError(f"background: expected samples shaped {X.shape[1:]} like X, got {background.shape[1:]}")
    targets = resolve_targets(class_index, predict_logits(model, X))
    with _quiet_shap():
        explainer = shap.GradientExplainer(model, background, batch_size=batch_size,
                                           local_smoothing=local_smoothing)
        values = explainer.shap_values(X, nsamples=nsamples, rseed=seed)
    return _select(values, targets, X.shape)


def _deep_shap_in_process(model, X, background, class_index, check_additivity):
    shap = _import_shap()

    targets = resolve_targets(class_index, predict_logits(model, X))
    with _quiet_shap():
        explainer = shap.DeepExplainer(model, background)
        values = explainer.shap_values(X, check_additivity=check_additivity)
    return _select(values, targets, X.shape)


def _deep_shap_worker(model_path: str, X, background, class_index, check_additivity):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from tensorflow import keras

    import seis_keras.models  # noqa: F401  (registers the custom layers for loading)

    model = keras.models.load_model(model_path, compile=False)
    return _deep_shap_in_process(model, X, background, class_index, check_additivity)


def deep_shap(model, X: np.ndarray, background: np.ndarray, *,
              class_index: ClassIndex = "predicted", in_subprocess: bool = True,
              check_additivity: bool = True) -> np.ndarray:
    """DeepLIFT-SHAP values via ``shap.DeepExplainer`` (exact: Σ = f(x) - E f(background)).

    Args:
        model: Keras model outputting logits, or a path to a saved Keras model (``.keras``,
            ``.h5`` or SavedModel directory). No fused BatchNorm.
        X: batch to explain, shaped like the model input.
        background: reference samples (M, ...).
        class_index: ``"predicted"``, an int, or one int per sample.
        in_subprocess: run in a spawned worker (default; DeepExplainer breaks the process
            that ran it). A model object is saved to a temporary ``.keras`` file for it.
        check_additivity: let shap verify Σ shap = f(x) - E f.

    Returns:
        float32 attributions shaped like ``X``.
    """
    X = np.asarray(X, dtype=np.float32)
    background = np.asarray(background, dtype=np.float32)
    if background.shape[1:] != X.shape[1:]:
        raise ValueError(f"background: expected samples shaped {X.shape[1:]} like X, got {background.shape[1:]}")
    if not in_subprocess:
        if isinstance(model, (str, os.PathLike)):
            from tensorflow import keras

            model = keras.models.load_model(model, compile=False)
        return _deep_shap_in_process(model, X, background, class_index, check_additivity)
    with tempfile.TemporaryDirectory(prefix="seis_keras_deepshap_") as tmp:
        if isinstance(model, (str, os.PathLike)):
            path = str(model)
            if not Path(path).exists():
                raise ValueError(f"{path}: saved model not found")
        else:
            path = str(Path(tmp) / "model.keras")
            model.save(path)
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(1) as pool:
            return pool.apply(_deep_shap_worker, (path, X, background, class_index, check_additivity))


def _float_inpaint_masker(method: str, shape: tuple):
    """shap Image masker that inpaints each channel in float32, unmasked values exact."""
    import cv2
    shap = _import_shap()

    class FloatInpaintImage(shap.maskers.Image):
        def inpaint(self, x, mask, method):
            img = x.reshape(self.input_shape).astype(np.float32)
            hole = mask.reshape(self.input_shape).astype(np.uint8).max(2)
            if hole.all():
                out = img.copy()
                out[:] = img.mean((0, 1))
                return out.astype(x.dtype).ravel()
            flag = getattr(cv2, method)
            out = np.stack([cv2.inpaint(np.ascontiguousarray(img[..., c]), hole, 3, flag)
                            for c in range(img.shape[-1])], axis=-1)
            out[hole == 0] = img[hole == 0]
            return out.astype(x.dtype).ravel()

    return FloatInpaintImage(method, shape)


def partition_shap(model, X: np.ndarray, *, class_index: ClassIndex = "predicted",
                   max_evals: int = 1000, batch_size: int = 50, masker: str = "inpaint_telea",
                   float_inpaint: bool = True, model_batch_size: int = 256) -> np.ndarray:
    """Partition SHAP over image-like inputs with an inpainting masker (Magrini & Marrocco).

    Args:
        model: Keras model outputting logits; input (N, H, W, C), e.g. (N, 33, 153, 3), or a saved-model path (``.keras``/``.h5`` file or Keras SavedModel dir).
        X: batch of spectrograms to explain.
        class_index: ``"predicted"`` (the paper: top class), an int, or one per sample.
        max_evals: model evaluations per sample (paper 1000).
        batch_size: masked images per model call inside shap (paper 50).
        masker: ``"inpaint_telea"`` (paper), ``"inpaint_ns"`` or ``"blur(kx,ky)"``.
        float_inpaint: inpaint in float32 (see module docstring) instead of shap's uint8 cast.
        model_batch_size: rows per model call when shap hands over a large batch.

    Returns:
        float32 attributions shaped like ``X``.
    """
    shap = _import_shap()

    model = resolve_model(model)
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 4:
        raise ValueError(f"X: expected image-like spectrograms (N, H, W, C), got shape {X.shape}")
    shape = X.shape[1:]
    if float_inpaint and masker in ("inpaint_telea", "inpaint_ns"):
        image_masker = _float_inpaint_masker(masker, shape)
    else:
        image_masker = shap.maskers.Image(masker, shape)
    targets = resolve_targets(class_index, predict_logits(model, X))
    current = {"target": 0}

    def score(batch):
        z = predict_logits(model, np.asarray(batch, np.float32).reshape((-1,) + shape),
                           batch_size=model_batch_size)
        return select_scores(z, np.full(len(z), current["target"]))[:, None]

    out = np.empty_like(X)
    with _quiet_shap():
        explainer = shap.PartitionExplainer(score, image_masker)
        for i in range(len(X)):
            current["target"] = int(targets[i])
            ex = explainer(X[i:i + 1], max_evals=max_evals, batch_size=batch_size, silent=True)
            out[i] = np.asarray(ex.values).reshape(shape)
    return out


def batch_class_mean_maps(maps: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray, batch: np.ndarray) -> dict:
    """The authors' class means: per-batch signed-max normalisation, mean of per-batch class means.

    Their notebook, per DataLoader batch: ``shap / shap.max()`` (the signed maximum over the
    batch's maps, every sample of the batch explained, correct or not), mean over the 3
    channels, mean over the batch's correct samples of each class; then the mean over batches
    of those means (a batch without a correct sample of a class is left out of that class's
    mean: in their code it would be a NaN). A batch whose maximum is negative flips the
    sign of its maps, as in their code; one whose maximum is 0 is left unscaled.

    Args:
        maps: attributions (N, H, W, C); the last axis is the channel axis.
        y_true: true classes (N,).
        y_pred: predicted classes (N,).
        batch: batch index of every map (N,).

    Returns:
        {class: {"map": mean map (H, W), "n": correct samples, "batches": batches averaged}}
        for every class present in ``y_true`` (all-NaN map where none is correct).
    """
    maps = np.asarray(maps, dtype=np.float64)
    y_true, y_pred, batch = np.asarray(y_true), np.asarray(y_pred), np.asarray(batch)
    if not len(maps) == len(y_true) == len(y_pred) == len(batch):
        raise ValueError(f"maps, y_true, y_pred, batch: expected equal lengths, got {len(maps)}, {len(y_true)}, "
                         f"{len(y_pred)}, {len(batch)}")
    per_sample = np.empty(maps.shape[:-1])
    for b in np.unique(batch):
        top = maps[batch == b].max()
        per_sample[batch == b] = (maps[batch == b] / top if top != 0 else maps[batch == b]).mean(axis=-1)
    out = {}
    for c in np.unique(y_true):
        keep = (y_true == c) & (y_pred == c)
        means = [per_sample[keep & (batch == b)].mean(axis=0) for b in np.unique(batch[keep])]
        mean = np.mean(means, axis=0) if means else np.full(per_sample.shape[1:], np.nan)
        out[c.item()] = {"map": mean, "n": int(keep.sum()), "batches": len(means)}
    return out


def class_mean_maps(maps: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    """One normalisation for all maps (the max |value|), mean over channels, mean per class.

    Args:
        maps: attributions (N, H, W, C) (or (N, T, C)); the last axis is the channel axis.
        y_true: true classes (N,).
        y_pred: predicted classes (N,); only samples with y_pred == y_true are averaged.

    Returns:
        {class: {"map": mean map (H, W), "n": number of correct samples}} for every class
        present in ``y_true``; the map is all-NaN where a class has no correct sample.
    """
    maps = np.asarray(maps, dtype=np.float64)
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if not len(maps) == len(y_true) == len(y_pred):
        raise ValueError(f"maps, y_true, y_pred: expected equal lengths, got {len(maps)}, {len(y_true)}, {len(y_pred)}")
    scale = np.abs(maps).max()
    per_sample = (maps / scale if scale > 0 else maps).mean(axis=-1)
    out = {}
    for c in np.unique(y_true):
        keep = (y_true == c) & (y_pred == c)
        mean = per_sample[keep].mean(axis=0) if keep.any() else np.full(per_sample.shape[1:], np.nan)
        out[c.item()] = {"map": mean, "n": int(keep.sum())}
    return out
