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
    trainer = _trainer(6, 2, epochs=12, lr_schedule="constant", learning_rate=3e-2, validation_sampling="none")
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


def test_one_cycle_stepped_per_epoch_as_the_code_and_per_batch_as_pytorch_intends():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(120, 6)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    total = 7 * 6  # ceil(100 / 16) batches x 6 epochs: the code sizes the schedule in batches ...
    per_epoch = _trainer(6, 2, h=(8, 4), max_rows=120, epochs=6, lr_schedule_step="epoch")
    rates = per_epoch.fit(X[:100], y[:100], X[100:], y[100:], seed=1)[1]["learning_rate"]
    np.testing.assert_allclose(rates, [float(OneCycle(1e-2, total)(e)) for e in range(6)], rtol=1e-6)  # ... steps it per epoch
    assert rates[0] == pytest.approx(4e-4, rel=1e-5) and max(rates) < 0.5e-2
    # SPEC §5: the code's 120 epochs of ~23 batches climb only from ~4e-4 to ~7-9e-4
    assert 7e-4 < float(OneCycle(1e-2, 23 * 120)(119)) < 9e-4
    per_batch = _trainer(6, 2, h=(8, 4), max_rows=120, epochs=6, lr_schedule_step="batch")
    rates_b = per_batch.fit(X[:100], y[:100], X[100:], y[100:], seed=1)[1]["learning_rate"]
    np.testing.assert_allclose(rates_b, [float(OneCycle(1e-2, total)(7 * e)) for e in range(6)], rtol=1e-6)
    assert max(rates_b) > 5e-3


def test_validation_rows_resampled_with_inverse_class_weights_each_epoch():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(160, 5)).astype(np.float32)
    y = (X[:, 0] > 1.0).astype(np.int64)                      # imbalanced: ~16 % positives
    hist = {}
    for mode in ("balanced", "none"):
        t = _trainer(5, 2, h=(8, 4), dropout=0.0, max_rows=160, epochs=4, validation_sampling=mode,
                     lr_schedule="constant", learning_rate=1e-2)
        hist[mode] = t.fit(X[:120], y[:120], X[120:], y[120:], seed=2)[1]["val_loss"]
    # same seed, same training draws: only the validation loss differs, and it weighs the rare class up
    assert not np.allclose(hist["balanced"], hist["none"])
    t = _trainer(5, 2, h=(8, 4), dropout=0.0, max_rows=160, epochs=1, validation_sampling="none",
                 lr_schedule="constant", learning_rate=1e-2)
    model, info = t.fit(X[:120], y[:120], X[120:], y[120:], seed=2)
    onehot = np.eye(2, dtype=np.float32)[y[120:]]
    plain = float(tf.keras.losses.BinaryCrossentropy(from_logits=True)(onehot, model(X[120:])))
    assert info["val_loss"][0] == pytest.approx(plain, rel=1e-5)


def test_pytorch_initialisation_matches_nn_linear_reset_parameters():
    torch = pytest.importorskip("torch")
    t = _trainer(49, 3, h=(500, 100), max_rows=10, init="pytorch")
    weights = t._initial(t.model.get_weights(), np.random.default_rng(0), "pytorch")
    ref = torch.nn.Linear(49, 500)                         # PyTorch's own default, for the spread
    for w, fan_in in zip(weights, (49, 49, 500, 500, 100, 100)):
        bound = 1 / np.sqrt(fan_in)
        assert np.abs(w).max() <= bound
        if w.size >= 100:
            assert np.abs(w).max() > 0.98 * bound
            assert w.std() == pytest.approx(bound / np.sqrt(3), rel=0.1)   # uniform on (-bound, bound)
    assert ref.weight.detach().numpy().std() == pytest.approx(weights[0].std(), rel=0.05)
    assert ref.bias.detach().numpy().std() == pytest.approx(weights[1].std(), rel=0.25)
    keras_init = t._initial(t.model.get_weights(), np.random.default_rng(0), "keras")
    assert not keras_init[1].any() and keras_init[0].std() == pytest.approx(np.sqrt(2 / (49 + 500)), rel=0.05)
