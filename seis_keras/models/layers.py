"""The random input layer of Ong et al. and the callback that re-draws its kernel.

Ong, Nielsen, Giani & Johnson, "Temporal earthquake forecasting" (section 3), after
Lee et al. (2020, network randomisation): "A random signal was obtained by convolution with
a kernel which was randomized before each epoch, then added to the input signal. The root
mean square of the random signal was about 20%-30% that of the original signal."

What is convolved is not said. Lee et al. convolve the *input* with a random kernel (their
random layer is a randomly re-initialised convolution applied to the observation), so the
default reading here (``mode="input"``) convolves each input channel with the kernel and
adds the result; ``mode="noise"`` convolves white noise instead (coloured noise added to the
input; the reading this package used first). The layer acts during training only; at
inference it is the identity, so explainers can strip it
(``seis_keras.models.surgery.strip_random_input``). Ong et al. say nothing about inference;
Lee et al. average predictions over several random layers at test time (a Monte Carlo
approximation) and, unlike Ong et al., replace the input by the random layer's output
instead of adding it and re-draw the kernel every iteration rather than every epoch.

**BatchNorm after a training-only layer.** Well below the kernel's first zero (0.16–0.21 Hz at
40 Hz, 16 taps) the input reading adds the signal times the kernel's tap sum, rescaled to 25 %
RMS: the slow part of every window of an epoch is scaled by the same factor, 0.75 to 1.25 (mostly
near one end: the tap sum's sign). BatchNorm's moving averages (momentum 0.9: the last dozen steps) then describe one
epoch's randomised inputs, not the unchanged inputs of inference: on the precursor quick profile
a mode-B network scored 0.81 on its own training windows at inference, 1.00 once
:func:`clean_batch_norm_statistics` had re-estimated them on the clean windows
(``bench/precursor_random_layer.py``).
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf
from tensorflow import keras

try:  # Keras 2.14 keeps the seeded-random layer base class here (keras.layers.GaussianNoise uses it)
    from keras.src.engine.base_layer import BaseRandomLayer as _RandomLayerBase
except ImportError:  # pragma: no cover - other Keras 2 layouts
    from keras.engine.base_layer import BaseRandomLayer as _RandomLayerBase


#: What the random kernel convolves: the input (Lee et al.'s reading, the default) or white noise.
RANDOM_LAYER_MODES = ("input", "noise")


@keras.saving.register_keras_serializable(package="seis_keras")
class RandomInputLayer(_RandomLayerBase):
    """Adds a randomly filtered signal to its input during training.

    For each sample ``x`` of shape ``(T, C)`` the layer convolves every channel of a source
    signal ``s`` with the layer's kernel (``padding="same"``) and rescales the result so
    that ``rms(r) = noise_rms_fraction * rms(x)`` (RMS over all time steps and channels of
    that sample), then returns ``x + r``. The source is the input itself with
    ``mode="input"`` (default: ``x + r`` is ``x`` passed through the random filter
    ``delta + a * kernel``) or white noise of ``x``'s shape with ``mode="noise"``. The kernel
    is a non-trainable weight (standard normal taps, unit L2 norm);
    :class:`RedrawRandomKernel` draws a new one at the start of every epoch. With
    ``training`` false (inference, ``predict``, explainers) the layer returns its input.

    What the kernel does to the precursor band: its power gain averages 1 over all
    frequencies (unit norm, Parseval), and 0.16–0.21 Hz at 40 Hz lies far below the first
    zero of a 16-tap kernel, so the gain there is about the squared sum of the taps — a
    chi-square-like draw (measured over 20 000 kernels, ``tests/models/test_layers.py``:
    median 0.51 × the mean gain, 10–90 % of kernels between 0.04 × and 2.7 ×). The kernel
    does reach the band: in some epochs it perturbs the band as much as the rest of the
    spectrum, in others hardly at all.

    Input shape: ``(batch, T, C)``. Output shape: ``(batch, T, C)``.

    Args:
        noise_rms_fraction: RMS of the added signal as a fraction of the input's RMS, per
            sample. Default 0.25, the middle of the paper's "about 20%-30%".
        kernel_size: length of the random convolution kernel in samples. The paper does not
            give it; default 16 (0.4 s at 40 Hz).
        seed: seed of the initial kernel, of the noise draws and of the kernel re-draws.
        mode: ``"input"`` (default; Lee et al.) or ``"noise"`` — what the kernel convolves.
        **kwargs: passed to ``keras.layers.Layer`` (``name``, ``dtype``...).
    """

    def __init__(self, noise_rms_fraction: float = 0.25, kernel_size: int = 16,
                 seed: int | None = 0, mode: str = "input", **kwargs):
        super().__init__(seed=seed, **kwargs)
        if not noise_rms_fraction >= 0:
            raise ValueError(f"RandomInputLayer: noise_rms_fraction={noise_rms_fraction!r} "
                             "(expected a number >= 0)")
        if int(kernel_size) < 1:
            raise ValueError(f"RandomInputLayer: kernel_size={kernel_size!r} (expected an integer >= 1)")
        if mode not in RANDOM_LAYER_MODES:
            raise ValueError(f"RandomInputLayer: mode={mode!r} (expected one of {', '.join(RANDOM_LAYER_MODES)})")
        self.noise_rms_fraction = float(noise_rms_fraction)
        self.kernel_size = int(kernel_size)
        self.seed = seed
        self.mode = mode
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

    def filtered(self, source):
        """Every channel of ``source`` ``(N, T, C)`` convolved with the kernel (``"same"`` length)."""
        shape = tf.shape(source)
        # (N, T, C) -> (N*C, T, 1): every channel convolved with the same kernel.
        stacked = tf.reshape(tf.transpose(source, [0, 2, 1]), [-1, shape[1], 1])
        kernel = tf.reshape(tf.cast(self.kernel, source.dtype), [self.kernel_size, 1, 1])
        out = tf.nn.conv1d(stacked, kernel, stride=1, padding="SAME")
        return tf.transpose(tf.reshape(out, [shape[0], shape[2], shape[1]]), [0, 2, 1])

    def random_signal(self, inputs):
        """What the layer adds to ``inputs`` ``(N, T, C)``: scaled to ``noise_rms_fraction`` of each sample's RMS."""
        if self.mode == "input":
            source = inputs
        else:
            source = self._random_generator.random_normal(shape=tf.shape(inputs), dtype=inputs.dtype)
        filtered = self.filtered(source)
        rms_in = tf.sqrt(tf.reduce_mean(tf.square(inputs), axis=[1, 2], keepdims=True))
        rms_r = tf.sqrt(tf.reduce_mean(tf.square(filtered), axis=[1, 2], keepdims=True))
        return filtered * (self.noise_rms_fraction * rms_in / tf.maximum(rms_r, 1e-12))

    def call(self, inputs, training=None):
        def randomised():
            return inputs + self.random_signal(inputs)

        return keras.backend.in_train_phase(randomised, inputs, training=training)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(noise_rms_fraction=self.noise_rms_fraction,
                      kernel_size=self.kernel_size, seed=self.seed, mode=self.mode)
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


def clean_batch_norm_statistics(model: keras.Model, batches) -> dict:
    """Re-estimate every BatchNormalization layer's inference statistics on clean inputs.

    Why: a :class:`RandomInputLayer` acts in training only, so the moving averages BatchNorm
    collects while training describe the *randomised* inputs — with momentum 0.9 over the
    last few steps, those of the last epoch's kernel — while inference sees the inputs
    unchanged. Ong et al. are silent on it; this is the population estimate of PreciseBN
    (Wu & Johnson 2021, "Rethinking 'batch' in BatchNorm", §3; ``torch.optim.swa_utils.update_bn``)
    on the inputs as inference sees them: one pass over ``batches`` with every random input
    layer off and every other layer in inference mode, except that each BatchNormalization
    normalises by its batch statistics, as in training; its ``moving_mean`` becomes the mean of
    the batch means and its ``moving_variance`` the mean of the (biased, as Keras keeps them)
    batch variances, both weighted by the values per batch. Trainable weights are unchanged.

    Args:
        model: a chain model (each layer's input is the previous layer's output: all models
            of this package with a waveform input), BatchNormalization over the last axis.
        batches: iterable of input arrays ``(N, T, C)`` or ``(x, y)`` pairs (a tf.data
            dataset of the training windows).

    Returns:
        ``{bn layer name: {"mean_shift": max |old - new mean| / sqrt(new variance),
        "variance_ratio": median old / new variance over channels}}``: how far the training
        statistics were from the clean ones.

    Raises:
        ValueError: a model that is not a chain, a BatchNormalization over another axis, or
            no batches.
    """
    chain = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    previous = model.inputs[0] if len(model.inputs) == 1 else None
    for layer in chain:
        if previous is None or layer.input is not previous:
            raise ValueError(f"clean_batch_norm_statistics: model {model.name!r} is not a chain at layer "
                             f"{layer.name!r} (expected each layer to take the previous layer's output)")
        previous = layer.output
    bns = [layer for layer in chain if isinstance(layer, keras.layers.BatchNormalization)]
    for bn in bns:
        if list(bn.axis) != [len(bn.input_shape) - 1]:
            raise ValueError(f"clean_batch_norm_statistics: {bn.name!r} normalises axis {bn.axis} "
                             "(expected the last axis)")
    sums = {bn.name: [0.0, 0.0, 0.0] for bn in bns}  # weight, weighted mean, weighted variance
    for batch in batches:
        x = tf.convert_to_tensor(batch[0] if isinstance(batch, (tuple, list)) else batch)
        for layer in chain:
            if isinstance(layer, RandomInputLayer):
                continue  # the identity at inference
            if isinstance(layer, keras.layers.BatchNormalization):
                x32 = tf.cast(x, tf.float32)
                mean, var = tf.nn.moments(x32, axes=list(range(len(x.shape) - 1)))
                weight = float(np.prod(x.shape[:-1]))
                acc = sums[layer.name]
                acc[0] += weight
                acc[1] = acc[1] + weight * mean
                acc[2] = acc[2] + weight * var
                x = tf.cast(tf.nn.batch_normalization(x32, mean, var, layer.beta, layer.gamma, layer.epsilon),
                            x.dtype)
            else:
                x = layer(x, training=False)
    out = {}
    for bn in bns:
        weight, mean_sum, var_sum = sums[bn.name]
        if weight == 0:
            raise ValueError("clean_batch_norm_statistics: no batches (expected the training inputs)")
        mean, var = (mean_sum / weight).numpy(), (var_sum / weight).numpy()
        old_mean, old_var = bn.moving_mean.numpy(), bn.moving_variance.numpy()
        out[bn.name] = {"mean_shift": float(np.max(np.abs(old_mean - mean) / np.sqrt(var + bn.epsilon))),
                        "variance_ratio": float(np.median(old_var / np.maximum(var, 1e-30)))}
        bn.moving_mean.assign(mean.astype(bn.moving_mean.dtype.as_numpy_dtype))
        bn.moving_variance.assign(var.astype(bn.moving_variance.dtype.as_numpy_dtype))
    return out
