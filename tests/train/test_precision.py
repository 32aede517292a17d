"""TrainSettings.precision: bf16 mixed precision trains in bf16 and keeps accuracy parity with float32."""
import numpy as np
import pytest
import tensorflow as tf
from tensorflow import keras

from seis_keras.data.pipeline import make_dataset_from_arrays
from seis_keras.data.synthetic import detector_data
from seis_keras.models import contract_of, get_model
from seis_keras.train.fit import TrainSettings, fit

#: the stated tolerance: |test accuracy bf16 - float32| on the built-in detector windows (300 test windows)
ACCURACY_TOLERANCE = 0.03


def _train(precision, x, y, tmp_path):
    settings = TrainSettings(epochs=3, learning_rate=3e-3, keep_best=False, tensorboard=False, verbose=0,
                             steps_per_execution=8, precision=precision, seed=1)
    ds = make_dataset_from_arrays(x, y, batch_size=64, shuffle=True, seed=1)
    return fit(lambda: get_model("detector", filters=16, hidden_units=32), ds, None, settings,
               tmp_path / precision).model


def test_mixed_bfloat16_keeps_accuracy_parity_on_built_in_detector_windows(tmp_path):
    x, meta = detector_data(1200, seed=5, realism=None)  # the clean built-in windows (cheaper)
    x = contract_of("detector").transform()(x)
    y = meta["label"].to_numpy().astype(np.float32)
    cut = 900
    accuracy, models = {}, {}
    for precision in ("float32", "mixed_bfloat16"):
        model = models[precision] = _train(precision, x[:cut], y[:cut], tmp_path)
        assert keras.mixed_precision.global_policy().name == "float32"  # restored after the build
        logits = np.asarray(model(x[cut:], training=False), np.float32)[:, 0]
        accuracy[precision] = float(np.mean((logits > 0) == (y[cut:] > 0.5)))
    print("test accuracy", accuracy)
    bf16 = models["mixed_bfloat16"]
    conv = bf16.get_layer("conv2")
    assert conv.compute_dtype == "bfloat16" and conv.kernel.dtype == tf.float32  # bf16 maths, float32 weights
    assert models["float32"].get_layer("conv2").compute_dtype == "float32"
    assert accuracy["float32"] > 0.85, accuracy  # a trained model, not chance agreement
    assert abs(accuracy["mixed_bfloat16"] - accuracy["float32"]) <= ACCURACY_TOLERANCE, accuracy


def test_precision_setting_is_checked(tmp_path):
    with pytest.raises(ValueError, match="precision: expected one of"):
        TrainSettings(precision="float16")
    ds = make_dataset_from_arrays(np.zeros((8, 500, 3), np.float32), np.zeros(8, np.float32), batch_size=8)
    with pytest.raises(ValueError, match="needs the model as a callable"):
        fit(get_model("detector"), ds, None, TrainSettings(epochs=1, precision="mixed_bfloat16", verbose=0,
                                                           tensorboard=False, keep_best=False), tmp_path)
