"""Tests of seis_keras.models.layers: the random input layer and its kernel re-draw callback."""
import numpy as np
import pytest
import tensorflow as tf
from tensorflow import keras

from seis_keras.models.layers import (RandomInputLayer, RedrawRandomKernel, clean_batch_norm_statistics,
                                      random_input_layers)


def _batch(n=4, t=512, c=3, seed=0):
    rng = np.random.default_rng(seed)
    scales = np.array([0.5, 1.0, 3.0, 20.0])[:n, None, None]
    return (rng.standard_normal((n, t, c)) * scales).astype("float32")


def _tiny_model(seed=3, mode="input"):
    inputs = keras.Input((64, 2), name="waveform")
    x = RandomInputLayer(0.25, kernel_size=5, seed=seed, mode=mode, name="random_input")(inputs)
    x = keras.layers.Conv1D(4, 3, name="conv1")(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model(inputs, keras.layers.Dense(1, name="logits")(x))


def test_identity_at_inference():
    x = _batch()
    layer = RandomInputLayer(0.25, kernel_size=8, seed=1)
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x)
    np.testing.assert_array_equal(layer(x).numpy(), x)
    model = _tiny_model()
    np.testing.assert_allclose(model.predict(np.ones((2, 64, 2), "float32"), verbose=0),
                               model(np.ones((2, 64, 2), "float32"), training=False).numpy(),
                               atol=1e-6)


@pytest.mark.parametrize("fraction,mode", [(0.2, "input"), (0.3, "input"), (0.25, "noise")])
def test_noise_rms_is_the_fraction_of_each_sample_rms(fraction, mode):
    x = _batch()
    layer = RandomInputLayer(fraction, kernel_size=8, seed=2, mode=mode)
    y = layer(x, training=True).numpy()
    noise = y - x
    ratio = np.sqrt((noise ** 2).mean(axis=(1, 2))) / np.sqrt((x ** 2).mean(axis=(1, 2)))
    np.testing.assert_allclose(ratio, fraction, rtol=1e-3)
    assert np.abs(noise).max() > 0
    # white noise: different calls get different noise; the input reading is fixed by input and kernel
    again = layer(x, training=True).numpy() - x
    assert np.allclose(again, noise, rtol=1e-5, atol=1e-6) == (mode == "input")


def test_the_default_reading_convolves_the_input_with_the_kernel():
    """Lee et al.'s random layer (Ong et al. §3): x + a (kernel * x), a setting the RMS to the fraction;
    checked against a numpy correlation with TensorFlow's "same" padding ((k-1)//2 zeros on the left)."""
    layer = RandomInputLayer(0.25, kernel_size=6, seed=4)
    assert layer.mode == "input" and RandomInputLayer.from_config(layer.get_config()).mode == "input"
    x = _batch(n=3, t=300, c=2, seed=5)
    y = layer(x, training=True).numpy()
    k = layer.kernel.numpy().astype(np.float64)
    padded = np.pad(x.astype(np.float64), ((0, 0), ((6 - 1) // 2, 6 // 2), (0, 0)))
    conv = np.stack([np.einsum("ntc,t->nc", padded[:, t:t + 6], k) for t in range(300)], axis=1)
    a = 0.25 * np.sqrt((x.astype(np.float64) ** 2).mean(axis=(1, 2))) / np.sqrt((conv ** 2).mean(axis=(1, 2)))
    np.testing.assert_allclose(y, x + a[:, None, None] * conv, rtol=1e-4, atol=1e-5)
    # a pure tone stays a pure tone (the white-noise reading would spread power over every frequency)
    tone = np.sin(2 * np.pi * 0.18 * np.arange(4096) / 40.0)[None, :, None].astype("float32")
    added = (layer(tone, training=True).numpy() - tone)[0, 200:-200, 0]
    power = np.abs(np.fft.rfft(added * np.hanning(len(added)))) ** 2
    f = np.fft.rfftfreq(len(added), 1 / 40.0)
    assert power[np.abs(f - 0.18) < 0.05].sum() > 0.99 * power.sum()
    with pytest.raises(ValueError, match="mode='white'"):
        RandomInputLayer(mode="white")


def test_kernel_gain_in_the_precursor_band_is_a_wide_random_draw():
    """The 16-tap kernel does reach 0.16-0.21 Hz: its power gain there (mean over the band, relative to its
    mean gain over all frequencies, = 1 for a unit-norm kernel) is about the squared tap sum, chi-square like."""
    layer = RandomInputLayer(kernel_size=16, seed=0)
    kernels = np.stack([layer._draw_kernel(d) for d in range(20000)]).astype(np.float64)
    np.testing.assert_allclose(np.linalg.norm(kernels, axis=1), 1.0, rtol=1e-5)
    f = np.linspace(0.16, 0.21, 11)
    response = kernels @ np.exp(-2j * np.pi * np.outer(np.arange(16), f) / 40.0)
    gain = (np.abs(response) ** 2).mean(axis=1)
    full = np.abs(np.fft.fft(kernels[:100], n=4096, axis=1)) ** 2  # mean over all frequencies = 1 (Parseval)
    np.testing.assert_allclose(full.mean(axis=1), 1.0, rtol=1e-5)
    q10, median, q90 = np.quantile(gain, [0.1, 0.5, 0.9])
    assert 0.45 < median < 0.57, median  # measured 0.51
    assert 0.025 < q10 < 0.055 and 2.4 < q90 < 3.0, (q10, q90)  # measured 0.04, 2.7


def test_noise_is_white_noise_convolved_with_the_kernel():
    """mode="noise": the noise is coloured by the kernel: its spectrum follows |FFT(kernel)|^2."""
    layer = RandomInputLayer(1.0, kernel_size=4, seed=0, mode="noise")
    layer.build((None, 4096, 1))
    layer.kernel.assign(np.array([1.0, 1.0, 1.0, 1.0], "float32") / 2)  # a low-pass kernel
    x = np.ones((8, 4096, 1), "float32")
    noise = layer(x, training=True).numpy()[..., 0] - 1.0
    power = (np.abs(np.fft.rfft(noise, axis=1)) ** 2).mean(axis=0)
    low, high = power[: len(power) // 8].mean(), power[-len(power) // 8:].mean()
    assert low > 20 * high  # a 4-point box filter strongly attenuates near Nyquist


def test_kernel_is_redrawn_each_epoch_by_the_callback():
    model = _tiny_model()
    model.compile("adam", keras.losses.BinaryCrossentropy(from_logits=True))
    layer = random_input_layers(model)[0]
    kernels = []

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            kernels.append(layer.kernel.numpy().copy())

    start = layer.kernel.numpy().copy()
    x = np.random.default_rng(0).standard_normal((8, 64, 2)).astype("float32")
    y = (x[:, :, 0].mean(axis=1) > 0).astype("float32")
    model.fit(x, y, epochs=2, batch_size=4, verbose=0, callbacks=[RedrawRandomKernel(), Record()])
    assert len(kernels) == 2
    assert not np.allclose(kernels[0], start)
    assert not np.allclose(kernels[1], kernels[0])
    np.testing.assert_allclose(np.linalg.norm(kernels[1]), 1.0, rtol=1e-5)
    # same seed and epoch -> same kernel (a resumed run sees the kernels of an uninterrupted one)
    other = _tiny_model()
    random_input_layers(other)[0].redraw(1)
    np.testing.assert_array_equal(random_input_layers(other)[0].kernel.numpy(), kernels[1])


def test_finds_layers_in_nested_models():
    inner = _tiny_model()
    outer = keras.Sequential([inner])
    assert random_input_layers(outer) == [inner.get_layer("random_input")]


@pytest.mark.parametrize("fmt", ["keras", "h5", "tf"])
def test_save_load_round_trip_without_custom_objects(tmp_path, fmt):
    model = _tiny_model(mode="noise")
    random_input_layers(model)[0].redraw(5)
    x = np.random.default_rng(1).standard_normal((3, 64, 2)).astype("float32")
    path = tmp_path / ("m.keras" if fmt == "keras" else "m.h5" if fmt == "h5" else "m_tf")
    model.save(path, save_format=None if fmt == "keras" else fmt)
    loaded = keras.models.load_model(path, compile=False)
    if fmt != "tf":  # explicit custom_objects work too
        again = keras.models.load_model(path, compile=False,
                                        custom_objects={"RandomInputLayer": RandomInputLayer})
        np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
    layer = loaded.get_layer("random_input")
    assert isinstance(layer, RandomInputLayer)
    assert (layer.noise_rms_fraction, layer.kernel_size, layer.seed, layer.mode) == (0.25, 5, 3, "noise")
    np.testing.assert_array_equal(layer.kernel.numpy(),
                                  model.get_layer("random_input").kernel.numpy())
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    noisy = layer(tf.constant(x), training=True).numpy()
    assert not np.allclose(noisy, x)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="noise_rms_fraction"):
        RandomInputLayer(-0.1)
    with pytest.raises(ValueError, match="kernel_size"):
        RandomInputLayer(0.2, kernel_size=0)
    with pytest.raises(ValueError, match="expected \\(batch, time, channels\\)"):
        RandomInputLayer()(np.zeros((2, 5), "float32"))


def test_input_reading_scales_a_slow_signal_by_one_plus_or_minus_the_fraction():
    """Why the BatchNorm statistics of training do not fit inference (issue 14, precursor mode B): well below
    the kernel's first zero the added copy is the signal times the kernel's tap sum, rescaled to 25 % RMS, so
    the whole slow signal is scaled by 1.25 or 0.75 as the tap sum is positive or negative (one draw per
    epoch); at inference the layer is off (gain 1)."""
    t = np.arange(8192) / 40.0
    slow = np.stack([np.sin(2 * np.pi * 0.18 * t), np.cos(2 * np.pi * 0.07 * t)], axis=-1)[None].astype("float32")
    layer = RandomInputLayer(0.25, kernel_size=16, seed=0)
    layer.build((None, 8192, 2))
    core = slice(100, -100)  # away from the "same" padding's edges
    for sign in (1.0, -1.0):
        layer.kernel.assign(sign * np.hanning(16).astype("float32") / np.linalg.norm(np.hanning(16)))
        y = layer(slow, training=True).numpy()
        gain = np.sqrt((y[:, core] ** 2).mean() / (slow[:, core] ** 2).mean())
        np.testing.assert_allclose(gain, 1.0 + 0.25 * sign, atol=2e-3)


def _bn_chain(seed=0):
    inputs = keras.Input((64, 2), name="waveform")
    x = RandomInputLayer(0.25, kernel_size=5, seed=seed, name="random_input")(inputs)
    x = keras.layers.Conv1D(3, 5, padding="same", name="conv1")(x)
    x = keras.layers.BatchNormalization(momentum=0.9, name="bn1")(x)
    x = keras.layers.Activation("relu", name="relu1")(x)
    x = keras.layers.Conv1D(2, 3, padding="same", name="conv2")(x)
    x = keras.layers.BatchNormalization(momentum=0.9, name="bn2")(x)
    x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
    x = keras.layers.Dropout(0.5, name="dropout")(x)
    return keras.Model(inputs, keras.layers.Dense(2, name="logits")(x))


def test_clean_batch_norm_statistics_are_the_mean_batch_statistics_of_the_clean_inputs():
    """Checked against numpy: the random layer skipped, each BatchNorm normalising by its batch statistics,
    moving mean = mean of the batch means, moving variance = mean of the biased batch variances (weighted
    by the values per batch: batches of 5 and 3)."""
    model = _bn_chain()
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((8, 64, 2)) * [1.0, 3.0] + [0.5, -1.0]).astype("float32")
    y = rng.integers(0, 2, 8)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=2, batch_size=4, verbose=0, callbacks=[RedrawRandomKernel()])  # statistics of the randomised inputs
    batches = [(x[:5], y[:5]), (x[5:], y[5:])]
    bn1, bn2 = model.get_layer("bn1"), model.get_layer("bn2")
    before = bn1.moving_variance.numpy().copy()

    def conv(layer, h):
        return layer(tf.constant(h)).numpy().astype(np.float64)

    stats = {"bn1": [], "bn2": []}
    for xb, _ in batches:
        h1 = conv(model.get_layer("conv1"), xb)
        m1, v1 = h1.mean(axis=(0, 1)), h1.var(axis=(0, 1))
        g1, b1 = bn1.gamma.numpy(), bn1.beta.numpy()
        h2 = conv(model.get_layer("conv2"), np.maximum(g1 * (h1 - m1) / np.sqrt(v1 + bn1.epsilon) + b1, 0))
        stats["bn1"].append((len(xb), m1, v1))
        stats["bn2"].append((len(xb), h2.mean(axis=(0, 1)), h2.var(axis=(0, 1))))
    report = clean_batch_norm_statistics(model, batches)
    for name, rows in stats.items():
        w = np.array([r[0] for r in rows], float)
        mean = sum(wi * r[1] for wi, r in zip(w, rows)) / w.sum()
        var = sum(wi * r[2] for wi, r in zip(w, rows)) / w.sum()
        bn = model.get_layer(name)
        np.testing.assert_allclose(bn.moving_mean.numpy(), mean, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(bn.moving_variance.numpy(), var, rtol=1e-4)
    np.testing.assert_allclose(report["bn1"]["variance_ratio"],
                               np.median(before / bn1.moving_variance.numpy()), rtol=1e-5)
    # inference now normalises conv1's clean outputs by the clean statistics
    h1 = conv(model.get_layer("conv1"), x)
    bn1_out = keras.Model(model.inputs, bn1.output)(x, training=False).numpy()
    expected = (bn1.gamma.numpy() * (h1 - bn1.moving_mean.numpy()) / np.sqrt(bn1.moving_variance.numpy() + bn1.epsilon)
                + bn1.beta.numpy())
    np.testing.assert_allclose(bn1_out, expected, rtol=1e-4, atol=1e-4)


def test_clean_batch_norm_statistics_refuses_a_model_that_is_not_a_chain():
    inputs = keras.Input((16, 2))
    a = keras.layers.Conv1D(2, 3, padding="same", name="a")(inputs)
    b = keras.layers.BatchNormalization(name="bn")(keras.layers.Add(name="add")([a, inputs]))
    model = keras.Model(inputs, b)
    with pytest.raises(ValueError, match="not a chain at layer 'add'"):
        clean_batch_norm_statistics(model, [np.zeros((2, 16, 2), "float32")])
    with pytest.raises(ValueError, match="no batches"):
        clean_batch_norm_statistics(_bn_chain(), [])
