"""Tests for seis_keras.train.export."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
from tensorflow import keras

from seis_keras.models import get_model
from seis_keras.train.export import export_model, export_savedmodel, save_keras_model, serving_function

# Runs in a fresh interpreter that imports only tensorflow and numpy.
SERVE = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf
    jobs = json.loads(sys.argv[1])
    for job in jobs:
        fn = tf.saved_model.load(job["path"]).signatures["serving_default"]
        assert list(fn.structured_input_signature[1]) == [job["input"]], fn.structured_input_signature
        x = np.load(job["x"])
        out = fn(**{job["input"]: tf.constant(x)})
        np.savez(job["out"], **{k: v.numpy() for k, v in out.items()})
    assert not any(m.startswith("seis_keras") for m in sys.modules), "seis_keras was imported"
""")


def _conv_model(units, name):
    keras.utils.set_random_seed(0)
    inp = keras.Input((32, 3), name=name)
    h = keras.layers.Conv1D(4, 5, name="conv1")(inp)
    h = keras.layers.Activation("relu")(h)
    h = keras.layers.GlobalAveragePooling1D()(h)
    return keras.Model(inp, keras.layers.Dense(units, name="logits")(h))


def _precursor():
    return get_model("precursor", input_length=128, filters=(4, 4, 4, 4, 4, 8, 8),
                     fc_units=8, noise_rms_fraction=0.3)


def test_savedmodel_serves_without_seis_keras(tmp_path):
    rng = np.random.default_rng(0)
    # one sigmoid head, one softmax head with the custom random input layer
    models = {"binary": _conv_model(1, "waveform"), "precursor": _precursor()}
    jobs, expected = [], {}
    for key, model in models.items():
        x = rng.normal(size=(6, *model.input_shape[1:])).astype(np.float32)
        np.save(tmp_path / f"{key}.npy", x)
        path = export_savedmodel(model, tmp_path / f"{key}_serving")
        jobs.append({"path": str(path), "x": str(tmp_path / f"{key}.npy"), "input": model.input_names[0],
                     "out": str(tmp_path / f"{key}_out.npz")})
        logits = model(x, training=False).numpy()
        expected[key] = (tf.sigmoid(logits) if logits.shape[1] == 1 else tf.nn.softmax(logits)).numpy()
    # the random input layer really is active in training: the served graph must not contain it
    xp = np.load(tmp_path / "precursor.npy")
    assert not np.allclose(models["precursor"](xp, training=True).numpy(),
                           models["precursor"](xp, training=False).numpy())

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    done = subprocess.run([sys.executable, "-c", SERVE, json.dumps(jobs)], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    for key, want in expected.items():
        got = np.load(tmp_path / f"{key}_out.npz")
        assert set(got.files) == {"probabilities", "predicted_class"}
        np.testing.assert_allclose(got["probabilities"], want, atol=1e-6)
        if want.shape[1] == 1:
            np.testing.assert_array_equal(got["predicted_class"], (want[:, 0] > 0.5).astype(np.int64))
        else:
            np.testing.assert_array_equal(got["predicted_class"], np.argmax(want, 1))
            np.testing.assert_allclose(got["probabilities"].sum(1), 1.0, atol=1e-5)


@pytest.mark.parametrize("suffix", [".keras", ".h5", ""])
def test_keras_copies_roundtrip_identically(tmp_path, suffix):
    # the files innvestigate and training read hold the custom layer; the folder format is
    # slow to trace, so it gets the small plain model
    model = _precursor() if suffix else _conv_model(3, "trace")
    x = np.random.default_rng(1).normal(size=(4, *model.input_shape[1:])).astype(np.float32)
    path = save_keras_model(model, tmp_path / f"precursor{suffix}")
    again = keras.models.load_model(path, compile=False)
    np.testing.assert_array_equal(again(x, training=False).numpy(), model(x, training=False).numpy())
    assert [layer.name for layer in again.layers] == [layer.name for layer in model.layers]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_export_model_writes_all_artefacts_and_replaces_atomically(tmp_path, monkeypatch):
    model = _conv_model(1, "waveform")
    paths = export_model(model, tmp_path / "out")
    assert paths["h5"].is_file() and paths["keras"].is_file()
    assert (paths["savedmodel"] / "saved_model.pb").is_file()
    before = sorted(p.name for p in paths["savedmodel"].rglob("*"))

    def broken_save(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(tf.saved_model, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        export_savedmodel(model, paths["savedmodel"])
    assert sorted(p.name for p in paths["savedmodel"].rglob("*")) == before  # old export intact
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith((".tmp-", ".old-"))]


def test_serving_function_of_a_probability_model():
    from seis_keras.models import with_probabilities

    logits_model = _conv_model(3, "trace")
    probs_model = with_probabilities(logits_model)
    x = np.random.default_rng(2).normal(size=(5, 32, 3)).astype(np.float32)
    served = serving_function(probs_model, outputs="probabilities")(tf.constant(x))
    want = tf.nn.softmax(logits_model(x)).numpy()
    np.testing.assert_allclose(served["probabilities"].numpy(), want, atol=1e-6)
    np.testing.assert_array_equal(served["predicted_class"].numpy(), np.argmax(want, 1))
    with pytest.raises(ValueError, match="outputs must be"):
        serving_function(logits_model, outputs="softmax")


def test_export_rejects_bad_models_and_names(tmp_path):
    a, b = keras.Input((3,)), keras.Input((3,))
    two = keras.Model([a, b], keras.layers.Dense(1)(keras.layers.Add()([a, b])))
    with pytest.raises(ValueError, match="2 inputs"):
        export_savedmodel(two, tmp_path / "x")
    with pytest.raises(ValueError, match="unknown model format"):
        save_keras_model(_conv_model(1, "w"), tmp_path / "m.onnx")
    assert not (tmp_path / "x").exists()
