"""Feature maps: one sub-model, pre-activation outputs; correlations vs np.corrcoef."""
import numpy as np
import pytest
from tensorflow import keras

from seis_keras.explain.feature_maps import (channel_correlations, conv_layer_names, cross_run_matching,
                                             feature_maps, fraction_correlated_channels)


def _model(seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((64, 3))
    h = inp
    for i in range(3):
        h = keras.layers.ZeroPadding1D(1)(h)
        h = keras.layers.Conv1D(6, 3, strides=2, name=f"conv{i + 1}")(h)
        h = keras.layers.Activation("relu")(h)
    h = keras.layers.Flatten()(h)
    return keras.Model(inp, keras.layers.Dense(1, name="logits")(h))


def test_feature_maps_are_pre_activation_conv_outputs():
    model = _model()
    X = np.random.default_rng(0).normal(size=(5, 64, 3)).astype(np.float32)
    assert conv_layer_names(model) == ["conv1", "conv2", "conv3"]
    maps = feature_maps(model, X, batch_size=2)
    assert [m.shape for m in maps.values()] == [(5, 32, 6), (5, 16, 6), (5, 8, 6)]
    # conv1 by hand: zero-pad 1, valid conv stride 2, no activation
    w, b = model.get_layer("conv1").get_weights()
    xp = np.pad(X, ((0, 0), (1, 1), (0, 0)))
    ref = np.stack([np.einsum("nkc,kcf->nf", xp[:, 2 * t:2 * t + 3], w) for t in range(32)], axis=1) + b
    np.testing.assert_allclose(maps["conv1"], ref, rtol=1e-4, atol=1e-5)
    assert maps["conv1"].min() < 0  # pre-activation keeps negative values
    one = feature_maps(model, X, layers=["conv2"])
    np.testing.assert_allclose(one["conv2"], maps["conv2"], rtol=1e-6)
    with pytest.raises(ValueError, match="not in model"):
        feature_maps(model, X, layers=["conv9"])


def test_channel_correlations_match_corrcoef():
    rng = np.random.default_rng(1)
    f = rng.normal(size=(3, 50, 5))
    f[:, :, 4] = 2.0 * f[:, :, 0] + 0.01 * rng.normal(size=(3, 50))
    r = channel_correlations(f)
    for n in range(3):
        np.testing.assert_allclose(r[n], np.corrcoef(f[n].T), atol=1e-12)
    frac = fraction_correlated_channels(r, 0.8)
    np.testing.assert_allclose(frac, 2 / 5)  # channels 0 and 4 have a partner
    f[:, :, 3] = -f[:, :, 1]
    r = channel_correlations(f)
    np.testing.assert_allclose(fraction_correlated_channels(r, 0.8), 2 / 5)
    np.testing.assert_allclose(fraction_correlated_channels(r, 0.8, absolute=True), 4 / 5)
    f[:, :, 2] = 1.0  # constant channel: r = 0 with others
    r = channel_correlations(f)
    assert np.all(r[:, 2, [0, 1, 3, 4]] == 0) and np.all(r[:, 2, 2] == 1)


def test_2d_feature_map_correlations_flatten_positions():
    f = np.random.default_rng(2).normal(size=(2, 4, 6, 3))
    np.testing.assert_allclose(channel_correlations(f)[1], np.corrcoef(f[1].reshape(-1, 3).T), atol=1e-12)


def test_cross_run_matching_self_and_permuted():
    model = _model()
    X = np.random.default_rng(3).normal(size=(4, 64, 3)).astype(np.float32)
    m = feature_maps(model, X)["conv2"]
    best, which, frac = cross_run_matching(m, m)
    np.testing.assert_allclose(best, 1.0, atol=1e-9)
    np.testing.assert_array_equal(frac, 1.0)
    perm = np.array([3, 0, 5, 1, 4, 2])
    best, which, frac = cross_run_matching(m, m[..., perm])
    np.testing.assert_array_equal(which, np.tile(np.argsort(perm), (4, 1)))
    other = feature_maps(_model(seed=7), X)["conv2"]
    best, _, _ = cross_run_matching(m, other)
    ref = np.array([[max(np.corrcoef(m[0, :, i], other[0, :, j])[0, 1] for j in range(6)) for i in range(6)]])
    np.testing.assert_allclose(best[:1], ref, atol=1e-9)


def test_real_detector_feature_maps_have_paper_lengths():
    from seis_keras.models import DETECTOR_CONV_LENGTHS, get_model
    keras.utils.set_random_seed(0)
    det = get_model("detector")
    X = np.random.default_rng(0).normal(size=(2, 500, 3)).astype(np.float32)
    maps = feature_maps(det, X)
    assert list(maps) == [f"conv{i}" for i in range(1, 8)]
    assert [m.shape[1] for m in maps.values()] == list(DETECTOR_CONV_LENGTHS)
    assert all(m.shape[2] == 32 for m in maps.values())
    best, _, frac = cross_run_matching(maps["conv5"], maps["conv5"])
    live = maps["conv5"].std(axis=1) > 0
    np.testing.assert_allclose(best[live], 1.0, atol=1e-9)


def test_feature_maps_of_a_saved_model_path(tmp_path):
    model = _model(seed=2)
    model.save(tmp_path / "model.h5")
    X = np.random.default_rng(5).normal(size=(2, 64, 3)).astype(np.float32)
    maps = feature_maps(str(tmp_path / "model.h5"), X)
    for name, m in feature_maps(model, X).items():
        np.testing.assert_allclose(maps[name], m, rtol=1e-6, atol=1e-7)
