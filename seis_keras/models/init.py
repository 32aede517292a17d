"""Initial weights as PyTorch draws them, for models whose reference code is PyTorch.

PyTorch's ``nn.Conv1d`` / ``nn.Conv2d`` / ``nn.Linear`` ``reset_parameters`` draws the weight
with ``kaiming_uniform_(a=√5)`` — gain √(2 / (1 + a²)) = √(1/3), bound gain · √(3 / fan_in)
= 1 / √fan_in — and the bias from U(−1/√fan_in, 1/√fan_in), where fan_in = input channels ×
kernel size (the kernel's receptive field). Keras defaults to Glorot-uniform kernels
(bound √(6 / (fan_in + fan_out))) and zero biases: other starting weights, other training
dynamics (issue 15 item 4). Both are a setting, ``init = "pytorch" | "keras"``:

* :func:`layer_initializers` — the ``kernel_initializer`` / ``bias_initializer`` keyword
  arguments of one Keras layer (stock Keras initializers: ``VarianceScaling(1/3, "fan_in",
  "uniform")`` is exactly U(±1/√fan_in), and ``RandomUniform`` for the bias, so saved models
  need no custom objects);
* :func:`torch_default_bound` — the bound 1/√fan_in itself, shared with the numpy re-draws of
  :class:`seis_keras.train.mlp.MLPTrainer`.

BatchNorm's defaults (γ = 1, β = 0) are the same in both frameworks.
"""
from __future__ import annotations

import math

from tensorflow import keras

#: The initialisation schemes: PyTorch's layer defaults or Keras's.
INITS = ("pytorch", "keras")


def torch_default_bound(fan_in: int) -> float:
    """1/√fan_in: PyTorch's bound for conv/linear weights (Kaiming-uniform, a = √5) and biases."""
    if int(fan_in) < 1:
        raise ValueError(f"fan_in: expected an integer >= 1, got {fan_in!r}")
    return 1.0 / math.sqrt(int(fan_in))


def check_init(init: str) -> str:
    """``init`` if it is one of :data:`INITS`, else a one-line ``ValueError``."""
    if init not in INITS:
        raise ValueError(f"init: expected one of {', '.join(map(repr, INITS))}, got {init!r}")
    return init


def layer_initializers(init: str, fan_in: int) -> dict:
    """Keyword arguments of a Conv/Dense layer for ``init``.

    Args:
        init: ``"pytorch"`` (weights and bias U(±1/√fan_in)) or ``"keras"`` (the layer's own
            defaults: Glorot-uniform kernel, zero bias; returns ``{}``).
        fan_in: input channels × kernel size of the layer (Dense: its input width).

    Returns:
        ``{"kernel_initializer": ..., "bias_initializer": ...}`` or ``{}``. Unseeded, like
        Keras's defaults: the model is seeded by whoever builds it (``seis_keras.train.fit``).
    """
    if check_init(init) == "keras":
        return {}
    bound = torch_default_bound(fan_in)
    return {"kernel_initializer": keras.initializers.VarianceScaling(1.0 / 3.0, mode="fan_in",
                                                                      distribution="uniform"),
            "bias_initializer": keras.initializers.RandomUniform(-bound, bound)}
