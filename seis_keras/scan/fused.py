"""The scan's compiled forward pass: the padding folded into the convolutions, the normalisation in the graph.

PyTorch's ``Conv1d(padding=1)`` is written in Keras as ``ZeroPadding1D(1)`` + ``Conv1D(padding="valid")``
(the Majstorović detector: seven times). In a compiled graph each ``ZeroPadding1D`` is a ``Pad``
op that copies the whole activation, and each ``Conv1D`` wraps its ``Conv2D`` in an
``ExpandDims``/``Squeeze`` pair. :func:`fused_forward` runs the same layers with the padding
given to the convolution itself (``tf.nn.conv2d`` with explicit paddings, on a ``(B, 1, T, C)``
tensor kept 4-D through a run of convolutions and element-wise activations): the same
multiplications and sums on the same weights, no copies in between. The outputs equal the
model's (tests/scan/test_scan.py checks it bit for bit on the detector); bench/scan.py: 1.21-1.28x
over the model's own layers (paired medians, 8,631 detector windows, load 3-4.6).

Only models whose layers form one chain (each layer fed by the one before) are rewritten; for
any other model, or a layer it does not know, :func:`fused_forward` returns ``None`` and the scan
calls the model itself.

:func:`graph_transform` is the contract's window transforms as TensorFlow ops when each has an
exact one (``MaxNormalize``: the same max, sum and IEEE division as numpy's, so the same
float32 numbers): the scan then feeds raw windows and normalises inside the compiled pass
(on its threads, no numpy pass and temporaries per batch; bench/scan.py did not resolve a
speed difference: 1.11x and 0.91x in two paired runs under load 4); for any other transform it
returns ``None`` and the scan normalises with the contract's numpy transforms as before.
"""
from __future__ import annotations

import tensorflow as tf
from tensorflow import keras

from seis_keras.data.transforms import MaxNormalize
from seis_keras.models.contract import transform_from_spec


def _chain(model) -> list | None:
    """The model's layers in order when each is fed by exactly the one before it, else ``None``."""
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if not layers or len(model.inputs) != 1 or len(model.outputs) != 1:
        return None
    previous = model.inputs[0]
    for layer in layers:
        if len(layer._inbound_nodes) != 1 or layer.input is not previous:
            return None
        previous = layer.output
    return layers if previous is model.outputs[0] else None


def _foldable_conv(layer) -> bool:
    return (type(layer) is keras.layers.Conv1D and layer.padding in ("valid", "same") and layer.groups == 1
            and layer.data_format == "channels_last" and layer.dtype_policy.compute_dtype == "float32")


def fused_forward(model):
    """``x (B, T, C) float32 -> model(x, training=False)`` with the padding folded into the convolutions.

    Returns:
        A function for use inside ``tf.function``, or ``None`` when the model is not a chain of
        float32 layers (then call the model).
    """
    layers = _chain(model) if isinstance(model, keras.Model) else None
    if layers is None:
        return None
    steps, i = [], 0
    while i < len(layers):
        layer = layers[i]
        pad = None
        if type(layer) is keras.layers.ZeroPadding1D and i + 1 < len(layers) and _foldable_conv(layers[i + 1]) \
                and layers[i + 1].padding == "valid":
            pad, layer = tuple(int(p) for p in layer.padding), layers[i + 1]
            i += 1
        if _foldable_conv(layer):
            steps.append(("conv", layer, pad))
        elif type(layer) in (keras.layers.Activation, keras.layers.ReLU):
            steps.append(("elementwise", layer, None))
        else:
            steps.append(("layer", layer, None))
        i += 1

    def forward(x):
        h, four_d = x, False
        for kind, layer, pad in steps:
            if kind == "layer":
                if four_d:
                    h, four_d = tf.squeeze(h, axis=1), False
                h = layer(h, training=False)
                continue
            if kind == "elementwise":
                h = layer(h)
                continue
            if not four_d:
                h, four_d = tf.expand_dims(h, axis=1), True
            padding = [[0, 0], [0, 0], list(pad), [0, 0]] if pad is not None else layer.padding.upper()
            h = tf.nn.conv2d(h, tf.expand_dims(layer.kernel, 0), strides=[1, 1, layer.strides[0], 1],
                             padding=padding, dilations=[1, 1, layer.dilation_rate[0], 1])
            if layer.use_bias:
                h = tf.nn.bias_add(h, layer.bias)
            if layer.activation is not None:
                h = layer.activation(h)
        return tf.squeeze(h, axis=1) if four_d else h

    return forward


def graph_transform(specs):
    """The contract's window transforms (spec strings) as a TF function, or ``None`` when one has no exact TF twin.

    ``()`` gives the identity; each ``MaxNormalize(eps)`` divides a window by its max
    ``|value|`` over time and components plus ``eps`` (as :class:`seis_keras.data.transforms.MaxNormalize`).
    """
    transforms = [transform_from_spec(s, where="InputContract.transforms") for s in specs]
    if not all(type(t) is MaxNormalize for t in transforms):
        return None

    def apply(x):
        for t in transforms:
            x = x / (tf.reduce_max(tf.abs(x), axis=(1, 2), keepdims=True) + t.eps)
        return x

    return apply
