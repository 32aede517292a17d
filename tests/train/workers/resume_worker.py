"""Worker for the exact-resume test of seis_keras.train.fit.

Usage: python resume_worker.py STORE RUN_DIR [--resume] [--epochs N] [--out weights.npz]

Trains a small dropout model on a shuffled ``make_dataset`` stream of a store (the path every
recipe uses) and writes the final weights to ``--out``. Killed at any moment and restarted with
``--resume``, it must end with exactly the weights of an uninterrupted run.
"""
import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("store")
    p.add_argument("run_dir")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--out", default=None)
    p.add_argument("--dropout", type=float, default=0.3)
    p.add_argument("--no-shuffle", action="store_true")
    args = p.parse_args()

    import numpy as np
    from tensorflow import keras

    from seis_keras.data import WaveformStore, make_dataset
    from seis_keras.data.transforms import MaxNormalize
    from seis_keras.train.fit import TrainSettings, fit

    store = WaveformStore(args.store)
    meta = store.metadata
    train = make_dataset(store, indices=np.flatnonzero(meta.split == "train"), label="label",
                         transforms=[MaxNormalize()], batch_size=32, shuffle=not args.no_shuffle, seed=5, shuffle_buffer=64)
    val = make_dataset(store, indices=np.flatnonzero(meta.split == "dev"), label="label",
                       transforms=[MaxNormalize()], batch_size=64)

    def model_fn():
        x = inp = keras.Input((500, 3))
        x = keras.layers.Conv1D(4, 9, strides=4, activation="relu")(x)
        x = keras.layers.Flatten()(x)
        x = keras.layers.Dropout(args.dropout)(x)
        out = keras.layers.Dense(1, name="logits")(x)
        return keras.Model(inp, out)

    settings = TrainSettings(optimizer="sgd", learning_rate=1e-2, momentum=0.9, epochs=args.epochs, verbose=0,
                             tensorboard=False, seed=3, keep_best=False)
    result = fit(model_fn, train, val, settings, args.run_dir, resume=args.resume)
    if args.out:
        np.savez(args.out, *result.model.get_weights())
    print("DONE", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
