"""Magrini & Marrocco recipe: spectrogram preprocessing against scipy, band shares, config, quick paths."""
import json

import numpy as np
import pandas as pd
import pytest
from scipy import signal

from seis_keras.data import norcia as nd
from seis_keras.data.store import WaveformStore
from seis_keras.data.synthetic import norcia_data
from seis_keras.data.transforms import Compose
from seis_keras.models import InputContract
from seis_keras.recipes.config import load_config
from seis_keras.recipes.norcia_shap.__main__ import main
from seis_keras.recipes.norcia_shap.config import NorciaShapConfig
from seis_keras.recipes.norcia_shap.shap_maps import band_mass_fraction
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


def test_band_mass_fraction_counts_rows_inside_the_band():
    f = np.linspace(0, 50, 33)
    maps = np.zeros((2, 33, 4, 3))
    maps[0, f == f[20]] = -2.0  # 31.25 Hz, inside 30-40
    maps[0, 0] = 1.0            # 0 Hz row, outside; |.| mass 12 vs 24
    maps[1, 5] = 3.0            # all outside
    share = band_mass_fraction(maps, f, (30.0, 40.0))
    np.testing.assert_allclose(share, [24 / 36, 0.0])


def test_quick_path_event_split_with_shap(tmp_path):
    assert main([*TINY, "--out", str(tmp_path), "--set", "shap.samples_per_class=1", "--set", "shap.max_evals=40",
                 "--set", "shap.gradient_background=4", "--set", "shap.gradient_nsamples=8"]) == 0
    run = _run_folder(tmp_path)
    m = json.loads((run / "metrics.json").read_text())
    d = m["data"]
    assert d["split_grouping"] == "event" and d["events_in_several_splits"] == 0
    assert sum(d["split"].values()) == d["n_traces"]
    s = m["training"]
    cm = np.array(s["confusion_matrix"])
    assert cm.sum() == d["split"]["test"] and s["accuracy"] == pytest.approx(np.trace(cm) / cm.sum())
    e = m["shap"]
    assert e["band_kind"] == "planted" and e["uniform_share"] == pytest.approx(6 / 33)
    for method in ("partition", "gradient"):
        r = e["methods"][method]
        assert 0 <= r["band_share_all"] <= 1
        assert (run / "figures" / f"shap_{method}_class_mean.png").stat().st_size > 1000
        means = np.load(run / f"shap_{method}_class_means.npy")
        assert means.shape[1:] == (33, 153) and np.nanmax(np.abs(means)) <= 1.0 + 1e-9
    report = (run / "report.md").read_text()
    assert "0.9575" in report and "| ours |" in report
    contract = InputContract.from_json(json.loads((run / m["exported"]["input_contract"]).read_text()))
    np.testing.assert_allclose(contract.transform_list()[1].mean_, m["preprocessing"]["mean"])
    assert contract.input_shape == (33, 153, 3) and m["paper"]["accuracy"]["value"] == 0.9575


def test_published_split_shares_events_between_splits(tmp_path):
    assert main([*TINY, "--out", str(tmp_path), "--published-split", "--no-shap",
                 "--set", "data.builtin_events=40"]) == 0
    run = _run_folder(tmp_path)
    m = json.loads((run / "metrics.json").read_text())
    assert m["data"]["split_grouping"] == "trace"
    assert m["data"]["events_in_several_splits"] > 0  # the leak the event-grouped default removes
    meta = pd.read_csv(run / "data" / "norcia_builtin" / "metadata.csv")
    split = nd.random_split(meta, fractions=(0.70, 0.15, 0.15), group=None, seed=m["seed"],
                            mask=np.ones(len(meta), bool))
    assert {k: int((split == k).sum()) for k in nd.SPLITS} == m["data"]["split"]
    assert "shap" not in m


def test_bad_settings_are_refused_before_any_data_is_read(tmp_path, capsys):
    for bad, message in (("shap.methods=[\"deep\"]", "shap] methods = ['deep']: expected one of 'partition', 'gradient'"),
                         ("data.stations=[\"XXXX\"]", "station codes"),
                         ("preprocess.noverlap=64", "noverlap = 64 must be smaller than nperseg = 64"),
                         ("train.epoch=2", "did you mean 'epochs'")):
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
