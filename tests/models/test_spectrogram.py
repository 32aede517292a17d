"""Tests of seis_keras.models.spectrogram (Magrini & Marrocco)."""
from tensorflow import keras

from seis_keras.models import SPECTROGRAM_SHAPES, get_model


def test_shapes_after_every_block_and_flatten_9728():
    model = get_model("spectrogram")
    assert model.input_shape == (None, 33, 153, 3)
    names = ["conv1", "pool1", "conv2", "pool2", "conv3"]
    assert tuple(model.get_layer(n).output_shape[1:3] for n in names) == SPECTROGRAM_SHAPES
    assert model.get_layer("flatten").output_shape == (None, 4 * 19 * 128) == (None, 9728)
    assert model.output_shape == (None, 2) and model.layers[-1].name == "logits"


def test_same_padding_would_shift_the_stride_two_grid():
    """Why conv2 uses explicit padding: Keras 'same' pads 16x76 only bottom/right."""
    x = keras.Input((16, 76, 1))
    same = keras.layers.Conv2D(1, 3, strides=2, padding="same")(x)
    explicit = keras.layers.Conv2D(1, 3, strides=2)(keras.layers.ZeroPadding2D(1)(x))
    assert same.shape[1:3] == explicit.shape[1:3] == (8, 38)
    model = get_model("spectrogram")
    assert model.get_layer("pad2").padding == ((1, 1), (1, 1))
    assert model.get_layer("conv2").padding == "valid"


def test_parameter_count_and_bn_settings():
    conv = (3 * 9 * 32 + 32) + (32 * 9 * 64 + 64) + (64 * 9 * 128 + 128)
    bn = 4 * (32 + 64 + 128)
    dense = 9728 * 128 + 128 + 128 * 2 + 2
    model = get_model("spectrogram")
    assert model.count_params() == conv + bn + dense
    assert (model.get_layer("bn1").momentum, model.get_layer("bn1").epsilon) == (0.9, 1e-5)
    assert get_model("spectrogram", bn_fused=False).get_layer("bn2").fused is False
