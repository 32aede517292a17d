"""Tests of the detector recipe (Majstorović et al. 2023): its config, its input contract, the quick path end to end."""
import argparse
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from seis_keras.data.synthetic import detector_continuous
from seis_keras.data.transforms import Demean, MaxNormalize
from seis_keras.models import contract_of, get_model
from seis_keras.models.contract import CONTRACT_FILE, InputContract
from seis_keras.recipes import detector as package
from seis_keras.recipes.config import load_config, recipes_dir
from seis_keras.recipes.detector import data as data_section
from seis_keras.recipes.detector.__main__ import add_arguments, main, run
from seis_keras.recipes.detector.config import DetectorConfig
from seis_keras.recipes.detector.report import randomisation_verdict
from seis_keras.recipes.detector.samples import choose_samples
from seis_keras.recipes.detector.study import PAPER, input_contract
from seis_keras.recipes.runner import RunFolder, recipe_parser
from seis_keras.scan import scan


def _cfg(profile="quick", overrides=()):
    return load_config(DetectorConfig, "detector", profile, list(overrides))


# --- config ---------------------------------------------------------------------------------------
def test_full_profile_holds_the_papers_settings_and_quick_stays_small():
    full = _cfg("full")
    d = full.data
    assert (d.sampling_rate, d.window_s, d.component_order, d.window_samples) == (20.0, 25.0, "ENZ", 500)
    assert d.split == (0.8, 0.1, 0.1) and d.earthquake_fraction == 0.48 and d.demean is True
    t = full.train
    assert (t.optimizer, t.learning_rate, t.momentum, t.batch_size, t.early_stopping_patience, t.runs) == (
        "sgd", 1e-2, 0.9, 512, 50, 10)
    assert full.bo.steps == 5000 and full.lrp.betas == [0.0, 0.5, 1.0] and full.lrp.epsilon == 1e-6
    assert full.lrp.sigma_samples == 0 and full.fmv.layer == "conv5" and full.fmv.threshold == 0.8
    assert (full.evaluation.threshold, full.evaluation.distance_bins_km) == (0.5, [25.0, 50.0, 75.0])
    quick = _cfg("quick")
    assert quick.profile == "quick" and quick.data.synthetic_n <= 6000 and quick.train.runs == 2
    assert quick.bo.steps <= 200 and quick.train.optimizer == "sgd" and quick.lrp.betas == [0.0, 0.5, 1.0]
    assert PAPER["accuracy"].value == "0.9758 ± 0.0008" and PAPER["correlated_channels_sample_B"].value == 0.49


@pytest.mark.parametrize("override, message", [
    ("train.epoch=3", "'epoch' is not a setting of \\[train\\] \\(did you mean 'epochs'\\?\\)"),
    ("train.epochs=three", "\\[train\\] epochs = 'three': expected an integer"),
    ("train.epochs=-5", "expected an integer >= 1"),
    ("train.optimizer=rmsprop", "expected one of 'sgd', 'adam', 'adamw'"),
    ("lrp.sigma_noise=both", "expected one of 'decision', 'positive'"),
    ("fmv.layer=conv8", "\\[fmv\\] layer = 'conv8': expected one of 'conv1'"),
    ("bo.objective=score", "expected one of 'loss', 'logit'"),
    ("lrp.cross_run_betas=[2.0]", "cross_run_betas \\[2.0\\] are not in betas"),
    ("lrp.betas=[]", "expected at least one beta"),
    ("lrp.betas=[0.0, 0.0]", "expected distinct values"),
    ("fmv.reference_sample=10", "reference_sample = 10: expected an index among the 10 chosen earthquakes"),
    ("data.sampling_rate=20.5", "512.5 samples \\(expected a whole number of samples\\)"),
    ("data.sampling_rate=2.0", "50 samples \\(expected >= 64"),
    ("data.component_order=EEZ", "expected distinct component codes"),
    ("scan.stride_s=0.33", "scan.stride_s = 0.33 s is not a whole number of samples"),
    ("quality.randomisation_samples=500", "randomisation_samples = 500 > n_samples = 100"),
    ("evaluation.distance_bins_km=[50.0, 25.0]", "expected increasing edges"),
])
def test_bad_values_are_one_line_errors_naming_the_key(override, message):
    with pytest.raises(ValueError, match=message) as err:
        _cfg("quick", [override])
    assert "\n" not in str(err.value)


def test_a_typo_in_a_profile_is_an_error_naming_file_and_key(tmp_path):
    text = (recipes_dir() / "detector.toml").read_text().replace(
        "[profiles.quick.bo]\nsteps = 200", "[profiles.quick.bo]\nstep = 200")
    assert "step = 200" in text
    (tmp_path / "detector.toml").write_text(text)
    with pytest.raises(ValueError, match=r"detector.toml \[profiles.quick\]: 'step' is not a setting of \[bo\] "
                                         r"\(did you mean 'steps'\?\)"):
        load_config(DetectorConfig, tmp_path / "detector.toml", "full")  # every profile is checked


def test_a_bad_config_is_refused_before_any_data_is_read(tmp_path, monkeypatch, capsys):
    def no_data(*args, **kwargs):
        raise AssertionError("data were read")

    monkeypatch.setattr(data_section, "built_in_store", no_data)
    for argv in (["--set", "lrp.sigma_noise=both"], ["--runs", "0"], ["--set", "train.epochs=-5"],
                 ["--profile", "tiny"]):
        assert main(["--profile", "quick", "--out", str(tmp_path), *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("python -m seis_keras.recipes.detector: error:") and "\n" not in err, err
    assert list(tmp_path.iterdir()) == []


def test_runs_flag_is_the_train_runs_override():
    parser = recipe_parser("detector", package.__doc__)
    add_arguments(parser)
    args = parser.parse_args(["--set", "train.epochs=3", "--runs", "4", "--picks", "p.csv"])
    assert args.overrides == ["train.epochs=3", "train.runs=4"] and args.picks == "p.csv"
    cfg = load_config(DetectorConfig, "detector", "quick", args.overrides)
    assert (cfg.train.runs, cfg.train.epochs) == (4, 3)


# --- the input contract -----------------------------------------------------------------------------
def test_the_input_contract_is_the_models_with_demean_first():
    paper = contract_of("detector")
    c = input_contract(_cfg("full"))
    assert c.transforms == ("Demean", "MaxNormalize") and paper.transforms == ("MaxNormalize",)
    assert (c.sampling_rate, c.window_samples, c.component_order, c.class_names) == (20.0, 500, "ENZ", ("earthquake",))
    assert [type(t) for t in c.transform_list()] == [Demean, MaxNormalize]
    # data.demean = false is the paper's contract exactly
    assert input_contract(_cfg("full", ["data.demean=false"])) == paper
    assert InputContract.from_json(json.loads(json.dumps(c.to_json()))) == c


def test_changing_the_sampling_rate_rebuilds_the_model_for_the_new_length():
    cfg = _cfg("quick", ["data.sampling_rate=40.0", "scan.stride_s=2.5"])
    c = input_contract(cfg)
    assert (c.sampling_rate, c.window_samples) == (40.0, 1000)
    model = get_model("detector", contract=c, hidden_units=cfg.model.hidden_units)
    assert model.input_shape == (None, 1000, 3)
    c8 = input_contract(_cfg("quick", ["data.sampling_rate=8.0", "data.window_s=10.0", "scan.stride_s=2.5",
                                       "bo.high_frequency_hz=3.0"]))
    assert get_model("detector", contract=c8).input_shape == (None, 80, 3)


# --- pieces of the sections --------------------------------------------------------------------------
def test_chosen_earthquakes_are_correct_and_spread_over_distance():
    rng = np.random.default_rng(0)
    n = 200
    y = (np.arange(n) % 2).astype(int)
    p = np.where(y == 1, 0.9, 0.1)
    p[:20] = 1 - p[:20]  # twenty misclassified windows
    meta = pd.DataFrame({"source_distance_km": np.where(y == 1, rng.uniform(5, 110, n), np.nan)})
    eq, noise = choose_samples(meta, y, p, 10, 2, seed=0)
    d = meta["source_distance_km"].to_numpy()
    ok_eq = np.flatnonzero((y == 1) & (p >= 0.5))
    assert len(eq) == 10 and set(eq) <= set(ok_eq)
    assert np.all(np.diff(d[eq]) >= 0)  # A nearest ... J farthest
    assert d[eq[0]] == d[ok_eq].min() and d[eq[-1]] == d[ok_eq].max()
    assert len(noise) == 2 and np.all((y[noise] == 0) & (p[noise] < 0.5))
    # a stricter threshold excludes the earthquakes at p = 0.9
    p2 = np.where(np.arange(n) % 4 == 1, 0.99, p)
    eq2, _ = choose_samples(meta, y, p2, 10, 2, seed=0, threshold=0.95)
    assert set(eq2) <= set(np.flatnonzero(p2 >= 0.95))


def test_the_report_flags_maps_that_survive_the_randomisation_test():
    survive = {"logits": 1.0, "fc1": 0.99, "conv7": 0.97, "conv2": 0.91, "conv1": 0.3}
    text = randomisation_verdict(survive, "beta_0")
    assert "beta_0 maps stay rank-correlated (Spearman ≥ 0.91)" in text and "Sixt et al. 2020" in text
    assert randomisation_verdict({**survive, "conv2": 0.6}, "beta_0") is None  # conv2 randomised: maps change
    assert randomisation_verdict({**survive, "conv1": 0.99}, "beta_0") is not None  # conv1 is not counted
    assert randomisation_verdict(None, "beta_0") is None and randomisation_verdict({"conv1": 1.0}, "b") is None
