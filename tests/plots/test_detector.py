"""Figures of the detector study (seis_keras.plots.detector) against the data they are drawn from."""
import numpy as np

from seis_keras.explain.optimal_input import log_amplitude_ratio
from seis_keras.plots.detector import real_init_ratio


def test_real_init_ratio_zoom_and_frequency_panel():
    fs = 20.0
    t = np.arange(500) / fs
    rng = np.random.default_rng(0)
    x_in = np.stack([np.where(t > 15, np.sin(2 * np.pi * 3 * t), 0.01 * rng.standard_normal(500))] * 3, axis=1)
    x_in = (x_in - x_in.mean(axis=0)).astype(np.float32)
    x_out = x_in + 0.005 * rng.standard_normal(x_in.shape).astype(np.float32)
    f, ratio_f = log_amplitude_ratio(x_in, x_out, domain="frequency", fs=fs)
    ratio_t = log_amplitude_ratio(x_in, x_out, domain="time")
    fig = real_init_ratio(x_in, x_out, ratio_t, f, ratio_f, fs)
    ax_zoom, ax_f = fig.axes[1], fig.axes[3]
    # the zoom's y range follows the 2.5-7.5 s samples (small noise), not the later unit-amplitude signal
    z = (t >= 2.5) & (t <= 7.5)
    lo, hi = ax_zoom.get_ylim()
    assert hi - lo < 0.2 and lo <= min(x_in[z, 2].min(), x_out[z, 2].min()) and hi >= max(x_in[z, 2].max(),
                                                                                         x_out[z, 2].max())
    # the frequency panel leaves out the 0 Hz bin (demeaned windows: ~0 / ~0) and draws every other bin
    line = ax_f.get_lines()[0]
    np.testing.assert_array_equal(line.get_xdata(), f[f > 0])
    np.testing.assert_allclose(line.get_ydata(), ratio_f[f > 0, 2])
