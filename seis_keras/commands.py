"""``seis-keras train | explain | export | scan``: the library's pieces one at a time.

The recipes run whole studies; these commands are for a seismologist's own data:

    seis-keras train --model detector --data STORE --out runs/mine --epochs 20
    seis-keras explain --model runs/mine/model.h5 --data STORE --method lrp_epsilon --n 64
    seis-keras export --model runs/mine/model.keras --out served/
    seis-keras scan --model runs/mine --stream day.mseed
"""
from __future__ import annotations

import json
from pathlib import Path

def _explain_method(text: str) -> str:
    """argparse type of ``--method``: any method of seis_keras.explain.methods, checked now."""
    import argparse

    from seis_keras.explain.methods import parse_method

    try:
        parse_method(text)
        return text
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _method_names() -> tuple:
    from seis_keras.explain.methods import method_names

    return method_names()


EXPLAIN_METHODS = _method_names()  # the vocabulary of seis_keras.explain.methods (no TensorFlow import)


def _split_indices(store, split: str):
    meta = store.metadata
    if "split" not in meta:
        raise ValueError(f"{store.path}: metadata.csv has no 'split' column (expected train/dev/test)")
    idx = meta.index[meta["split"] == split].to_numpy()
    if len(idx) == 0:
        raise ValueError(f"{store.path}: no rows with split == {split!r}")
    return idx


def check_train_settings(args) -> None:
    """``seis-keras train``'s numbers, checked before any data is read (one-line errors naming the flag)."""
    import math

    if not (math.isfinite(args.lr) and args.lr > 0):
        raise ValueError(f"--lr {args.lr}: expected a finite learning rate > 0")
    if not (math.isfinite(args.momentum) and 0 <= args.momentum < 1):
        raise ValueError(f"--momentum {args.momentum}: expected a number in [0, 1)")
    for flag, value in (("--epochs", args.epochs), ("--batch-size", args.batch_size)):
        if value < 1:
            raise ValueError(f"{flag} {value}: expected a positive integer")
    if args.patience is not None and args.patience < 1:
        raise ValueError(f"--patience {args.patience}: expected a positive integer (or leave it out: no early stopping)")


def check_labels(store, label: str, rows, n_outputs: int) -> None:
    """Labels of the training/validation rows: finite integers in ``[0, classes)`` of a model with ``n_outputs`` units.

    A 1-unit (sigmoid) model takes classes 0 and 1; a k-unit (softmax) model 0 .. k-1.
    """
    import numpy as np

    y = store.metadata[label].to_numpy()[rows]
    where = f"{store.path / 'metadata.csv'}: column {label!r}"
    try:
        yf = y.astype(np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: expected integer class labels, got values like {y[0]!r}") from None
    if not np.isfinite(yf).all() or (yf != np.round(yf)).any():
        bad = y[~np.isfinite(yf) | (yf != np.round(yf))][0]
        raise ValueError(f"{where}: expected integer class labels, got {bad!r}")
    classes = max(2, n_outputs)
    if yf.min() < 0 or yf.max() >= classes:
        kind = "one sigmoid output" if n_outputs == 1 else f"{n_outputs} outputs"
        raise ValueError(f"{where}: labels {sorted(set(int(v) for v in np.unique(yf)))[:10]} do not fit the model's "
                         f"{kind} (expected classes 0..{classes - 1})")


def check_split_leakage(store, column: str = "split", splits=("train", "dev", "test")) -> None:
    """Refuse a store in which the same stored trace appears in two splits (train/dev leakage).

    The same trace is the same place on disk (file, dataset, row and slice), or, where the
    metadata has it, the same ``trace_name_original`` (a source trace written twice).
    """
    import pandas as pd

    meta = store.metadata
    if column not in meta:
        return
    keys = pd.DataFrame({"place": store.trace_places(), "split": meta[column].astype(str).to_numpy()})
    keys = keys[keys["split"].isin(splits)]
    for key, what in (("place", "stored trace"), ("original", "trace_name_original")):
        if key == "original":
            if "trace_name_original" not in meta:
                break
            keys["original"] = meta["trace_name_original"].astype(str).to_numpy()[keys.index]
        counts = keys.groupby(key)["split"].nunique()
        shared = counts[counts > 1]
        if len(shared):
            name = shared.index[0]
            rows = keys.index[keys[key] == name].tolist()[:4]
            raise ValueError(f"{store.path / 'metadata.csv'}: the same {what} ({name}) is in splits "
                             f"{sorted(keys.loc[keys[key] == name, 'split'].unique())} (rows {rows}): train/dev "
                             "leakage (expected each trace in one split)")


# ---------------------------------------------------------------- train
def run_train(args) -> int:
    import numpy as np

    from seis_keras.atomic import write_json
    from seis_keras.data import WaveformStore, make_dataset
    from seis_keras.models import get_model
    from seis_keras.models import contract_of
    from seis_keras.models.contract import CONTRACT_FILE
    from seis_keras.train.distribute import get_strategy
    from seis_keras.train.evaluate import evaluate
    from seis_keras.train.export import export_model
    from seis_keras.train.fit import TrainSettings, fit

    check_train_settings(args)
    strategy = get_strategy(args.strategy)  # first: multi-worker must start before TF lists devices
    out = Path(args.out)
    with WaveformStore(args.data) as store:
        # the model's paper contract at the store's rate, length and components: the model is built for them
        contract = contract_of(args.model).replace(sampling_rate=float(store.sampling_rate),
                                                   window_samples=int(store.trace_shape(0)[0]),
                                                   component_order=store.component_order)
        tf_list = contract.transform_list()
        n_classes = int(store.metadata[args.label].nunique()) if args.label in store.metadata else 0
        if n_classes < 2:
            raise ValueError(f"{args.data}: column {args.label!r} missing or with one class (expected class labels)")
        settings = {"n_classes": n_classes} if args.model in ("norcia", "precursor") and n_classes > 2 else {}
        rows = {s: _split_indices(store, s) for s in ("train", "dev")}
        check_split_leakage(store)
        n_outputs = int(get_model(args.model, contract=contract, **settings).output_shape[-1])
        check_labels(store, args.label, np.concatenate(list(rows.values())), n_outputs)
        sets = {s: make_dataset(store, indices=rows[s], label=args.label, transforms=tf_list,
                                batch_size=args.batch_size, shuffle=(s == "train"), seed=args.seed)
                for s in ("train", "dev")}
        ts = TrainSettings(optimizer=args.optimizer, learning_rate=args.lr, momentum=args.momentum,
                           epochs=args.epochs, early_stopping_patience=args.patience, seed=args.seed)
        result = fit(lambda: get_model(args.model, contract=contract, **settings), sets["train"], sets["dev"], ts,
                     out, resume=args.resume, strategy=strategy)
        metrics = evaluate(result.model, sets["dev"])
        export_model(result.model, out, name="model")
    write_json(out / CONTRACT_FILE, contract.to_json())
    write_json(out / "metrics.json", {"dev": metrics, "best_epoch": result.best_epoch})
    print(f"dev accuracy {metrics['accuracy']:.4f}; model and metrics in {out}")
    return 0


def add_train_command(sub) -> None:
    p = sub.add_parser("train", help="train a paper model on a store (split column train/dev)")
    p.add_argument("--model", required=True, choices=("detector", "norcia", "precursor", "spectrogram"))
    p.add_argument("--data", required=True, help="store folder (SeisBench layout) with a label column")
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument("--label", default="label", help="class column (default: label)")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--optimizer", choices=("sgd", "adam", "adamw"), default="adam")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--momentum", type=float, default=0.0)
    p.add_argument("--patience", type=int, default=None, help="early-stopping patience (default: off)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue a killed run from its last checkpoint")
    p.add_argument("--strategy", choices=("auto", "none", "mirrored", "multiworker"), default="auto",
                   help="tf.distribute strategy: auto = mirrored over >1 GPU, else one device; "
                        "multiworker reads TF_CONFIG (default: auto)")
    p.set_defaults(func=run_train)


# ---------------------------------------------------------------- explain
def _explain_transforms(args) -> tuple[str, ...]:
    """``--transforms`` if given, else the contract stored beside the model, else the detector's."""
    from seis_keras.models import contract_of
    from seis_keras.models.contract import CONTRACT_FILE, InputContract

    if args.transforms is not None:  # commas inside a spec's parentheses belong to the spec
        specs, depth, part = [], 0, ""
        for ch in args.transforms + ",":
            depth += {"(": 1, ")": -1}.get(ch, 0)
            if ch == "," and depth == 0:
                specs.append(part.strip())
                part = ""
            else:
                part += ch
        return tuple(t for t in specs if t)
    model = Path(args.model)
    for cand in (model / CONTRACT_FILE, model.parent / CONTRACT_FILE):
        if cand.is_file():
            try:
                stored = json.loads(cand.read_text())
            except json.JSONDecodeError as err:
                raise ValueError(f"{cand}: not valid JSON ({err.msg}, line {err.lineno})") from None
            return InputContract.from_json(stored, where=str(cand)).transforms
    return contract_of("detector").transforms


def run_explain(args) -> int:
    import numpy as np

    from seis_keras.atomic import atomic_path
    from seis_keras.data import WaveformStore
    from seis_keras.models.contract import transform_from_spec

    with WaveformStore(args.data) as store:
        idx = np.arange(min(args.n, len(store)))
        x = store.get_waveforms(idx)
    x = np.stack([x]) if x.ndim == 2 else x
    for spec in _explain_transforms(args):
        x = transform_from_spec(spec, where="--transforms")(x)
    from seis_keras.explain.methods import explain, parse_method

    spec = parse_method(args.method)
    given = {"epsilon": args.epsilon, "beta": args.beta}  # the older flags fill what the text leaves open
    names = {name for name, _ in spec.params}
    changes = {k: v for k, v in given.items() if v is not None and k in names and f"{k}=" not in args.method}
    spec = spec.replace(**changes) if changes else spec
    relevance = explain(args.model, x, spec, class_index="predicted")  # each trace's predicted class
    out = Path(args.out)
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, x=x, relevance=relevance, index=idx)
    print(f"{spec.text}: relevance {relevance.shape} for {len(idx)} traces -> {out}")
    return 0


def add_explain_command(sub) -> None:
    p = sub.add_parser("explain", help="relevance maps (LRP, saliency) of a saved model on a store's traces")
    p.add_argument("--model", required=True, help=".h5 or Keras SavedModel folder (LRP cannot read .keras safely)")
    p.add_argument("--data", required=True, help="store folder")
    p.add_argument("--method", type=_explain_method, default="lrp.epsilon", metavar="METHOD",
                   help="e.g. lrp.epsilon, 'lrp.alpha_beta(beta=1)', lrp.epsilon_gamma_box, saliency, "
                        "'integrated_gradients(steps=64)' (seis_keras.explain.methods; names: "
                        + ", ".join(EXPLAIN_METHODS) + ")")
    p.add_argument("--n", type=int, default=64, help="first N traces of the store (default 64)")
    p.add_argument("--transforms", default=None,
                   help="comma-separated transform specs applied first (default: the input_contract.json beside "
                        "the model, else the detector's contract: MaxNormalize)")
    p.add_argument("--beta", type=float, default=None, help="beta of an alpha-beta method if --method leaves it open")
    p.add_argument("--epsilon", type=float, default=None, help="epsilon of the method if --method leaves it open")
    p.add_argument("--out", default="relevance.npz", help="output .npz with x, relevance, index")
    p.set_defaults(func=run_explain)


# ---------------------------------------------------------------- export
def run_export(args) -> int:
    from tensorflow import keras

    import seis_keras.models  # noqa: F401  (registers custom layers)
    from seis_keras.train.export import export_model

    model = keras.models.load_model(args.model, compile=False)
    paths = export_model(model, args.out, name=args.name, outputs=args.outputs)
    print(json.dumps({k: str(v) for k, v in paths.items()}, indent=2))
    return 0


def add_export_command(sub) -> None:
    p = sub.add_parser("export", help="write a serving SavedModel (+ .h5/.keras copies) of a Keras model")
    p.add_argument("--model", required=True, help="Keras model file or SavedModel folder")
    p.add_argument("--out", required=True, help="destination folder")
    p.add_argument("--name", default="model", help="file stem (default: model)")
    p.add_argument("--outputs", choices=("logits", "probabilities"), default="logits",
                   help="what the model outputs (seis_keras models: logits)")
    p.set_defaults(func=run_export)


# ---------------------------------------------------------------- scan
def add_scan_command(sub) -> None:
    from seis_keras.scan import add_scan_command as add

    add(sub)


__all__ = ["add_train_command", "add_explain_command", "add_export_command", "add_scan_command",
           "EXPLAIN_METHODS"]
