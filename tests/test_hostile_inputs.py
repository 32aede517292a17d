"""Hostile inputs (issue 16): nothing lost, nothing silently wrong, one line for every user error.

One test per class of failure found by the 137-case run; each failed on the code before the fix:
outputs deleted, tracebacks instead of one line, work done before a check, silent wrong results,
documented usage that failed.
"""
import json
import math

import h5py
import numpy as np
import obspy
import pandas as pd
import pytest

from seis_keras import cli
from seis_keras.data.ingest import ingest, stream_to_windows
from seis_keras.data.store import StoreWriter, WaveformStore, write_store
from seis_keras.errors import one_line_errors
from tests.data.test_fetch import TINY


def _err(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    return err


def _tiny_store(path, n=12, t=500, labels=None, rate=20.0):
    rng = np.random.default_rng(0)
    md = pd.DataFrame({"label": labels if labels is not None else np.arange(n) % 2,
                       "split": (["train"] * (n - 4)) + ["dev"] * 4})
    return write_store(path, rng.normal(size=(n, t, 3)).astype(np.float32), md, sampling_rate=rate, block_size=5)


# ------------------------------------------------------------------ 1. never delete what we did not write
def test_generate_never_deletes_a_user_folder_and_replaces_only_our_store(tmp_path, capsys):
    user = tmp_path / "mine"
    user.mkdir()
    (user / "notes.txt").write_text("field notes")
    for extra in ([], ["--overwrite"]):  # before: the folder was moved aside and removed, exit 0
        assert cli.main(["data", "generate", "detector", str(user), "--n", "20", *extra]) == 2
        assert "mine" in _err(capsys)
    assert [p.name for p in user.iterdir()] == ["notes.txt"] and (user / "notes.txt").read_text() == "field notes"
    store = tmp_path / "store"
    assert cli.main(["data", "generate", "detector", str(store), "--n", "20"]) == 0
    first = WaveformStore(store).get_waveforms(0)
    assert cli.main(["data", "generate", "detector", str(store), "--n", "20", "--seed", "5"]) == 2
    assert "already exists" in _err(capsys)
    assert cli.main(["data", "generate", "detector", str(store), "--n", "20", "--seed", "5", "--overwrite"]) == 0
    assert not np.array_equal(WaveformStore(store).get_waveforms(0), first)  # replaced by the new store
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "store"]  # no temporary left


def test_ingest_onto_a_user_file_or_the_current_folder_is_refused(tmp_path, monkeypatch, capsys):
    mseed = tmp_path / "rjob.mseed"
    obspy.read().write(str(mseed), format="MSEED")
    notes = tmp_path / "notes.txt"
    notes.write_text("keep me")
    args = ["data", "ingest", str(mseed), "--sampling-rate", "20", "--window-s", "10"]
    assert cli.main([*args, "--out", str(notes), "--overwrite"]) == 2  # before: notes.txt replaced by a store
    assert "not a folder" in _err(capsys) and notes.read_text() == "keep me"
    monkeypatch.chdir(tmp_path)
    assert cli.main([*args, "--out", "."]) == 2
    assert "current folder" in _err(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "rjob.mseed"]
    with pytest.raises(FileExistsError, match="not a store written by seis_keras"):  # convert-norcia's writer too
        StoreWriter(_user_folder(tmp_path), sampling_rate=20, overwrite=True)


def _user_folder(root):
    folder = root / "user_folder"
    folder.mkdir()
    (folder / "metadata.csv").write_text("trace_name\n")
    (folder / "waveforms.hdf5").write_text("")
    (folder / "thesis.tex").write_text("")
    return folder


# ------------------------------------------------------------------ 2. one error path
def test_recipe_errors_through_run_are_one_line_with_no_run_folder(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("seed = [\n")
    for argv in (["--profile", "nope"], ["--config", str(bad)], ["--profile", "quick", "--data", str(tmp_path / "nope")]):
        assert cli.main(["run", "detector", "--out", str(tmp_path / "runs"), *argv]) == 2, argv
        assert "error:" in _err(capsys)
        assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    for recipe in ("precursor", "norcia", "norcia_shap", "subduction"):  # every recipe: the same one-line path
        assert cli.main(["run", recipe, "--profile", "nope", "--out", str(tmp_path / "runs")]) == 2
        err = _err(capsys)
        assert f"python -m seis_keras.recipes.{recipe}: error:" in err and "no profile 'nope'" in err
        assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_run_help_prints_help(capsys):
    assert cli.main(["run", "--help"]) == 0  # before: "the following arguments are required: recipe"
    out = capsys.readouterr().out
    assert "usage: seis-keras run RECIPE" in out and all(r in out for r in cli.RECIPES)
    with pytest.raises(SystemExit):  # a recipe's own --help is its parser's
        cli.build_parser().parse_args(["run", "--help"])


def test_nan_sample_read_through_tf_data_is_our_one_line_message(tmp_path, capsys):
    store = _tiny_store(tmp_path / "s")
    with h5py.File(store / "waveforms.hdf5", "r+") as h5:
        h5["data/bucket1"][2, 1, 40] = np.nan
    assert cli.main(["data", "stream", str(store), "--batch-size", "4"]) == 2  # before: 45 lines of TF stack
    err = _err(capsys)
    assert err == f"seis-keras: error: {store / 'waveforms.hdf5'}: trace_name 'bucket1$2,:3,:500' holds NaN/inf samples"


def test_fdsn_exceptions_and_bugs_are_one_line(capsys):
    from obspy.clients.fdsn.header import FDSNNoServiceException

    with one_line_errors("seis-keras") as status:
        raise FDSNNoServiceException("No FDSN services could be discovered at 'http://127.0.0.1:1'")
    assert status.code == 2 and "FDSN service" in _err(capsys)
    with one_line_errors("seis-keras") as status:
        raise TypeError("unsupported operand")
    assert status.code == 1 and "internal error: TypeError: unsupported operand" in _err(capsys)


# ------------------------------------------------------------------ 3. check before work
def _train(store, out, *extra):
    return cli.main(["train", "--model", "detector", "--data", str(store), "--out", str(out), "--epochs", "1",
                     "--batch-size", "4", *extra])


def test_train_checks_store_labels_and_settings_before_training(tmp_path, capsys):
    out = tmp_path / "run"
    zero = _tiny_store(tmp_path / "zero")
    with h5py.File(zero / "waveforms.hdf5", "r+") as h5:
        h5["data_format/sampling_rate"][()] = 0.0
    pd.read_csv(zero / "metadata.csv").assign(trace_sampling_rate_hz=0.0).to_csv(zero / "metadata.csv", index=False)
    assert _train(zero, out) == 2 and "sampling rate 0.0 Hz" in _err(capsys)
    assert _train(_tiny_store(tmp_path / "ok"), out, "--lr", "nan") == 2 and "--lr nan" in _err(capsys)
    three = _tiny_store(tmp_path / "three", labels=np.arange(12) % 3)
    assert _train(three, out) == 2  # before: found by evaluate after the whole training
    assert "labels [0, 1, 2] do not fit the model's one sigmoid output" in _err(capsys)
    leak = _tiny_store(tmp_path / "leak")
    meta = pd.read_csv(leak / "metadata.csv")
    meta.loc[10, "trace_name"] = meta.loc[2, "trace_name"]  # a dev row reads a training trace
    meta.to_csv(leak / "metadata.csv", index=False)
    assert _train(leak, out) == 2 and "leakage" in _err(capsys)
    assert not out.exists()


# ------------------------------------------------------------------ 4. no silent wrong results
def test_zero_window_ingest_is_refused_with_the_reason(tmp_path):
    st = obspy.read()  # 30 s at 100 Hz
    with pytest.raises(ValueError, match=r"record of 30\.00 s .* is shorter than window_s=60 s"):
        ingest(st, tmp_path / "a", sampling_rate=20, window_s=60)
    picks = pd.DataFrame({"station": ["RJOB"], "time": ["2005-01-01T00:00:00"]})
    with pytest.raises(ValueError, match="no data in the window"):
        ingest(st, tmp_path / "b", sampling_rate=20, window_s=10, picks=picks)
    with pytest.raises(ValueError, match=r"picks for stations not in the data: \['XYZ'\]"):
        ingest(st, tmp_path / "c", sampling_rate=20, window_s=10, picks=picks.assign(station="XYZ"))
    assert list(tmp_path.iterdir()) == []  # before: exit 0 and a store without a metadata header


def _split(tr, at, overlap, change=0.0):
    a, b = tr.copy(), tr.copy()
    a.trim(endtime=tr.stats.starttime + at + overlap)
    b.trim(starttime=tr.stats.starttime + at)
    b.data = b.data + change
    return [a, b]


def test_overlapping_segments_with_different_samples(tmp_path):
    st = obspy.read()
    same = obspy.Stream([s for tr in st for s in _split(tr, 10.0, 2.0)])
    x0, _ = stream_to_windows(st, sampling_rate=100, window_s=5)
    x1, _ = stream_to_windows(same, sampling_rate=100, window_s=5)
    np.testing.assert_array_equal(x0[:1], x1[:1])  # identical overlaps are merged (obspy's merge)
    differ = obspy.Stream([s for tr in st for s in _split(tr, 10.0, 2.0, change=100.0)])
    with pytest.raises(ValueError, match=r"overlapping segment\(s\) with different samples"):  # before: later won
        stream_to_windows(differ, sampling_rate=100, window_s=5)
    _, meta = stream_to_windows(differ, sampling_rate=100, window_s=5, overlap_policy="mask")
    rejected = meta.attrs["rejected_windows"]  # the one window over the conflicting 10-12 s became a gap
    assert len(meta) == 5 and len(rejected) == 1
    assert rejected[0]["trace_start_time"] == str(st[0].stats.starttime + 10) and "gap" in rejected[0]["reason"]


def test_block_slice_past_the_dataset_is_refused(tmp_path):
    path = tmp_path / "s"
    path.mkdir()
    with h5py.File(path / "waveforms.hdf5", "w") as h5:
        h5["data/b"] = np.zeros((2, 3, 1200), np.float32)
        for k, v in {"sampling_rate": 20.0, "component_order": "ZNE", "dimension_order": "CW"}.items():
            h5[f"data_format/{k}"] = v
    pd.DataFrame({"trace_name": ["b$0,:3,:1200", "b$1,:3,:5000"]}).to_csv(path / "metadata.csv", index=False)
    with pytest.raises(ValueError, match=r"slice :5000 on the sample axis reaches past the dataset's 1200"):
        WaveformStore(path)  # before: clipped silently to 1200 samples


def test_scan_threshold_nan_and_a_stream_shorter_than_a_window(tmp_path, capsys):
    from tensorflow import keras

    from seis_keras.scan import scan

    assert cli.main(["scan", "--model", str(tmp_path / "m"), "--stream", "x.mseed", "--threshold", "nan",
                     "--out", str(tmp_path / "o")]) == 2  # before: scan.json with NaN (invalid JSON)
    assert "threshold=nan" in _err(capsys) and not (tmp_path / "o").exists()
    inp = keras.Input((500, 3))
    model = keras.Model(inp, keras.layers.Dense(1, name="logits")(keras.layers.GlobalAveragePooling1D()(inp)))
    short = obspy.read().copy().resample(20.0)  # 30 s: longer than the 25 s window
    short.trim(endtime=short[0].stats.starttime + 10)
    with pytest.raises(ValueError, match="shorter than one window of 25 s"):  # before: empty result, exit 0
        scan(model, short)
    result = scan(model, obspy.read().copy().resample(20.0), stride_s=2.5)
    json.dumps(result.settings, allow_nan=False)  # strict JSON
    assert len(result.probabilities) == 1 and result.settings["skipped_stations"] == []


def test_generate_refuses_sizes_past_free_disk_and_memory(tmp_path, capsys, monkeypatch):
    out = tmp_path / "big"
    assert cli.main(["data", "generate", "detector", str(out), "--n", str(10**13)]) == 2  # before: tried it
    assert "needs ~25 PB of memory" in _err(capsys)
    monkeypatch.setattr(cli, "_free_memory", lambda: 2**70)
    assert cli.main(["data", "generate", "detector", str(out), "--n", str(10**13)]) == 2
    assert "the detector store would take ~64 PB on disk" in _err(capsys)
    monkeypatch.undo()
    assert cli.main(["data", "generate", "precursor", str(out), "--n", "2", "--hours", "1e7"]) == 2
    assert "of memory" in _err(capsys) and not out.exists()
    assert cli.main(["data", "generate", "detector", str(out), "--n", "0"]) == 2 and "--n 0" in _err(capsys)


@pytest.mark.parametrize("edit, message", [
    (('channels = ["BH1", "BH2", "BHZ"]', 'channels = "BH1"'), r"fdsn\.channels' is 'BH1' \(expected a list"),
    (('channels = ["BH1", "BH2", "BHZ"]', 'channels = ["BH1", "BH2", "BHZZ"]'), "SEED channel codes"),
    (('origin_time = "2019-06-18T13:22:19"', 'origin_time = "2019-13-45T99:00"'), r"events\[0\]\.origin_time"),
    (("before_origin_s = 30.0", "before_origin_s = -30.0"), "ends before it starts"),
    (("sampling_rate_hz = 40.0", "sampling_rate_hz = 0.0"), r"window\.sampling_rate_hz' is 0\.0"),
    (("latitude = 38.6370", "latitude = 138.6370"), r"events\[0\]\.latitude"),
])
def test_fetch_checks_the_manifest_before_any_request(tmp_path, edit, message):
    from seis_keras.data.fetch import fetch

    text = TINY.replace("{policy}", "reject").replace(*edit)
    assert text != TINY.replace("{policy}", "reject")
    (tmp_path / "m.toml").write_text(text)

    class NoRequests:
        def __getattr__(self, name):
            raise AssertionError("a request was made")

    with pytest.raises(ValueError, match=message):
        fetch(tmp_path / "m.toml", tmp_path / "out", client=NoRequests(), progress=False)
    (tmp_path / "e.toml").write_text("events = []\n" + TINY.replace("{policy}", "reject").split("[[events]]")[0])
    with pytest.raises(ValueError, match="'events' is empty"):
        fetch(tmp_path / "e.toml", tmp_path / "out", client=NoRequests(), progress=False)


def test_fetch_into_a_user_folder_is_refused(tmp_path):
    from seis_keras.data.fetch import fetch

    (tmp_path / "m.toml").write_text(TINY.replace("{policy}", "reject"))
    user = tmp_path / "user"
    user.mkdir()
    (user / "metadata.csv").write_text("mine")
    with pytest.raises(FileExistsError, match="already exists"):
        fetch(tmp_path / "m.toml", user, client=None, progress=False)
    assert (user / "metadata.csv").read_text() == "mine"


def test_convert_norcia_with_every_trace_skipped_is_refused(tmp_path):
    from seis_keras.data.readers import convert_norcia_zenodo

    sta = tmp_path / "zen" / "NRCA"
    sta.mkdir(parents=True)
    with h5py.File(sta / "NRCA_waveforms_pre.hdf5", "w") as h5:
        h5["NRCA.IV.1_EV"] = np.zeros((2, 2500))
    pd.DataFrame({"trace_name": ["NRCA.IV.1_EV", "NRCA.IV.2_EV"]}).to_csv(sta / "NRCA_attributes_pre.csv", index=False)
    with pytest.raises(ValueError, match=r"no trace to convert \(2 skipped: not in the HDF5 file; shape \(2, 2500\)"):
        convert_norcia_zenodo(tmp_path / "zen", tmp_path / "out", periods=("pre",))
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ 5. documented usage
def test_scan_model_on_a_train_run_folder_picks_the_model_not_the_weights(tmp_path):
    from tensorflow import keras

    from seis_keras.scan.model import model_in_folder

    inp = keras.Input((500, 3))
    model = keras.Model(inp, keras.layers.Dense(1, name="logits")(keras.layers.GlobalAveragePooling1D()(inp)))
    run = tmp_path / "run"
    run.mkdir()
    model.save_weights(str(run / "best_weights.h5"))
    with pytest.raises(ValueError, match="best_weights.h5 hold weights only"):
        model_in_folder(run)
    model.save(str(run / "model.h5"))
    model.save_weights(str(run / "weights.h5"))
    assert model_in_folder(run).name == "model.h5"  # before: best_weights.h5 (first in sorted order)


def test_a_finite_threshold_is_still_required_by_the_library():
    from seis_keras.scan import check_scan_settings

    for bad in (math.nan, math.inf, -0.1, 1.5):
        with pytest.raises(ValueError, match="threshold"):
            check_scan_settings(stride_s=2.5, threshold=bad, min_gap_s=5.0, batch_size=8)
