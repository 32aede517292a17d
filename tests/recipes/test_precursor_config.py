"""The precursor recipe's typed config: the paper's settings, and bad values refused before any data are read."""
import dataclasses
import os
import re

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from seis_keras.recipes.config import config_path, load_config
from seis_keras.recipes.precursor.__main__ import main
from seis_keras.recipes.precursor.config import PrecursorConfig
from seis_keras.recipes.precursor.data import load_data
from seis_keras.recipes.precursor.study import build_model, dataset, windows_of
from seis_keras.recipes.runner import RunFolder
from tests.recipes.test_precursor import TINY


def test_config_profiles_hold_the_paper_settings():
    full = load_config(PrecursorConfig, "precursor")
    assert full.profile == "full" and full.data.sampling_rate == 40.0 and full.data.component_order == "12Z"
    assert full.windows.n_macro_windows == 36 and full.windows.sub_windows == 37 and full.windows.macro_window_s == 1000
    assert full.windows.sub_window_samples == 16384 and full.occlusion.mask == 400 == full.occlusion.stride
    assert full.train.retrainings == 5 and full.model.dropout == 0.02 and full.data.n_events == 31
    # §6.2: 8th order, -48 dB/octave: one filter pass (a forward-backward pass would roll off at -96 dB/octave)
    fo = full.frequency_occlusion
    assert (fo.order, fo.zero_phase, fo.start_hz, fo.stop_hz, fo.step_hz) == (8, False, 20.0, 0.1, 0.1)
    sp = full.spectra  # §6.3, Fig. 9 (channel 0 only), Fig. 11
    assert (sp.spectrogram_window, sp.spectrogram_stride, sp.spectrogram_channel, sp.savgol_width_hz) == \
        (1000, 500, 0, 0.062)
    quick = load_config(PrecursorConfig, "precursor", "quick")
    assert quick.windows.sub_window_samples < 16384 and quick.model.filters[-1] < 256 and quick.profile == "quick"
    assert dataclasses.replace(quick, profile="full") != full  # the profile changed values


@pytest.mark.parametrize("override, message", [
    ("train.epoch=3", r"--set train.epoch=3: 'epoch' is not a setting of \[train\] \(did you mean 'epochs'\?\)"),
    ("windows.sub_window=8", r"'sub_window' is not a setting of \[windows\] \(did you mean 'sub_windows'\?\)"),
    ("train.epochs=-5", r"\[train\] epochs = -5: expected an integer >= 1"),
    ("train.retrainings=0", r"\[train\] retrainings = 0: expected an integer >= 1"),
    ("train.optimizer=rmsprop", r"\[train\] optimizer = 'rmsprop': expected one of 'sgd', 'adam', 'adamw'"),
    ('relevance.methods=["lrp.epsilonn"]', r"\[relevance\] methods = \['lrp.epsilonn'\]: 'lrp.epsilonn': .*lrp.epsilon"),
    ("relevance.recommended='gradient'", r"recommended = 'gradient': expected one of methods"),
    ('trust.randomisation_layers=["logits"]', r"randomisation_layer = 'conv4' is not in randomisation_layers"),
    ("model.random_layer_mode=white", r"random_layer_mode = 'white': expected one of 'input', 'noise'"),
    ("train.batch_norm_statistics=moving", r"batch_norm_statistics = 'moving': expected one of 'clean', 'training'"),
    ("frequency_occlusion.filter=during", r"filter = 'during': expected one of 'after', 'before'"),
    ("windows.normalisation=l2", r"normalisation = 'l2': expected one of 'std', 'max'"),
    ("time_course.split=dev", r"split = 'dev': expected one of 'train', 'test', 'all'"),
    ('windows.modes=["B"]', r"expected 'A' among the modes"),
    ('windows.modes=["A", "C"]', r"modes = \['A', 'C'\]: expected one of 'A', 'B'"),
    ("model.filters=[4, 4]", r"filters = \[4, 4\]: expected 7 values"),
    ("data.sampling_rate=x", r"\[data\] sampling_rate = 'x': expected a number"),
    ("spectra.spectrogram_channel=3", r"spectra.spectrogram_channel = 3: expected 0..2 or -1"),
    ("occlusion.mask=5000", r"occlusion.mask = 5000: expected at most windows.sub_window_samples = 2048"),
    ("synthetic.tremor_band=[0.21, 0.16]", r"tremor_band = \[0.21, 0.16\]: expected \[low, high\] with low < high"),
    ("time_course.baseline_intervals=36", r"baseline_intervals = 36: expected fewer than windows.n_macro_windows"),
    # the rate reaches the windows: at 2 Hz a 1000 s macro-window holds 2000 samples, fewer than a sub-window
    ("data.sampling_rate=2.0", r"windows at data.sampling_rate = 2 Hz: .*sub_window_samples=2048 \(expected <= "
                               r"macro_window_samples=2000\)"),
])
def test_bad_values_are_refused_before_any_data_are_read(tmp_path, capsys, override, message):
    out = tmp_path / "runs"
    assert main(["--profile", "quick", "--out", str(out), "--set", override]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("python -m seis_keras.recipes.precursor: error:") and "\n" not in err
    assert re.search(message, err), err
    assert not out.exists()  # no run folder, no data written


def test_a_typo_in_a_profile_is_an_error_naming_the_profile(tmp_path):
    text = config_path("precursor").read_text()
    bad = tmp_path / "precursor.toml"
    bad.write_text(text + "\n[profiles.tiny]\ntrain.epoch = 1\n")
    with pytest.raises(ValueError, match=r"precursor.toml \[profiles.tiny\]: 'epoch' is not a setting of \[train\] "
                                         r"\(did you mean 'epochs'\?\)"):
        load_config(PrecursorConfig, bad, "quick")  # every profile is checked, not only the one run
    bad.write_text(text.replace("mode_b_retrainings = 1", "mode_b_retrainings = 1\nmode_c_retrainings = 1"))
    with pytest.raises(ValueError, match=r"'mode_c_retrainings' is not a setting of \[train\]"):
        load_config(PrecursorConfig, bad)


def test_the_sampling_rate_reaches_the_windows_the_model_and_its_contract(tmp_path):
    """At 20 Hz the built-in records, macro-windows and contract follow; the model input is the sub-window."""
    cfg = load_config(PrecursorConfig, "precursor", "full", TINY + ["data.sampling_rate=20.0",
                                                                     "windows.sub_window_samples=256"])
    study = load_data(cfg, None, RunFolder("precursor", tmp_path / "runs", quiet=True))
    assert study.fs == 20.0 and study.store.sampling_rate == 20.0
    assert study.windowing.macro_window_samples == 400 and int(np.max(study.lengths)) == 36 * 400
    assert study.contract.sampling_rate == 20.0 and study.contract.window_samples == 256
    model = build_model(study, seed=0)
    assert model.input_shape == (None, 256, 3) == (None, *study.contract.input_shape)
    x, y = next(iter(dataset(study, windows_of(study, "A", "train"))))
    assert x.shape[1:] == (256, 3) and model(x, training=False).shape == (x.shape[0], 2)
