"""The single-station earthquake detector of Majstorović et al.

Majstorović, J., Giffard-Roisin, S. & Poli, P. (2023). Interpreting convolutional neural
network decision for earthquake detection with feature map visualization, backward
optimization and layer-wise relevance propagation methods. Geophys. J. Int. 232, 923–939.
(architecture from Majstorović et al. 2021).

Input contract: 3 components E, N, Z at 20 Hz, 500 samples (25 s), channels last
``(500, 3)``; each sample divided by its maximum absolute value over the 3 components
(``seis_keras.data.transforms.MaxNormalize``).

Architecture (paper): 7 × [Conv1D 32 filters, kernel 3, stride 2, padding 1, ReLU] with
sequence lengths 250, 125, 63, 32, 16, 8, 4 → flatten (4 × 32 = 128) → fully connected →
fully connected (1) → sigmoid. PyTorch's ``padding=1`` is reproduced exactly with
``ZeroPadding1D(1)`` + ``padding="valid"`` (Keras ``"same"`` with stride 2 pads only on the
right for even lengths). The model ends at the logit; ``with_probabilities`` adds the sigmoid.

Parameter count with the defaults (hidden_units=64): 27 265
(conv1 320, conv2–conv7 6 × 3 104, fc1 8 256, logits 65).
"""
from __future__ import annotations

from tensorflow import keras
from tensorflow.keras import layers

from seis_keras.models.contract import InputContract

CITATION = ("Majstorović, J., Giffard-Roisin, S. & Poli, P. (2023). Interpreting convolutional neural "
            "network decision for earthquake detection with feature map visualization, backward optimization "
            "and layer-wise relevance propagation methods. Geophys. J. Int. 232(2), 923-939. "
            "doi:10.1093/gji/ggac369")

#: §2.1: 25 s windows at 20 Hz, E/N/Z, "not filtered", each sample divided by its max |value|.
CONTRACT = InputContract(sampling_rate=20.0, window_samples=500, component_order="ENZ",
                         transforms=("MaxNormalize",), class_names=("earthquake",))

#: Sequence lengths after each conv block for the paper's (500, 3) input.
DETECTOR_CONV_LENGTHS = (250, 125, 63, 32, 16, 8, 4)


def detector(*, input_length: int = 500, n_components: int = 3, filters: int = 32,
             n_conv_blocks: int = 7, hidden_units: int = 64, dropout: float = 0.0,
             name: str = "detector") -> keras.Model:
    """Build the Majstorović detector (logits output).

    Args:
        input_length: samples per window; paper 500 (25 s at 20 Hz).
        n_components: channels; paper 3 (E, N, Z).
        filters: filters of every conv layer; paper 32.
        n_conv_blocks: number of conv blocks; paper 7.
        hidden_units: width of the first fully connected layer. Open in the paper; default 64
            (half the 128 flattened features).
        dropout: dropout rate after the first fully connected layer's ReLU. Open (the paper
            mentions none); default 0, i.e. no Dropout layer.
        name: model name.

    Returns:
        A functional model: input ``waveform`` ``(batch, input_length, n_components)`` →
        output ``logits`` ``(batch, 1)``. Layers ``conv1``…``conv7`` are the paper's conv
        layers (pre-activation outputs f_k), ``relu1``…``relu7`` their activations.
    """
    if input_length < 2 ** n_conv_blocks // 2:
        raise ValueError(f"detector: input_length={input_length} too short for {n_conv_blocks} "
                         "stride-2 conv blocks")
    if not 0 <= dropout < 1:
        raise ValueError(f"detector: dropout={dropout!r} (expected 0 <= dropout < 1)")
    inputs = keras.Input((input_length, n_components), name="waveform")
    x = inputs
    for i in range(1, n_conv_blocks + 1):
        x = layers.ZeroPadding1D(1, name=f"pad{i}")(x)
        x = layers.Conv1D(filters, 3, strides=2, padding="valid", name=f"conv{i}")(x)
        x = layers.Activation("relu", name=f"relu{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(hidden_units, name="fc1")(x)
    x = layers.Activation("relu", name="fc1_relu")(x)
    if dropout > 0:
        x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(1, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)
