"""Tests of seis_keras.models.detector (Majstorović et al. 2023)."""
import numpy as np
import pytest
from tensorflow import keras

from seis_keras.models import DETECTOR_CONV_LENGTHS, get_model, receptive_field


def test_conv_lengths_and_flatten_are_the_papers():
    model = get_model("detector")
    assert model.input_shape == (None, 500, 3)
    assert model.get_layer("waveform").name == "waveform"
    lengths = tuple(model.get_layer(f"conv{i}").output_shape[1] for i in range(1, 8))
    assert lengths == DETECTOR_CONV_LENGTHS == (250, 125, 63, 32, 16, 8, 4)
    assert all(model.get_layer(f"conv{i}").output_shape[2] == 32 for i in range(1, 8))
    assert model.get_layer("flatten").output_shape == (None, 128)
    assert model.layers[-1].name == "logits" and model.output_shape == (None, 1)


def test_parameter_count_by_hand():
    conv = 3 * 3 * 32 + 32 + 6 * (3 * 32 * 32 + 32)
    assert get_model("detector").count_params() == conv + 128 * 64 + 64 + 64 + 1
    assert get_model("detector", hidden_units=16).count_params() == conv + 128 * 16 + 16 + 17


def test_padding_is_pytorch_padding_one():
    """Conv1 output t sees input samples 2t-1, 2t, 2t+1 (zero outside), as PyTorch padding=1."""
    model = get_model("detector")
    conv1 = model.get_layer("conv1")
    kernel = np.zeros((3, 3, 32), "float32")
    kernel[:, 0, 0] = [1.0, 10.0, 100.0]
    conv1.set_weights([kernel, np.zeros(32, "float32")])
    sub = keras.Model(model.input, conv1.output)
    x = np.zeros((1, 500, 3), "float32")
    x[0, :, 0] = np.arange(1, 501)
    out = sub(x).numpy()[0, :, 0]
    assert out[0] == 0 * 1 + 1 * 10 + 2 * 100  # left pad, samples 0, 1 (values 1, 2)
    assert out[1] == 2 * 1 + 3 * 10 + 4 * 100
    assert out[-1] == 498 * 1 + 499 * 10 + 500 * 100


def test_receptive_field():
    # each stride-2 kernel-3 layer adds 2 x jump; jumps 1, 2, ..., 64
    assert receptive_field(get_model("detector")) == 1 + 2 * (2 ** 7 - 1) == 255


def test_dropout_setting_and_errors():
    assert any(isinstance(layer, keras.layers.Dropout)
               for layer in get_model("detector", dropout=0.3).layers)
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in get_model("detector").layers)
    with pytest.raises(ValueError, match="dropout"):
        get_model("detector", dropout=1.5)
