"""Tests of seis_keras.plots.norcia: each function returns a Figure drawing the numbers it was given."""
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from seis_keras.plots import norcia as plots


def _texts(ax):
    return [t.get_text() for t in ax.texts]


def test_confusion_matrices_show_row_percentages():
    cm = np.array([[8, 2], [1, 9]])
    fig = plots.confusion_matrices({"2 classes": (cm, ["pre", "post"]),
                                    "4 classes": (np.eye(4, dtype=int) * 5, ["a", "b", "c", "d"])})
    assert isinstance(fig, Figure)
    ax2, ax4 = fig.axes[:2]
    assert _texts(ax2) == ["80", "20", "10", "90"]
    assert len(_texts(ax4)) == 16 and _texts(ax4)[0] == "100"
    assert ax2.get_title() == "2 classes"


def test_wrong_dates_and_bandpass_plot_their_tables():
    table = pd.DataFrame({"date": ["2016-10-21", "2016-11-09"], "accuracy": [95.5, 93.4],
                          "interval_accuracy": [88.4, 37.2]})
    ax = plots.wrong_dates(table, true_accuracy=98.8).axes[0]
    ys = [list(line.get_ydata()) for line in ax.lines]
    assert [95.5, 93.4] in ys and [88.4, 37.2] in ys and [98.8, 98.8] in ys
    bands = pd.DataFrame({"band_low_hz": [0.0, 30.0], "band_high_hz": [3.0, 33.0], "accuracy": [55.0, 97.0],
                          "accuracy_std": [1.0, 0.5]})
    ax = plots.bandpass_accuracy(bands, raw_accuracy=99.0, band=(30, 40)).axes[0]
    x, y = ax.lines[0].get_data()
    np.testing.assert_allclose(np.asarray(x, float), [1.5, 31.5])
    np.testing.assert_allclose(np.asarray(y, float), [55.0, 97.0])


def test_pair_spectra_draw_the_geometric_mean_ratio():
    f = np.linspace(0, 50, 11)
    ratios = np.stack([np.full((11, 3), 2.0), np.full((11, 3), 8.0)])
    fig = plots.pair_spectra(f, np.ones((11, 3)), np.ones((11, 3)) * 2, ratios,
                             pre_trace=np.zeros((100, 3)), post_trace=np.ones((100, 3)), band=(30, 40))
    assert len(fig.axes) == 9
    mean_line = [line for line in fig.axes[6].lines if line.get_label().startswith("geometric mean")][0]
    np.testing.assert_allclose(mean_line.get_ydata(), 4.0)


def test_spectrogram_maps_use_hz_and_seconds():
    f, t = np.linspace(0, 50, 33), 0.32 + 0.16 * np.arange(153)
    fig = plots.spectrogram_maps({"m": np.outer(np.arange(33), np.ones(153)) - 16}, f, t, band=(30, 40))
    ax = fig.axes[0]
    left, right, bottom, top = ax.images[0].get_extent()
    assert left < 0.32 < right and right > 24.6 and bottom < 0 < 50 < top
    assert ax.get_xlabel() == "time (s)" and ax.get_ylabel() == "frequency (Hz)"
    assert ax.images[0].get_clim() == (-16.0, 16.0)
    spectra = plots.class_spectra(f, {"a": np.ones(33)}, band=(30, 40)).axes[0]
    assert spectra.get_xlabel() == "frequency (Hz)"
