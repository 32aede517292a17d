"""Why mode B of the precursor quick profile scored 0.64 with the input-convolving random layer (issue 14).

Two measurements on the recipe's quick-profile data (same events, seed and windows as
``python -m seis_keras.recipes.precursor --profile quick``):

1. **Is the cue blurred?** The tremor band's share of power (0.16–0.21 Hz, log10, all components)
   in the noise and precursor training sub-windows, before and after the random layer (every one of
   16 epoch kernels, both readings ``input`` / ``noise``): ROC AUC of the share and the accuracy of
   the best threshold on it, and how far the layer moves the share. Also the layer's gain on the
   slow part of each window (RMS below 1 Hz, layer output / input) per kernel: the input reading
   scales it by ~0.75 or ~1.25 (the tap sum's sign), the same for every window of an epoch.
2. **Train / inference mismatch?** Networks trained with ``train.batch_norm_statistics =
   "training"`` (Keras's moving averages, the recipe before issue 14's fix), scored on the clean
   windows (inference: the layer off), on the layer's outputs with 8 unseen kernels (BatchNorm in
   inference), and again after :func:`seis_keras.models.layers.clean_batch_norm_statistics`.

Recorded 2026-12-02 03:03-03:11 UTC (2 shared cores, load average 3-6; ``--modes B A --seeds 0 1 2``,
then ``--modes B --set model.random_layer_mode=noise``), quick profile:

==========================================  =============================================================
band share, mode B train (192 windows)      noise / precursor median log10 -2.10 / -1.17, AUC 0.997,
                                            threshold 0.979. After the input layer (16 kernels): AUC
                                            0.997 (min 0.997), threshold 0.979, share moved -0.02
                                            [-0.07, +0.01]; the noise reading the same. The cue is intact
                                            (mode A: -2.07 / -1.17, AUC 0.996 -> 0.997)
slow-part gain of the input layer, seed 0   0.77 0.75 0.76 0.77 0.76 0.75 0.86 0.75 1.25 1.00 1.25 0.75
(epochs 0-15; noise reading: 1.00-1.01)     1.15 1.25 0.75 0.77
mode B seeds 0, 1, 2: BN training -> clean  test 0.641 -> 0.891, 0.875 -> 0.891, 0.891 -> 0.906; train
                                            0.812 / 0.932 / 1.000 -> 1.000; seed 0 calls 69 % of its
                                            training windows precursor; 0.69-0.94 on the layer's outputs
                                            with unseen kernels; bn1 training / clean variance 1.40 (its
                                            kept epoch 13 has gain 1.25), 1.49, 1.45
mode A seeds 0, 1, 2: BN training -> clean  test 0.828 -> 0.859, 0.938 -> 0.953, 0.828 -> 0.922; train
                                            0.995 / 1.000 / 0.990 -> 0.995 / 1.000 / 1.000; bn1 variance
                                            ratio 0.84, 1.50, 0.60
mode B seed 0, noise reading                test 0.922 -> 0.953 (train 0.974 -> 1.000), bn1 ratio 1.02
==========================================  =============================================================

So mode B's 0.64 was not a blurred cue but one network whose BatchNorm inference statistics came
from its kept epoch's randomised inputs; the same mismatch costs mode A up to 0.09 (seed 2).

Usage::

    PYTHONPATH=$PWD .venv/bin/python bench/precursor_random_layer.py --modes B --seeds 0 1 2
    PYTHONPATH=$PWD .venv/bin/python bench/precursor_random_layer.py --no-train --set model.noise_rms_fraction=0.3
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def load() -> str:
    return "load %.1f %.1f %.1f" % os.getloadavg()


def log_band_share(x: np.ndarray, fs: float, band) -> np.ndarray:
    """log10 share of each window's power (all components, 0 Hz left out) inside ``band``, ``(N,)``."""
    spec = np.abs(np.fft.rfft(x - x.mean(axis=1, keepdims=True), axis=1)) ** 2
    f = np.fft.rfftfreq(x.shape[1], 1.0 / fs)
    m = (f >= band[0]) & (f <= band[1])
    return np.log10(spec[:, m].sum(axis=(1, 2)) / spec[:, 1:].sum(axis=(1, 2)))


def slow_rms(x: np.ndarray, fs: float, below: float = 1.0) -> np.ndarray:
    """RMS of each window below ``below`` Hz (Parseval on the rfft), ``(N,)``."""
    spec = np.abs(np.fft.rfft(x, axis=1)) ** 2
    f = np.fft.rfftfreq(x.shape[1], 1.0 / fs)
    return np.sqrt(spec[:, (f > 0) & (f < below)].sum(axis=(1, 2)))


def best_threshold_accuracy(score: np.ndarray, y: np.ndarray) -> float:
    """Accuracy of the best single cut on ``score`` (either side called precursor), on the same windows."""
    yy = y[np.argsort(score)]
    n_pos = yy.sum()
    # the first i windows called noise: correct = noise among them + precursors after them
    correct = np.r_[0, np.cumsum(1 - yy)] + (n_pos - np.r_[0, np.cumsum(yy)])
    right = correct / len(yy)
    return float(np.max(np.maximum(right, 1 - right)))


def arrays(study, mode: str, split: str):
    from seis_keras.recipes.precursor.study import dataset, windows_of

    xs, ys = [], []
    for x, y in dataset(study, windows_of(study, mode, split)):
        xs.append(x.numpy())
        ys.append(y.numpy())
    return np.concatenate(xs), np.concatenate(ys).astype(int)


def cue_with_layer(study, mode: str, fraction: float, kernel_size: int) -> None:
    """Measurement 1: the band-share cue of ``mode``'s training windows with and without the layer."""
    # heavy (TensorFlow, sklearn): imported by the measurement that needs them
    import tensorflow as tf
    from sklearn.metrics import roc_auc_score

    from seis_keras.models.layers import RandomInputLayer

    band, fs = tuple(study.cfg.synthetic.tremor_band), study.fs
    x, y = arrays(study, mode, "train")
    s0 = log_band_share(x, fs, band)
    print(f"mode {mode} train ({len(y)} windows): log10 band share median noise/precursor "
          f"{np.median(s0[y == 0]):.2f}/{np.median(s0[y == 1]):.2f}, AUC {roc_auc_score(y, s0):.3f}, "
          f"threshold {best_threshold_accuracy(s0, y):.3f}", flush=True)
    for reading in ("input", "noise"):
        layer = RandomInputLayer(fraction, kernel_size, seed=0, mode=reading)
        layer.build((None,) + x.shape[1:])
        auc, thr, moved, gain = [], [], [], []
        for epoch in range(16):
            layer.redraw(epoch)
            z = layer(tf.constant(x), training=True).numpy()
            s = log_band_share(z, fs, band)
            auc.append(roc_auc_score(y, s))
            thr.append(best_threshold_accuracy(s, y))
            moved.append(np.median(s - s0))
            gain.append(np.median(slow_rms(z, fs) / slow_rms(x, fs)))
        print(f"  layer {reading} (RMS {fraction:g}, {kernel_size} taps, 16 kernels): AUC mean {np.mean(auc):.3f} "
              f"min {np.min(auc):.3f}, threshold {np.mean(thr):.3f}, share moved {np.median(moved):+.2f} "
              f"[{np.min(moved):+.2f}, {np.max(moved):+.2f}]; slow-part (< 1 Hz) gain per kernel "
              + " ".join(f"{g:.2f}" for g in gain) + f" [{load()}]", flush=True)


def mismatch(study, folder, mode: str, index: int) -> None:
    """Measurement 2: one network trained with Keras's moving statistics, scored three ways."""
    # heavy (TensorFlow): imported by the measurement that needs it
    import tensorflow as tf

    from seis_keras.models.layers import clean_batch_norm_statistics, random_input_layers
    from seis_keras.recipes.precursor.study import dataset, windows_of
    from seis_keras.recipes.precursor.training import train_once

    t0, before = time.perf_counter(), load()
    model, metrics, _ = train_once(study, folder, mode, index)
    xtr, ytr = arrays(study, mode, "train")
    xte, yte = arrays(study, mode, "test")

    def predict(x):
        return np.argmax(model.predict(x, batch_size=64, verbose=0), axis=1)

    p_tr, p_te = predict(xtr), predict(xte)
    layer = random_input_layers(model)[0]
    on_layer = []
    for draw in range(100, 108):  # kernels the network never saw
        layer.redraw(draw)
        on_layer.append(float((predict(layer(tf.constant(xtr), training=True).numpy()) == ytr).mean()))
    shift = clean_batch_norm_statistics(model, dataset(study, windows_of(study, mode, "train")))
    c_tr, c_te = predict(xtr), predict(xte)
    print(f"mode {mode} seed {study.cfg.seed + index} ({study.cfg.model.random_layer_mode} layer), BN training: "
          f"train {(p_tr == ytr).mean():.3f} test {(p_te == yte).mean():.3f} (precursor calls {p_tr.mean():.2f}); "
          f"on layer outputs {min(on_layer):.3f}-{max(on_layer):.3f}; BN clean: train {(c_tr == ytr).mean():.3f} "
          f"test {(c_te == yte).mean():.3f}; bn1 training/clean variance {shift['bn1']['variance_ratio']:.2f} "
          f"[{time.perf_counter() - t0:.0f} s; {before} -> {load()}]", flush=True)
    assert metrics["batch_norm_statistics"]["rule"] == "training"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--modes", nargs="+", default=["B"], choices=["A", "B"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="retraining indices (seed = cfg.seed + index)")
    p.add_argument("--set", nargs="*", default=[], help="quick-profile overrides, e.g. model.random_layer_mode=noise")
    p.add_argument("--no-train", dest="train", action="store_false", help="only measurement 1")
    args = p.parse_args()
    # heavy (TensorFlow): the recipe's modules
    from seis_keras.recipes.config import load_config
    from seis_keras.recipes.precursor.config import PrecursorConfig
    from seis_keras.recipes.precursor.data import load_data
    from seis_keras.recipes.runner import RunFolder

    print(f"bench/precursor_random_layer.py {' '.join(args.set)} ({load()}, {os.cpu_count()} CPUs)", flush=True)
    cfg = load_config(PrecursorConfig, "precursor", "quick", ["train.batch_norm_statistics=training"] + args.set)
    with tempfile.TemporaryDirectory() as tmp:
        folder = RunFolder("precursor", path=Path(tmp) / "run", quiet=True)
        study = load_data(cfg, None, folder)
        for mode in args.modes:
            cue_with_layer(study, mode, cfg.model.noise_rms_fraction, cfg.model.random_kernel_size)
        if args.train:
            for mode in args.modes:
                for index in args.seeds:
                    mismatch(study, folder, mode, index)


if __name__ == "__main__":
    main()
