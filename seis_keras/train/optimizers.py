"""Optimizers with PyTorch's *coupled* weight decay (L2 added to the gradient).

PyTorch's ``torch.optim.Adam(weight_decay=wd)`` and ``torch.optim.SGD(weight_decay=wd)``
add ``wd * w`` to the gradient of every parameter (kernels *and* biases) before the
update, so the decay passes through Adam's moment estimates. Keras's ``weight_decay``
argument is *decoupled* (AdamW style: ``w -= lr * wd * w`` beside the update). Laurenti
et al. trained with ``Adam(lr=1e-3, weight_decay=1e-3)`` in PyTorch, i.e. coupled L2; the
classes here reproduce that update exactly (checked against ``torch.optim.Adam``).

The decay is added inside ``update_step``, which Keras calls once per variable *after*
gradients have been aggregated across replicas, so the result does not depend on the
number of replicas or workers.
"""
from __future__ import annotations

import tensorflow as tf
from tensorflow import keras


class _CoupledWeightDecay:
    """Mixin: ``gradient += coupled_weight_decay * variable`` before the wrapped update."""

    def _init_coupled(self, coupled_weight_decay: float) -> None:
        if coupled_weight_decay < 0:
            raise ValueError(f"coupled_weight_decay must be >= 0, got {coupled_weight_decay}")
        self.coupled_weight_decay = float(coupled_weight_decay)

    def update_step(self, gradient, variable):
        if self.coupled_weight_decay:
            if isinstance(gradient, tf.IndexedSlices):
                gradient = tf.convert_to_tensor(gradient)
            gradient = gradient + tf.cast(self.coupled_weight_decay, variable.dtype) * variable
        return super().update_step(gradient, variable)

    def get_config(self):
        config = super().get_config()
        config["coupled_weight_decay"] = self.coupled_weight_decay
        return config


@keras.saving.register_keras_serializable(package="seis_keras")
class CoupledWeightDecayAdam(_CoupledWeightDecay, keras.optimizers.Adam):
    """Adam with PyTorch-style L2 weight decay (``torch.optim.Adam(weight_decay=...)``).

    Args:
        coupled_weight_decay: ``wd``; ``wd * w`` is added to each gradient.
        **kwargs: passed to ``keras.optimizers.Adam`` (``learning_rate``, ``beta_1``,
            ``beta_2``, ``epsilon`` ...). Keras's own (decoupled) ``weight_decay`` must
            not be given.
    """

    def __init__(self, coupled_weight_decay: float = 0.0, **kwargs):
        if kwargs.get("weight_decay"):
            raise ValueError("CoupledWeightDecayAdam: use coupled_weight_decay, not weight_decay")
        super().__init__(**kwargs)
        self._init_coupled(coupled_weight_decay)


@keras.saving.register_keras_serializable(package="seis_keras")
class CoupledWeightDecaySGD(_CoupledWeightDecay, keras.optimizers.SGD):
    """SGD (with momentum) and PyTorch-style L2 weight decay (``torch.optim.SGD``).

    Keras's momentum form ``m = mu*m - lr*g; w += m`` equals PyTorch's
    ``b = mu*b + g; w -= lr*b`` for a constant learning rate.

    Args:
        coupled_weight_decay: ``wd``; ``wd * w`` is added to each gradient.
        **kwargs: passed to ``keras.optimizers.SGD``.
    """

    def __init__(self, coupled_weight_decay: float = 0.0, **kwargs):
        if kwargs.get("weight_decay"):
            raise ValueError("CoupledWeightDecaySGD: use coupled_weight_decay, not weight_decay")
        super().__init__(**kwargs)
        self._init_coupled(coupled_weight_decay)
