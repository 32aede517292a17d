"""Tests of seis_keras.models.precursor (Ong et al.) and receptive_field."""
import numpy as np
import pytest
import tensorflow as tf
from tensorflow import keras

from seis_keras.models import RandomInputLayer, get_model, receptive_field

SMALL = dict(filters=(4, 4, 8, 8, 8, 16, 16), fc_units=8)


def test_full_shapes_and_paper_structure():
    model = get_model("precursor")
    assert model.input_shape == (None, 16384, 3)
    assert isinstance(model.get_layer("random_input"), RandomInputLayer)
    assert model.get_layer("random_input").mode == "input"  # §3 after Lee et al.: the input is convolved
    assert get_model("precursor", random_layer_mode="noise", **SMALL).get_layer("random_input").mode == "noise"
    assert model.layers[1].name == "random_input"
    conv_lengths = [model.get_layer(f"conv{i}").output_shape[1] for i in range(1, 8)]
    pool_lengths = [model.get_layer(f"pool{i}").output_shape[1] for i in range(1, 8)]
    assert conv_lengths == [16384, 16384] + [8192] * 5
    assert pool_lengths == [16384] + [8192] * 6
    assert [model.get_layer(f"pool{i}").strides[0] for i in range(1, 8)] == [1, 2, 1, 1, 1, 1, 1]
    dilations = [model.get_layer(f"conv{i}").dilation_rate[0] for i in range(1, 8)]
    assert dilations[:2] == [1, 1] and all(b > a for a, b in zip(dilations[2:], dilations[3:]))
    assert [model.get_layer(f"conv{i}").filters for i in (6, 7)] == [256, 256]
    assert isinstance(model.get_layer("conv3").kernel_initializer, keras.initializers.RandomNormal)
    names = [layer.name for layer in model.layers]
    assert names[2:6] == ["conv1", "bn1", "relu1", "pool1"]
    assert names[-4:] == ["fc1", "fc1_relu", "dropout", "logits"]
    assert model.get_layer("dropout").rate == 0.02 and model.output_shape == (None, 2)


def test_parameter_count_by_hand():
    f, k = (32, 64, 64, 128, 128, 256, 256), (7, 7, 9, 9, 9, 9, 9)
    cin = (3,) + f[:-1]
    conv = sum(c * o * kk + o for c, o, kk in zip(cin, f, k))
    assert get_model("precursor").count_params() == conv + 4 * sum(f) + 16 + (256 * 128 + 128) + (128 * 2 + 2)
    assert get_model("precursor", random_input=False).count_params() == conv + 4 * sum(f) + 256 * 128 + 128 + 258


def test_receptive_field_spans_several_periods_of_the_precursor_band():
    rf = receptive_field(get_model("precursor"))
    assert rf == 1 + 6 + 2 + 6 + 2 + 2 * (8 * (2 + 4 + 8 + 16 + 32) + 5 * 2) == 1029
    assert rf / 40.0 > 4 * (1 / 0.16) * 0.99  # > 4 periods of 0.16 Hz at 40 Hz
    assert receptive_field(get_model("precursor"), up_to="conv1") == 7
    with pytest.raises(ValueError, match="no layer 'nope'"):
        receptive_field(get_model("detector"), up_to="nope")


def test_receptive_field_agrees_with_gradients():
    """Input samples with a nonzero gradient for one output position: span = receptive field,
    and no holes (the dilations do not grid)."""
    model = get_model("precursor", input_length=2048, **SMALL)
    last = keras.Model(model.input, model.get_layer("pool7").output)
    x = tf.constant(np.random.default_rng(0).standard_normal((8, 2048, 3)).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(last(x, training=False)[:, 512, :])
    grad = tape.gradient(y, x).numpy()
    touched = np.flatnonzero(np.abs(grad).sum(axis=(0, 2)) > 0)
    span = touched[-1] - touched[0] + 1
    assert span == receptive_field(model) == 1029
    assert len(touched) == span


def test_input_length_and_errors():
    assert get_model("precursor", input_length=4096, **SMALL).output_shape == (None, 2)
    assert get_model("precursor", pooling="flatten", input_length=64, **SMALL).get_layer("fc1").input_shape == (None, 32 * 16)
    with pytest.raises(ValueError, match="kernel_sizes has 2 entries"):
        get_model("precursor", kernel_sizes=(3, 3))
    with pytest.raises(ValueError, match="pooling"):
        get_model("precursor", pooling="mean")
