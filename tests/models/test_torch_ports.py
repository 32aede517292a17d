"""Tests of seis_keras.models.torch_ports: PyTorch references and their weight ports.

Each PyTorch module gets random weights and random BatchNorm statistics; after porting, the
Keras model's logits (inference mode) must equal PyTorch's (eval mode) to 1e-4, and both
frameworks must count the same parameters.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from seis_keras.models import get_model  # noqa: E402
from seis_keras.models import torch_ports  # noqa: E402


def _randomise(module, seed):
    """Random weights (larger than default init) and random BN statistics."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            if name.endswith("running_var"):
                tensor.copy_(0.5 + torch.rand(tensor.shape, generator=gen))
            elif name.endswith("running_mean") or name.endswith(".bias"):
                tensor.copy_(0.3 * torch.randn(tensor.shape, generator=gen))
            elif name.startswith("bn") and name.endswith(".weight"):
                tensor.copy_(0.5 + torch.rand(tensor.shape, generator=gen))
            else:
                fan_in = tensor[0].numel() if tensor.dim() > 1 else tensor.numel()
                tensor.copy_(torch.randn(tensor.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
    return module.eval()


def _compare(keras_model, torch_model, port, x_keras, x_torch):
    port(keras_model, torch_model.state_dict())
    with torch.no_grad():
        expected = torch_model(torch.from_numpy(x_torch)).numpy()
    got = keras_model(x_keras, training=False).numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)
    assert np.abs(expected).max() > 1e-2  # a real signal reached the logits
    total, trainable = torch_ports.torch_parameter_count(torch_model)
    assert keras_model.count_params() == total
    assert sum(int(np.prod(w.shape)) for w in keras_model.trainable_weights) == trainable


def _waves(n, t, c, seed=0):
    x = np.random.default_rng(seed).standard_normal((n, t, c)).astype("float32")
    return x, np.ascontiguousarray(x.transpose(0, 2, 1))


def test_detector_port_matches_pytorch():
    torch.manual_seed(0)
    x, xt = _waves(4, 500, 3)
    _compare(get_model("detector"), _randomise(torch_ports.torch_detector(), 1),
             torch_ports.port_detector_weights, x, xt)


def test_small_detector_with_dropout_port_matches_pytorch():
    """The twin of ``detector(dropout>0)`` has the same module order (Dropout after fc1_relu)."""
    torch.manual_seed(0)
    x, xt = _waves(3, 32, 3, seed=10)
    twin = _randomise(torch_ports.torch_detector(filters=4, n_conv_blocks=2, hidden_units=8,
                                                 flat_length=8, dropout=0.3), 11)
    keras_model = get_model("detector", input_length=32, filters=4, n_conv_blocks=2, hidden_units=8,
                            dropout=0.3)
    assert list(dict(twin.named_children()))[-2:] == ["dropout", "logits"]
    assert [layer.name for layer in keras_model.layers][-2:] == ["dropout", "logits"]
    _compare(keras_model, twin, torch_ports.port_detector_weights, x, xt)
    assert "dropout" not in dict(torch_ports.torch_detector().named_children())  # default: none


@pytest.mark.parametrize("n_classes, dilation", [(2, None), (9, (1, 1, 2, 2, 4, 4, 8))])
def test_norcia_port_matches_pytorch(n_classes, dilation):
    torch.manual_seed(0)
    x, xt = _waves(2, 2500, 3, seed=2)
    x, xt = 30 * x, 30 * xt  # scale irrelevant (BN), but exercises the running statistics
    _compare(get_model("norcia", n_classes=n_classes, dilation=dilation),
             _randomise(torch_ports.torch_norcia(n_classes=n_classes, dilation=dilation), 3),
             torch_ports.port_norcia_weights, x, xt)


def test_spectrogram_port_matches_pytorch_including_flatten_order():
    torch.manual_seed(0)
    x = np.random.default_rng(4).random((3, 33, 153, 3)).astype("float32")
    xt = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    keras_model = get_model("spectrogram")
    torch_model = _randomise(torch_ports.torch_spectrogram(), 5)
    _compare(keras_model, torch_model, torch_ports.port_spectrogram_weights, x, xt)
    # without the (C, H, W) -> (H, W, C) reordering of fc1 the logits would differ
    torch_ports.port_weights(keras_model, torch_model.state_dict())
    with torch.no_grad():
        expected = torch_model(torch.from_numpy(xt)).numpy()
    assert np.abs(keras_model(x, training=False).numpy() - expected).max() > 1e-3


def test_subduction_port_matches_pytorch():
    x = np.random.default_rng(6).standard_normal((5, 49)).astype("float32")
    _compare(get_model("subduction"), _randomise(torch_ports.torch_subduction(), 7),
             torch_ports.port_subduction_weights, x, x)


def test_precursor_port_matches_pytorch():
    settings = dict(filters=(4, 4, 8, 8, 8, 16, 16), fc_units=8)
    # even length: TF 'same' pooling with stride 2 pads only on the right (0, 1)
    x, xt = _waves(2, 300, 3, seed=8)
    keras_model = get_model("precursor", input_length=300, **settings)
    torch_model = _randomise(torch_ports.torch_precursor(**settings), 9)
    _compare(keras_model, torch_model, torch_ports.port_precursor_weights, x, xt)
    np.testing.assert_array_equal(keras_model.get_layer("random_input").kernel.numpy(),
                                  torch_model.random_input.kernel.numpy())


def test_bad_state_dict_names_key_and_shape():
    state = torch_ports.torch_subduction().state_dict()
    model = get_model("subduction")
    with pytest.raises(ValueError, match=r"'fc1.weight'\]: shape \(500, 49\) \(expected \(400, 49\)\)"):
        torch_ports.port_subduction_weights(get_model("subduction", hidden_units=(400, 100)), state)
    del state["logits.bias"]
    with pytest.raises(ValueError, match="'logits.bias' missing"):
        torch_ports.port_subduction_weights(model, state)


@pytest.mark.parametrize("name", ["detector", "norcia", "spectrogram", "precursor", "subduction"])
def test_full_size_parameter_counts_equal(name):
    total, trainable = torch_ports.torch_parameter_count(getattr(torch_ports, f"torch_{name}")())
    model = get_model(name)
    assert model.count_params() == total
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == trainable
