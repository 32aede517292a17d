"""The shared recipe machinery: run folders, sections, the paper table, the command line."""
import dataclasses
import json

import pytest

from seis_keras.recipes.config import setting
from seis_keras.recipes.runner import PaperValue, RunFolder, paper_rows, recipe_main


def test_run_folder_figure_and_files(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run = RunFolder("demo", out=tmp_path)
    run2 = RunFolder("demo", out=tmp_path)
    assert run.path != run2.path and run.path.name.startswith("demo-")
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    png = run.save_figure(fig, "line")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads(run.write_json("metrics.json", {"x": 1}).read_text()) == {"x": 1}


def test_sections_file_metrics_and_the_folder_appears_whole(tmp_path):
    @dataclasses.dataclass
    class Trained:
        weights: list
        metrics: dict

    with RunFolder("demo", out=tmp_path, quiet=True) as folder:
        assert folder.path.name.endswith(".partial") and not folder.final_path.exists()
        data = folder.section("data", lambda n: {"n": n}, 3)
        trained = folder.section("training", lambda d: Trained([1, 2], {"accuracy": 0.9 + d["n"] / 100}), data)
        assert trained.weights == [1, 2]                      # what later sections need, returned
        folder.section("figures", lambda: None)               # no metrics: only timed
        with pytest.raises(ValueError, match="already ran"):
            folder.section("data", dict)
        rel = folder.relative(folder.file("model/model.h5"))
        final = folder.finish(lambda m: f"accuracy {m['training']['accuracy']:.2f}\n", config={"seed": 1},
                              paper={"accuracy": PaperValue(0.9758, "§2.4")})
    assert folder.path == final and final.is_dir() and not final.with_name(final.name + ".partial").exists()
    metrics = json.loads((final / "metrics.json").read_text())
    assert metrics["data"] == {"n": 3} and metrics["training"] == {"accuracy": 0.93}
    assert set(metrics["timings_s"]) == {"data", "training", "figures", "total"}
    assert metrics["paper"]["accuracy"] == {"value": 0.9758, "source": "§2.4", "note": ""}
    assert (final / "report.md").read_text() == "accuracy 0.93\n" and rel == "model/model.h5"
    assert json.loads((final / "config.json").read_text()) == {"seed": 1}


def test_a_failed_run_leaves_nothing_unless_asked(tmp_path):
    with pytest.raises(RuntimeError):
        with RunFolder("demo", out=tmp_path / "a", quiet=True) as folder:
            folder.write_text("half.txt", "x")
            raise RuntimeError("boom")
    assert list((tmp_path / "a").iterdir()) == []
    with pytest.raises(RuntimeError):
        with RunFolder("demo", out=tmp_path / "b", quiet=True, keep_failed=True) as folder:
            folder.write_text("half.txt", "x")
            raise RuntimeError("boom")
    (kept,) = (tmp_path / "b").iterdir()
    assert kept.name.endswith(".failed") and (kept / "half.txt").read_text() == "x"


def test_paper_rows():
    text = paper_rows({"accuracy": PaperValue(0.9758, "§2.4", "AQULO"), "f1": PaperValue("0.97", "Table 1")},
                      {"accuracy": 0.95})
    assert "| accuracy | 0.9758 | 0.9500 | §2.4 (AQULO) |" in text and "| f1 | 0.97 | – | Table 1 |" in text


@dataclasses.dataclass(frozen=True)
class _Train:
    epochs: int = setting(min=1)


@dataclasses.dataclass(frozen=True)
class _Config:
    seed: int
    train: _Train
    profile: str = setting(loader=True)


def test_recipe_main_validates_before_work_and_errors_are_one_line(tmp_path, capsys):
    cfg = tmp_path / "demo.toml"
    cfg.write_text("seed = 0\n[train]\nepochs = 3\n[profiles.quick.train]\nepochs = 1\n")
    calls = []

    def run(c, args):
        calls.append(c)
        with RunFolder("demo", out=args.out, quiet=True) as folder:
            if c.seed == 13:
                raise ValueError(f"{args.data}: no such store")
            folder.finish("ok\n", config=c)
        return folder

    out = tmp_path / "runs"
    argv = ["--config", str(cfg), "--out", str(out)]
    assert recipe_main("demo", "demo", _Config, run, argv + ["--set", "train.epoch=2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("python -m seis_keras.recipes.demo: error:") and "did you mean 'epochs'" in err
    assert "\n" not in err and calls == [] and not out.exists()      # refused before any work
    assert recipe_main("demo", "demo", _Config, run, argv + ["--seed", "13", "--data", "nope"]) == 2
    assert "nope: no such store" in capsys.readouterr().err and not any(out.iterdir())  # no run folder left
    assert recipe_main("demo", "demo", _Config, run, argv + ["--profile", "quick"]) == 0
    assert calls[-1].train.epochs == 1 and calls[-1].profile == "quick" and len(list(out.iterdir())) == 1


def test_opening_overlaps_the_start_and_always_closes():
    import threading

    from seis_keras.recipes.runner import Opening

    started, release = threading.Event(), threading.Event()

    class Resource:
        closed = 0

        def __init__(self, value):
            started.set()
            release.wait(5)
            self.value = value

        def close(self):
            Resource.closed += 1

    with Opening(Resource, 7) as opening:
        assert started.wait(5)          # opening runs while the caller goes on
        release.set()
        assert opening.get().value == 7
    assert Resource.closed == 1
    with Opening(Resource, 8):          # closed on exit even when never used
        pass
    assert Resource.closed == 2

    def broken():
        raise ValueError("model.h5: not loadable")

    with pytest.raises(ValueError, match="not loadable"):
        with Opening(broken) as opening:
            opening.get()
