"""The seis-keras command line, end to end on tiny built-in data."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seis_keras import cli


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for name in ("data", "run", "train", "explain", "export", "scan"):
        assert name in out


def test_bad_store_is_one_line_error(tmp_path, capsys):
    assert cli.main(["data", "info", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("seis-keras: error:") and "nowhere" in err and "\n" not in err


def test_run_a_recipe_package_passes_its_exit_status(tmp_path, capsys):
    # seis-keras run detector = python -m seis_keras.recipes.detector: a typo'd key is refused before any work
    assert cli.main(["run", "detector", "--set", "train.epoch=3", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "'epoch' is not a setting of [train] (did you mean 'epochs'?)" in err and "\n" not in err
    assert list(tmp_path.iterdir()) == []


def test_generate_train_explain_export_scan(tmp_path, capsys):
    store, run = tmp_path / "store", tmp_path / "run"
    assert cli.main(["data", "generate", "detector", str(store), "--n", "400", "--seed", "3"]) == 0
    assert cli.main(["data", "info", str(store)]) == 0
    info = capsys.readouterr().out
    assert "400 traces, 20 Hz, components ENZ" in info and "train 320" in info

    assert cli.main(["train", "--model", "detector", "--data", str(store), "--out", str(run),
                     "--epochs", "2", "--batch-size", "32", "--optimizer", "sgd", "--lr", "0.01",
                     "--momentum", "0.9", "--strategy", "mirrored"]) == 0
    history = pd.read_csv(run / "history.csv")  # a short fit on built-in data lowers the loss
    assert len(history) == 2 and history["loss"].iloc[-1] < history["loss"].iloc[0]
    metrics = json.loads((run / "metrics.json").read_text())
    assert 0.0 <= metrics["dev"]["accuracy"] <= 1.0 and metrics["dev"]["n"] == 40
    contract = json.loads((run / "input_contract.json").read_text())
    assert contract["sampling_rate"] == 20.0 and contract["window_samples"] == 500

    rel = tmp_path / "sal.npz"
    assert cli.main(["explain", "--model", str(run / "model.h5"), "--data", str(store), "--method", "saliency",
                     "--n", "8", "--out", str(rel)]) == 0
    with np.load(rel) as z:
        assert z["relevance"].shape == z["x"].shape == (8, 500, 3)
        assert np.isfinite(z["relevance"]).all() and np.abs(z["relevance"]).sum() > 0

    served = tmp_path / "served"
    assert cli.main(["export", "--model", str(run / "model.keras"), "--out", str(served)]) == 0
    assert (served / "model_serving" / "saved_model.pb").is_file()

    from seis_keras.data.synthetic import detector_continuous

    stream, events = detector_continuous(300, 2, seed=5)
    mseed = tmp_path / "day.mseed"
    stream.write(str(mseed), format="MSEED")
    out = tmp_path / "scan"
    assert cli.main(["scan", "--model", str(run / "model.h5"), "--stream", str(mseed), "--out", str(out)]) == 0
    probs = pd.read_csv(out / "probabilities.csv")
    # 300 s at 20 Hz, 25 s windows every 2.5 s -> (300 - 25) / 2.5 + 1 windows
    assert len(probs) == 111
    assert probs["earthquake"].between(0, 1).all()


def test_unavailable_dataset_is_one_line_error(tmp_path, capsys):
    manifest = Path(__file__).resolve().parents[1] / "data_manifests" / "aqulo.toml"
    assert cli.main(["data", "fetch", str(manifest), str(tmp_path / "aqulo")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("seis-keras: error:") and "\n" not in err
