"""The Norcia foreshock/aftershock classifier of Laurenti et al.

Laurenti, L., Paoletti, G., Tinti, E., Galasso, F., Collettini, C. & Marone, C. (2024).
Probing the evolution of fault properties during the seismic cycle with deep learning.
Nat. Commun. 15, 10025. Architecture as in the authors' public PyTorch code.

Input contract: 3 components E, N, Z at 100 Hz, 2500 samples (5 s before to 20 s after the
theoretical P arrival), channels last ``(2500, 3)``; each channel divided by its L2 norm over
time (``seis_keras.data.transforms.L2Normalize``).

Architecture (code): 7 × [Conv1D (valid) → BatchNormalization → MaxPool1D(3, stride 1) →
ReLU] with filters/kernel/stride 32/7/1, 64/7/2, 64/5/1, 64/5/1, 128/5/1, 256/3/1, 256/3/1;
sequence lengths after conv/pool 2494/2492, 1243/1241, 1237/1235, 1231/1229, 1225/1223,
1221/1219, 1217/1215 → global average pooling → Dropout(0.3) → Dense(n_classes) logits.
The paper's text says dilation grows after block 2 and dropout 0.2; the code has neither,
and the code produced the published numbers, so both are settings defaulting to the code.
BatchNormalization uses PyTorch's defaults (eps 1e-5, momentum 0.1 = Keras momentum 0.9).
Initial weights: PyTorch's layer defaults (``init="pytorch"``, :mod:`seis_keras.models.init`:
conv and dense weights and biases U(±1/√fan_in)) or Keras's (``"keras"``: Glorot, zero bias).

Parameter count with the defaults (n_classes=2): 396 674 (of which 1 728 non-trainable
BatchNorm moving statistics).
"""
from __future__ import annotations

from typing import Sequence

from tensorflow import keras
from tensorflow.keras import layers

from seis_keras.models.contract import InputContract
from seis_keras.models.init import check_init, layer_initializers

CITATION = ("Laurenti, L., Paoletti, G., Tinti, E., Galasso, F., Collettini, C. & Marone, C. (2024). "
            "Probing the evolution of fault properties during the seismic cycle with deep learning. "
            "Nat. Commun. 15, 10025")

#: Code: 25 s at 100 Hz (5 s before to 20 s after P), E/N/Z, each channel divided by its L2 norm.
CONTRACT = InputContract(sampling_rate=100.0, window_samples=2500, component_order="ENZ",
                         transforms=("L2Normalize",))  # classes: 2, 4, 8 or 9 (seis_keras.data.norcia)

#: (filters, kernel_size, stride) of the 7 conv blocks in the authors' code.
NORCIA_BLOCKS = ((32, 7, 1), (64, 7, 2), (64, 5, 1), (64, 5, 1), (128, 5, 1), (256, 3, 1),
                 (256, 3, 1))
#: Dilations the paper's text describes ("growing after block 2"); pass as ``dilation=``.
NORCIA_PAPER_DILATION = (1, 1, 2, 2, 4, 4, 8)
#: Sequence lengths after (conv, pool) of each block for the (2500, 3) input, no dilation.
NORCIA_LENGTHS = ((2494, 2492), (1243, 1241), (1237, 1235), (1231, 1229), (1225, 1223),
                  (1221, 1219), (1217, 1215))


def norcia(*, n_classes: int = 2, input_length: int = 2500, n_components: int = 3,
           blocks: Sequence[tuple[int, int, int]] = NORCIA_BLOCKS,
           dilation: Sequence[int] | None = None, pool_size: int = 3, dropout: float = 0.3,
           bn_momentum: float = 0.9, bn_epsilon: float = 1e-5, bn_fused: bool = True,
           init: str = "pytorch", name: str = "norcia") -> keras.Model:
    """Build the Laurenti et al. classifier (logits output).

    Args:
        n_classes: output classes: 2 (pre/post mainshock), 4, 8 or 9 (time-to-failure
            classes). Any integer >= 2 is accepted.
        input_length: samples per trace; paper 2500 (25 s at 100 Hz).
        n_components: channels; paper 3.
        blocks: ``(filters, kernel_size, stride)`` of each conv block; default the code's.
        dilation: dilation rate of each block, or ``None`` for none (the code, default).
            ``NORCIA_PAPER_DILATION`` follows the paper's text.
        pool_size: max-pool window (stride 1); code 3.
        dropout: dropout before the output layer; code 0.3 (paper text 0.2).
        bn_momentum: Keras BatchNormalization momentum; 0.9 = PyTorch's 0.1.
        bn_epsilon: BatchNormalization epsilon; PyTorch's 1e-5.
        bn_fused: let Keras use its fused BatchNorm kernel where it can (True, default) or
            never (False, for shap's DeepExplainer). Keras fuses only 4D inputs, so for this
            1D model both give the same graph; the setting is kept for symmetry with
            ``spectrogram``.
        init: initial weights: ``"pytorch"`` (the code's framework defaults, default) or ``"keras"``.
        name: model name.

    Returns:
        A functional model: input ``waveform`` ``(batch, input_length, n_components)`` →
        output ``logits`` ``(batch, n_classes)``. Per block ``i``: ``conv{i}``, ``bn{i}``,
        ``pool{i}``, ``relu{i}``.
    """
    blocks = tuple(tuple(int(v) for v in b) for b in blocks)
    dilation = (1,) * len(blocks) if dilation is None else tuple(int(d) for d in dilation)
    if len(dilation) != len(blocks):
        raise ValueError(f"norcia: dilation has {len(dilation)} entries, blocks has {len(blocks)} "
                         "(expected one dilation per block)")
    if n_classes < 2:
        raise ValueError(f"norcia: n_classes={n_classes} (expected >= 2; softmax logits)")
    check_init(init)
    inputs = keras.Input((input_length, n_components), name="waveform")
    x = inputs
    for i, ((filters, kernel, stride), rate) in enumerate(zip(blocks, dilation), start=1):
        x = layers.Conv1D(filters, kernel, strides=stride, dilation_rate=rate, padding="valid", name=f"conv{i}",
                          **layer_initializers(init, kernel * int(x.shape[-1])))(x)
        x = layers.BatchNormalization(momentum=bn_momentum, epsilon=bn_epsilon,
                                      fused=None if bn_fused else False, name=f"bn{i}")(x)
        x = layers.MaxPooling1D(pool_size, strides=1, name=f"pool{i}")(x)
        x = layers.Activation("relu", name=f"relu{i}")(x)
    x = layers.GlobalAveragePooling1D(name="global_pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(n_classes, name="logits", **layer_initializers(init, int(x.shape[-1])))(x)
    return keras.Model(inputs, outputs, name=name)
