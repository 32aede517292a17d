"""The ml4szeq authors' checkpoint layout read into the Keras MLP (seis_keras.models.checkpoints)."""
import numpy as np
import pytest

from seis_keras.models.checkpoints import find_checkpoints, hidden_units, load_model, read_state_dict

torch = pytest.importorskip("torch")


class _EarthquakeMTL(torch.nn.Module):
    """The code's EarthquakeMTL with default.yml's choices (no BatchNorm, no embedding): the same tensor names."""

    def __init__(self, n_in, hidden, n_out):
        super().__init__()
        self.inp = torch.nn.Module()
        self.inp.fc = torch.nn.Linear(n_in, hidden[0])
        self.layers = torch.nn.Sequential(torch.nn.Module())
        self.layers[0].fc = torch.nn.Linear(hidden[0], hidden[1])
        self.out_cat = torch.nn.Linear(hidden[1], n_out)

    def forward(self, x):
        x = torch.relu(self.inp.fc(x))
        x = torch.relu(self.layers[0].fc(x))
        return self.out_cat(x)


def write_released_layout(root, n_features=49, sizes=((12, 9), (7, 5), (10, 10), (6, 8), (9, 4)), seed=0,
                          combos=((2, 50), (3, 100))):
    """Checkpoints as the authors' repository has them: models/ncls{n}-dex{d}/scenario{k}_epoch{e}.pt."""
    torch.manual_seed(seed)
    modules = {}
    for n, d in combos:
        sub = root / "models" / f"ncls{n}-dex{d}"
        sub.mkdir(parents=True)
        for k, hidden in enumerate(sizes):
            m = _EarthquakeMTL(n_features, hidden, n).eval()
            torch.save(m.state_dict(), sub / f"scenario{k}_epoch{10 + k}.pt")
            modules[(n, float(d), k)] = m
    return modules


def test_released_checkpoints_load_with_their_own_layer_sizes_and_give_the_same_logits(tmp_path):
    modules = write_released_layout(tmp_path)
    found = find_checkpoints(tmp_path)               # the repository root or its models/ folder
    assert set(found) == set(modules) and found == find_checkpoints(tmp_path / "models")
    assert found[(3, 100.0, 4)].epoch == 14 and found[(2, 50.0, 1)].fold == 1
    x = np.random.default_rng(1).normal(size=(6, 49)).astype(np.float32)
    for key, ckpt in found.items():
        state = read_state_dict(ckpt.path)
        assert hidden_units(state) == (modules[key].inp.fc.out_features, modules[key].layers[0].fc.out_features)
        model = load_model(ckpt.path)
        assert model.output_shape == (None, key[0])
        with torch.no_grad():
            expect = modules[key](torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(model(x).numpy(), expect, rtol=1e-5, atol=1e-6)


def test_bad_layouts_and_files_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint folder not found"):
        find_checkpoints(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no checkpoint found"):
        find_checkpoints(tmp_path / "empty")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="bad.pt: not a readable PyTorch state dict"):
        read_state_dict(bad)
    bn = tmp_path / "bn.pt"
    torch.save({"inp.bn.weight": torch.zeros(3), "inp.fc.weight": torch.zeros(4, 3)}, bn)
    with pytest.raises(ValueError, match="'inp.bn.weight' is not part of the ml4szeq MLP"):
        read_state_dict(bn)
