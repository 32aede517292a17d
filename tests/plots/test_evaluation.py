"""Tests for seis_keras.plots.evaluation."""
import io

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from seis_keras.plots.evaluation import confusion_matrix, normalise_rows, training_curves  # noqa: E402


def test_normalise_rows_fractions_and_empty_row():
    out = normalise_rows([[3, 1], [0, 0]])
    np.testing.assert_allclose(out, [[0.75, 0.25], [0.0, 0.0]])


def test_confusion_matrix_panels_show_counts_and_fractions():
    m = [[8, 2, 0], [1, 6, 3], [0, 0, 5]]
    fig = confusion_matrix(m, ["pre", "visso", "post"], title="test")
    axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(axes) == 2
    counts = [t.get_text() for t in axes[0].texts]
    fractions = [t.get_text() for t in axes[1].texts]
    assert counts == ["8", "2", "0", "1", "6", "3", "0", "0", "5"]
    assert fractions[:3] == ["0.80", "0.20", "0.00"] and fractions[4] == "0.60"
    np.testing.assert_allclose(axes[1].images[0].get_array(), normalise_rows(m))
    assert [t.get_text() for t in axes[0].get_yticklabels()] == ["pre", "visso", "post"]
    fig.savefig(io.BytesIO(), format="png")
    only = confusion_matrix(m, panels=("normalised",))
    assert len([ax for ax in only.axes if ax.images]) == 1


def test_confusion_matrix_rejects_bad_input():
    with pytest.raises(ValueError, match="square"):
        confusion_matrix([[1, 2, 3]])
    with pytest.raises(ValueError, match="class_names"):
        confusion_matrix([[1, 0], [0, 1]], ["a"])
    with pytest.raises(ValueError, match="panels"):
        confusion_matrix([[1, 0], [0, 1]], panels=("log",))


def test_training_curves_draw_train_and_validation():
    history = {"loss": [0.9, 0.5, 0.4], "accuracy": [0.5, 0.7, 0.8],
               "val_loss": [0.8, 0.6, 0.7], "val_accuracy": [0.55, 0.65, 0.6]}
    fig = training_curves(history, best_epoch=1)
    assert len(fig.axes) == 2
    loss_ax = fig.axes[0]
    lines = {line.get_label(): line for line in loss_ax.get_lines()}
    np.testing.assert_allclose(lines["training"].get_ydata(), history["loss"])
    np.testing.assert_allclose(lines["validation"].get_ydata(), history["val_loss"])
    assert list(lines["kept epoch 1"].get_xdata()) == [1, 1]
    assert loss_ax.get_ylabel() == "loss" and fig.axes[1].get_ylabel() == "accuracy"
    with pytest.raises(ValueError, match="f1"):
        training_curves(history, quantities=["f1"])
