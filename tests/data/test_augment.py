"""Tests of seis_keras.data.augment and its use in make_dataset(augment=...): seeded, labels intact,
each augmentation's effect measured, applied to raw windows before the transforms."""
from __future__ import annotations

import numpy as np
import pytest

from seis_keras.data.augment import (DEFAULTS, DETECTOR_BUILT_IN, ORDER, Augmentations, ChannelDropout, Gain, Gaps,
                                     Glitches, NoiseMix, TimeShift, one_spike, window_peak)

ALL = {name: True for name in ORDER}


def _batch(n=64, t=500, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((n, t, 3)) * rng.uniform(1, 100, (n, 1, 3)) + rng.uniform(-500, 500, (n, 1, 3)))
    y = (np.arange(n) % 2).astype(np.int32)  # alternate earthquake / noise
    x[y == 1, 200:260] += 50 * rng.standard_normal((int(y.sum()), 60, 3))  # a burst of "signal"
    return x.astype(np.float32), y


def test_seeded_copy_and_labels_untouched():
    x, y = _batch()
    x0, y0 = x.copy(), y.copy()
    aug = Augmentations(ALL)
    a = aug(x, y, np.random.default_rng(1))
    b = aug(x, y, np.random.default_rng(1))
    c = aug(x, y, np.random.default_rng(2))
    assert a.tobytes() == b.tobytes() and a.tobytes() != c.tobytes()
    assert np.array_equal(x, x0) and np.array_equal(y, y0)  # inputs never changed
    assert a.dtype == np.float32 and a.shape == x.shape
    off = Augmentations({**ALL, "enabled": False})
    assert not off and np.array_equal(off(x, y, np.random.default_rng(1)), x)


def test_settings_dict_validation_and_defaults():
    assert set(DEFAULTS) == set(ORDER) == {"time_shift", "noise_mix", "gain", "gaps", "glitches", "channel_dropout"}
    assert DEFAULTS["glitches"]["classes"] == (0,) and DEFAULTS["time_shift"]["max_shift"] == 100
    aug = Augmentations({"channel_dropout": {"probability": 0.2}, "time_shift": {"max_shift": 20}, "gain": False,
                         "glitches": {"amplitude": [2.0, 5.0]}})
    assert [name for name, _ in aug.steps] == ["time_shift", "glitches", "channel_dropout"]  # ORDER, gain off
    assert aug.steps[1][1].amplitude == (2.0, 5.0)  # TOML arrays become tuples
    with pytest.raises(ValueError, match="unknown augmentation 'jitter'"):
        Augmentations({"jitter": True})
    with pytest.raises(ValueError, match=r"augment.gain: unknown setting\(s\) \['gain_db'\]"):
        Augmentations({"gain": {"gain_db": 3}})
    with pytest.raises(ValueError, match="augment.gaps.probability=1.5"):
        Augmentations({"gaps": {"probability": 1.5}})
    with pytest.raises(ValueError, match="time_shift.mode"):
        Augmentations({"time_shift": {"mode": "wrap"}})
    with pytest.raises(ValueError, match="needs labels"):
        Augmentations({"glitches": True})(*_batch()[:1], None, np.random.default_rng(0))
    assert not Augmentations(None) and not Augmentations({})
    chosen = Augmentations(DETECTOR_BUILT_IN)
    assert [name for name, _ in chosen.steps] == ["gain", "gaps", "glitches", "channel_dropout"]
    assert chosen.steps[2][1].probability == 0.1 and chosen.steps[2][1].classes == (0,)


def test_time_shift_moves_windows_and_fills_by_reflection():
    x, y = _batch(16)
    out = TimeShift(probability=1.0, max_shift=50)(x.copy(), y, np.random.default_rng(3))
    shifts = []
    for i in range(len(x)):
        for k in range(-50, 51):
            if k > 0 and np.array_equal(out[i, k:], x[i, :-k]):
                assert np.array_equal(out[i, :k], x[i, :k][::-1])
                break
            if k < 0 and np.array_equal(out[i, :k], x[i, -k:]):
                assert np.array_equal(out[i, k:], x[i, k:][::-1])
                break
            if k == 0 and np.array_equal(out[i], x[i]):
                break
        else:
            raise AssertionError(f"window {i} is not a shifted copy")
        shifts.append(k)
    assert len(set(shifts)) > 5
    rolled = TimeShift(probability=1.0, max_shift=50, mode="roll")(x.copy(), y, np.random.default_rng(3))
    assert all(any(np.array_equal(rolled[i], np.roll(x[i], k, axis=0)) for k in range(-50, 51)) for i in range(16))


def test_gain_scales_each_component_within_its_range():
    x, y = _batch(200)
    out = Gain(probability=0.5, range_db=(-6.0, 6.0))(x.copy(), y, np.random.default_rng(4))
    ratio = out[:, 10, :] / x[:, 10, :]
    assert np.allclose(out, x * ratio[:, None, :], rtol=1e-5, atol=1e-3)
    db = 20 * np.log10(ratio)
    assert (np.abs(db) <= 6.0 + 1e-4).all()
    changed = ~np.isclose(db, 0.0, atol=1e-6).all(axis=1)
    assert 0.4 < changed.mean() < 0.6  # probability 0.5
    assert np.median(np.ptp(db[changed], axis=1)) > 2.0  # per component, not one gain per window


def test_noise_mix_adds_a_batch_noise_window_at_the_drawn_snr():
    x, y = _batch(60)
    aug = NoiseMix(probability=1.0, snr_range=(2.0, 10.0))
    out = aug(x.copy(), y, np.random.default_rng(5))
    noise_rows = np.flatnonzero(y == 0)
    for i in range(len(x)):
        added = out[i].astype(float) - x[i]
        base = x[i] - x[i].mean(axis=0)
        snr = np.sqrt((base ** 2).mean() / (added ** 2).mean())
        assert 2.0 - 1e-3 <= snr <= 10.0 + 1e-3
        # the added noise is a demeaned, circularly shifted copy of another noise window of the batch
        # (circular cross-correlation by FFT over all lags)
        best = 0.0
        fa = np.fft.rfft(added, axis=0)
        for j in noise_rows[noise_rows != i]:
            src = x[j] - x[j].mean(axis=0)
            cc = np.fft.irfft(fa * np.conj(np.fft.rfft(src, axis=0)), n=500, axis=0).sum(axis=1)
            best = max(best, cc.max() / np.sqrt((added ** 2).sum() * (src ** 2).sum()))
        assert best > 0.999, i
    # without any noise window in the batch: white noise, still at the drawn SNR
    eq_only = aug(x[y == 1].copy(), y[y == 1], np.random.default_rng(6))
    added = eq_only - x[y == 1]
    assert (np.abs(np.corrcoef(added[0, :-1, 0], added[0, 1:, 0])[0, 1]) < 0.2)


def test_glitches_only_in_noise_windows_and_as_tall_as_drawn():
    x, y = _batch(400)
    out = Glitches(probability=0.5, kinds=("spike",), max_count=1, amplitude=(8.0, 8.0), max_spike_width=1,
                   all_components_fraction=0.0)(x.copy(), y, np.random.default_rng(7))
    diff = out - x
    changed = (diff != 0).any(axis=(1, 2))
    assert not changed[y == 1].any()  # earthquake windows untouched
    assert 0.4 < changed[y == 0].mean() < 0.6
    peak = window_peak(x)
    for i in np.flatnonzero(changed):
        nz = np.argwhere(diff[i] != 0)
        assert len(nz) == 1  # one sample, one component
        assert abs(abs(diff[i][tuple(nz[0])]) - 8.0 * peak[i]) < 1e-3 * peak[i]
    both = Glitches(probability=1.0, classes=None)(x.copy(), y, np.random.default_rng(7))
    assert ((both - x) != 0).any(axis=(1, 2))[y == 1].all()
    with pytest.raises(ValueError, match="glitches.kinds"):
        Glitches(kinds=("pulse",))


def test_gaps_and_channel_dropout_write_zeros():
    x, y = _batch(300)
    g = Gaps(probability=1.0, length=(20, 40))(x.copy(), y, np.random.default_rng(8))
    zeros = (g == 0)
    run = zeros.any(axis=2).sum(axis=1)
    assert ((run >= 20) & (run <= 40)).all()
    edge = zeros[:, 0].any(axis=1) | zeros[:, -1].any(axis=1)
    assert 0.35 < edge.mean() < 0.65  # edge_fraction 0.5
    d = ChannelDropout(probability=0.5, max_channels=2)(x.copy(), y, np.random.default_rng(9))
    dead = (d == 0).all(axis=1).sum(axis=1)
    assert set(np.unique(dead)) == {0, 1, 2} and 0.4 < (dead > 0).mean() < 0.6
    live = dead == 0
    assert np.array_equal(d[live], x[live])


def test_one_spike():
    x, _ = _batch(50)
    s = one_spike(x, factor=8.0, seed=3)
    assert np.array_equal(s, one_spike(x, factor=8.0, seed=3)) and not np.array_equal(s, one_spike(x, seed=4))
    diff = s - x
    assert ((diff != 0).sum(axis=(1, 2)) == 1).all()
    np.testing.assert_allclose(diff.max(axis=(1, 2)), 8.0 * window_peak(x), rtol=1e-4)


# ----------------------------------------------------------------------------- in the tf.data pipeline


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from seis_keras.data.store import write_store
    import pandas as pd

    x, y = _batch(300, seed=11)
    path = tmp_path_factory.mktemp("aug") / "store"
    write_store(path, x, pd.DataFrame({"trace_name": [f"w{i}" for i in range(len(x))], "label": y,
                                       "row": np.arange(len(x))}), sampling_rate=20.0, component_order="ENZ")
    return path, x, y


def _collect(path, **kw):
    from seis_keras.data.pipeline import make_dataset

    ds = make_dataset(path, batch_size=32, metadata_columns=("row",), **kw)
    return [tuple(np.asarray(t) if not isinstance(t, dict) else np.asarray(t["row"]) for t in b) for b in ds]


def test_pipeline_augments_raw_windows_before_the_transforms(store):
    from seis_keras.data.transforms import Demean, MaxNormalize

    path, x, y = store
    aug = {"glitches": {"probability": 1.0, "amplitude": (50.0, 50.0), "kinds": ["spike"], "max_count": 1,
                        "max_spike_width": 1, "all_components_fraction": 0.0}}
    plain = _collect(path)
    out = _collect(path, augment=aug, transforms=[Demean(), MaxNormalize()])
    xs = np.concatenate([b[0] for b in out])
    ys = np.concatenate([b[1] for b in out])
    rows = np.concatenate([b[2] for b in out])
    assert np.array_equal(ys, y[rows]) and np.array_equal(rows, np.concatenate([b[2] for b in plain]))
    np.testing.assert_allclose(np.abs(xs).max(axis=(1, 2)), 1.0, rtol=1e-6)  # normalised after the spikes
    # in every noise window, the normalised spike makes the rest of the window 1/50 or smaller
    second = np.sort(np.abs(xs).reshape(len(xs), -1), axis=1)[:, -2]
    assert (second[ys == 0] < 0.05).all() and np.median(second[ys == 1]) > 0.3


def test_pipeline_augmentation_is_seeded_per_epoch_with_shuffle_and_labels(store):
    from seis_keras.data.pipeline import make_dataset

    path, x, y = store
    kw = dict(augment=ALL, shuffle=True, batch_size=32, metadata_columns=("row",))

    def epochs(seed, n=2):
        ds = make_dataset(path, seed=seed, **kw)
        return [[(a.numpy(), b.numpy(), m["row"].numpy()) for a, b, m in ds] for _ in range(n)]

    e1, e2, e3 = epochs(5), epochs(5), epochs(6)
    for ep_a, ep_b in zip(e1, e2):  # same seed: the same bytes, epoch after epoch
        assert all(a[0].tobytes() == b[0].tobytes() and np.array_equal(a[2], b[2]) for a, b in zip(ep_a, ep_b))
    first = np.concatenate([b[0] for b in e1[0]])
    assert first.tobytes() != np.concatenate([b[0] for b in e3[0]]).tobytes()
    # a new epoch draws new augmentations: compare each window with itself across epochs
    by_row = [dict(zip(np.concatenate([b[2] for b in ep]), np.concatenate([b[0] for b in ep]))) for ep in e1]
    assert sum(not np.array_equal(by_row[0][r], by_row[1][r]) for r in range(len(x))) > 0.5 * len(x)
    for ep in e1:  # labels always those of the windows' rows
        assert all(np.array_equal(b[1], y[b[2]]) for b in ep)
    # without shuffling: also new draws per epoch, the same for the same seed
    ds = make_dataset(path, augment=ALL, batch_size=32, seed=1)
    a1, a2 = [np.concatenate([b[0].numpy() for b in ds]) for _ in range(2)]
    b1 = np.concatenate([b[0].numpy() for b in make_dataset(path, augment=ALL, batch_size=32, seed=1)])
    assert a1.tobytes() == b1.tobytes() and a1.tobytes() != a2.tobytes()
