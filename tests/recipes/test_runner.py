"""Recipe configs, profiles, overrides and run folders."""
import pytest

from seis_keras.recipes.runner import RunFolder, deep_merge, load_config, parse_override

TOML = """
[train]
epochs = 100  # paper
lr = 0.01
[data]
name = "aqulo"
[profiles.quick.train]
epochs = 2
"""


def test_profile_and_overrides(tmp_path):
    cfg_path = tmp_path / "demo.toml"
    cfg_path.write_text(TOML)
    full = load_config(cfg_path)
    assert full["train"] == {"epochs": 100, "lr": 0.01} and full["profile"] == "full"
    quick = load_config(cfg_path, "quick", ["data.name=stead", "train.lr=1e-3", "model.h=[1, 2]"])
    assert quick["train"] == {"epochs": 2, "lr": 1e-3}
    assert quick["data"]["name"] == "stead" and quick["model"]["h"] == [1, 2]
    with pytest.raises(ValueError, match="no profile 'huge'"):
        load_config(cfg_path, "huge")
    with pytest.raises(ValueError, match="SECTION.KEY=VALUE"):
        parse_override("epochs")
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\n")
    with pytest.raises(ValueError, match="bad.toml: not valid TOML"):
        load_config(bad)


def test_deep_merge_does_not_mutate():
    base = {"a": {"b": 1, "c": 2}}
    out = deep_merge(base, {"a": {"b": 3}})
    assert out == {"a": {"b": 3, "c": 2}} and base == {"a": {"b": 1, "c": 2}}


def test_run_folder_figure(tmp_path):
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
    assert run.write_json("metrics.json", {"x": 1}).read_text().strip().startswith("{")
