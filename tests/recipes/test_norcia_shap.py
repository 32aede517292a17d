"""Magrini & Marrocco recipe: spectrogram preprocessing against scipy and the code's PNG path, band shares,
the code's uint8 SHAP input, config, quick paths (both splits, SHAP, trust section)."""
import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import signal
from tensorflow import keras

from seis_keras.data import norcia as nd
from seis_keras.data.store import WaveformStore
from seis_keras.data.synthetic import norcia_data
from seis_keras.data.transforms import Compose, LogSpectrogram
from seis_keras.explain.frequency import band_share
from seis_keras.explain.trust_checks import localisation_check
from seis_keras.models import InputContract
from seis_keras.recipes.config import load_config
from seis_keras.recipes.norcia_shap.__main__ import main
from seis_keras.recipes.norcia_shap.config import NorciaShapConfig
from seis_keras.recipes.norcia_shap.report import differences
from seis_keras.recipes.norcia_shap.shap_maps import (band_numbers, band_reader, dequantising_model, explain_shap,
                                                      frequency_blocks, input_contrast_share, map_share, uint8_batch)
from seis_keras.recipes.norcia_shap.trust import localisation_maps
from seis_keras.recipes.norcia_shap.study import NorciaData, input_contract, spectrogram_axes

TINY = ["--profile", "quick", "--set", "train.epochs=1", "--set", "train.verbose=0",
        "--set", "data.builtin_events=24", "--set", 'data.stations=["NRCA", "T1213", "MC2"]']


def _direct(x, mean=None, std=None):
    """SPEC §3 written out: per trace and channel scipy spectrogram, log1p, min-max, standardise."""
    out = np.empty((len(x), 33, 153, 3))
    for i in range(len(x)):
        for c in range(3):
            f, t, s = signal.spectrogram(x[i, :, c].astype(np.float64), fs=100, nperseg=64, noverlap=48)
            s = np.log1p(s)
            out[i, :, :, c] = (s - s.min()) / (s.max() - s.min())
    if mean is None:
        return out
    return (out - mean) / std


def _run_folder(parent):
    (run,) = [p for p in parent.iterdir() if p.name.startswith("norcia_shap-")]
    return run


def test_spectrogram_preprocessing_matches_a_direct_scipy_computation(tmp_path):
    norcia_data(8, seed=5, stations=("NRCA", "T1213"), path=tmp_path / "s")
    store = WaveformStore(tmp_path / "s")
    cfg = load_config(NorciaShapConfig, "norcia_shap")
    split = np.where(np.arange(len(store)) % 2 == 0, "train", "test")
    data = NorciaData(store, "test", [], np.ones(len(store), bool), np.zeros(len(store), int), split, "trace")
    contract = input_contract(data, cfg)
    transforms = contract.transform_list()
    train = data.rows("train")
    x = store.get_waveforms(np.arange(len(store)))
    raw = _direct(x)
    flat = raw[train].reshape(-1, 3)
    mean, std = flat.mean(axis=0), flat.std(axis=0)
    np.testing.assert_allclose(transforms[1].mean_, mean, rtol=1e-6)
    np.testing.assert_allclose(transforms[1].std_, std, rtol=1e-6)
    got = Compose(transforms)(x)
    assert got.shape == (len(store), 33, 153, 3) == (len(store), *contract.input_shape)
    np.testing.assert_allclose(got, (raw - mean) / std, atol=2e-4)
    # the contract written beside the model rebuilds the very same preprocessing
    again = InputContract.from_json(json.loads(json.dumps(contract.to_json()))).transform()
    np.testing.assert_array_equal(again(x), got)
    f, t = spectrogram_axes(cfg)
    assert len(f) == 33 and f[-1] == 50.0 and len(t) == 153 and t[0] == pytest.approx(0.32)


def test_quantise_uint8_is_the_codes_png_round_trip(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    from matplotlib import pyplot as plt
    from PIL import Image

    matplotlib.use("Agg")
    x = np.random.default_rng(3).normal(size=(1, 2500, 3)).astype(np.float32)
    image = LogSpectrogram()(x)[0]                      # the code's rgb_spec: per-channel min-max to [0, 1]
    plt.imsave(tmp_path / "s.png", image)               # their preprocess.ipynb
    png = np.asarray(Image.open(tmp_path / "s.png").convert("RGB"))   # their Dataset; ToTensor divides by 255
    ours = LogSpectrogram(quantise_uint8=True)(x)[0]
    np.testing.assert_array_equal(np.round(ours * 255.0).astype(np.uint8), png)   # the very same 8-bit levels
    np.testing.assert_allclose(ours, png / 255.0, rtol=0, atol=1e-7)
    png = png / 255.0
    assert not np.allclose(image, png, atol=1e-6)       # the float path differs (by < 1/255)
    assert np.abs(image - png).max() < 1 / 255


def test_uint8_batch_and_its_inverse_as_the_code():
    X = np.random.default_rng(0).normal(size=(5, 33, 153, 3)).astype(np.float32)
    levels, lo, hi = uint8_batch(X)
    assert (lo, hi) == (X.min(), X.max()) and levels.min() == 0 and levels.max() == 255
    np.testing.assert_array_equal(levels, np.floor(levels))         # integers: shap's uint8 cast keeps them
    back = levels / 255 * (hi - lo) + lo
    assert np.abs(back - X).max() <= (hi - lo) / 255 + 1e-6 and (back <= X + 1e-5).all()   # truncation
    inputs = keras.Input((33, 153, 3))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(inputs)))
    np.testing.assert_allclose(dequantising_model(model, lo, hi).predict(levels, verbose=0),
                               model.predict(back, verbose=0), rtol=1e-4, atol=1e-5)


def test_band_numbers_read_the_frequency_axis_of_spectrogram_maps():
    f = np.linspace(0, 50, 33)
    maps = np.zeros((2, 33, 153, 3))
    maps[0, 20] = 1.0           # 31.25 Hz row, inside 30-40 Hz, positive
    maps[0, 5] = -3.0           # outside, negative: not in the positive share, in the |SHAP| share
    maps[1, 5:10] = 1.0         # all outside
    t = np.arange(2500) / 100
    waves = np.stack([np.sin(2 * np.pi * 35.0 * t)] * 3, axis=-1)[None].repeat(2, axis=0)
    means = {0: {"map": maps[0].mean(axis=-1), "n": 1}, 1: {"map": maps[1].mean(axis=-1), "n": 1}}
    r = band_numbers(maps, f, (30.0, 40.0), waves, 100.0, np.array([0, 1]), np.array([0, 1]), means)
    assert r["band_share"] == {"foreshocks": 1.0, "aftershocks": 0.0} and r["band_share_all"] == 0.5
    assert r["uniform_share"] == pytest.approx(6 / 32)        # 0 Hz left out, as the frequency relevance
    assert r["input_share"] == pytest.approx(1.0, abs=1e-3)   # a 35 Hz sine
    assert r["abs_band_share_all"] == pytest.approx((1 / 4 + 0) / 2)
    assert r["class_mean_map_band_share"] == {"foreshocks": 1.0, "aftershocks": 0.0}
    assert r["share_cells"] == "row" and r["by_cells"]["cell"]["band_share_all"] == 0.5   # whole rows: both agree
    # resolution: rows 0-4, 5, 6-9, 10-19, 20 and 21-32 are constant in both maps -> 6 blocks
    assert frequency_blocks(maps, f) == {"n": 6, "first_rows_hz": [0.0, 7.81, 9.38, 15.62, 31.25, 32.81]}


def test_row_shares_cancel_cell_noise_that_cell_shares_count_everywhere():
    """A map whose only net relevance is in the band, plus random-sign cell noise that cancels over time per row."""
    f = np.linspace(0, 50, 33)
    rng = np.random.default_rng(7)
    half = rng.normal(scale=0.5, size=(3, 33, 76, 3))
    maps = np.concatenate([half, -half[:, :, ::-1]], axis=2)   # every row's noise sums to 0 over time, per channel
    maps[:, 20:26] += 0.02                                    # the band: a small net positive relevance
    band = (30.0, 40.0)
    np.testing.assert_allclose(map_share(maps, f, band, "row"), 1.0)
    cell = map_share(maps, f, band, "cell")
    assert np.all(cell < 0.25) and np.all(cell > 6 / 32)      # the noise's positive halves land in every row
    np.testing.assert_allclose(cell, band_share(maps, f, band, freq_axis=1))   # "cell" is the previous metric
    # the trust section's localisation reads the same rows: its mass is the row share, uniform 6 of the 32 non-DC rows
    loc = localisation_check(*localisation_maps(maps, f, band, "row")).numbers
    assert loc["mass_accuracy"] == pytest.approx(1.0) and loc["uniform_share"] == pytest.approx(6 / 32)
    loc = localisation_check(*localisation_maps(maps, f, band, "cell")).numbers
    assert loc["mass_accuracy"] < 0.25 and loc["uniform_share"] == pytest.approx(6 / 33)
    # input contrast: per-cell class-mean noise counts in every row, the row sums cancel it
    y = np.repeat([0, 1], 3)
    X = np.concatenate([np.zeros_like(maps), maps])
    assert input_contrast_share(X, y, f, band, "row") == pytest.approx(1.0)
    assert input_contrast_share(X, y, f, band, "cell") < 0.25


def _shap_cfg(**shap):
    cfg = load_config(NorciaShapConfig, "norcia_shap", profile="quick")
    return dataclasses.replace(cfg, shap=dataclasses.replace(cfg.shap, **shap))


def test_a_model_that_reads_only_the_band_gets_its_shap_there():
    """band_reader: logit 1 = mean of the 30-40 Hz rows (class 0 its negative); its SHAP mass goes to the band."""
    f = np.linspace(0, 50, 33)
    inside = (f >= 30) & (f <= 40)
    assert list(np.flatnonzero(inside)) == list(range(20, 26))
    model = band_reader((33, 153, 3), inside)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4, 33, 153, 3)).astype(np.float32)
    X[:, 20:26] += np.array([1.0, -1.0, 1.5, -0.5])[:, None, None, None]   # each sample's band above or below the rest
    z = model.predict(X, verbose=0)
    np.testing.assert_allclose(z[:, 1], X[:, 20:26].mean(axis=(1, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(z[:, 0], -z[:, 1])
    bg = rng.normal(size=(6, 33, 153, 3)).astype(np.float32)
    pred = z.argmax(axis=1)
    labels = np.array([0, 0, 0, 1, 1, 1])
    for reference in ("train", "other_class"):
        g = explain_shap("gradient", model, X, pred, _shap_cfg(gradient_reference=reference), bg, 0, max_evals=1,
                         nsamples=4, background_labels=labels)
        assert np.abs(g[:, ~inside]).max() == 0.0   # a linear read of the band: nothing outside it
        np.testing.assert_allclose(band_share(g, f, (30.0, 40.0), freq_axis=1), 1.0)
        for cells in ("row", "cell"):
            np.testing.assert_allclose(map_share(g, f, (30.0, 40.0), cells), 1.0)
    # Partition (inpainting masker, max_evals 300 as the quick profile before): the band's rows share the partition
    # tree's frequency blocks with rows outside it, and inpainting a masked band from its neighbours credits them too,
    # so even this model gets ~0.44 of the positive SHAP in the band (2.3x uniform, measured), not 1
    p = explain_shap("partition", model, X[1:2], pred[1:2], _shap_cfg(), bg, 0, max_evals=300, nsamples=1)
    share = band_share(p, f, (30.0, 40.0), freq_axis=1)[0]
    assert 2 * 6 / 32 < share < 0.6, share
    masked = np.broadcast_to(X[1:2].mean(axis=(1, 2), keepdims=True), X[1:2].shape)   # everything inpainted: the mean
    zm = model.predict(masked, verbose=0)
    assert p.sum() == pytest.approx(z[1, pred[1]] - zm[0, pred[1]], rel=1e-3, abs=1e-4)   # efficiency


def test_other_class_reference_and_margin_are_exact_on_a_linear_model():
    """Expected gradients of a linear model with one background sample are w * (x - b): the chosen b is visible."""
    keras.utils.set_random_seed(2)
    inputs = keras.Input((4, 5, 1))
    model = keras.Model(inputs, keras.layers.Dense(2, name="logits")(keras.layers.Flatten()(inputs)))
    w = model.get_layer("logits").get_weights()[0].reshape(4, 5, 1, 2)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(3, 4, 5, 1)).astype(np.float32)
    bg = rng.normal(size=(2, 4, 5, 1)).astype(np.float32)   # row 0 a foreshock, row 1 an aftershock
    targets, labels = np.array([0, 1, 0]), np.array([0, 1])
    other = explain_shap("gradient", model, X, targets, _shap_cfg(gradient_reference="other_class"), bg, 0,
                         max_evals=1, nsamples=20, background_labels=labels)
    for i, t in enumerate(targets):
        np.testing.assert_allclose(other[i], w[..., t] * (X[i] - bg[1 - t]), atol=1e-5)
    margin = explain_shap("gradient", model, X, targets, _shap_cfg(gradient_reference="other_class", target="margin"),
                          bg, 0, max_evals=1, nsamples=20, background_labels=labels)
    for i, t in enumerate(targets):
        np.testing.assert_allclose(margin[i], (w[..., t] - w[..., 1 - t]) * (X[i] - bg[1 - t]), atol=1e-5)
    with pytest.raises(ValueError, match="no background spectrogram of a class other than 0"):
        explain_shap("gradient", model, X, targets, _shap_cfg(gradient_reference="other_class"), bg[:1], 0,
                     max_evals=1, nsamples=20, background_labels=labels[:1])


def test_input_contrast_share_is_where_the_classes_differ_in_the_input():
    f = np.linspace(0, 50, 33)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 33, 10, 3))
    y = np.repeat([0, 1], 20)
    X -= X[y == 1].mean(axis=0) * (y == 1)[:, None, None, None] + X[y == 0].mean(axis=0) * (y == 0)[:, None, None, None]
    band = X.copy()
    band[y == 1, 20:26] += 0.3                      # the classes differ only in the 30-40 Hz rows
    assert input_contrast_share(band, y, f, (30.0, 40.0)) == pytest.approx(1.0)
    flat = X + 0.3 * (y == 1)[:, None, None, None]  # the same shift in every row (0 Hz left out)
    assert input_contrast_share(flat, y, f, (30.0, 40.0)) == pytest.approx(6 / 32)
    mixed = band.copy()
    mixed[y == 1, 1:20] -= 0.1                      # in-band up 0.3 on 6 rows, 19 rows below it down 0.1
    assert input_contrast_share(mixed, y, f, (30.0, 40.0)) == pytest.approx(6 * 0.3 / (6 * 0.3 + 19 * 0.1))


def test_differences_name_the_initialisation_and_target_that_ran():
    cfg = load_config(NorciaShapConfig, "norcia_shap")
    metrics = {"data": {"source": "built-in"}}
    assert cfg.model.init == "pytorch" and not any("Glorot" in d for d in differences(cfg, metrics))
    keras_init = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, init="keras"))
    assert any("Glorot" in d for d in differences(keras_init, metrics))
    assert not any("logit margin" in d for d in differences(cfg, metrics))
    margin = dataclasses.replace(cfg, shap=dataclasses.replace(cfg.shap, target="margin"))
    assert any("logit margin" in d for d in differences(margin, metrics))


SHAP_TINY = ["--set", "shap.batch_samples=4", "--set", "shap.max_evals=40", "--set", "shap.gradient_background=8",
             "--set", "shap.gradient_nsamples=8", "--set", "shap.randomisation_max_evals=40",
             "--set", "shap.randomisation_nsamples=4", "--set", "trust.randomisation_samples=2",
             "--set", "shap.contrast_samples=20", "--set", "shap.ceiling_samples=2", "--set", "shap.gradient_batches=2"]


def test_the_defaults_are_the_codes():
    cfg = load_config(NorciaShapConfig, "norcia_shap")
    assert cfg.split.groupings == ["trace", "event"] and cfg.split.primary == "trace"
    sh = cfg.shap
    assert (sh.batches, sh.batch_samples, sh.aggregation, sh.max_evals) == (20, 32, "batch_signed_max", 1000)
    assert (sh.masker, sh.share_cells, sh.gradient_batches) == ("inpaint_telea", "row", sh.batches)
    assert cfg.preprocess.quantise_uint8 is False   # the code's 8-bit path is a setting, off


def test_quick_path_runs_both_splits_shap_and_trust(tmp_path):
    assert main([*TINY, "--out", str(tmp_path), *SHAP_TINY]) == 0
    run = _run_folder(tmp_path)
    m = json.loads((run / "metrics.json").read_text())
    assert m["primary_split"] == "trace"
    # both splits, each scored on its own test part; by trace events leak across parts, by event none does
    trace, event = m["training_trace"], m["training_event"]
    assert trace["split"]["split_grouping"] == "trace" and trace["split"]["events_in_several_splits"] > 0
    assert event["split"]["split_grouping"] == "event" and event["split"]["events_in_several_splits"] == 0
    meta = pd.read_csv(run / "data" / "norcia_builtin" / "metadata.csv")
    by_trace = nd.random_split(meta, fractions=(0.70, 0.15, 0.15), group=None, seed=m["seed"],
                               mask=np.ones(len(meta), bool))
    assert {k: int((by_trace == k).sum()) for k in nd.SPLITS} == trace["split"]["split"]
    for s in (trace, event):
        cm = np.array(s["confusion_matrix"])
        assert cm.sum() == s["split"]["split"]["test"] and s["accuracy"] == pytest.approx(np.trace(cm) / cm.sum())
    report = (run / "report.md").read_text()
    assert "| ours, random split by trace (the code, published) (explained) |" in report
    assert "| ours, random split by event (no event in two splits) |" in report and "0.9575" in report
    # SHAP: the code's batches, band shares with the frequency-relevance metric
    e = m["shap"]
    assert e["n_explained"] == 8 and e["band_kind"] == "planted" and e["uniform_share"] == pytest.approx(6 / 32)
    assert (e["target"], e["gradient_reference"], e["contrast_samples"]) == ("logit", "other_class", 20)
    assert "÷ input contrast" in report and "training spectrograms of the class other than the explained one" in report
    assert e["methods"]["partition"]["frequency_blocks"]["n"] < 33   # max_evals 40: a coarse partition tree
    # Partition explains shap.batches (1 batch of 4), GradientExplainer shap.gradient_batches (2) of the same draw
    assert (e["methods"]["partition"]["n"], e["methods"]["gradient"]["n"]) == (4, 8)
    assert e["share_cells"] == "row" and e["input_contrast_share"] == e["input_contrast_by_cells"]["row"]
    assert "per cell ÷ uniform" in report and "sum_axes=(2, 3)" in report and "÷ ceiling" in report
    for method in ("partition", "gradient"):
        r = e["methods"][method]
        assert math.isfinite(r["band_share_all"]) and math.isfinite(r["input_share"])
        assert r["over_uniform"] == pytest.approx(r["band_share_all"] / (6 / 32))
        assert r["band_share_all"] == r["by_cells"]["row"]["band_share_all"]
        assert math.isfinite(r["by_cells"]["cell"]["over_uniform"])
        assert f"| {r['by_cells']['cell']['over_uniform']:.2f} |" in report
        assert r["input_contrast_share"] == e["input_contrast_share"]
        assert r["over_input_contrast"] == pytest.approx(r["band_share_all"] / e["input_contrast_share"])
        c = r["ceiling"]
        assert c["n"] == 2 and c["over_uniform"] == pytest.approx(c["band_share"] / (6 / 32))
        assert c["over_ceiling"] == pytest.approx(c["model_share"] / c["band_share"])
        means = np.load(run / f"shap_{method}_class_means.npy")
        assert means.shape[1:] == (33, 153) and np.nanmax(means) <= 1.0 + 1e-9   # / each batch's signed max
        freqs, _ = spectrogram_axes(load_config(NorciaShapConfig, "norcia_shap"))
        finite = [mm for mm in means if np.isfinite(mm).all()]   # classes with a correct sample, in class order
        assert len(finite) == len(r["class_mean_map_band_share"])
        for mm, share in zip(finite, r["class_mean_map_band_share"].values()):   # rows summed over time
            assert share == pytest.approx(band_share(mm.sum(axis=1)[None, :, None], freqs, (30.0, 40.0))[0])
        assert 1 <= r["frequency_blocks"]["n"] <= 33
        for fig in (f"shap_{method}_class_mean", f"shap_{method}_spectra"):
            assert (run / "figures" / f"{fig}.png").stat().st_size > 1000
    assert e["methods"]["gradient"]["ceiling"]["band_share"] == pytest.approx(1.0)   # linear read: all of it in the band
    blur = e["methods"]["partition"]["maskers"]["blur(10,10)"]   # shap.ceiling_maskers: the blur masker beside
    assert blur["masker"] == "blur(10,10)" and blur["n"] == 2 and "| blur(10,10) |" in report
    assert e["methods"]["partition"]["ceiling"]["masker"] == "inpaint_telea"
    assert "maskers" not in e["methods"]["gradient"]
    # the trust section: numbers for every method, a verdict with its rule, figures
    t = m["trust"]
    for method in ("partition", "gradient"):
        r = t["methods"][method]
        c = r["checks"]
        assert c["randomisation"]["numbers"]["layer"] == "conv3"
        assert list(c["randomisation"]["numbers"]["by_layer"]) == ["logits", "fc1", "conv3", "conv2", "conv1"]
        assert all(math.isfinite(v) for v in c["randomisation"]["numbers"]["by_layer"].values())
        # localisation reads the rows summed over time and channels, as the band shares: 6 of the 32 non-DC rows
        assert c["localisation"]["numbers"]["uniform_share"] == pytest.approx(6 / 32)
        assert c["localisation"]["numbers"]["mass_accuracy"] == pytest.approx(
            e["methods"][method]["by_cells"]["row"]["band_share_all"])
        assert c["localisation"]["numbers"]["n_samples"] == e["methods"][method]["n"]
        assert math.isfinite(c["faithfulness"]["numbers"]["deletion_auc"])
        assert r["settings"]["unit"] == "element" and r["settings"]["fill"] == 0.0
        assert r["verdict"] == "trusted" or r["verdict"].startswith("flagged")
        assert f"**{r['verdict']}**" in report
    assert "## Trust" in report and "The code's method, Partition SHAP, is **" in report
    assert (t["headline"] is None) == ("No method passed its checks" in report)
    assert (t["headline"] is None) != (run / "figures" / "shap_headline.png").exists()
    for fig in ("trust_randomisation", "trust_deletion", "confusion_trace", "confusion_event"):
        assert (run / "figures" / f"{fig}.png").stat().st_size > 1000
    assert "## Where this run differs from the code, and why" in report and "8-bit PNG" in report
    contract = InputContract.from_json(json.loads((run / m["exported"]["input_contract"]).read_text()))
    np.testing.assert_allclose(contract.transform_list()[1].mean_, m["preprocessing_trace"]["mean"])
    assert contract.input_shape == (33, 153, 3) and m["paper"]["accuracy"]["value"] == 0.9575


def test_published_split_flag_runs_the_trace_split_only_and_uint8_path(tmp_path):
    assert main([*TINY, "--out", str(tmp_path), "--published-split", *SHAP_TINY, "--set", 'shap.methods=["partition"]',
                 "--set", "preprocess.quantise_uint8=true", "--set", 'shap.share_cells="cell"']) == 0
    run = _run_folder(tmp_path)
    m = json.loads((run / "metrics.json").read_text())
    # shap.share_cells = "cell": the previous metric throughout, the per-row share beside it
    r = m["shap"]["methods"]["partition"]
    assert r["share_cells"] == "cell" and r["band_share_all"] == r["by_cells"]["cell"]["band_share_all"]
    loc = m["trust"]["methods"]["partition"]["checks"]["localisation"]["numbers"]
    assert loc["uniform_share"] == pytest.approx(6 / 33)   # every cell of the 33 rows, as before
    assert "training_trace" in m and "training_event" not in m
    contract = json.loads((run / m["exported"]["input_contract"]).read_text())
    assert any("quantise_uint8=True" in t for t in contract["transforms"])   # the exported model gets 8-bit input
    report = (run / "report.md").read_text()
    assert "8-bit levels" in report and "8-bit PNG" not in report and "per row ÷ uniform" in report
    assert "The published protocol" not in report and "random split by event" not in report


def test_bad_settings_are_refused_before_any_data_is_read(tmp_path, capsys):
    for bad, message in (("shap.methods=[\"deep\"]", "shap] methods = ['deep']: expected one of 'partition', 'gradient'"),
                         ('split.groupings=["trace", "trace"]', "expected one or more of 'trace', 'event', each once"),
                         ('trust.randomisation_layer="conv9"', "randomisation_layer = 'conv9' is not in"),
                         ("data.stations=[\"XXXX\"]", "station codes"),
                         ("preprocess.noverlap=64", "noverlap = 64 must be smaller than nperseg = 64"),
                         ("train.epoch=2", "did you mean 'epochs'"),
                         ('shap.share_cells="time"', "share_cells = 'time': expected one of 'row', 'cell'"),
                         ('shap.ceiling_maskers=["blur"]', "expected a list of maskers")):
        assert main([*TINY, "--out", str(tmp_path / "runs"), "--set", bad]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "runs").exists()
    # a store at another rate than data.sampling_rate is refused with the reason, and leaves no run folder
    norcia_data(6, seed=1, stations=("NRCA",), path=tmp_path / "s")
    assert main([*TINY, "--data", str(tmp_path / "s"), "--out", str(tmp_path / "runs"),
                 "--set", "data.sampling_rate=50.0"]) == 2
    assert "sampling rate 100 Hz, but data.sampling_rate = 50" in capsys.readouterr().err
    assert not any((tmp_path / "runs").iterdir())
