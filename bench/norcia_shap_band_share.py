"""Why the spectrogram CNN's SHAP band share is ~1.6x uniform (issue 14): every candidate on one trained model.

Takes a finished ``norcia_shap`` run folder (built-in data; its exported model, input contract and
data store) and explains ``--n`` shuffled dev spectrograms (never the test split) with each
variant, printing the positive SHAP share in the planted 30–40 Hz band over the uniform share
(6 of the 32 non-DC rows), the |SHAP| share, and the shares of the class-mean maps:

* the model input's own class contrast in the band (``shap_maps.input_contrast_share``) and an
  oracle linear contrast model (in-band mean minus out-of-band mean, exact SHAP ``w (x - E x)``):
  what a map that follows the input's class difference / a band-focused model would score;
* GradientExplainer: reference ``train`` / ``other_class`` x target ``logit`` / ``margin``;
* Partition (inpaint_telea): max_evals 300 / 1000 on the first ``--n-partition`` spectrograms;
* the ceiling: ``shap_maps.band_reader`` (a model that reads only the band) explained by the
  same Partition settings, with the code's inpainting masker and with a blur masker.

    python -m seis_keras.recipes.norcia_shap --profile quick --published-split --out /tmp/r
    PYTHONPATH=$PWD python bench/norcia_shap_band_share.py /tmp/r/norcia_shap-*

Recorded 2026-12-02 03:24 UTC on the quick-profile model (trace split, test accuracy 0.973), 64 dev
spectrograms (Partition 12), 2 shared cores, load average 3.8 before / 3.0 after:

==============================================  ===============================================
input class contrast (\|E[x|post] - E[x|pre]\|)  1.41x uniform
oracle linear contrast model                    2.63x (class-mean maps fore 1.87x / after 3.52x)
gradient, train reference, logit (before)       1.51x (1.48x / 2.63x)
gradient, train reference, margin               1.57x (1.75x / 2.54x)
gradient, other_class reference, logit (now)    1.70x (1.86x / 2.88x)
gradient, other_class reference, margin         1.74x (2.10x / 2.71x)
partition max_evals 300 / 1000                  1.45x / 1.57x
band_reader, partition inpaint_telea 1000       1.17x   (the ceiling of the code's masker)
band_reader, partition blur(10,10) 1000         2.54x
==============================================  ===============================================

(An earlier probe on the same model: GradientExplainer nsamples 50 / 200 / 800 give the same share;
Partition max_evals 3000 on 8 spectrograms 1.64x against 1.62x at 1000.)
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tensorflow import keras  # noqa: E402

import seis_keras.models  # noqa: E402,F401  (custom layers)
from seis_keras.explain.frequency import band_share, uniform_band_share  # noqa: E402
from seis_keras.explain.shap_values import partition_shap  # noqa: E402
from seis_keras.models import InputContract  # noqa: E402
from seis_keras.recipes.config import load_config  # noqa: E402
from seis_keras.recipes.norcia_shap.config import NorciaShapConfig  # noqa: E402
from seis_keras.recipes.norcia_shap.shap_maps import band_reader, explain_shap, input_contrast_share  # noqa: E402
from seis_keras.recipes.norcia_shap.study import load_data, spectrogram_axes  # noqa: E402

BAND = (30.0, 40.0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", type=Path, help="a norcia_shap run folder on built-in data")
    p.add_argument("--n", type=int, default=64, help="dev spectrograms explained")
    p.add_argument("--n-partition", type=int, default=12, help="of which explained by Partition")
    a = p.parse_args()
    print(f"load average before: {os.getloadavg()}")
    cfg = load_config(NorciaShapConfig, "norcia_shap", profile="quick")
    data = load_data(str(a.run / "data" / "norcia_builtin"), cfg, a.run / "bench_work", 0)
    contract = InputContract.from_json(json.loads((a.run / "model" / "input_contract.json").read_text()))
    model = keras.models.load_model(a.run / "model" / "spectrogram_cnn.h5", compile=False)
    compose = contract.transform()
    freqs, _ = spectrogram_axes(cfg)
    u = uniform_band_share(freqs, BAND)
    inside = (freqs >= BAND[0]) & (freqs <= BAND[1])
    rng = np.random.default_rng(0)
    dev = rng.permutation(data.rows("dev"))[:a.n]
    train = rng.permutation(data.rows("train"))[:600]
    X, y = compose(data.store.get_waveforms(dev)), data.labels[dev]
    Xtr, ytr = compose(data.store.get_waveforms(np.sort(train))), data.labels[np.sort(train)]
    pred = model.predict(X, verbose=0).argmax(axis=1)
    bg_idx = rng.permutation(len(Xtr))[:100]
    bg, bg_labels = Xtr[bg_idx], ytr[bg_idx]

    def line(name, maps, n=None):
        n = len(maps) if n is None else n
        yy, pp = y[:n], pred[:n]
        pos = np.nanmean(band_share(maps, freqs, BAND, freq_axis=1)) / u
        ab = np.nanmean(band_share(maps, freqs, BAND, kind="absolute", freq_axis=1)) / u
        cm = [band_share(maps[(yy == c) & (pp == c)].mean(0, keepdims=True), freqs, BAND, freq_axis=1)[0] / u
              if ((yy == c) & (pp == c)).any() else float("nan") for c in (0, 1)]
        print(f"{name:52s} positive {pos:.2f}x  |SHAP| {ab:.2f}x  class-mean fore {cm[0]:.2f}x after {cm[1]:.2f}x",
              flush=True)

    print(f"input class contrast: {input_contrast_share(Xtr, ytr, freqs, BAND) / u:.2f}x uniform")
    w = np.where(inside, 1 / inside.sum(), -1 / (~inside[1:]).sum())
    w[0] = 0.0
    sign = np.where(pred == 1, 1.0, -1.0)[:, None, None, None]
    line("oracle linear contrast model (exact SHAP)", sign * w[None, :, None, None] * (X - Xtr.mean(axis=0)))
    for reference in ("train", "other_class"):
        for target in ("logit", "margin"):
            c = cfg_with(cfg, gradient_reference=reference, target=target)
            t0 = time.time()
            maps = explain_shap("gradient", model, X, pred, c, bg, 1, max_evals=1, nsamples=100,
                                background_labels=bg_labels)
            line(f"gradient reference={reference} target={target} ({time.time() - t0:.0f} s)", maps)
    n = a.n_partition
    for max_evals in (300, 1000):
        t0 = time.time()
        maps = partition_shap(model, X[:n], class_index=pred[:n], max_evals=max_evals)
        line(f"partition max_evals={max_evals} n={n} ({time.time() - t0:.0f} s)", maps, n)
    reader = band_reader(X.shape[1:], inside)
    t = reader.predict(X[:n], verbose=0).argmax(axis=1)
    for masker in ("inpaint_telea", "blur(10,10)"):
        maps = partition_shap(reader, X[:n], class_index=t, max_evals=1000, masker=masker)
        print(f"band_reader partition {masker} max_evals=1000: positive "
              f"{np.nanmean(band_share(maps, freqs, BAND, freq_axis=1)) / u:.2f}x", flush=True)
    print(f"load average after: {os.getloadavg()}")


def cfg_with(cfg, **shap):
    return dataclasses.replace(cfg, shap=dataclasses.replace(cfg.shap, **shap))


if __name__ == "__main__":
    main()
