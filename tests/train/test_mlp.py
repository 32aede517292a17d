"""seis_keras.train.mlp (the ml4szeq training loop) and seis_keras.train.schedules."""
import numpy as np
import pytest
import tensorflow as tf

from seis_keras.models import get_model
from seis_keras.train.mlp import MLPSettings, MLPTrainer
from seis_keras.train.schedules import OneCycle


def _trainer(n_features, n_classes, h=(32, 16), dropout=0.2, max_rows=180, **settings):
    return MLPTrainer(lambda: get_model("subduction", n_features=n_features, n_classes=n_classes, hidden_units=h,
                                        dropout=dropout),
                      n_features, n_classes, MLPSettings(**settings), max_rows=max_rows)


def test_one_cycle_matches_torch_onecyclelr():
    torch = pytest.importorskip("torch")
    total = 57
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([p], lr=1e-2)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-2, total_steps=total)
    expect = []
    for _ in range(total):
        expect.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    ours = OneCycle(1e-2, total)
    got = [float(ours(step)) for step in range(total)]
    np.testing.assert_allclose(got, expect, rtol=1e-4, atol=1e-9)


def test_trainer_keeps_best_epoch_learns_and_is_reproducible():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(240, 6)).astype(np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64)
    y[:180][X[:180, 0] > 1.2] = 1
    trainer = _trainer(6, 2, epochs=12, lr_schedule="constant", learning_rate=3e-2)
    model, info = trainer.fit(X[:180], y[:180], X[180:], y[180:], seed=3)
    assert len(info["val_loss"]) == 12
    assert info["best_epoch"] == int(np.argmin(info["val_loss"]))
    # the returned model is the best epoch's: its validation loss is the minimum of the history
    logits = model(X[180:], training=False)
    onehot = np.eye(2, dtype=np.float32)[y[180:]]
    val = float(tf.keras.losses.BinaryCrossentropy(from_logits=True)(onehot, logits))
    assert val == pytest.approx(min(info["val_loss"]), rel=1e-5)
    acc = np.mean(np.argmax(logits.numpy(), axis=1) == y[180:])
    assert acc > 0.85
    first = [w.copy() for w in model.get_weights()]
    trainer.fit(X[:100], y[:100], X[180:], y[180:], seed=4)  # another fit in between
    model2, info2 = trainer.fit(X[:180], y[:180], X[180:], y[180:], seed=3)
    np.testing.assert_allclose(info2["val_loss"], info["val_loss"], rtol=1e-6)
    for a, b in zip(first, model2.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    kept = trainer.copy_model()   # a separate model with the same weights
    assert kept is not trainer.model
    np.testing.assert_allclose(kept(X[:5]).numpy(), trainer.model(X[:5]).numpy(), rtol=1e-6)


def test_xla_epoch_equals_plain_graph_epoch_and_padding_is_masked():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(70, 5)).astype(np.float32)  # 70 rows: 4 full batches of 16 + one of 6
    y = (X[:, 0] > 0).astype(np.int64)
    histories = []
    for jit, max_rows in ((True, 70), (False, 70), (True, 300)):  # padding to 300 rows must not matter
        trainer = _trainer(5, 2, h=(8, 4), dropout=0.0, max_rows=max_rows, epochs=4, jit_compile=jit)
        histories.append(trainer.fit(X[:60], y[:60], X[60:], y[60:], seed=5)[1]["val_loss"])
    np.testing.assert_allclose(histories[0], histories[1], rtol=1e-4)
    np.testing.assert_allclose(histories[0], histories[2], rtol=1e-4)
    with pytest.raises(ValueError, match="max_rows"):
        _trainer(5, 2, h=(8, 4), dropout=0.0, max_rows=10).fit(X, y, X[:5], y[:5], seed=0)


def test_settings_are_checked_and_come_from_a_config_section():
    with pytest.raises(ValueError, match="balance"):
        MLPSettings(balance="oversample")
    s = MLPSettings.from_config({"loss": "softmax_ce", "epochs": 3, "seeds": 5}, batch_size=8)
    assert (s.loss, s.epochs, s.batch_size, s.lr_schedule) == ("softmax_ce", 3, 8, "one_cycle")
    with pytest.raises(ValueError, match="expected 4 features -> 2 logits"):
        MLPTrainer(lambda: get_model("subduction", n_features=5, n_classes=2), 4, 2, MLPSettings(), max_rows=10)
