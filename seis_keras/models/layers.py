"""The random input layer of Ong et al. and the callback that re-draws its kernel.

Ong, Nielsen, Giani & Johnson, "Temporal earthquake forecasting" (section 3), after
Lee et al. (2020, network randomisation): "A random signal was obtained by convolution with
a kernel which was randomized before each epoch, then added to the input signal. The root
mean square of the random signal was about 20%-30% that of the original signal." The layer
acts during training only; at inference it is the identity, so explainers can strip it
(``seis_keras.models.surgery.strip_random_input``).
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf
from tensorflow import keras

try:  # Keras 2.14 keeps the seeded-random layer base class here (keras.layers.GaussianNoise uses it)
    from keras.src.engine.base_layer import BaseRandomLayer as _RandomLayerBase
except ImportError:  # pragma: no cover - other Keras 2 layouts
    from keras.engine.base_layer import BaseRandomLayer as _RandomLayerBase


@keras.saving.register_keras_serializable(package="seis_keras")
class RandomInputLayer(_RandomLayerBase):
    """Adds coloured noise (white noise convolved with a random kernel) during training.

    For each sample ``x`` of shape ``(T, C)`` the layer draws white noise ``n`` of the same
    shape, convolves every channel with the layer's kernel (``padding="same"``) and rescales
    the result so that ``rms(noise) = noise_rms_fraction * rms(x)`` (RMS over all time steps
    and channels of that sample), then returns ``x + noise``. The kernel is a non-trainable
    weight; :class:`RedrawRandomKernel` draws a new one at the start of every epoch. With
    ``training`` false (inference, ``predict``, explainers) the layer returns its input.

    Input shape: ``(batch, T, C)``. Output shape: ``(batch, T, C)``.

    Args:
        noise_rms_fraction: noise RMS as a fraction of the input's RMS, per sample. Default
            0.25, the middle of the paper's "about 20%-30%".
        kernel_size: length of the random convolution kernel in samples. The paper does not
            give it; default 16 (0.4 s at 40 Hz), which colours the noise without reaching
            down to the 0.16–0.21 Hz band the precursor study looks at.
        seed: seed of the initial kernel, of the noise draws and of the kernel re-draws.
        **kwargs: passed to ``keras.layers.Layer`` (``name``, ``dtype``...).
    """

    def __init__(self, noise_rms_fraction: float = 0.25, kernel_size: int = 16,
                 seed: int | None = 0, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if not noise_rms_fraction >= 0:
            raise ValueError(f"RandomInputLayer: noise_rms_fraction={noise_rms_fraction!r} "
                             "(expected a number >= 0)")
        if int(kernel_size) < 1:
            raise ValueError(f"RandomInputLayer: kernel_size={kernel_size!r} (expected an integer >= 1)")
        self.noise_rms_fraction = float(noise_rms_fraction)
        self.kernel_size = int(kernel_size)
        self.seed = seed
        self.redraw_count = 0
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"RandomInputLayer: input shape {tuple(input_shape)} "
                             "(expected (batch, time, channels))")
        self.kernel = self.add_weight(
            name="kernel", shape=(self.kernel_size,), trainable=False,
            initializer=keras.initializers.Constant(self._draw_kernel(0)))
        super().build(input_shape)

    def _draw_kernel(self, draw: int) -> np.ndarray:
        """Kernel number ``draw`` of this layer's seed: standard normal, unit L2 norm."""
        base = 0 if self.seed is None else int(self.seed)
        rng = np.random.default_rng([base, int(draw)])
        kernel = rng.standard_normal(self.kernel_size).astype("float32")
        return kernel / max(float(np.linalg.norm(kernel)), 1e-12)

    def redraw(self, draw: int | None = None) -> np.ndarray:
        """Replace the kernel by a new random one and return it.

        Args:
            draw: index of the re-draw (the epoch number when called by
                :class:`RedrawRandomKernel`); ``None`` takes the next one. The same seed and
                draw give the same kernel, never the initial one (that is draw -1).

        Returns:
            The new kernel, shape ``(kernel_size,)``.
        """
        self.redraw_count = self.redraw_count + 1 if draw is None else int(draw) + 1
        kernel = self._draw_kernel(self.redraw_count)
        self.kernel.assign(kernel)
        return kernel

    def coloured_noise(self, inputs):
        """Noise for ``inputs`` ``(N, T, C)``, scaled to ``noise_rms_fraction`` of each sample's RMS."""
        shape = tf.shape(inputs)
        white = self._random_generator.random_normal(shape=shape, dtype=inputs.dtype)
        # (N, T, C) -> (N*C, T, 1): every channel convolved with the same kernel.
        stacked = tf.reshape(tf.transpose(white, [0, 2, 1]), [-1, shape[1], 1])
        kernel = tf.reshape(tf.cast(self.kernel, inputs.dtype), [self.kernel_size, 1, 1])
        filtered = tf.nn.conv1d(stacked, kernel, stride=1, padding="SAME")
        filtered = tf.transpose(tf.reshape(filtered, [shape[0], shape[2], shape[1]]), [0, 2, 1])
        rms_in = tf.sqrt(tf.reduce_mean(tf.square(inputs), axis=[1, 2], keepdims=True))
        rms_noise = tf.sqrt(tf.reduce_mean(tf.square(filtered), axis=[1, 2], keepdims=True))
        return filtered * (self.noise_rms_fraction * rms_in / tf.maximum(rms_noise, 1e-12))

    def call(self, inputs, training=None):
        def noised():
            return inputs + self.coloured_noise(inputs)

        return keras.backend.in_train_phase(noised, inputs, training=training)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(noise_rms_fraction=self.noise_rms_fraction,
                      kernel_size=self.kernel_size, seed=self.seed)
        return config


def random_input_layers(model: keras.Model) -> list[RandomInputLayer]:
    """Every :class:`RandomInputLayer` in ``model``, nested models included."""
    found = []
    for layer in model.layers:
        if isinstance(layer, RandomInputLayer):
            found.append(layer)
        elif isinstance(layer, keras.Model):
            found.extend(random_input_layers(layer))
    return found


class RedrawRandomKernel(keras.callbacks.Callback):
    """Draws a new kernel for every :class:`RandomInputLayer` at the start of each epoch.

    Pass it to ``model.fit(..., callbacks=[RedrawRandomKernel()])``. Epoch ``e`` gets
    re-draw ``e`` of each layer's seed (``RandomInputLayer.redraw(e)``), so a resumed run
    (``initial_epoch``) sees the same kernels as an uninterrupted one.
    """

    def on_epoch_begin(self, epoch, logs=None):
        for layer in random_input_layers(self.model):
            layer.redraw(epoch)
