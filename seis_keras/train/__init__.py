"""seis_keras.train: fit (resumable, keep-best, early stopping), strategies, evaluation, export.

    >>> from seis_keras.train import TrainSettings, fit, evaluate, export_model
    >>> result = fit(lambda: get_model("norcia"), train_ds, val_ds,
    ...              TrainSettings(optimizer="adam", learning_rate=1e-3, weight_decay=1e-3,
    ...                            epochs=50, keep_best=True, seed=123), run_dir)
    >>> metrics = evaluate(result.model, test_ds, class_names=["pre", "post"])
    >>> export_model(result.model, run_dir)
"""
from seis_keras.train.distribute import get_strategy, is_multi_worker, split_cpu, with_data_sharding
from seis_keras.train.evaluate import classification_metrics, evaluate, predictions, summarise_runs
from seis_keras.train.export import export_model, export_savedmodel, save_keras_model, serving_function
from seis_keras.train.fit import FitResult, TrainSettings, fit, loss_and_metrics, make_optimizer
from seis_keras.train.optimizers import CoupledWeightDecayAdam, CoupledWeightDecaySGD

__all__ = [
    "TrainSettings", "FitResult", "fit", "make_optimizer", "loss_and_metrics",
    "CoupledWeightDecayAdam", "CoupledWeightDecaySGD",
    "get_strategy", "split_cpu", "is_multi_worker", "with_data_sharding",
    "evaluate", "predictions", "classification_metrics", "summarise_runs",
    "export_savedmodel", "save_keras_model", "export_model", "serving_function",
]
