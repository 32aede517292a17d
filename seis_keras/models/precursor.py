"""The precursor CNN of Ong et al. (temporal earthquake forecasting at IU MAJO).

Ong, Nielsen, Giani & Johnson, "Temporal earthquake forecasting" (section 3, Fig. 2); no
public code.

Input contract: 3 components BH1, BH2, BHZ of IU MAJO at 40 Hz, windows of 16384 samples
(409.6 s; 37 per 1000 s macro-window, stride 1010), channels last ``(16384, 3)``; each
1000 s macro-window demeaned and normalised jointly over its 3 components
(``seis_keras.data.transforms.JointNormalize``).

Architecture (paper): random input layer (training only; the input convolved with a kernel
re-drawn each epoch and added, Lee et al.'s reading — ``random_layer_mode``) → 7 × [Conv1D → BatchNorm → ReLU →
MaxPool1D], pool stride 1 except block 2 (stride 2), filters growing to 256 in blocks 6–7,
dilation in blocks 3–7 increasing with depth, random-normal kernel initialiser → fully
connected → Dropout(0.02) → Dense(2) logits (softmax in the paper, added by
``with_probabilities``).

Choices the paper leaves open (all settings below):

- The signal of interest lies at 0.16–0.21 Hz: one 0.16 Hz period is 6.25 s = 250 samples
  at 40 Hz. A unit at the end of the conv stack should see several periods, so the defaults
  (kernels 7, 7, 9, 9, 9, 9, 9; dilations 1, 1, 2, 4, 8, 16, 32; pools of 3) give a
  receptive field of 1029 samples = 25.7 s = 4.1 periods of 0.16 Hz (5.4 of 0.21 Hz), while
  the doubling dilations keep every input sample inside it covered (no gridding holes: each
  dilated kernel's gap, d × jump, is at most the previous receptive field).
- Padding ``"same"`` in conv and pool layers: the paper keeps the feature-map length with
  stride 1 ("to avoid a change in the dimensions of the feature map"); block 2 halves it to
  8192.
- Head: global average pooling (the precursor tremor may sit anywhere in the window, and a
  Flatten of 8192 × 256 values would need a 2-million-input Dense) → Dense(128) → ReLU →
  Dropout(0.02) → Dense(2).
- Random-normal initialiser: Keras's ``RandomNormal`` default (stddev 0.05) on the conv
  kernels; BatchNorm with Keras's defaults (momentum 0.99, eps 1e-3) — the paper's wording
  ("kernel initialiser ... random normal") is Keras's.

Cost: 9.6 G multiply-adds per 16384-sample window forward (20 times the Norcia model's 0.48 G),
about 2 s per window for a training step on one CPU core (``bench/train.py``): train at the
paper's size on a GPU; CPU profiles shorten ``input_length`` and/or ``filters``.

Parameter count with the defaults: 1 195 602 (of which 1 856 non-trainable BatchNorm
statistics and 16 of the random input kernel).
"""
from __future__ import annotations

from typing import Sequence

from tensorflow import keras
from tensorflow.keras import layers

from seis_keras.models.contract import InputContract
from seis_keras.models.layers import RandomInputLayer

CITATION = ("Ong, Nielsen, Giani & Johnson, Temporal earthquake forecasting: a CNN finds precursors in the "
            "10 h before Mw >= 6 earthquakes at IU MAJO")

#: §2: BH1, BH2, BHZ at 40 Hz; 16384-sample windows; mean removed, the 3 components normalised jointly.
CONTRACT = InputContract(sampling_rate=40.0, window_samples=16384, component_order="12Z",
                         transforms=("JointNormalize",), class_names=("noise", "precursor"))

PRECURSOR_FILTERS = (32, 64, 64, 128, 128, 256, 256)
PRECURSOR_KERNELS = (7, 7, 9, 9, 9, 9, 9)
PRECURSOR_DILATIONS = (1, 1, 2, 4, 8, 16, 32)
PRECURSOR_POOL_STRIDES = (1, 2, 1, 1, 1, 1, 1)

_POSITION_PRESERVING = (layers.Activation, layers.BatchNormalization, layers.Dropout,
                        layers.InputLayer, layers.ZeroPadding1D, RandomInputLayer)


def precursor(*, input_length: int = 16384, n_components: int = 3, n_classes: int = 2,
              filters: Sequence[int] = PRECURSOR_FILTERS,
              kernel_sizes: Sequence[int] = PRECURSOR_KERNELS,
              dilations: Sequence[int] = PRECURSOR_DILATIONS, pool_size: int = 3,
              pool_strides: Sequence[int] = PRECURSOR_POOL_STRIDES, padding: str = "same",
              pooling: str = "global_average", fc_units: int = 128, dropout: float = 0.02,
              kernel_init_stddev: float = 0.05, bn_momentum: float = 0.99,
              bn_epsilon: float = 1e-3, random_input: bool = True,
              noise_rms_fraction: float = 0.25, random_kernel_size: int = 16,
              random_layer_mode: str = "input", seed: int = 0,
              name: str = "precursor") -> keras.Model:
    """Build the Ong et al. precursor classifier (logits output).

    Args:
        input_length: samples per window; paper 16384 (quick profiles use shorter windows).
        n_components: channels; paper 3.
        n_classes: paper 2 (noise, precursor).
        filters: filters of the 7 blocks (open; growing to 256 in blocks 6–7).
        kernel_sizes: kernel length of each block (open).
        dilations: dilation of each block (paper: none in blocks 1–2, increasing after).
        pool_size: max-pool window of every block (open).
        pool_strides: max-pool stride of each block (paper: 1 except block 2 = 2).
        padding: ``"same"`` (default, keeps lengths) or ``"valid"`` for conv and pool.
        pooling: ``"global_average"`` (default), ``"global_max"`` or ``"flatten"`` between
            the conv stack and the fully connected layer.
        fc_units: width of the fully connected layer (open).
        dropout: after the fully connected layer; paper 0.02.
        kernel_init_stddev: stddev of the random-normal conv kernel initialiser.
        bn_momentum: BatchNormalization momentum (Keras default 0.99).
        bn_epsilon: BatchNormalization epsilon (Keras default 1e-3).
        random_input: include the random input layer (named ``random_input``).
        noise_rms_fraction: random input noise RMS / signal RMS; paper "about 20%-30%".
        random_kernel_size: length of the random input kernel (open; 16).
        random_layer_mode: what the random kernel convolves: ``"input"`` (default, Lee et
            al.'s random layer) or ``"noise"`` (white noise; see
            :class:`~seis_keras.models.layers.RandomInputLayer`).
        seed: seed of the random input layer and of the kernel initialisers.
        name: model name.

    Returns:
        A functional model: input ``waveform`` ``(batch, input_length, n_components)`` →
        output ``logits`` ``(batch, n_classes)``. Per block ``i``: ``conv{i}``, ``bn{i}``,
        ``relu{i}``, ``pool{i}``; then ``global_pool`` (or ``flatten``), ``fc1``,
        ``fc1_relu``, ``dropout``, ``logits``.
    """
    per_block = {"filters": filters, "kernel_sizes": kernel_sizes, "dilations": dilations,
                 "pool_strides": pool_strides}
    n_blocks = len(filters)
    for key, values in per_block.items():
        if len(values) != n_blocks:
            raise ValueError(f"precursor: {key} has {len(values)} entries, filters has "
                             f"{n_blocks} (expected one per conv block)")
    if pooling not in ("global_average", "global_max", "flatten"):
        raise ValueError(f"precursor: pooling={pooling!r} (expected 'global_average', "
                         "'global_max' or 'flatten')")
    inputs = keras.Input((input_length, n_components), name="waveform")
    x = inputs
    if random_input:
        x = RandomInputLayer(noise_rms_fraction, random_kernel_size, seed=seed,
                             mode=random_layer_mode, name="random_input")(x)
    for i in range(n_blocks):
        init = keras.initializers.RandomNormal(stddev=kernel_init_stddev, seed=seed + i)
        x = layers.Conv1D(int(filters[i]), int(kernel_sizes[i]), dilation_rate=int(dilations[i]),
                          padding=padding, kernel_initializer=init, name=f"conv{i + 1}")(x)
        x = layers.BatchNormalization(momentum=bn_momentum, epsilon=bn_epsilon,
                                      name=f"bn{i + 1}")(x)
        x = layers.Activation("relu", name=f"relu{i + 1}")(x)
        x = layers.MaxPooling1D(pool_size, strides=int(pool_strides[i]), padding=padding,
                                name=f"pool{i + 1}")(x)
    if pooling == "global_average":
        x = layers.GlobalAveragePooling1D(name="global_pool")(x)
    elif pooling == "global_max":
        x = layers.GlobalMaxPooling1D(name="global_pool")(x)
    else:
        x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(fc_units, name="fc1")(x)
    x = layers.Activation("relu", name="fc1_relu")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(n_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


def receptive_field(model: keras.Model, up_to: str | None = None) -> int:
    """Receptive field, in input samples, of one time step of a 1D conv model.

    Walks the layers in order: a Conv1D of kernel k, dilation d and stride s adds
    ``d (k - 1) × jump`` and multiplies ``jump`` (the input samples between neighbouring
    units) by s; a pooling layer of window r and stride s adds ``(r - 1) × jump``. It stops at
    the first layer that mixes all time steps (global pooling, Flatten, Dense).

    Args:
        model: a model whose layers form a chain of 1D layers (all models of this package
            with a waveform input).
        up_to: name of the last layer to include (default: up to the global pooling).

    Returns:
        The number of input samples one unit of that layer's output sees.

    Raises:
        ValueError: on a layer whose effect on positions is unknown, or an unknown ``up_to``.
    """
    if up_to is not None and up_to not in [layer.name for layer in model.layers]:
        raise ValueError(f"receptive_field: model {model.name!r} has no layer {up_to!r}")
    field, jump = 1, 1
    for layer in model.layers:
        if isinstance(layer, layers.Conv1D):
            span = layer.dilation_rate[0] * (layer.kernel_size[0] - 1)
            field += span * jump
            jump *= layer.strides[0]
        elif isinstance(layer, (layers.MaxPooling1D, layers.AveragePooling1D)):
            field += (layer.pool_size[0] - 1) * jump
            jump *= layer.strides[0]
        elif isinstance(layer, (layers.GlobalAveragePooling1D, layers.GlobalMaxPooling1D,
                                layers.Flatten, layers.Dense)):
            break
        elif not isinstance(layer, _POSITION_PRESERVING):
            raise ValueError(f"receptive_field: layer {layer.name!r} ({type(layer).__name__}) "
                             "is not a 1D conv/pool/elementwise layer")
        if layer.name == up_to:
            break
    return field
