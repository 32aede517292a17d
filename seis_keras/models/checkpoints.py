"""The ml4szeq authors' released PyTorch checkpoints, read into our Keras MLP.

The public repository (github.com/jcgraciosa/xai-megathrust, folder ``models/``) holds one
checkpoint per test slice: ``models/ncls{2,3}-dex{50,100}/scenario{k}_epoch{e}.pt`` — the
state dict of the code's ``EarthquakeMTL`` (``inp.fc``, ``layers.0.fc``, ``out_cat``; no
BatchNorm, no embedding, as ``default.yml``), for ``ncls`` classes, exclusion distance ``dex``
km, test slice ``k``, saved at its best validation epoch ``e``. Each fold came from a W&B
sweep with its own layer sizes (e.g. 400/500, 200/300), which :func:`hidden_units` reads from
the tensors. Download the folder from that repository (it is not ours to ship) and give it to
the subduction recipe as ``--reference-checkpoints DIR``.

Reading ``.pt`` files needs PyTorch (the ``bench``/test extra); nothing else here does.
"""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
from tensorflow import keras

from seis_keras.models.subduction import subduction
from seis_keras.models.torch_ports import port_subduction_weights

_NAME = re.compile(r"scenario(\d+)_epoch(\d+)\.pt$")
_FOLDER = re.compile(r"ncls(\d+)-dex(\d+(?:\.\d+)?)$")
#: The code's module names -> the Keras layer names of ``models.subduction``.
_RENAME = {"inp.fc": "fc1", "layers.0.fc": "fc2", "out_cat": "logits"}


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """One released checkpoint: where it is and what it is for."""

    path: Path
    n_classes: int
    exclusion_km: float
    fold: int
    epoch: int


def find_checkpoints(folder: str | Path) -> dict[tuple[int, float, int], Checkpoint]:
    """Every ``ncls{n}-dex{d}/scenario{k}_epoch{e}.pt`` under ``folder`` (or ``folder/models``).

    Returns:
        ``{(n_classes, exclusion_km, fold): Checkpoint}``.

    Raises:
        FileNotFoundError: ``folder`` missing; ValueError: no checkpoint in the expected layout,
            or two checkpoints for the same fold.
    """
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: checkpoint folder not found (expected models/ncls{{2,3}}-dex{{50,100}}/)")
    if (root / "models").is_dir() and not any(_FOLDER.search(p.name) for p in root.iterdir()):
        root = root / "models"
    found: dict[tuple[int, float, int], Checkpoint] = {}
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and _FOLDER.search(p.name)):
        n, dex = _FOLDER.search(sub.name).groups()
        for f in sorted(sub.iterdir()):
            m = _NAME.search(f.name)
            if not m:
                continue
            key = (int(n), float(dex), int(m.group(1)))
            if key in found:
                raise ValueError(f"{sub}: two checkpoints for test slice {key[2]} ({found[key].path.name}, {f.name})")
            found[key] = Checkpoint(f, int(n), float(dex), int(m.group(1)), int(m.group(2)))
    if not found:
        raise ValueError(f"{root}: no checkpoint found (expected ncls<n>-dex<km>/scenario<k>_epoch<e>.pt files)")
    return found


def read_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """A checkpoint's tensors as float32 numpy arrays, renamed to our layers (``fc1``, ``fc2``, ``logits``)."""
    import torch  # optional dependency: only to read the authors' .pt files

    path = Path(path)
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a bad file
        raise ValueError(f"{path}: not a readable PyTorch state dict ({type(err).__name__}: {err})") from None
    out = {}
    for key, value in raw.items():
        module, _, kind = key.rpartition(".")
        if module not in _RENAME:
            raise ValueError(f"{path}: tensor {key!r} is not part of the ml4szeq MLP (expected "
                             f"{', '.join(f'{m}.weight/bias' for m in _RENAME)}; BatchNorm or embeddings are not supported)")
        out[f"{_RENAME[module]}.{kind}"] = value.detach().cpu().numpy().astype(np.float32)
    missing = [f"{k}.weight" for k in _RENAME.values() if f"{k}.weight" not in out]
    if missing:
        raise ValueError(f"{path}: tensors {missing} missing (expected the 3 Linear layers of the ml4szeq MLP)")
    return out


def hidden_units(state: dict[str, np.ndarray]) -> tuple[int, int]:
    """``(h1, h2)`` of a checkpoint, from its tensors."""
    return int(state["fc1.weight"].shape[0]), int(state["fc2.weight"].shape[0])


def load_model(path: str | Path, *, dropout: float = 0.2) -> keras.Model:
    """The Keras ``subduction`` MLP holding a released checkpoint's weights (logits out)."""
    state = read_state_dict(path)
    n_classes, n_features = state["logits.weight"].shape[0], state["fc1.weight"].shape[1]
    model = subduction(n_features=int(n_features), n_classes=int(n_classes), hidden_units=hidden_units(state),
                       dropout=dropout)
    return port_subduction_weights(model, state)
