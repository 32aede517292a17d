"""Tests of seis_keras.models.subduction (ml4szeq MLP)."""
import pytest
from tensorflow import keras

from seis_keras.models import get_model


def test_layers_shapes_and_parameters():
    model = get_model("subduction")
    assert model.input_shape == (None, 49) and model.layers[0].name == "features"
    assert [layer.name for layer in model.layers[1:]] == [
        "fc1", "dropout1", "relu1", "fc2", "dropout2", "relu2", "logits"]
    assert model.get_layer("fc1").units == 500 and model.get_layer("fc2").units == 100
    assert model.get_layer("dropout2").rate == 0.2
    assert model.output_shape == (None, 3)
    assert model.count_params() == (49 * 500 + 500) + (500 * 100 + 100) + (100 * 3 + 3)
    small = get_model("subduction", n_features=10, n_classes=2, hidden_units=(8, 4), dropout=0.0)
    assert small.count_params() == (10 * 8 + 8) + (8 * 4 + 4) + (4 * 2 + 2)
    assert isinstance(model.get_layer("relu1"), keras.layers.Activation)


def test_bad_hidden_units():
    with pytest.raises(ValueError, match="hidden_units"):
        get_model("subduction", hidden_units=(10,))
