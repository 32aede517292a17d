"""Frequency-relevance figures: the curves and maps drawn are the class means given, bad shapes rejected."""
import numpy as np
import pytest
from matplotlib.figure import Figure

from seis_keras.explain.frequency import band_share, energy_spectrum
from seis_keras.plots import frequency as P

RNG = np.random.default_rng(3)


def _batch(fs=100.0, t=200, n=6):
    tt = np.arange(t) / fs
    y = np.array([0, 1] * (n // 2))
    X = np.stack([np.sin(2 * np.pi * (35.0 if c else 5.0) * tt)[:, None] * [1.0, 0.5] for c in y])
    X = X + 0.05 * RNG.normal(size=X.shape)
    freqs = np.fft.rfftfreq(t, 1 / fs)
    R = RNG.normal(size=(n, len(freqs), 2)) * 0.01
    R[y == 1, 70] += 1.0  # class 1: relevance at 35 Hz
    return freqs, R, y, X, fs


def test_relevance_spectra_draws_class_means_and_band_shares(tmp_path):
    freqs, R, y, X, fs = _batch()
    fig = P.relevance_spectra(freqs, R, y, X=X, fs=fs, class_names=["pre", "post"], band=(30.0, 40.0))
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    rel, inp = fig.axes
    curve = R[y == 1].sum(axis=2).mean(axis=0)
    np.testing.assert_allclose(rel.lines[1].get_ydata(), curve / np.abs(curve).sum())
    np.testing.assert_allclose(rel.lines[1].get_xdata(), freqs)
    labels = [t.get_text() for t in rel.get_legend().get_texts()]
    assert labels[0].startswith("pre (in band") and labels[1].startswith("post (in band")
    share_post = float(labels[1].split()[-1].rstrip(")"))
    pos = np.clip(R[y == 1], 0, None)
    inside = (freqs >= 30.0) & (freqs <= 40.0)
    expected = (pos[:, inside].sum(axis=(1, 2)) / pos[:, 1:].sum(axis=(1, 2))).mean()
    assert abs(share_post - expected) <= 0.005 and expected > 0.7  # the planted 35 Hz relevance
    _, e = energy_spectrum(X[y == 0], fs)
    e0 = e.sum(axis=2).mean(axis=0)
    np.testing.assert_allclose(inp.lines[0].get_ydata(), e0 / e0.sum())
    assert inp.get_yscale() == "log"
    fig.savefig(tmp_path / "spectra.png")
    # the legend counts on the cells it is given: 1 Hz cells, components summed (the noise partly cancels)
    cells = dict(resolution_hz=1.0, sum_channels=True)
    pooled = P.relevance_spectra(freqs, R, y, X=X, fs=fs, class_names=["pre", "post"], band=(30.0, 40.0),
                                 share_settings=cells)
    text = [t.get_text() for t in pooled.axes[0].get_legend().get_texts()][1]
    expected_cells = np.nanmean(band_share(R[y == 1], freqs, (30.0, 40.0), **cells))
    assert float(text.split()[-1].rstrip(")")) == pytest.approx(expected_cells, abs=0.005)
    assert abs(expected_cells - expected) > 0.01  # a different count than each bin's
    one = P.relevance_spectra(freqs, R, y, normalise=False)
    assert len(one.axes) == 1
    np.testing.assert_allclose(one.axes[0].lines[0].get_ydata(), R[y == 0].sum(axis=2).mean(axis=0))


def test_time_frequency_figures_show_the_given_cells(tmp_path):
    times, freqs = np.arange(5) * 0.64 + 0.64, np.fft.rfftfreq(128, 0.01)
    R = RNG.normal(size=(4, 5, 65, 3))
    x = RNG.normal(size=(384, 3))
    fig = P.time_frequency_map(times, freqs, R[0], x=x, fs=100.0, band=(30.0, 40.0))
    mesh = fig.axes[1].collections[0]
    np.testing.assert_allclose(np.asarray(mesh.get_array()).reshape(65, 5), R[0].sum(axis=2).T)
    lo, hi = mesh.get_clim()
    assert lo == -hi == -np.abs(R[0].sum(axis=2)).max()
    np.testing.assert_allclose(fig.axes[0].lines[2].get_ydata(), x[:, 2])
    fig.savefig(tmp_path / "tf.png")
    y = np.array([0, 1, 1, 0])
    fig = P.class_time_frequency_maps(times, freqs, R, y, class_names=["a", "b"])
    meshes = [a.collections[0] for a in fig.axes if a.collections]
    np.testing.assert_allclose(np.asarray(meshes[1].get_array()).reshape(65, 5),
                               R[[1, 2]].sum(axis=3).mean(axis=0).T)
    assert meshes[0].get_clim() == meshes[1].get_clim()
    assert fig.axes[1].get_title() == "b (n=2)"
    fig.savefig(tmp_path / "classes.png")


@pytest.mark.parametrize("call, match", [
    (lambda f, R, y, X: P.relevance_spectra(f[:-1], R, y), "relevance"),
    (lambda f, R, y, X: P.relevance_spectra(f, R, y[:-1]), "labels"),
    (lambda f, R, y, X: P.relevance_spectra(f, R, y, X=X), "fs"),
    (lambda f, R, y, X: P.relevance_spectra(f, R, y.astype(float)), "integer"),
    (lambda f, R, y, X: P.time_frequency_map(np.arange(3), f, R[0]), "windows"),
    (lambda f, R, y, X: P.class_time_frequency_maps(np.arange(3), f, R, y), r"\(N, M, F, C\)"),
])
def test_bad_shapes_are_refused(call, match):
    freqs, R, y, X, _ = _batch()
    with pytest.raises(ValueError, match=match):
        call(freqs, R, y, X)
