"""§ Trust: can the feature relevance be believed? Randomisation, localisation on the planted features, deletion.

For every method the relevance section shows (``explain.methods``: the paper's LRP-ε, saliency,
gradient SHAP; and ``explain.recommended``), on the explained cross-validation models (first
seed, ``explain.exclusion_km``) and their explained test rows, each fold's model checked on its
own rows and the per-row numbers pooled over the folds (:mod:`seis_keras.explain.trust`,
thresholds in ``[trust]``):

- **randomisation**: each fold's MLP re-initialised from the logits down
  (``trust.randomisation_layers``), the same rows re-explained for the same (trained-model
  predicted) class; the verdict reads the step ``trust.randomisation_layer``;
- **localisation** (built-in data only, where the planted features are the ground truth):
  the share of positive relevance on the planted feature columns against their uniform share
  (3 of 49). This checks the pipeline, not the paper's claim: the real tables have no ground
  truth, so there only randomisation and faithfulness run;
- **faithfulness**: features deleted most relevant first (set to ``trust.fill`` = their mean
  after standardisation), ``trust.steps`` steps, against random orders, on the class's logit.

The headline is the best trusted method (:func:`seis_keras.explain.trust.best_trusted`); the
paper's LRP-ε is always shown with its verdict.
"""
from __future__ import annotations

import contextlib
import dataclasses

import numpy as np
import tensorflow as tf

from seis_keras.data.subduction import FEATURE_COLUMNS
from seis_keras.explain.lrp import LRPSession
from seis_keras.explain.trust import (FaithfulnessResult, LocalisationResult, RandomisationResult, TrustSettings,
                                      best_trusted, faithfulness_check, judge, localisation_check,
                                      randomisation_check, trust_table, weight_swap_explainer)
from seis_keras.explain import metrics as explain_metrics
from seis_keras.plots.trust import perturbation_curves, randomisation_curves
from seis_keras.recipes.subduction.config import SubductionConfig
from seis_keras.recipes.subduction.relevance import explained_rows, lrp_text, method_keys, method_label, relevance


def settings_of(cfg: SubductionConfig) -> TrustSettings:
    """The ``[trust]`` section as :class:`TrustSettings` (its keys are TrustSettings fields)."""
    return TrustSettings.from_section(cfg.trust, seed=cfg.seed)


def planted_mask(planted, n_rows: int) -> np.ndarray:
    """(N, 49) ground truth: the planted feature columns, for every explained row."""
    return np.broadcast_to(np.isin(FEATURE_COLUMNS, list(planted)), (n_rows, len(FEATURE_COLUMNS)))


def _explainer(method: str, cfg: SubductionConfig, fold: dict, classes: np.ndarray, session):
    """``explain(model, X)`` for a fixed class per row: through the live LRP worker (weight swap) or in-process."""
    text = lrp_text(method, cfg)
    if session is not None and text is not None:
        return weight_swap_explainer(session.set_weights,
                                     lambda x: session.analyze(x, text, neuron=classes[:len(x)]))
    return lambda model, x: relevance(model, x, method, cfg, fold["X_train"], class_index=classes[:len(x)])


def _pool(parts: dict) -> tuple:
    """One Randomisation/Localisation/FaithfulnessResult from the per-fold results (rows concatenated)."""
    rand = parts["randomisation"]
    pooled_rand = RandomisationResult(rand[0].layers, {k: np.concatenate([r.similarity[k] for r in rand], axis=1)
                                                       for k in rand[0].similarity}, _pooled_control(rand))
    loc = parts["localisation"]
    pooled_loc = None if not loc else LocalisationResult(
        *(np.concatenate([getattr(r, f) for r in loc]) for f in ("mass_accuracy", "pointing_hits", "uniform_share")))
    fai = parts["faithfulness"]
    pooled_fai = FaithfulnessResult(fai[0].fractions, *(np.concatenate([getattr(f, m) for f in fai]) for m in (
        "deletion", "deletion_random", "insertion", "insertion_random")), score=fai[0].score)
    return pooled_rand, pooled_loc, pooled_fai


def _pooled_control(rand: list) -> dict | None:
    """The folds' two-copies controls (each a mean over its fold's rows) as one mean over all rows; None if any is missing."""
    if not rand or any(r.control is None for r in rand):
        return None
    rows = [next(iter(r.similarity.values())).shape[1] for r in rand]
    kinds = [k for k in rand[0].control if k != "layer"]
    return {"layer": rand[0].control["layer"],
            **{k: float(np.average([r.control[k] for r in rand], weights=rows)) for k in kinds}}


class _Logits:
    """A fold model's forward pass as one traced ``tf.function`` (the deletion curves call it ~10^3 times;
    an eager Keras call of the tiny MLP costs ~10x more than its arithmetic). Same weights, same numbers."""

    def __init__(self, model):
        self._f = tf.function(lambda x: model(x, training=False),
                              input_signature=[tf.TensorSpec([None, *model.input_shape[1:]], tf.float32)])

    def __call__(self, X, training=False):
        return self._f(tf.convert_to_tensor(X, tf.float32))


def _fold_checks(method: str, fold: dict, R: np.ndarray, cfg: SubductionConfig, planted, session,
                 settings: TrustSettings) -> dict:
    """The three checks of one method on one fold model and its explained rows ``R`` (maps of the trained model)."""
    keep = explained_rows(fold, cfg)
    X, classes = fold["X_test"][keep].astype(np.float32), fold["pred"][keep]
    out = {"randomisation": randomisation_check(
        fold["model"], X, _explainer(method, cfg, fold, classes, session), layers=settings.randomisation_layers,
        samples=settings.randomisation_samples, seed=settings.seed, control=settings.randomisation_control,
        control_layer=settings.randomisation_layer),
        "faithfulness": faithfulness_check(
            fold.get("logits") or fold["model"], X, R, class_index=classes, steps=settings.steps, fill=settings.fill, unit=settings.unit,
            score=settings.score, random_orders=settings.random_orders, samples=settings.faithfulness_samples,
            seed=settings.seed),
        "sparseness": explain_metrics.sparseness(R)}
    if planted:
        out["localisation"] = localisation_check(R, planted_mask(planted, len(R)))
    return out


def assess_folds(folds: list, maps: dict, cfg: SubductionConfig, planted, settings: TrustSettings) -> dict:
    """``{method key: TrustResult}``, each method's checks run per fold model and pooled over the folds.

    Args:
        folds: the explained fold dicts (``model``, ``X_test``, ``y_test``, ``pred``, ``X_train``).
        maps: ``{method key: [each fold's relevance of its explained rows, or None]}``.
    """
    methods = method_keys(cfg)
    use_worker = cfg.explain.lrp_backend == "innvestigate" and any(lrp_text(m, cfg) for m in methods)
    parts = {m: {"randomisation": [], "localisation": [], "faithfulness": [], "sparseness": []} for m in methods}
    for i, fold in enumerate(folds):
        if all(maps[m][i] is None for m in methods):
            continue
        fold = {**fold, "logits": _Logits(fold["model"])}
        # one innvestigate worker per fold model serves every LRP method's cascade (weights swapped in)
        with (LRPSession(fold["model"]) if use_worker else contextlib.nullcontext()) as session:
            for m in methods:
                for check, res in _fold_checks(m, fold, maps[m][i], cfg, planted, session, settings).items():
                    parts[m][check].append(res)
    out = {}
    for m in methods:
        if not parts[m]["faithfulness"]:
            out[m] = judge(method_label(m, cfg), settings=settings)
            continue
        rand, loc, fai = _pool(parts[m])
        out[m] = judge(method_label(m, cfg), randomisation=rand, localisation=loc, faithfulness=fai,
                       settings=settings, extras={"sparseness": float(np.nanmean(np.concatenate(parts[m]["sparseness"]))),
                                                  "folds": len(parts[m]["faithfulness"])})
    return out


@dataclasses.dataclass
class Trust:
    """Per class count: the results per method key, the headline method key, and what metrics.json holds."""

    results: dict
    headline: dict
    metrics: dict


def trust_section(cfg: SubductionConfig, cv, rel, planted, folder) -> Trust:
    """Assess every shown method for every class count; draw the randomisation and deletion curves."""
    settings = settings_of(cfg)
    results, headline, out = {}, {}, {}
    for n_cls, folds in cv.explained.items():
        res = assess_folds(folds, rel.maps[n_cls], cfg, planted, settings)
        for m, r in res.items():
            folder.log(f"trust {n_cls} classes, {m}: {r.verdict} ({r.rule})")
        best = best_trusted(list(res.values()))
        headline[n_cls] = next((m for m, r in res.items() if r is best), None)
        results[n_cls] = res
        folder.save_figure(randomisation_curves(list(res.values())), f"trust_randomisation_{n_cls}class")
        folder.save_figure(perturbation_curves(list(res.values())), f"trust_deletion_{n_cls}class")
        out[str(n_cls)] = {"methods": {m: r.to_dict() for m, r in res.items()}, "headline": headline[n_cls],
                           "table": trust_table(list(res.values()))}
    out["localisation_ground_truth"] = ("the planted features " + ", ".join(planted) if planted else
                                        "none (real tables: no ground truth; randomisation and faithfulness only)")
    return Trust(results, headline, out)
