"""Section 8, can the explanations be trusted? (issue 13; ours: the paper has no such checks).

Every explanation method the report shows is checked (:mod:`seis_keras.explain.trust`,
thresholds in ``[trust]``): the paper's rules (LRP-αβ for each ``lrp.betas``, LRP-ε when
``lrp.epsilon_rule``; the authors' stabilised variant when ``lrp.stabilised``) and the methods
of ``trust.methods`` (LRP composites, Integrated Gradients, SmoothGrad, occlusion; the one vocabulary of
:mod:`seis_keras.explain.methods`, validated when the config is loaded). Relevance starts at
model A's single logit (the earthquake evidence) for every method.

- **randomisation** (Adebayo et al. 2018): model A re-initialised from the logits down
  (``trust.randomisation_layers``), every method re-explains the first
  ``trust.randomisation_samples`` scored earthquakes; the verdict reads the step down to
  ``trust.randomisation_layer`` (conv4, issue 13): the mean ``trust.randomisation_similarity``
  below ``trust.randomisation_max``. The default reads the positive evidence max(R, 0), what
  localisation scores (recipes/detector.toml says why: |R| stays ~0.3–0.7 for every method,
  plain gradients and occlusion included, and at the same level between two *independent*
  re-initialisations, ``RandomisationResult.control``; the report's "Randomisation by measure"), so on
  this network it measures the input's energy through the kept conv1–3, not the trained upper layers).
  Every measure is stored and
  |R| has its own figure. LRP methods share one innvestigate worker (weights swapped).
- **localisation**: share of the positive relevance inside the window from
  ``trust.p_margin_s`` before P to ``trust.s_margin_s`` after S on the built-in evaluation
  earthquakes (the planted P and S are the ground truth) against the window's uniform share;
  pointing game beside it. On real earthquake windows with a P pick (:func:`real_localisation`)
  the window is [P − ``trust.real_before_s``, P + ``trust.real_after_s``].
- **faithfulness**: deletion (and insertion) of whole time steps, most relevant first, filled
  with ``trust.fill``, against ``trust.random_orders`` random orders, on the logit.

The best trusted method (:func:`seis_keras.explain.trust.best_trusted`) is the report's
recommended method (headline figure, σ_LRP beside the paper's, relevance spectra); the paper's
σ_LRP rule is always shown with its verdict. When no method passes, none is recommended.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from seis_keras.explain.methods import explain, parse_method
from seis_keras.explain.trust import (TrustSettings, assess, best_trusted, localisation_check, trust_table,
                                     weight_swap_explainer)
from seis_keras.plots.trust import perturbation_curves, randomisation_curves
from seis_keras.recipes.detector.config import DetectorConfig
from seis_keras.recipes.detector.relevance import paper_methods
from seis_keras.recipes.detector.study import DetectorData, Training
from seis_keras.recipes.runner import RunFolder

#: ``[trust]`` keys that are TrustSettings fields (the others say which windows are scored).


@dataclasses.dataclass
class Trust:
    """The checked methods of model A.

    Attributes:
        methods: ``{name: method text}`` in report order (the paper's rules first).
        results: ``{name: TrustResult}``.
        headline: name of the recommended (best trusted) method, None when none passed.
        paper_rule: name of the paper's σ_LRP rule (``beta_<first β>``).
        x: the scored evaluation earthquakes (n, T, C); ``maps``: ``{name: relevance of x}``.
        rows: their positions in the evaluation split.
        metrics: ``metrics.json["trust"]``.
    """

    methods: dict
    results: dict
    headline: str | None
    paper_rule: str
    x: np.ndarray
    rows: np.ndarray
    maps: dict
    metrics: dict


def compared_methods(cfg: DetectorConfig) -> dict[str, str]:
    """The paper's rules, then ``trust.methods`` named by their labels (canonical texts)."""
    methods = paper_methods(cfg.lrp)
    for text in cfg.trust.methods:
        spec = parse_method(text)
        if spec.text in methods.values():
            continue  # already there (a paper rule written out)
        name, k = spec.label, 2
        while name in methods:
            name, k = f"{spec.label} #{k}", k + 1
        methods[name] = spec.text
    return methods


def settings_of(cfg: DetectorConfig) -> TrustSettings:
    """``[trust]`` as :class:`~seis_keras.explain.trust.TrustSettings` (seeded by ``seed``)."""
    return TrustSettings.from_section(cfg.trust, seed=cfg.seed)


def window_mask(n_samples: int, start, end) -> np.ndarray:
    """(N, T) boolean: samples ``start <= t <= end`` per window (bounds floored / ceiled)."""
    t = np.arange(n_samples)[None, :]
    return (t >= np.floor(np.asarray(start, dtype=float))[:, None]) & (t <= np.ceil(np.asarray(end, dtype=float))[:, None])


def p_window_mask(n_samples: int, p_sample, fs: float, before_s: float, after_s: float) -> np.ndarray:
    """(N, T) boolean: [P − ``before_s``, P + ``after_s``] per window (real windows: only P is picked)."""
    p = np.asarray(p_sample, dtype=float)
    return window_mask(n_samples, p - before_s * fs, p + after_s * fs)


def scored_earthquakes(data: DetectorData, cfg: DetectorConfig) -> tuple[np.ndarray, np.ndarray | None]:
    """Positions of the scored evaluation earthquakes and their P–S mask (None without P and S picks).

    The first ``trust.n_samples`` evaluation earthquakes with both picks (in split order); with no
    picks (a store without them), the first ``trust.n_samples`` earthquakes and no ground truth.
    """
    t, fs, meta, y = cfg.trust, cfg.data.sampling_rate, data.test.meta, data.test.y
    if {"trace_p_arrival_sample", "trace_s_arrival_sample"} <= set(meta.columns):
        p = meta["trace_p_arrival_sample"].to_numpy(dtype=float)
        s = meta["trace_s_arrival_sample"].to_numpy(dtype=float)
        rows = np.flatnonzero((y == 1) & np.isfinite(p) & np.isfinite(s))[: t.n_samples]
        if len(rows):
            return rows, window_mask(data.test.x.shape[1], p[rows] - t.p_margin_s * fs, s[rows] + t.s_margin_s * fs)
    return np.flatnonzero(y == 1)[: t.n_samples], None


def explainer(text: str, session, seed: int):
    """``explain(model, X)`` of the logit for a method: LRP through the worker (weights swapped), else eager."""
    spec = parse_method(text)
    if spec.backend == "lrp":
        return weight_swap_explainer(session.set_weights, lambda x: session.analyze(x, spec, neuron=0))
    return lambda model, x: explain(model, x, spec, class_index=1, seed=seed)


def assess_methods(methods: dict[str, str], model, x: np.ndarray, mask: np.ndarray | None, settings: TrustSettings,
                   session, *, log=print) -> tuple[dict, dict]:
    """Every method's maps of ``x`` and its :class:`~seis_keras.explain.trust.TrustResult`.

    Args:
        methods: ``{name: method text}``.
        model: the trained Keras model (logits); ``session``: an :class:`~seis_keras.explain.lrp.LRPSession`
            on it (None when no method is an LRP method). Its weights are model's again on return.
        x: the scored windows; ``mask``: their ground truth (None: localisation not run).
        settings: the thresholds.
        log: one line per method.

    Returns:
        ``({name: maps}, {name: TrustResult})``.
    """
    maps, results = {}, {}
    for name, text in methods.items():
        fn = explainer(text, session, settings.seed)
        try:
            maps[name] = fn(model, x)
            results[name] = assess(name, model, x, fn, relevance=maps[name], mask=mask, class_index=1,
                                   settings=settings)
        finally:
            if session is not None:
                session.set_weights(model)  # the cascade leaves the worker on a randomised copy
        log(f"trust {name}: {results[name].verdict} ({results[name].rule})")
    return maps, results


def real_localisation(maps: np.ndarray, p_sample, fs: float, before_s: float, after_s: float) -> dict:
    """Localisation of maps of real earthquake windows in [P − before_s, P + after_s] (issue 13's real-data target).

    Args:
        maps: relevance (N, T, C) of N real earthquake windows (e.g. ``detector_real_dev``).
        p_sample: their P samples (N,) (the dev set: 100 = 5 s into the window).
        fs: sampling rate in Hz.

    Returns:
        :attr:`~seis_keras.explain.trust_checks.LocalisationResult.numbers` (mass accuracy, uniform share,
        pointing game, their ratios).
    """
    maps = np.asarray(maps)
    return localisation_check(maps, p_window_mask(maps.shape[1], p_sample, fs, before_s, after_s)).numbers


def trust_section(data: DetectorData, training: Training, cfg: DetectorConfig, folder: RunFolder, session,
                  real: tuple[np.ndarray, np.ndarray] | None = None) -> Trust:
    """Check every compared method on model A; the recommended method; figures and table.

    Args:
        session: an :class:`~seis_keras.explain.lrp.LRPSession` on model A (shared with section 7).
        real: optional real earthquake windows and their P samples ``(X, p_sample)`` (through the
            model's contract): localisation in [P − ``real_before_s``, P + ``real_after_s``] per method.
    """
    t, model = cfg.trust, training.reference.model
    methods = compared_methods(cfg)
    settings = settings_of(cfg)
    rows, mask = scored_earthquakes(data, cfg)
    x = data.test.x[rows]
    maps, results = assess_methods(methods, model, x, mask, settings, session, log=folder.log)
    best = best_trusted(list(results.values()))
    headline = None if best is None else best.method
    paper_rule = next(iter(methods))
    out = {"methods": {name: {"text": methods[name], **r.to_dict()} for name, r in results.items()},
           "headline": headline, "paper_rule": paper_rule, "paper_rule_verdict": results[paper_rule].verdict,
           "n_samples": int(len(rows)), "similarity": settings.randomisation_similarity,
           "ground_truth": (f"P − {t.p_margin_s:g} s to S + {t.s_margin_s:g} s (built-in picks)" if mask is not None
                            else "none (no P and S picks): localisation not run"),
           "table": trust_table(list(results.values()))}
    if real is not None:
        xr, pr = real
        out["real_windows"] = {"n_samples": int(len(xr)), "window": f"P − {t.real_before_s:g} s to P + {t.real_after_s:g} s",
                               "methods": {name: real_localisation(explainer(text, session, cfg.seed)(model, xr), pr,
                                                                   cfg.data.sampling_rate, t.real_before_s,
                                                                   t.real_after_s)
                                           for name, text in methods.items()}}
    folder.save_figure(randomisation_curves(list(results.values())), "trust_randomisation")
    if settings.randomisation_similarity != "spearman_abs":
        folder.save_figure(randomisation_curves(list(results.values()), "spearman_abs"), "trust_randomisation_abs")
    folder.save_figure(perturbation_curves(list(results.values())), "trust_deletion")
    return Trust(methods, results, headline, paper_rule, x, rows, maps, out)
