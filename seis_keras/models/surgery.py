"""Model surgery: rebuild a trained Keras model into an equivalent one that explainers accept.

innvestigate (LRP) and shap's DeepExplainer trip over three things our models contain:

- the precursor model's ``RandomInputLayer`` (identity at inference, a custom layer the
  LRP model checks refuse) -> :func:`strip_random_input`;
- ``BatchNormalization`` (innvestigate's LRP rules handle it wrongly, ~30x off; its
  gradient analyzers and DeepExplainer fail on it) -> :func:`fold_batchnorm`, an exact
  rewrite into the preceding Conv/Dense layer;
- an output activation (softmax/sigmoid) where relevance must start at the logits ->
  :func:`logits_model`.

Every function returns a **new** functional model built from fresh copies of the layers
(``from_config`` + ``set_weights``); the input model is never modified and shares no
layer or variable with the result. Layer names are kept (``conv1``, ``logits`` ...).
Works for functional and (built) Sequential models whose layers are plain layers (no
nested models), in eager and in graph mode.
"""
from __future__ import annotations

import contextlib
from typing import Callable

import numpy as np
from tensorflow import keras

__all__ = ["strip_random_input", "fold_batchnorm", "folded_weights", "logits_model", "FOLDABLE_LAYERS"]

#: Layers a following BatchNormalization can be folded into (linear activation only).
FOLDABLE_LAYERS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D, keras.layers.Dense)

#: Class names treated as identity at inference by :func:`strip_random_input`.
RANDOM_INPUT_CLASSES = ("RandomInputLayer",)


class _Always:
    """Stand-in for Keras' per-usage tensor lists: ``pop()`` always returns the tensor."""

    def __init__(self, tensor):
        self.tensor = tensor

    def pop(self):
        return self.tensor


def _check_graph_model(model, what: str) -> None:
    if not isinstance(model, keras.Model) or not getattr(model, "_is_graph_network", False):
        raise ValueError(
            f"{what}: expected a functional or built Sequential keras.Model, got {type(model).__name__} "
            "(subclassed or unbuilt models have no layer graph to rebuild)"
        )
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            raise ValueError(f"{what}: nested model '{layer.name}' is not supported (flatten it into one model)")


def _copy_layer(layer, weights=None, **config_changes):
    """A fresh, unbuilt copy of ``layer`` plus the weights to set once it is built."""
    config = layer.get_config()
    config.update(config_changes)
    new = layer.__class__.from_config(config)
    return new, (_values(layer.weights) if weights is None else weights)


def _values(variables):
    """Current values of ``variables``, cached per model rebuild (one session run in graph mode)."""
    return [_VALUES[id(v)] if id(v) in _VALUES else keras.backend.get_value(v) for v in variables]


_VALUES: dict = {}  # id(variable) -> value, filled by _weight_cache for the model being rebuilt


@contextlib.contextmanager
def _weight_cache(model):
    """Read all of ``model``'s weights at once (one session run in graph mode)."""
    _VALUES.clear()
    _VALUES.update(zip(map(id, model.weights), keras.backend.batch_get_value(model.weights)))
    try:
        yield
    finally:
        _VALUES.clear()


def _rebuild(model, plan: Callable):
    """Re-run ``model``'s layer graph on new inputs, letting ``plan`` change each node.

    ``plan(node)`` returns ``"copy"`` (fresh copy of the node's layer), ``"identity"``
    (the node's single input is passed through unchanged) or ``(layer, weights)`` (call
    this new layer instead, then set these weights).
    """
    new_inputs = []
    tensors = {}
    for x in model.inputs:
        layer = x._keras_history.layer
        config = layer.get_config()
        new_in = keras.Input(batch_shape=config["batch_input_shape"], dtype=config["dtype"], name=config["name"])
        tensors[str(id(x))] = _Always(new_in)
        new_inputs.append(new_in)

    copies = {}  # id(original layer) -> [new layer, weights, called]
    for depth in sorted(model._nodes_by_depth, reverse=True):
        for node in model._nodes_by_depth[depth]:
            if node.is_input:
                continue
            action = plan(node)
            args, kwargs = node.map_arguments(tensors)
            if action == "identity":
                inputs = [t.tensor for t in (tensors[i] for i in node.flat_input_ids)]
                if len(inputs) != 1:
                    raise ValueError(f"layer '{node.layer.name}' has {len(inputs)} inputs; cannot pass it through")
                outputs = inputs[0]
            else:
                key = id(node.layer)
                if key not in copies:
                    if action == "copy":
                        new_layer, weights = _copy_layer(node.layer)
                    else:
                        new_layer, weights = action
                    copies[key] = [new_layer, weights, False]
                entry = copies[key]
                outputs = entry[0](*args, **kwargs)
                entry[2] = True
            for x_id, y in zip(node.flat_output_ids, _flatten(outputs)):
                tensors[x_id] = _Always(y)

    assignments = []
    for new_layer, weights, _ in copies.values():
        if len(new_layer.weights) != len(weights):
            raise ValueError(f"layer '{new_layer.name}': rebuilt copy has {len(new_layer.weights)} weights, "
                             f"expected {len(weights)}")
        assignments += zip(new_layer.weights, weights)
    keras.backend.batch_set_value(assignments)
    new_outputs = [tensors[str(id(x))].tensor for x in model.outputs]
    return keras.Model(new_inputs, new_outputs if len(new_outputs) > 1 else new_outputs[0], name=model.name)


def _flatten(outputs):
    import tensorflow as tf

    return tf.nest.flatten(outputs)


def strip_random_input(model, classes: tuple[str, ...] = RANDOM_INPUT_CLASSES):
    """Rebuild ``model`` without its random-input (training-time noise) layers.

    The precursor model's ``RandomInputLayer`` adds filtered noise during training only
    and is the identity at inference, so removing it leaves every inference output
    unchanged while making the graph acceptable to innvestigate.

    Args:
        model: a functional or built Sequential keras model, input ``(N, ...)``.
        classes: layer class names removed (each must have exactly one input).

    Returns:
        A new model with the same inputs and outputs (shapes ``(N, ...)`` as ``model``);
        a copy even when nothing was removed.
    """
    _check_graph_model(model, "strip_random_input")
    with _weight_cache(model):
        return _rebuild(model, lambda node: "identity" if type(node.layer).__name__ in classes else "copy")


def _producer(node):
    """The node that produced a node's single input tensor."""
    inputs = node.keras_inputs
    if len(inputs) != 1:
        return None, None
    history = inputs[0]._keras_history
    return history.layer, history.layer._inbound_nodes[history.node_index]


def fold_batchnorm(model):
    """Fold every BatchNormalization into the Conv/Dense layer directly before it (exact).

    With ``k = gamma / sqrt(moving_variance + epsilon)`` per channel, the pair
    ``BN(conv(x))`` equals a single conv with kernel ``W * k`` and bias
    ``(b - moving_mean) * k + beta`` (``b = 0`` when the conv had none), at inference.
    Needed because innvestigate's LRP rules mishandle BatchNormalization (~30x error) and
    its gradient analyzers and shap's DeepExplainer fail on it.

    Args:
        model: a functional or built Sequential keras model (any input/output shapes).

    Returns:
        A new model without BatchNormalization layers; same inputs and outputs as
        ``model`` at inference (within float32 rounding, ~1e-6 relative).

    Raises:
        ValueError: a BatchNormalization that does not directly follow a
            Conv1D/Conv2D/Conv3D/Dense with linear activation whose output feeds only
            that BN, or that normalises an axis other than the last (channels-last).
    """
    _check_graph_model(model, "fold_batchnorm")
    with _weight_cache(model):
        return _fold_batchnorm(model)


def _batchnorm_pairs(model):
    """``(conv node, conv layer, bn node, bn layer)`` for every BatchNormalization (validated)."""
    consumers: dict[str, int] = {}
    for nodes in model._nodes_by_depth.values():
        for node in nodes:
            if not node.is_input:
                for x_id in node.flat_input_ids:
                    consumers[x_id] = consumers.get(x_id, 0) + 1
    output_ids = {str(id(x)) for x in model.outputs}

    pairs = []
    for nodes in model._nodes_by_depth.values():
        for node in nodes:
            bn = node.layer
            if node.is_input or not isinstance(bn, keras.layers.BatchNormalization):
                continue
            prev, prev_node = _producer(node)
            where = f"fold_batchnorm: BatchNormalization '{bn.name}'"
            if prev is None or not isinstance(prev, FOLDABLE_LAYERS):
                name = "its inputs" if prev is None else f"'{prev.name}' ({type(prev).__name__})"
                raise ValueError(f"{where} follows {name}; expected it directly after a Conv1D/Conv2D/Conv3D/Dense")
            if keras.activations.serialize(prev.activation) != "linear":
                raise ValueError(f"{where} follows '{prev.name}' with activation "
                                 f"'{keras.activations.serialize(prev.activation)}'; folding needs a linear one")
            conv_out = str(id(node.keras_inputs[0]))
            if consumers.get(conv_out, 0) != 1 or conv_out in output_ids:
                raise ValueError(f"{where}: the output of '{prev.name}' is also used elsewhere; cannot fold")
            axes = bn.axis if isinstance(bn.axis, (list, tuple)) else [bn.axis]
            rank = len(node.keras_inputs[0].shape)
            if [a % rank for a in axes] != [rank - 1]:
                raise ValueError(f"{where} normalises axis {bn.axis}; only the last (channels) axis can be folded")
            if getattr(prev, "groups", 1) != 1:
                raise ValueError(f"{where} follows grouped conv '{prev.name}'; not supported")
            pairs.append((prev_node, prev, node, bn))
    return pairs


def _fold_batchnorm(model):
    folded = {}  # id(conv node) -> (new conv layer, weights)
    bn_nodes = set()
    for prev_node, prev, node, bn in _batchnorm_pairs(model):
        folded[id(prev_node)] = _folded_layer(prev, bn)
        bn_nodes.add(id(node))

    def plan(node):
        if id(node) in bn_nodes:
            return "identity"
        if id(node) in folded:
            return folded[id(node)]
        return "copy"

    return _rebuild(model, plan)


def folded_weights(model) -> dict[str, list[np.ndarray]]:
    """The weights :func:`fold_batchnorm` would give each layer, without building a model.

    For putting new weights into an already folded copy (e.g. the LRP worker's model
    after ``set_weights``): every layer with weights except BatchNormalization, by name;
    a layer followed by a BatchNormalization gets the folded kernel and bias.

    Args:
        model: a functional or built Sequential keras model (eager or graph mode).

    Returns:
        ``{layer name: [numpy arrays]}`` in the order of the folded layer's weights.
    """
    _check_graph_model(model, "folded_weights")
    with _weight_cache(model):
        bn_of = {id(prev): bn for _, prev, _, bn in _batchnorm_pairs(model)}
        out = {}
        for layer in model.layers:
            if isinstance(layer, keras.layers.BatchNormalization) or not layer.weights:
                continue
            out[layer.name] = _folded_values(layer, bn_of[id(layer)]) if id(layer) in bn_of else _values(layer.weights)
        return out


def _folded_layer(conv, bn):
    """A copy of ``conv`` (with bias) whose weights absorb ``bn``'s inference transform."""
    return _copy_layer(conv, weights=_folded_values(conv, bn), use_bias=True)


def _folded_values(conv, bn):
    """``[kernel, bias]`` of ``conv`` with ``bn``'s inference transform absorbed."""
    weights = _values(conv.weights)
    kernel = weights[0].astype(np.float64)
    bias = weights[1].astype(np.float64) if conv.use_bias else np.zeros(kernel.shape[-1])
    params = dict(zip([w.name.split("/")[-1].split(":")[0] for w in bn.weights], _values(bn.weights)))
    n = kernel.shape[-1]
    gamma = params.get("gamma", np.ones(n)).astype(np.float64)
    beta = params.get("beta", np.zeros(n)).astype(np.float64)
    mean = params["moving_mean"].astype(np.float64)
    var = params["moving_variance"].astype(np.float64)
    k = gamma / np.sqrt(var + bn.epsilon)
    new_kernel = (kernel * k).astype(weights[0].dtype)
    new_bias = ((bias - mean) * k + beta).astype(weights[0].dtype)
    return [new_kernel, new_bias]


def logits_model(model):
    """Rebuild ``model`` so that it outputs the logits instead of probabilities.

    Removes a final ``Activation``/``Softmax`` layer (softmax, sigmoid or linear), or
    replaces the last layer's built-in softmax/sigmoid activation by a linear one.
    Models already ending in logits (ours: a Dense named ``logits``) come back unchanged
    in value. innvestigate's ``model_wo_softmax`` crashes on a ``Softmax()`` layer and
    raises on sigmoid heads; this handles both.

    Args:
        model: a functional or built Sequential keras model with one output ``(N, k)``.

    Returns:
        A new model ``(N, ...) -> (N, k)`` returning the pre-activation outputs.
    """
    _check_graph_model(model, "logits_model")
    if len(model.outputs) != 1:
        raise ValueError(f"logits_model: expected one output, model '{model.name}' has {len(model.outputs)}")
    out_layer = model.outputs[0]._keras_history.layer
    out_node = out_layer._inbound_nodes[model.outputs[0]._keras_history.node_index]
    squash = ("softmax", "sigmoid")

    def plan(node):
        if node is not out_node:
            return "copy"
        if isinstance(out_layer, keras.layers.Softmax):
            return "identity"
        if isinstance(out_layer, keras.layers.Activation):
            name = keras.activations.serialize(out_layer.activation)
            return "identity" if name in squash + ("linear",) else "copy"
        act = getattr(out_layer, "activation", None)
        if act is not None and keras.activations.serialize(act) in squash:
            return _copy_layer(out_layer, activation="linear")
        return "copy"

    with _weight_cache(model):
        return _rebuild(model, plan)
