"""Typed recipe configs: unknown keys, wrong types and choices are one-line errors before any work."""
import dataclasses
import json
from typing import Literal

import pytest

from seis_keras.recipes.config import load_config, setting, to_dict


@dataclasses.dataclass(frozen=True)
class Train:
    optimizer: Literal["sgd", "adam"]
    learning_rate: float = setting(gt=0)
    epochs: int = setting(min=1)
    betas: list[float] = setting(min=0)
    split: tuple[float, float, float]


@dataclasses.dataclass(frozen=True)
class Data:
    sampling_rate: float = setting(gt=0)
    window_s: float = setting(gt=0)
    name: str

    def __post_init__(self):
        if self.window_s * self.sampling_rate < 10:
            raise ValueError(f"window_s * sampling_rate = {self.window_s * self.sampling_rate:g} samples (expected >= 10)")


@dataclasses.dataclass(frozen=True)
class Demo:
    seed: int
    data: Data
    train: Train
    profile: str = setting(loader=True)


TOML = """
seed = 0
[data]
sampling_rate = 20    # an integer is a fine number
window_s = 25.0
name = "aqulo"
[train]
optimizer = "sgd"
learning_rate = 1e-2
epochs = 100
betas = [0.0, 0.5, 1.0]
split = [0.8, 0.1, 0.1]
[profiles.quick.train]
epochs = 2
"""


@pytest.fixture
def demo(tmp_path):
    path = tmp_path / "demo.toml"
    path.write_text(TOML)
    return path


def write(tmp_path, text, name="bad.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_values_types_profiles_and_overrides(demo):
    full = load_config(Demo, demo)
    assert full.profile == "full" and full.train.epochs == 100 and full.data.sampling_rate == 20.0
    assert isinstance(full.data.sampling_rate, float) and full.train.split == (0.8, 0.1, 0.1)
    quick = load_config(Demo, demo, "quick", ["train.learning_rate=1e-3", "data.name=stead", "seed=4"])
    assert (quick.profile, quick.train.epochs, quick.train.learning_rate, quick.data.name, quick.seed) == \
        ("quick", 2, 1e-3, "stead", 4)
    assert json.loads(json.dumps(to_dict(quick)))["train"]["split"] == [0.8, 0.1, 0.1]


@pytest.mark.parametrize("override, message", [
    ("train.epoch=3", r"--set train.epoch=3: 'epoch' is not a setting of \[train\] \(did you mean 'epochs'\?\)"),
    ("model.h=[1, 2]", r"--set model.h=\[1, 2\]: 'model' is not a section of the top level"),
    ("train.epochs=-5", r"--set train.epochs=-5: \[train\] epochs = -5: expected an integer >= 1"),
    ("train.epochs=2.5", r"\[train\] epochs = 2.5: expected an integer"),
    ("train.optimizer=rmsprop", r"\[train\] optimizer = 'rmsprop': expected one of 'sgd', 'adam'"),
    ("train.learning_rate=nan", r"learning_rate = nan: expected a number, got nan"),
    ("train.learning_rate=0", r"learning_rate = 0: expected a number > 0"),
    ("train.betas=[0.0, -1.0]", r"betas = \[0.0, -1.0\]: expected a number >= 0"),
    ("train.split=[0.5, 0.5]", r"split = \[0.5, 0.5\]: expected a list of 3 values"),
    ("data.window_s=0.1", r"--set data.window_s=0.1 / .*demo.toml: \[data\]: window_s \* sampling_rate = 2 samples"),
    ("train=3", r"'train' must be a table|\[train\] must be a table"),
    ("epochs", r"expected SECTION.KEY=VALUE"),
])
def test_bad_overrides_are_one_line_errors_naming_the_key(demo, override, message):
    with pytest.raises(ValueError, match=message) as info:
        load_config(Demo, demo, "full", [override])
    assert "\n" not in str(info.value)


def test_every_profile_and_the_base_file_are_checked(tmp_path, demo):
    with pytest.raises(ValueError, match=r"bad.toml \[profiles.huge\]: 'epoch' is not a setting of \[train\]"):
        load_config(Demo, write(tmp_path, TOML + "[profiles.huge.train]\nepoch = 1\n"), "quick")
    with pytest.raises(ValueError, match=r"\[profiles.huge\]: \[train\] epochs = 0: expected an integer >= 1"):
        load_config(Demo, write(tmp_path, TOML + "[profiles.huge.train]\nepochs = 0\n"))
    with pytest.raises(ValueError, match=r"bad.toml: \[train\] lacks \['epochs'\]"):
        load_config(Demo, write(tmp_path, TOML.replace("epochs = 100\n", "")))
    with pytest.raises(ValueError, match=r"bad.toml: 'epochz' is not a setting of \[train\]"):
        load_config(Demo, write(tmp_path, TOML.replace("epochs = 100", "epochs = 100\nepochz = 1")))
    with pytest.raises(ValueError, match=r"'profile' is not a setting"):
        load_config(Demo, write(tmp_path, 'profile = "x"\n' + TOML))
    with pytest.raises(ValueError, match=r"no profile 'huge' \(expected one of: full, quick\)"):
        load_config(Demo, demo, "huge")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_config(Demo, write(tmp_path, "[train\n"))
    with pytest.raises(FileNotFoundError, match="recipe config not found"):
        load_config(Demo, tmp_path / "nowhere.toml")
