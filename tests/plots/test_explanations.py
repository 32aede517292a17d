"""Explanation figures: right panels, the data drawn is the data given, bad shapes rejected."""
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from seis_keras.plots import explanations as P


def test_waveform_relevance_panels_and_data(tmp_path):
    x = np.random.default_rng(0).normal(size=(100, 3))
    r = np.random.default_rng(1).normal(size=(100, 3))
    fig = P.waveform_relevance(x, r, fs=20.0, title="t")
    assert isinstance(fig, Figure)
    axes = [a for a in fig.axes if a.get_ylabel() in ("E", "N", "Z")]
    assert len(axes) == 3
    np.testing.assert_allclose(axes[2].lines[0].get_ydata(), x[:, 2])
    np.testing.assert_allclose(axes[2].lines[0].get_xdata(), np.arange(100) / 20.0)
    np.testing.assert_allclose(axes[1].images[0].get_array()[0], r[:, 1])
    fig.savefig(tmp_path / "w.png")
    with pytest.raises(ValueError, match="relevance"):
        P.waveform_relevance(x, r[:50])


def test_feature_maps_grid_and_correlation_matrix():
    maps = {"conv1": np.random.rand(2, 20, 4), "conv2": np.random.rand(2, 10, 4)}
    fig = P.feature_maps_grid(maps, sample=1, max_channels=3)
    imgs = [a.images[0] for a in fig.axes if a.images]
    assert len(imgs) == 2
    np.testing.assert_allclose(imgs[1].get_array(), maps["conv2"][1].T[:3])
    corr = np.eye(4)
    corr[0, 1] = corr[1, 0] = 0.9
    fig = P.correlation_matrix(corr)
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.collections[0].get_offsets(), [[1, 0], [0, 1]])
    with pytest.raises(ValueError, match="corr"):
        P.correlation_matrix(np.zeros((2, 3)))


def test_spectra_and_occlusion_figures():
    f = np.linspace(0, 1, 11)
    fig = P.spectra(f, {"precursor": f ** 2, "noise": f}, peaks=[0.16, 0.21], zero_line=True)
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), f ** 2)
    assert len(ax.lines) == 2 + 2 + 1
    with pytest.raises(ValueError, match="curves"):
        P.spectra(f, {"bad": f[:3]})
    pos = np.array([0, 400, 800])
    fig = P.occlusion_curves(pos, np.array([[0.9, 0.2, 0.8], [0.9, 0.9, 0.9]]), mask=400,
                             x=np.zeros((1200, 3)), fs=40.0, labels=["all", "ch0"])
    assert len(fig.axes) == 2
    np.testing.assert_allclose(fig.axes[0].lines[0].get_xdata(), (pos + 200) / 40.0)
    table = pd.DataFrame({"cutoff_hz": [20.0, 10.0], "accuracy": [0.9, 0.5], "loss": [0.2, 0.7]})
    fig = P.frequency_occlusion(table, knee=3.5)
    np.testing.assert_allclose(fig.axes[1].lines[0].get_ydata(), [0.2, 0.7])
    with pytest.raises(ValueError, match="missing columns"):
        P.frequency_occlusion(table.drop(columns="loss"))
