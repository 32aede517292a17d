"""Training worker for the subprocess tests of seis_keras.train (fit resume, strategies).

Usage: python train_worker.py RUN_DIR [--strategy none|mirrored|multiworker] [--resume]
       [--epochs N] [--sleep S] [--logical-cpus N] [--timeout S]

Trains a tiny Dense logits model on a learnable binary problem (label = sign of
x0 + x1) with ``seis_keras.train.fit`` and prints ``RESULT <json>`` at the end.
``--sleep`` pauses after each epoch so a test can kill the process mid-run.
"""
import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def problem():
    """``(train, val, model_fn)``: a learnable binary problem (label = sign of x0 + x1)."""
    import numpy as np
    import tensorflow as tf
    from tensorflow import keras

    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 8)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.float32)
    train = tf.data.Dataset.from_tensor_slices((x[:384], y[:384])).batch(32)
    val = tf.data.Dataset.from_tensor_slices((x[384:], y[384:])).batch(32)

    def model_fn():
        return keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                                 keras.layers.Dense(1, name="logits")])

    return train, val, model_fn


def settings(epochs):
    """The ``TrainSettings`` every run of this worker uses."""
    from seis_keras.train.fit import TrainSettings

    return TrainSettings(optimizer="adam", learning_rate=1e-2, epochs=epochs, verbose=0,
                         tensorboard=False, seed=1)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("run_dir")
    p.add_argument("--strategy", default="none")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--sleep", type=float, default=0.0)
    p.add_argument("--logical-cpus", type=int, default=0)
    p.add_argument("--timeout", type=float, default=None)
    args = p.parse_args()

    from tensorflow import keras

    from seis_keras.train.distribute import get_strategy, split_cpu
    from seis_keras.train.fit import fit

    if args.logical_cpus:
        split_cpu(args.logical_cpus)
    strategy = get_strategy(args.strategy, timeout_seconds=args.timeout)
    train, val, model_fn = problem()

    class Pause(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            print(f"EPOCH {epoch} done", flush=True)
            time.sleep(args.sleep)

    result = fit(model_fn, train, val, settings(args.epochs), args.run_dir, resume=args.resume,
                 strategy=strategy, callbacks=[Pause()])
    print("RESULT " + json.dumps({"replicas": strategy.num_replicas_in_sync,
                                  "epochs_run": result.epochs_run,
                                  "loss": result.history["loss"]}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
