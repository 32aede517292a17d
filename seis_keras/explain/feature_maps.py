"""Feature map visualisation (FMV, Majstorović et al. 2023 §2.5.1, §3.1).

- :func:`feature_maps`: the outputs of all convolution layers for a batch, computed with
  ONE sub-model (input -> every conv output). They are *pre-activation* maps f_k: the Conv
  layer's own output (our architectures apply ``Activation("relu")`` as a separate layer).
- :func:`channel_correlations`: Pearson r between the channels of one layer, per sample
  (correlation over time / space positions).
- :func:`fraction_correlated_channels`: per sample, the fraction of channels that have at
  least one *other* channel with r > threshold (paper: 0.8; 49 % of layer-5 channels).
- :func:`cross_run_matching`: for each channel of run A, its best (max) r among the
  channels of run B on the same sample (paper: > 75 % of channels above 0.8 across runs).

A channel that is constant over positions (e.g. a dead map) has no defined Pearson r;
it is given r = 0 with every other channel (and 1 with itself).
"""
from __future__ import annotations

import numpy as np
from tensorflow import keras

from seis_keras.explain.targets import resolve_model

_CONV_TYPES = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)


def conv_layer_names(model: keras.Model) -> list[str]:
    """Names of the model's convolution layers in forward order (``conv1`` … by convention)."""
    return [layer.name for layer in model.layers if isinstance(layer, _CONV_TYPES)]


def feature_maps(model: keras.Model, X: np.ndarray, *, layers: list[str] | None = None,
                 batch_size: int = 256) -> dict[str, np.ndarray]:
    """Outputs of the chosen layers (default: all conv layers) through one sub-model.

    Args:
        model: Keras functional/sequential model, or a saved-model path (``.keras``/``.h5`` file or Keras SavedModel dir).
        X: batch shaped like the model input.
        layers: layer names (default :func:`conv_layer_names`).
        batch_size: rows per sub-model call.

    Returns:
        {layer name: array (N, *layer output shape)} in forward order, float32.
    """
    model = resolve_model(model)
    names = conv_layer_names(model) if layers is None else list(layers)
    if not names:
        raise ValueError(f"model {model.name!r}: no convolution layers to take feature maps from")
    known = {layer.name for layer in model.layers}
    missing = [n for n in names if n not in known]
    if missing:
        raise ValueError(f"layers: {missing} not in model {model.name!r} (has {sorted(known)})")
    sub = keras.Model(model.inputs, [model.get_layer(n).output for n in names])
    X = np.asarray(X, dtype=np.float32)
    chunks = [sub(X[i:i + batch_size], training=False) for i in range(0, len(X), batch_size)]
    if len(names) == 1:
        chunks = [[c] for c in chunks]
    return {n: np.concatenate([np.asarray(c[j]) for c in chunks]).astype(np.float32)
            for j, n in enumerate(names)}


def _standardise(fmap: np.ndarray) -> np.ndarray:
    """(N, ..., C) -> (N, P, C) centred and scaled so a dot product over P is Pearson r."""
    f = np.asarray(fmap, dtype=np.float64)
    if f.ndim < 3:
        raise ValueError(f"feature map: expected (N, positions..., C), got shape {f.shape}")
    f = f.reshape(f.shape[0], -1, f.shape[-1])
    f = f - f.mean(axis=1, keepdims=True)
    norm = np.sqrt((f ** 2).sum(axis=1, keepdims=True))
    return np.divide(f, norm, out=np.zeros_like(f), where=norm > 1e-12 * max(1.0, float(norm.max())))


def channel_correlations(fmap: np.ndarray) -> np.ndarray:
    """Pearson r between every pair of channels of one layer, per sample.

    Args:
        fmap: one layer's maps (N, T, C) or (N, H, W, C).

    Returns:
        (N, C, C) correlation matrices (diagonal 1; constant channels 0 off the diagonal).
    """
    z = _standardise(fmap)
    r = np.einsum("npi,npj->nij", z, z)
    idx = np.arange(r.shape[1])
    r[:, idx, idx] = 1.0
    return np.clip(r, -1.0, 1.0)


def fraction_correlated_channels(corr: np.ndarray, threshold: float = 0.8, *,
                                 absolute: bool = False) -> np.ndarray:
    """Per sample, the fraction of channels with some other channel at r > threshold.

    Args:
        corr: (N, C, C) from :func:`channel_correlations`.
        threshold: the paper's 0.8.
        absolute: compare |r| (anti-correlated partners count too); paper: r itself.

    Returns:
        float array (N,).
    """
    c = np.abs(corr) if absolute else np.array(corr, dtype=np.float64)
    idx = np.arange(c.shape[1])
    c[:, idx, idx] = -np.inf
    return (c.max(axis=2) > threshold).mean(axis=1)


def cross_run_matching(fmap_a: np.ndarray, fmap_b: np.ndarray, threshold: float = 0.8):
    """Match each channel of run A to its best-correlated channel of run B, per sample.

    Args:
        fmap_a: layer maps of run A (N, ..., Ca).
        fmap_b: the same layer of run B on the same samples (N, ..., Cb), same positions.
        threshold: r above which a channel counts as reproduced (paper 0.8).

    Returns:
        (best_r (N, Ca): max over B's channels of r, best_channel (N, Ca) int: which B
        channel, fraction (N,): share of A's channels with best_r > threshold).
    """
    if np.shape(fmap_a)[:-1] != np.shape(fmap_b)[:-1]:
        raise ValueError(f"fmap_a, fmap_b: expected equal (N, positions) shapes, got {np.shape(fmap_a)} and {np.shape(fmap_b)}")
    r = np.einsum("npi,npj->nij", _standardise(fmap_a), _standardise(fmap_b))
    best = r.max(axis=2)
    return np.clip(best, -1.0, 1.0), r.argmax(axis=2), (best > threshold).mean(axis=1)
