"""Tests of seis_keras.models.layers: the random input layer and its kernel re-draw callback."""
import numpy as np
import pytest
import tensorflow as tf
from tensorflow import keras

from seis_keras.models.layers import RandomInputLayer, RedrawRandomKernel, random_input_layers


def _batch(n=4, t=512, c=3, seed=0):
    rng = np.random.default_rng(seed)
    scales = np.array([0.5, 1.0, 3.0, 20.0])[:n, None, None]
    return (rng.standard_normal((n, t, c)) * scales).astype("float32")


def _tiny_model(seed=3):
    inputs = keras.Input((64, 2), name="waveform")
    x = RandomInputLayer(0.25, kernel_size=5, seed=seed, name="random_input")(inputs)
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


@pytest.mark.parametrize("fraction", [0.2, 0.3])
def test_noise_rms_is_the_fraction_of_each_sample_rms(fraction):
    x = _batch()
    layer = RandomInputLayer(fraction, kernel_size=8, seed=2)
    y = layer(x, training=True).numpy()
    noise = y - x
    ratio = np.sqrt((noise ** 2).mean(axis=(1, 2))) / np.sqrt((x ** 2).mean(axis=(1, 2)))
    np.testing.assert_allclose(ratio, fraction, rtol=1e-3)
    assert np.abs(noise).max() > 0
    # different samples and different calls get different noise
    again = layer(x, training=True).numpy() - x
    assert not np.allclose(again, noise)


def test_noise_is_white_noise_convolved_with_the_kernel():
    """The noise is coloured by the kernel: its spectrum follows |FFT(kernel)|^2."""
    layer = RandomInputLayer(1.0, kernel_size=4, seed=0)
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
    model = _tiny_model()
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
    assert (layer.noise_rms_fraction, layer.kernel_size, layer.seed) == (0.25, 5, 3)
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
