"""Tests of seis_keras.models (registry and with_probabilities)."""
import numpy as np
import pytest
from tensorflow import keras

from seis_keras.models import MODELS, get_model, with_probabilities


def test_every_model_ends_in_logits_with_named_input():
    inputs = {"detector": "waveform", "norcia": "waveform", "precursor": "waveform",
              "spectrogram": "spectrogram", "subduction": "features"}
    assert set(MODELS) == set(inputs)
    for name, input_name in inputs.items():
        settings = {"input_length": 256, "filters": (4,) * 7} if name == "precursor" else {}
        model = get_model(name, **settings)
        assert model.layers[-1].name == "logits" and isinstance(model.layers[-1], keras.layers.Dense)
        assert model.layers[-1].activation is keras.activations.linear
        assert model.layers[0].name == input_name
        assert not any(isinstance(layer, keras.layers.ReLU) for layer in model.layers)


def test_with_probabilities_sigmoid_and_softmax():
    rng = np.random.default_rng(0)
    detector = get_model("detector")
    x = rng.standard_normal((4, 500, 3)).astype("float32")
    probs = with_probabilities(detector)
    assert probs.layers[-1].name == "probabilities"
    logits = detector(x).numpy()
    np.testing.assert_allclose(probs(x).numpy(), 1 / (1 + np.exp(-logits)), atol=1e-6)

    mlp = get_model("subduction", n_classes=3)
    f = rng.standard_normal((5, 49)).astype("float32")
    z = mlp(f).numpy()
    expected = np.exp(z - z.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    got = with_probabilities(mlp)(f).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-6)
    np.testing.assert_allclose(got.sum(axis=1), 1, atol=1e-6)
    # shares the weights
    mlp.get_layer("logits").set_weights([np.zeros((100, 3), "float32"), np.array([0, 1, 2], "float32")])
    np.testing.assert_allclose(with_probabilities(mlp)(f).numpy()[0], np.exp([0, 1, 2]) / np.exp([0, 1, 2]).sum(), atol=1e-6)


def test_errors():
    with pytest.raises(ValueError, match="unknown model 'resnet'"):
        get_model("resnet")
    with pytest.raises(ValueError, match="get_model\\(.detector.\\).*hiden_units"):
        get_model("detector", hiden_units=3)
    seq = keras.Sequential([keras.Input((4, 2)), keras.layers.Dense(3)])
    with pytest.raises(ValueError, match="expected \\(batch, k\\) logits"):
        with_probabilities(seq)
