"""PyTorch's default initialisation for the PyTorch-reference models (seis_keras.models.init)."""
import numpy as np
import pytest
from scipy import stats
from tensorflow import keras

from seis_keras.models import get_model
from seis_keras.models.init import layer_initializers, torch_default_bound
from seis_keras.train.mlp import MLPTrainer

BLOCKS = [(16, 7, 1), (16, 5, 2), (32, 3, 1)]


def _fan_in(kernel: np.ndarray) -> int:
    return int(np.prod(kernel.shape[:-1]))  # Conv1D (k, cin, cout), Conv2D (kh, kw, cin, cout), Dense (in, out)


def _weighted(model):
    return [layer for layer in model.layers if layer.name.startswith(("conv", "fc", "logits")) and layer.weights]


@pytest.mark.parametrize("name, settings", [("norcia", {"blocks": BLOCKS, "input_length": 200}),
                                            ("spectrogram", {"filters": (8, 16, 16), "hidden_units": 32})])
def test_pytorch_init_draws_weights_and_biases_uniform_on_one_over_root_fan_in(name, settings):
    keras.utils.set_random_seed(0)  # the draws are unseeded, as Keras's defaults: fix them for the test
    model = get_model(name, **settings)  # the default: PyTorch's layer defaults
    layers = _weighted(model)
    assert len(layers) == (len(BLOCKS) + 1 if name == "norcia" else 5)
    for layer in layers:
        kernel, bias = (w.numpy().astype(np.float64) for w in layer.weights[:2])
        bound = 1.0 / np.sqrt(_fan_in(kernel))
        assert torch_default_bound(_fan_in(kernel)) == pytest.approx(bound)
        for w in (kernel, bias):
            assert np.abs(w).max() <= bound * (1 + 1e-6)
        # uniform on [-b, b]: variance b²/3 (Kaiming-uniform a = √5 = 1/(3 fan_in)), and the bound is reached
        assert kernel.var() == pytest.approx(bound ** 2 / 3, rel=0.2 if kernel.size > 500 else 0.5)
        assert np.abs(kernel).max() > 0.9 * bound
        assert stats.kstest(kernel.ravel() / bound, stats.uniform(-1, 2).cdf).pvalue > 1e-3
        if bias.size >= 8:  # Keras's default bias is zero; 8 draws all below 0.3 b: probability 0.3^8
            assert np.abs(bias).max() > 0.3 * bound
        assert bias.any()
    # Keras's own defaults stay a setting: Glorot kernels (a wider bound at these sizes), zero biases
    keras_model = get_model(name, init="keras", **settings)
    for layer in _weighted(keras_model):
        kernel, bias = (w.numpy() for w in layer.weights[:2])
        fan_in, fan_out = _fan_in(kernel), int(np.prod(kernel.shape[:-2])) * kernel.shape[-1]
        assert np.abs(kernel).max() <= np.sqrt(6 / (fan_in + fan_out)) * (1 + 1e-6)
        assert not bias.any()
    head = keras_model.get_layer("logits").weights[0].numpy()  # Glorot: sqrt(6 / (fan_in + 2)), ~2x PyTorch's
    assert np.abs(head).max() > 1.2 / np.sqrt(_fan_in(head))  # outside PyTorch's bound: the two differ
    with pytest.raises(ValueError, match="init: expected one of 'pytorch', 'keras', got 'torch'"):
        get_model(name, init="torch", **settings)


def test_the_distributions_match_torch_nn_layers():
    torch = pytest.importorskip("torch")  # the test extra (requirements/torch.txt)
    torch.manual_seed(0)
    keras.utils.set_random_seed(0)
    ours = get_model("norcia", blocks=[(64, 5, 1)], input_length=50, n_classes=64)
    ref = {"conv1": torch.nn.Conv1d(3, 64, 5), "logits": torch.nn.Linear(64, 64)}
    for name, layer in ref.items():
        kernel, bias = (w.numpy().ravel() for w in ours.get_layer(name).weights[:2])
        t_w, t_b = layer.weight.detach().numpy().ravel(), layer.bias.detach().numpy().ravel()
        assert np.abs(t_w).max() <= torch_default_bound(_fan_in(ours.get_layer(name).weights[0].numpy())) + 1e-7
        assert stats.ks_2samp(kernel, t_w).pvalue > 1e-3 and stats.ks_2samp(bias, t_b).pvalue > 1e-3
        assert kernel.std() == pytest.approx(t_w.std(), rel=0.1)


def test_the_mlp_redraw_uses_the_same_bound():
    rng = np.random.default_rng(0)
    shapes = [np.zeros((40, 30)), np.zeros(30), np.zeros((30, 2)), np.zeros(2)]
    drawn = MLPTrainer._initial(shapes, rng, "pytorch")
    for w, fan_in in zip(drawn, (40, 40, 30, 30)):
        assert np.abs(w).max() <= torch_default_bound(fan_in)
    assert drawn[0].var() == pytest.approx(torch_default_bound(40) ** 2 / 3, rel=0.1)
    assert layer_initializers("keras", 10) == {}
    with pytest.raises(ValueError, match="fan_in"):
        torch_default_bound(0)
