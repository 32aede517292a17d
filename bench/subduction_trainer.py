"""Benchmark: seconds per ml4szeq MLP fit (120 epochs) with and without XLA compilation.

Prints wall and CPU seconds per fit (median of ``--repeats``) for the subduction recipe's
:class:`~seis_keras.train.mlp.MLPTrainer` on a table the size of one cross-validation
fold of the real data (445 training rows incl. validation, 49 features, 3 classes), and the
first (compiling) fit separately. CPU time counts all threads of this process.

    python bench/subduction_trainer.py [--epochs 120] [--repeats 3]
"""
import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=120)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--rows", type=int, default=445)
    args = p.parse_args()

    import dataclasses

    from seis_keras.recipes.config import load_config
    from seis_keras.recipes.subduction.config import SubductionConfig
    from seis_keras.recipes.subduction.study import make_trainer

    cfg = load_config(SubductionConfig, "subduction")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.rows, 49)).astype(np.float32)
    y = (X[:, :3].sum(axis=1) > 0).astype(np.int64) + (X[:, 3] > 1).astype(np.int64)
    n_val = args.rows // 5
    print(f"rows {args.rows - n_val} train + {n_val} validation, {args.epochs} epochs, batch "
          f"{cfg.train.batch_size}, MLP {cfg.model.h1}-{cfg.model.h2}")
    print(f"{'jit_compile':>11} {'first fit wall s':>17} {'wall s/fit':>11} {'cpu s/fit':>10}")
    for jit in (True, False):
        train = dataclasses.replace(cfg.train, epochs=args.epochs, jit_compile=jit)
        trainer = make_trainer(dataclasses.replace(cfg, train=train), 3, max_rows=args.rows)
        t = time.perf_counter()
        trainer.fit(X[n_val:], y[n_val:], X[:n_val], y[:n_val], seed=0)
        first = time.perf_counter() - t
        walls, cpus = [], []
        for r in range(args.repeats):
            t, c = time.perf_counter(), time.process_time()
            trainer.fit(X[n_val:], y[n_val:], X[:n_val], y[:n_val], seed=r + 1)
            walls.append(time.perf_counter() - t)
            cpus.append(time.process_time() - c)
        print(f"{str(jit):>11} {first:17.2f} {np.median(walls):11.2f} {np.median(cpus):10.2f}")
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
