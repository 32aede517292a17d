"""Occlusion: ignored regions leave the score unchanged; the frequency knee sits at the band."""
import numpy as np
import pytest
from scipy import signal
from tensorflow import keras

from seis_keras.explain.occlusion import occlude_band, occlude_frequency, occlude_time, occlusion_positions


def _first_samples_model(n_read=20):
    """Logits from the first ``n_read`` samples of channels 0 and 1 only."""
    keras.utils.set_random_seed(0)
    inp = keras.Input((60, 3))
    h = keras.layers.Lambda(lambda x: x[:, :n_read, :2])(inp)
    h = keras.layers.Flatten()(h)
    return keras.Model(inp, keras.layers.Dense(1, name="logits")(h))


def test_positions_cover_the_window():
    np.testing.assert_array_equal(occlusion_positions(16384, 400, 400)[-2:], [15600, 16000])
    assert len(occlusion_positions(16384, 400, 400)) == 41


def test_time_occlusion_of_ignored_region_leaves_score_unchanged():
    model = _first_samples_model()
    X = np.random.default_rng(0).normal(size=(3, 60, 3)).astype(np.float32)
    scores, pos = occlude_time(model, X, mask=10, stride=10, batch_size=7)
    np.testing.assert_array_equal(pos, [0, 10, 20, 30, 40, 50])
    z = model(X).numpy()[:, 0]
    p = 1 / (1 + np.exp(-np.abs(z)))              # predicted-class probability, unoccluded
    np.testing.assert_allclose(scores[:, 2:], np.repeat(p[:, None], 4, axis=1), rtol=1e-6)
    assert np.all(np.abs(scores[:, :2] - p[:, None]) > 1e-6)
    # explicit check of one position against a hand-made occluded copy
    Xo = X.copy()
    Xo[:, 10:20, :] = 0.0
    t = (z > 0).astype(float)
    zo = model(Xo).numpy()[:, 0]
    np.testing.assert_allclose(scores[:, 1], 1 / (1 + np.exp(-(2 * t - 1) * zo)), rtol=1e-6)


def test_each_channel_and_logit_score():
    model = _first_samples_model()
    X = np.random.default_rng(1).normal(size=(2, 60, 3)).astype(np.float32)
    scores, pos = occlude_time(model, X, mask=20, stride=20, channels="each", score="logit", class_index=1, fill=5.0)
    assert scores.shape == (2, 3, 3)
    z = model(X).numpy()[:, 0]
    np.testing.assert_allclose(scores[:, 2, :], np.repeat(z[:, None], 3, axis=1), rtol=1e-6)  # channel 2 unused
    np.testing.assert_allclose(scores[:, :2, 1:], np.repeat(z[:, None, None], 2, axis=2).repeat(2, 1), rtol=1e-6)
    assert np.all(np.abs(scores[:, :2, 0] - z[:, None]) > 1e-6)
    with pytest.raises(ValueError, match="channels"):
        occlude_time(model, X, channels="some")


def _band_power_model(fs=40.0, n=400):
    """Logit = a * (power after a fixed 4–6 Hz FIR band-pass) - b: it detects a 5 Hz tone."""
    taps = signal.firwin(81, [4.0, 6.0], pass_zero=False, fs=fs).astype(np.float32)
    inp = keras.Input((n, 1))
    conv = keras.layers.Conv1D(1, 81, use_bias=False, name="conv1")
    h = conv(inp)
    conv.set_weights([taps[::-1].reshape(81, 1, 1)])
    h = keras.layers.Lambda(lambda v: v ** 2)(h)
    h = keras.layers.GlobalAveragePooling1D()(h)
    dense = keras.layers.Dense(1, name="logits")
    out = dense(h)
    dense.set_weights([np.array([[40.0]], np.float32), np.array([-4.0], np.float32)])  # threshold power 0.1
    return keras.Model(inp, out)


def _tone_data(fs=40.0, n=400, n_each=20, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fs
    noise = 0.3 * rng.normal(size=(2 * n_each, n))
    X = noise.copy()
    X[n_each:] += np.sin(2 * np.pi * 5.0 * t + rng.uniform(0, 2 * np.pi, size=(n_each, 1)))
    y = np.r_[np.zeros(n_each), np.ones(n_each)].astype(int)
    return X[..., None].astype(np.float32), y


def test_frequency_occlusion_shows_knee_at_the_band():
    model = _band_power_model()
    X, y = _tone_data()
    table = occlude_frequency(model, X, y, fs=40.0, cutoffs=np.arange(20, 0.5, -1.0))
    assert list(table.columns) == ["cutoff_hz", "accuracy", "loss"]
    assert table.loc[0, "cutoff_hz"] == 20.0 and table.loc[0, "accuracy"] == 1.0   # >= Nyquist: unfiltered
    hi = table[table.cutoff_hz >= 7].accuracy
    lo = table[table.cutoff_hz <= 3].accuracy
    assert hi.min() >= 0.95 and lo.max() <= 0.6
    assert table[table.cutoff_hz <= 3].loss.min() > table[table.cutoff_hz >= 7].loss.max()
    hp = occlude_frequency(model, X, y, fs=40.0, cutoffs=[2.0, 9.0], kind="highpass", order=4)
    assert hp.accuracy.tolist()[0] >= 0.95 and hp.accuracy.tolist()[1] <= 0.6


def test_band_occlusion_keeps_only_the_band():
    model = _band_power_model()
    X, y = _tone_data(seed=1)
    table = occlude_band(model, X, y, fs=40.0, bands=[(3.0, 7.0), (10.0, 13.0), (0.0, 3.0), (0.0, 20.0)])
    assert table.accuracy.tolist()[0] >= 0.95
    assert table.accuracy.tolist()[1] <= 0.6 and table.accuracy.tolist()[2] <= 0.6
    assert table.accuracy.tolist()[3] == 1.0
    with pytest.raises(ValueError, match="bands"):
        occlude_band(model, X, y, fs=40.0, bands=[(5.0, 3.0)])


def test_real_precursor_model_time_occlusion_is_deterministic():
    from seis_keras.models import get_model
    keras.utils.set_random_seed(0)
    model = get_model("precursor", input_length=1200)   # random input layer: identity at inference
    X = np.random.default_rng(0).normal(size=(1, 1200, 3)).astype(np.float32)
    a, pos = occlude_time(model, X, mask=400, stride=400, channels="each")
    b, _ = occlude_time(model, X, mask=400, stride=400, channels="each")
    assert a.shape == (1, 3, 3)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(pos, [0, 400, 800])


def test_occlusion_map_of_a_linear_model_is_the_mean_drop_of_the_covering_masks():
    """logit = sum of channel 0 over samples 20..34 - 1: zeroing a mask drops it by the masked part of that sum."""
    from seis_keras.explain.methods import explain
    from seis_keras.explain.occlusion import occlusion_map

    T, C, lo, hi, mask, stride = 60, 2, 20, 35, 8, 5
    inp = keras.Input((T, C))
    dense = keras.layers.Dense(1)
    model = keras.Model(inp, dense(keras.layers.Flatten()(inp)))
    w = np.zeros((T, C), np.float32)
    w[lo:hi, 0] = 1.0
    dense.set_weights([w.reshape(-1, 1), np.array([-1.0], np.float32)])
    X = np.random.default_rng(0).normal(size=(5, T, C)).astype(np.float32)

    R = occlusion_map(model, X, mask=mask, stride=stride, class_index=1, score="logit")
    expected = np.zeros((len(X), T))
    for i in range(len(X)):            # independent loop: every position p covering t
        for t in range(T):
            drops = [(X[i, p:p + mask, 0] * w[p:p + mask, 0]).sum() for p in range(0, T, stride) if p <= t < p + mask]
            expected[i, t] = np.mean(drops)
    np.testing.assert_allclose(R[..., 0], expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(R[..., 0], R[..., 1])              # one value per time step, all channels
    assert np.all(R[:, : lo - mask + 1] == 0) and np.all(R[:, hi + stride:] == 0)  # masks outside the read window
    # class 0 of a 1-unit model explains -z: the map flips; the method text gives the same map
    np.testing.assert_allclose(occlusion_map(model, X, mask=mask, stride=stride, class_index=0, score="logit"), -R,
                               atol=1e-6)
    np.testing.assert_array_equal(explain(model, X, f"occlusion(mask={mask}, stride={stride}, score=logit)",
                                          class_index=1), R)
