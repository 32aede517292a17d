"""Tests for seis_keras.train.evaluate."""
import json

import numpy as np
import pytest
import tensorflow as tf
from tensorflow import keras

from seis_keras.train.evaluate import (classification_metrics, evaluate, positive_probability, predictions,
                                      summarise_runs)


def _fixed_logit_model(units):
    """Output = the first ``units`` input features (so predictions are chosen by the test)."""
    inp = keras.Input((4,))
    out = keras.layers.Lambda(lambda x: x[:, :units], name="logits")(inp)
    return keras.Model(inp, out)


def test_binary_metrics_match_hand_counts():
    y_true = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 1])
    y_pred = np.array([1, 1, 0, 1, 0, 1, 0, 0, 1, 1])
    # TP = 4 (idx 0,1,3,9), FN = 1 (idx 2), FP = 2 (idx 5,8), TN = 3
    m = classification_metrics(y_true, y_pred, class_names=["foreshock", "aftershock"])
    assert m["n"] == 10 and m["accuracy"] == pytest.approx(0.7)
    assert m["confusion_matrix"] == [[3, 2], [1, 4]]
    assert m["precision"] == pytest.approx(4 / 6)
    assert m["recall"] == pytest.approx(4 / 5)
    assert m["f1"] == pytest.approx(2 * (4 / 6) * (4 / 5) / (4 / 6 + 4 / 5))
    assert m["per_class_accuracy"] == pytest.approx([3 / 5, 4 / 5])
    assert m["class_names"] == ["foreshock", "aftershock"]
    json.dumps(m)  # JSON-safe


def test_multiclass_metrics_and_groups():
    y_true = np.array([0, 0, 1, 1, 2, 2, 2, 0])
    y_pred = np.array([0, 1, 1, 1, 2, 0, 2, 0])
    events = np.array(["a", "a", "a", "b", "b", "c", "c", "c"])
    stations = np.array([1, 2, 1, 2, 1, 2, 1, 2])
    m = classification_metrics(y_true, y_pred, groups={"event": events, "station": stations})
    assert m["confusion_matrix"] == [[2, 1, 0], [0, 2, 0], [1, 0, 2]]
    assert m["precision"] == pytest.approx([2 / 3, 2 / 3, 1.0])
    assert m["recall"] == pytest.approx([2 / 3, 1.0, 2 / 3])
    f1 = [2 * p * r / (p + r) for p, r in zip(m["precision"], m["recall"])]
    assert m["f1"] == pytest.approx(f1)
    assert m["macro_f1"] == pytest.approx(np.mean(f1))
    assert m["per_group"]["event"] == {"a": {"accuracy": pytest.approx(2 / 3), "n": 3},
                                       "b": {"accuracy": 1.0, "n": 2},
                                       "c": {"accuracy": pytest.approx(2 / 3), "n": 3}}
    assert m["per_group"]["station"]["1"] == {"accuracy": 1.0, "n": 4}
    assert m["per_group"]["station"]["2"]["accuracy"] == pytest.approx(2 / 4)
    plain = classification_metrics(y_true, y_pred, groups=events)
    assert plain["per_group"]["b"]["n"] == 2
    json.dumps(m)


def test_evaluate_model_on_dataset_and_arrays_agree():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 4)).astype(np.float32)
    y = rng.integers(0, 3, size=50)
    model = _fixed_logit_model(3)
    ds = tf.data.Dataset.from_tensor_slices((x, y, {"event": np.arange(50)})).batch(16)
    from_ds = evaluate(model, ds)
    from_arrays = evaluate(model, (x, y), groups=y)
    want = float(np.mean(np.argmax(x[:, :3], 1) == y))
    assert from_ds["accuracy"] == pytest.approx(want) == from_arrays["accuracy"]
    assert from_ds["confusion_matrix"] == from_arrays["confusion_matrix"]
    # per true class accuracy equals per-group accuracy with the label as group
    for c in range(3):
        assert from_arrays["per_class_accuracy"][c] == pytest.approx(from_arrays["per_group"][str(c)]["accuracy"])


def test_binary_threshold_is_logit_zero_or_probability_half():
    x = np.array([[-0.1, 0, 0, 0], [0.2, 0, 0, 0], [0.7, 0, 0, 0]], np.float32)
    y = np.array([0, 1, 1])
    model = _fixed_logit_model(1)
    _, pred, _ = predictions(model, (x, y))
    assert pred.tolist() == [0, 1, 1]
    _, pred_p, _ = predictions(model, (x, y), outputs="probabilities")
    assert pred_p.tolist() == [0, 0, 1]
    assert evaluate(model, (x, y))["accuracy"] == 1.0


def test_non_finite_model_output_is_an_error_not_class_zero():
    x = np.array([[0.5, 0, 0, 0], [np.nan, 0, 0, 0], [-0.5, 0, 0, 0]], np.float32)
    y = np.array([1, 0, 0])
    with pytest.raises(ValueError, match=r"NaN/inf for 1 of 3 samples \(first: sample 1\)"):
        evaluate(_fixed_logit_model(1), (x, y))
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(2)
    with pytest.raises(ValueError, match="NaN/inf"):
        predictions(_fixed_logit_model(3), ds)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="labels but"):
        classification_metrics([0, 1], [0])
    with pytest.raises(ValueError, match="outside"):
        classification_metrics([0, 3], [0, 1], n_classes=2)
    with pytest.raises(ValueError, match="station has 2 entries"):
        classification_metrics([0, 1, 1], [0, 1, 0], groups={"station": [1, 2]})
    with pytest.raises(ValueError, match="class_names"):
        classification_metrics([0, 1], [0, 1], n_classes=2, class_names=["a", "b", "c"])


def test_summarise_runs_mean_std():
    runs = [classification_metrics([0, 1, 1, 0], p, class_names=["pre", "post"])
            for p in ([0, 1, 1, 0], [0, 1, 0, 0], [1, 1, 0, 0])]
    s = summarise_runs(runs)
    accs = [1.0, 0.75, 0.5]
    assert s["accuracy"]["mean"] == pytest.approx(np.mean(accs))
    assert s["accuracy"]["std"] == pytest.approx(np.std(accs))
    assert s["accuracy"]["n_runs"] == 3
    assert summarise_runs(runs, ddof=1)["accuracy"]["std"] == pytest.approx(np.std(accs, ddof=1))
    cms = np.array([r["confusion_matrix"] for r in runs], float)
    np.testing.assert_allclose(s["confusion_matrix"]["mean"], cms.mean(0))
    assert s["class_names"] == ["pre", "post"] and s["n"]["mean"] == 4
    # a class missing from one run: None is skipped element-wise
    partial = summarise_runs([{"per_class_accuracy": [1.0, None]}, {"per_class_accuracy": [0.5, 0.25]}])
    assert partial["per_class_accuracy"]["mean"] == pytest.approx([0.75, 0.25])
    assert partial["per_class_accuracy"]["n_valid"] == [2.0, 1.0]
    with pytest.raises(ValueError, match="no runs"):
        summarise_runs([])


def test_positive_probability_is_the_sigmoid_of_the_logit_in_any_batching():
    x = np.zeros((7, 4), np.float32)
    x[:, 0] = [-40.0, -2.0, -0.5, 0.0, 0.5, 2.0, 40.0]
    model = _fixed_logit_model(1)
    p = positive_probability(model, x, batch_size=3)  # batches of 3, 3, 1
    expected = 1.0 / (1.0 + np.exp(-x[:, 0].astype(np.float64)))
    assert p.dtype == np.float64 and p.shape == (7,)
    np.testing.assert_allclose(p, expected, rtol=1e-15, atol=0)
    assert p[3] == 0.5 and p[0] < 1e-17 and p[6] == 1.0
    np.testing.assert_array_equal(p, positive_probability(model, x, batch_size=1024))
    # the class the probability gives at 0.5 is the one `predictions` gives from the logit
    _, y_pred, _ = predictions(model, (x[[0, 1, 2, 4, 5, 6]], np.zeros(6)))
    np.testing.assert_array_equal((p[[0, 1, 2, 4, 5, 6]] >= 0.5).astype(int), y_pred)
    assert positive_probability(model, x[:0]).shape == (0,)
    with pytest.raises(ValueError, match="expected \\(N, 1\\) logits"):
        positive_probability(_fixed_logit_model(2), x)
