"""The log-spectrogram CNN of Magrini & Marrocco (EQML project) for Norcia pre/post events.

Magrini, F. & Marrocco, G., explainable AI for seismic foreshock/aftershock classification
(EQML project slides and public PyTorch code ``CNN2D``).

Input contract: the Norcia traces (3 components, 100 Hz, 2500 samples) turned into
``scipy.signal.spectrogram(fs=100, nperseg=64, noverlap=48)`` → 33 frequencies × 153 times
per component, ``log1p``, min-max to [0, 1] per channel, then standardised with the training
set's per-channel mean/std (``seis_keras.data.transforms.LogSpectrogram``). Channels last:
``(33, 153, 3)``.

Architecture (code): Conv2D(32, 3, padding 1) → BN → MaxPool(2) → ReLU; Conv2D(64, 3,
stride 2, padding 1) → BN → MaxPool(2) → ReLU; Conv2D(128, 3, padding 1) → BN → ReLU;
flatten (128 × 4 × 19 = 9728) → Dense 128 → ReLU → Dense 2 logits. Shapes: 33×153 → pool
16×76 → conv2 8×38 → pool 4×19 → conv3 4×19. Keras ``"same"`` with stride 2 pads a 16×76
map only at the bottom/right, PyTorch's ``padding=1`` on both sides: the sizes agree but the
sampling grid is shifted by one, so conv2 uses ``ZeroPadding2D(1)`` + ``"valid"`` (exactly
PyTorch); conv1 and conv3 (stride 1, kernel 3) use ``"same"``, identical to padding 1.
BatchNorm: PyTorch defaults (eps 1e-5, momentum 0.1 = Keras 0.9). Keras flattens
(H, W, C), PyTorch (C, H, W): ``torch_ports.port_spectrogram_weights`` reorders ``fc1``.

Parameter count (defaults): 1 339 714 (of which 448 non-trainable BatchNorm statistics).
"""
from __future__ import annotations

from tensorflow import keras
from tensorflow.keras import layers

from seis_keras.models.contract import InputContract
from seis_keras.models.init import check_init, layer_initializers

CITATION = ("Magrini, F. & Marrocco, G., explainable AI for seismic foreshock/aftershock classification "
            "(EQML project slides and public PyTorch code CNN2D)")

#: Code: the Norcia traces (100 Hz, 2500 samples, E/N/Z) -> scipy spectrogram (nperseg 64, noverlap 48),
#: log1p, min-max per channel; the training-set standardisation is fitted by the recipe and added to
#: the contract it exports.
CONTRACT = InputContract(sampling_rate=100.0, window_samples=2500, component_order="ENZ",
                         transforms=("LogSpectrogram",), class_names=("foreshock", "aftershock"))

#: Spatial shape (H, W) after each block for the (33, 153, 3) input: conv1, pool1, conv2,
#: pool2, conv3.
SPECTROGRAM_SHAPES = ((33, 153), (16, 76), (8, 38), (4, 19), (4, 19))


def spectrogram(*, n_classes: int = 2, n_frequencies: int = 33, n_times: int = 153,
                n_components: int = 3, filters: tuple[int, int, int] = (32, 64, 128),
                hidden_units: int = 128, bn_momentum: float = 0.9, bn_epsilon: float = 1e-5,
                bn_fused: bool = True, init: str = "pytorch", name: str = "spectrogram") -> keras.Model:
    """Build the Magrini & Marrocco spectrogram CNN (logits output).

    Args:
        n_classes: output classes; code 2 (0 foreshock, 1 aftershock).
        n_frequencies: spectrogram rows; 33 for ``nperseg=64``.
        n_times: spectrogram columns; 153 for 2500 samples, ``nperseg=64``, ``noverlap=48``.
        n_components: channels; 3.
        filters: filters of the three conv layers; code (32, 64, 128).
        hidden_units: width of the hidden fully connected layer; code 128.
        bn_momentum: Keras BatchNormalization momentum; 0.9 = PyTorch's 0.1.
        bn_epsilon: BatchNormalization epsilon; PyTorch's 1e-5.
        bn_fused: use Keras's fused BatchNorm kernel (True, default, faster) or not (False:
            needed by shap's DeepExplainer, which has no gradient for FusedBatchNormV3).
        init: initial weights: ``"pytorch"`` (the code's framework defaults: conv and dense
            weights and biases U(±1/√fan_in), :mod:`seis_keras.models.init`; default) or
            ``"keras"`` (Glorot-uniform, zero biases).
        name: model name.

    Returns:
        A functional model: input ``spectrogram`` ``(batch, n_frequencies, n_times,
        n_components)`` → output ``logits`` ``(batch, n_classes)``. Layers ``conv1``…``conv3``,
        ``bn1``…``bn3``, ``pool1``, ``pool2``, ``relu1``…``relu3``, ``fc1``, ``logits``.
    """
    fused = None if bn_fused else False
    check_init(init)

    def conv(x, filters, i, **kw):
        return layers.Conv2D(filters, 3, name=f"conv{i}", **kw, **layer_initializers(init, 9 * int(x.shape[-1])))(x)

    def dense(x, units, name):
        return layers.Dense(units, name=name, **layer_initializers(init, int(x.shape[-1])))(x)

    def batch_norm(i):
        return layers.BatchNormalization(momentum=bn_momentum, epsilon=bn_epsilon, fused=fused,
                                         name=f"bn{i}")

    inputs = keras.Input((n_frequencies, n_times, n_components), name="spectrogram")
    x = conv(inputs, filters[0], 1, padding="same")
    x = batch_norm(1)(x)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Activation("relu", name="relu1")(x)
    x = layers.ZeroPadding2D(1, name="pad2")(x)
    x = conv(x, filters[1], 2, strides=2, padding="valid")
    x = batch_norm(2)(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Activation("relu", name="relu2")(x)
    x = conv(x, filters[2], 3, padding="same")
    x = batch_norm(3)(x)
    x = layers.Activation("relu", name="relu3")(x)
    x = layers.Flatten(name="flatten")(x)
    x = dense(x, hidden_units, "fc1")
    x = layers.Activation("relu", name="fc1_relu")(x)
    outputs = dense(x, n_classes, "logits")
    return keras.Model(inputs, outputs, name=name)
