"""A few training steps on a small learnable toy problem lower every paper model's loss."""
import numpy as np
import pytest
import tensorflow as tf
from tensorflow import keras

from seis_keras.models import RedrawRandomKernel, get_model

CASES = {
    "detector": ({}, (500, 3)),
    "norcia": ({"input_length": 1000}, (1000, 3)),
    "spectrogram": ({}, (33, 153, 3)),
    "precursor": ({"input_length": 512, "filters": (4, 4, 8, 8, 8, 16, 16), "fc_units": 8}, (512, 3)),
    "subduction": ({}, (49,)),
}


def _toy(shape, n=16, seed=0):
    """Class 1 = a positive offset on the first channel / feature, class 0 = a negative one."""
    rng = np.random.default_rng(seed)
    y = np.tile([0, 1], n // 2)
    x = rng.standard_normal((n, *shape)).astype("float32")
    x[..., 0] += np.where(y == 1, 1.0, -1.0).reshape((n,) + (1,) * len(shape[:-1]))
    return x, y


@pytest.mark.parametrize("name", list(CASES))
def test_short_fit_lowers_the_loss(name):
    settings, shape = CASES[name]
    keras.utils.set_random_seed(0)
    model = get_model(name, **settings)
    x, y = _toy(shape)
    if model.output_shape[-1] == 1:
        loss = keras.losses.BinaryCrossentropy(from_logits=True)
        y = y.astype("float32")[:, None]
    else:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(keras.optimizers.Adam(3e-3), loss, run_eagerly=True)  # tracing costs more than 10 steps
    before = float(loss(y, model(x, training=False)))
    history = model.fit(x, y, batch_size=8, epochs=5, verbose=0, shuffle=False,
                        callbacks=[RedrawRandomKernel()])
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses))
    assert losses[-1] < 0.7 * losses[0], losses
    if name in ("detector", "subduction"):  # no BatchNorm: inference loss comparable too
        assert float(loss(y, model(x, training=False))) < before
