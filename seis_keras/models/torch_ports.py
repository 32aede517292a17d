"""PyTorch reference versions of the paper models and ports of their weights to Keras.

The Norcia (Laurenti et al.), spectrogram (Magrini & Marrocco) and subduction (ml4szeq)
studies published PyTorch code; the detector (Majstorović et al.) was trained in PyTorch too.
The modules here are built layer for layer like that code (PyTorch layouts: waveforms
``(N, C, T)``, spectrograms ``(N, C, H, W)``), with module names equal to the Keras layer
names (``conv1``, ``bn1``, ``fc1``, ``logits``...), so a published ``state_dict`` can be
renamed to these keys and loaded into the Keras model with ``port_<name>_weights``.
``torch_precursor`` mirrors our Keras precursor (Ong et al. published no code) for the
training benchmark. ``torch`` is imported only when one of these functions is called.

Weight layouts (PyTorch → Keras):

- ``Conv1d`` weight ``(out, in, k)`` → ``Conv1D`` kernel ``(k, in, out)``.
- ``Conv2d`` weight ``(out, in, kh, kw)`` → ``Conv2D`` kernel ``(kh, kw, in, out)``.
- ``Linear`` weight ``(out, in)`` → ``Dense`` kernel ``(in, out)``; biases unchanged.
- ``BatchNorm`` ``weight, bias, running_mean, running_var`` → ``gamma, beta, moving_mean,
  moving_variance`` (``num_batches_tracked`` has no Keras counterpart and is ignored).
- Flatten order: PyTorch flattens ``(C, T)`` / ``(C, H, W)``, Keras ``(T, C)`` /
  ``(H, W, C)``; the columns of the Dense layer after a Flatten are permuted accordingly.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
from tensorflow import keras

from seis_keras.models.layers import RandomInputLayer
from seis_keras.models.norcia import NORCIA_BLOCKS
from seis_keras.models.precursor import (PRECURSOR_DILATIONS, PRECURSOR_FILTERS,
                                         PRECURSOR_KERNELS, PRECURSOR_POOL_STRIDES)


def _torch():
    try:
        import torch
    except ImportError as err:  # pragma: no cover - torch is an optional extra
        raise ImportError("seis_keras.models.torch_ports needs PyTorch "
                          "(pip install -r requirements/torch.txt)") from err
    return torch


def _sequential(modules):
    from collections import OrderedDict

    return _torch().nn.Sequential(OrderedDict(modules))


def torch_detector(*, n_components: int = 3, filters: int = 32, n_conv_blocks: int = 7,
                   hidden_units: int = 64, flat_length: int = 4, dropout: float = 0.0):
    """The Majstorović detector in PyTorch: input ``(N, C, 500)`` → logits ``(N, 1)``.

    Args:
        n_components: input channels.
        filters: filters per conv layer.
        n_conv_blocks: conv layers (kernel 3, stride 2, padding 1).
        hidden_units: width of ``fc1``.
        flat_length: sequence length after the last conv (4 for 500 samples).
        dropout: rate of a ``dropout`` module after ``fc1_relu``; 0 (default) adds none,
            as ``detector(dropout=0)`` adds no Dropout layer.

    Returns:
        ``torch.nn.Sequential``.
    """
    nn = _torch().nn
    modules, channels = [], n_components
    for i in range(1, n_conv_blocks + 1):
        modules += [(f"conv{i}", nn.Conv1d(channels, filters, 3, stride=2, padding=1)),
                    (f"relu{i}", nn.ReLU())]
        channels = filters
    modules += [("flatten", nn.Flatten()), ("fc1", nn.Linear(filters * flat_length, hidden_units)),
                ("fc1_relu", nn.ReLU())]
    if dropout > 0:
        modules.append(("dropout", nn.Dropout(dropout)))
    modules.append(("logits", nn.Linear(hidden_units, 1)))
    return _sequential(modules)


def torch_norcia(*, n_classes: int = 2, n_components: int = 3, blocks=NORCIA_BLOCKS,
                 dilation=None, pool_size: int = 3, dropout: float = 0.3):
    """The Laurenti et al. classifier in PyTorch: input ``(N, C, 2500)`` → logits.

    Args:
        n_classes: output classes.
        n_components: input channels.
        blocks: ``(filters, kernel_size, stride)`` per block.
        dilation: dilation per block, ``None`` for none.
        pool_size: max-pool window (stride 1).
        dropout: dropout before the output layer.

    Returns:
        ``torch.nn.Sequential`` (Conv1d → BatchNorm1d → MaxPool1d → ReLU blocks).
    """
    nn = _torch().nn
    dilation = (1,) * len(blocks) if dilation is None else dilation
    modules, channels = [], n_components
    for i, ((filters, kernel, stride), rate) in enumerate(zip(blocks, dilation), start=1):
        modules += [(f"conv{i}", nn.Conv1d(channels, filters, kernel, stride=stride, dilation=rate)),
                    (f"bn{i}", nn.BatchNorm1d(filters, eps=1e-5, momentum=0.1)),
                    (f"pool{i}", nn.MaxPool1d(pool_size, stride=1)), (f"relu{i}", nn.ReLU())]
        channels = filters
    modules += [("global_pool", nn.AdaptiveAvgPool1d(1)), ("flatten", nn.Flatten()),
                ("dropout", nn.Dropout(dropout)), ("logits", nn.Linear(channels, n_classes))]
    return _sequential(modules)


def torch_spectrogram(*, n_classes: int = 2, n_components: int = 3, filters=(32, 64, 128),
                      hidden_units: int = 128, flat_shape=(4, 19)):
    """Magrini & Marrocco's ``CNN2D`` in PyTorch: input ``(N, C, 33, 153)`` → logits.

    Args:
        n_classes: output classes.
        n_components: input channels.
        filters: filters of the three conv layers.
        hidden_units: width of ``fc1``.
        flat_shape: ``(H, W)`` after the last conv (4 × 19 for a 33 × 153 input).

    Returns:
        ``torch.nn.Sequential``.
    """
    nn = _torch().nn
    modules = [("conv1", nn.Conv2d(n_components, filters[0], 3, padding=1)),
               ("bn1", nn.BatchNorm2d(filters[0])), ("pool1", nn.MaxPool2d(2)), ("relu1", nn.ReLU()),
               ("conv2", nn.Conv2d(filters[0], filters[1], 3, stride=2, padding=1)),
               ("bn2", nn.BatchNorm2d(filters[1])), ("pool2", nn.MaxPool2d(2)), ("relu2", nn.ReLU()),
               ("conv3", nn.Conv2d(filters[1], filters[2], 3, padding=1)),
               ("bn3", nn.BatchNorm2d(filters[2])), ("relu3", nn.ReLU()),
               ("flatten", nn.Flatten()),
               ("fc1", nn.Linear(filters[2] * flat_shape[0] * flat_shape[1], hidden_units)),
               ("fc1_relu", nn.ReLU()), ("logits", nn.Linear(hidden_units, n_classes))]
    return _sequential(modules)


def torch_subduction(*, n_features: int = 49, n_classes: int = 3, hidden_units=(500, 100),
                     dropout: float = 0.2):
    """The ml4szeq MLP in PyTorch: input ``(N, n_features)`` → logits ``(N, n_classes)``.

    Args:
        n_features: input features.
        n_classes: output classes.
        hidden_units: ``(h1, h2)``.
        dropout: rate of both dropout layers.

    Returns:
        ``torch.nn.Sequential`` (Linear → Dropout → ReLU, twice, then Linear).
    """
    nn = _torch().nn
    modules, width = [], n_features
    for i, units in enumerate(hidden_units, start=1):
        modules += [(f"fc{i}", nn.Linear(width, units)), (f"dropout{i}", nn.Dropout(dropout)),
                    (f"relu{i}", nn.ReLU())]
        width = units
    modules.append(("logits", nn.Linear(width, n_classes)))
    return _sequential(modules)


def _torch_precursor_layers():
    """PyTorch modules the precursor needs: TF-style 'same' max pooling, the random input."""
    torch = _torch()
    nn, F = torch.nn, torch.nn.functional

    class SameMaxPool1d(nn.Module):
        """Max pooling padded like TensorFlow's ``"same"`` (extra pad on the right, -inf)."""

        def __init__(self, size, stride):
            super().__init__()
            self.size, self.stride = size, stride

        def forward(self, x):
            length = x.shape[-1]
            out = -(-length // self.stride)
            total = max((out - 1) * self.stride + self.size - length, 0)
            x = F.pad(x, (total // 2, total - total // 2), value=float("-inf"))
            return F.max_pool1d(x, self.size, self.stride)

    class RandomInput(nn.Module):
        """Training-only coloured noise, as ``layers.RandomInputLayer`` (kernel is a buffer)."""

        def __init__(self, fraction, kernel_size):
            super().__init__()
            self.fraction = fraction
            self.register_buffer("kernel", torch.randn(kernel_size) / kernel_size ** 0.5)

        def forward(self, x):
            if not self.training:
                return x
            n, c, t = x.shape
            noise = torch.randn(n * c, 1, t, dtype=x.dtype)
            k = self.kernel.numel()
            noise = F.conv1d(F.pad(noise, ((k - 1) // 2, k // 2)), self.kernel.view(1, 1, -1))
            noise = noise.view(n, c, t)
            rms_x = x.pow(2).mean(dim=(1, 2), keepdim=True).sqrt()
            rms_n = noise.pow(2).mean(dim=(1, 2), keepdim=True).sqrt().clamp_min(1e-12)
            return x + noise * (self.fraction * rms_x / rms_n)

    return SameMaxPool1d, RandomInput


def torch_precursor(*, n_components: int = 3, n_classes: int = 2, filters=PRECURSOR_FILTERS,
                    kernel_sizes=PRECURSOR_KERNELS, dilations=PRECURSOR_DILATIONS,
                    pool_size: int = 3, pool_strides=PRECURSOR_POOL_STRIDES, fc_units: int = 128,
                    dropout: float = 0.02, bn_momentum: float = 0.99, bn_epsilon: float = 1e-3,
                    random_input: bool = True, noise_rms_fraction: float = 0.25,
                    random_kernel_size: int = 16):
    """Our precursor architecture (``precursor.precursor``, "same" padding, global average
    head) in PyTorch: input ``(N, C, T)`` → logits ``(N, n_classes)``. Arguments as there;
    ``bn_momentum`` is Keras's (PyTorch momentum = 1 - bn_momentum).

    Returns:
        ``torch.nn.Sequential``.
    """
    nn = _torch().nn
    SameMaxPool1d, RandomInput = _torch_precursor_layers()
    modules, channels = [], n_components
    if random_input:
        modules.append(("random_input", RandomInput(noise_rms_fraction, random_kernel_size)))
    for i, (f, k, d, s) in enumerate(zip(filters, kernel_sizes, dilations, pool_strides), start=1):
        modules += [(f"conv{i}", nn.Conv1d(channels, f, k, dilation=d, padding="same")),
                    (f"bn{i}", nn.BatchNorm1d(f, eps=bn_epsilon, momentum=1 - bn_momentum)),
                    (f"relu{i}", nn.ReLU()), (f"pool{i}", SameMaxPool1d(pool_size, s))]
        channels = f
    modules += [("global_pool", nn.AdaptiveAvgPool1d(1)), ("flatten", nn.Flatten()),
                ("fc1", nn.Linear(channels, fc_units)), ("fc1_relu", nn.ReLU()),
                ("dropout", nn.Dropout(dropout)), ("logits", nn.Linear(fc_units, n_classes))]
    return _sequential(modules)


def torch_parameter_count(module) -> tuple[int, int]:
    """``(total, trainable)`` counted the way Keras's ``count_params`` counts.

    Total = parameters + BatchNorm running mean/variance + other float buffers (the random
    input kernel); ``num_batches_tracked`` is not counted (Keras has no such weight).
    """
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    buffers = sum(b.numel() for name, b in module.named_buffers()
                  if not name.endswith("num_batches_tracked"))
    return trainable + buffers, trainable


def _as_numpy(value) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float32)


def _get(state_dict: Mapping, key: str, shape: tuple) -> np.ndarray:
    if key not in state_dict:
        raise ValueError(f"state_dict: key {key!r} missing (expected a tensor of shape {shape})")
    array = _as_numpy(state_dict[key])
    if array.shape != tuple(shape):
        raise ValueError(f"state_dict[{key!r}]: shape {array.shape} (expected {tuple(shape)})")
    return array


def port_weights(keras_model: keras.Model, state_dict: Mapping,
                 flatten_from: Mapping[str, tuple[int, ...]] | None = None) -> keras.Model:
    """Copy a PyTorch ``state_dict`` into the Keras layers of the same names.

    Args:
        keras_model: the Keras model; its layers are filled in place.
        state_dict: PyTorch tensors or numpy arrays keyed ``<layer>.weight`` etc.
        flatten_from: for Dense layers right after a Flatten, the PyTorch ``(C, *spatial)``
            shape of the flattened tensor, by layer name; their input columns are permuted
            from PyTorch's channels-first to Keras's channels-last order.

    Returns:
        ``keras_model``.

    Raises:
        ValueError: a key missing from ``state_dict``, or a tensor of the wrong shape.
    """
    flatten_from = dict(flatten_from or {})
    for layer in keras_model.layers:
        p = layer.name
        if isinstance(layer, (keras.layers.Conv1D, keras.layers.Conv2D)):
            kernel = layer.kernel.shape
            torch_shape = (kernel[-1], kernel[-2], *kernel[:-2])
            order = (2, 1, 0) if len(kernel) == 3 else (2, 3, 1, 0)
            weights = [_get(state_dict, f"{p}.weight", torch_shape).transpose(order)]
            if layer.use_bias:
                weights.append(_get(state_dict, f"{p}.bias", (kernel[-1],)))
        elif isinstance(layer, keras.layers.Dense):
            n_in, n_out = layer.kernel.shape
            w = _get(state_dict, f"{p}.weight", (n_out, n_in))
            if p in flatten_from:
                c, *spatial = flatten_from[p]
                w = w.reshape(n_out, c, *spatial)
                w = w.transpose(0, *range(2, 2 + len(spatial)), 1).reshape(n_out, n_in)
            weights = [w.T, _get(state_dict, f"{p}.bias", (n_out,))]
        elif isinstance(layer, keras.layers.BatchNormalization):
            n = layer.moving_mean.shape[0]
            weights = [_get(state_dict, f"{p}.{key}", (n,))
                       for key in ("weight", "bias", "running_mean", "running_var")]
        elif isinstance(layer, RandomInputLayer):
            weights = [_get(state_dict, f"{p}.kernel", (layer.kernel_size,))]
        elif layer.weights:
            raise ValueError(f"port_weights: no PyTorch counterpart for layer {p!r} "
                             f"({type(layer).__name__})")
        else:
            continue
        layer.set_weights(weights)
    return keras_model


def _channels_first(keras_model: keras.Model, layer: str) -> tuple[int, ...]:
    shape = keras_model.get_layer(layer).output_shape[1:]
    return (shape[-1], *shape[:-1])


def port_detector_weights(keras_model: keras.Model, state_dict: Mapping) -> keras.Model:
    """``torch_detector`` weights → ``detector`` (``fc1`` columns reordered from (C, T))."""
    return port_weights(keras_model, state_dict, {"fc1": _before_flatten(keras_model)})


def _before_flatten(keras_model: keras.Model) -> tuple[int, ...]:
    names = [layer.name for layer in keras_model.layers]
    return _channels_first(keras_model, names[names.index("flatten") - 1])


def port_norcia_weights(keras_model: keras.Model, state_dict: Mapping) -> keras.Model:
    """``torch_norcia`` (or the authors', renamed) weights → ``norcia``."""
    return port_weights(keras_model, state_dict)


def port_spectrogram_weights(keras_model: keras.Model, state_dict: Mapping) -> keras.Model:
    """``CNN2D`` weights → ``spectrogram`` (``fc1`` columns reordered from (C, H, W))."""
    return port_weights(keras_model, state_dict, {"fc1": _before_flatten(keras_model)})


def port_subduction_weights(keras_model: keras.Model, state_dict: Mapping) -> keras.Model:
    """ml4szeq MLP weights → ``subduction``."""
    return port_weights(keras_model, state_dict)


def port_precursor_weights(keras_model: keras.Model, state_dict: Mapping) -> keras.Model:
    """``torch_precursor`` weights → ``precursor`` (random input kernel included)."""
    return port_weights(keras_model, state_dict)
