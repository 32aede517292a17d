"""Tests of seis_keras.models.norcia (Laurenti et al. 2024)."""
import pytest
from tensorflow import keras

from seis_keras.models import NORCIA_LENGTHS, NORCIA_PAPER_DILATION, get_model, receptive_field


def test_lengths_after_every_conv_and_pool_are_the_codes():
    model = get_model("norcia")
    assert model.input_shape == (None, 2500, 3)
    got = tuple((model.get_layer(f"conv{i}").output_shape[1], model.get_layer(f"pool{i}").output_shape[1])
                for i in range(1, 8))
    assert got == NORCIA_LENGTHS
    assert [length for pair in got for length in pair] == [
        2494, 2492, 1243, 1241, 1237, 1235, 1231, 1229, 1225, 1223, 1221, 1219, 1217, 1215]
    assert [model.get_layer(f"conv{i}").filters for i in range(1, 8)] == [32, 64, 64, 64, 128, 256, 256]


def test_block_order_bn_settings_and_head():
    model = get_model("norcia", n_classes=9)
    names = [layer.name for layer in model.layers]
    assert names[1:5] == ["conv1", "bn1", "pool1", "relu1"]
    bn = model.get_layer("bn3")
    assert (bn.momentum, bn.epsilon) == (0.9, 1e-5)
    assert isinstance(model.get_layer("relu1"), keras.layers.Activation)
    assert model.get_layer("dropout").rate == 0.3
    assert names[-3:] == ["global_pool", "dropout", "logits"] and model.output_shape == (None, 9)


def test_parameter_count_by_hand():
    blocks = [(3, 32, 7), (32, 64, 7), (64, 64, 5), (64, 64, 5), (64, 128, 5), (128, 256, 3), (256, 256, 3)]
    conv = sum(cin * cout * k + cout for cin, cout, k in blocks)
    bn = sum(4 * cout for _, cout, _ in blocks)
    for n_classes in (2, 4, 8, 9):
        assert get_model("norcia", n_classes=n_classes).count_params() == conv + bn + 256 * n_classes + n_classes


def test_dilation_setting():
    model = get_model("norcia", dilation=NORCIA_PAPER_DILATION)
    assert [model.get_layer(f"conv{i}").dilation_rate[0] for i in range(1, 8)] == list(NORCIA_PAPER_DILATION)
    # conv3 (kernel 5, dilation 2) shortens by 8 instead of 4
    assert model.get_layer("conv3").output_shape[1] == 1241 - 8
    assert receptive_field(model) > receptive_field(get_model("norcia")) == 71
    with pytest.raises(ValueError, match="one dilation per block"):
        get_model("norcia", dilation=(1, 2))
