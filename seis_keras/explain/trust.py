"""Can this explanation be trusted? Sanity checks with a verdict, for every report.

An explanation a report shows is *trusted* or *flagged*. Three checks (numbers from
:mod:`seis_keras.explain.metrics`):

- **randomisation** (Adebayo et al. 2018; Sixt et al. 2020): re-initialise the model from
  the logits down (cascading, each layer with its own initializer, seeded), explain again,
  and compare with the trained model's map (Spearman of |R|, of R, SSIM optional). Passes
  when the mean similarity after re-initialising down to ``randomisation_layer`` is below
  ``randomisation_max``: an explanation that survives random weights shows the input, not
  what the network learned (the "edge detector" failure).
- **localisation** against a ground truth (planted physics, P/S picks, a planted band):
  share of positive relevance in the mask and pointing game, each beside its uniform
  baseline (the share of the map the mask covers). Passes when the mass is at least
  ``localisation_min_ratio`` × the uniform share (and, if set, the pointing game at least
  ``pointing_min_ratio`` × its baseline). Not run without a ground truth.
- **faithfulness**: deletion (MoRF) and insertion curves against the mean of
  ``random_orders`` seeded random orders, with a ``fill`` (a number, the mean, or ROAD's
  noisy linear imputation ``"linear"``). Passes when the deletion AUC is at most
  ``deletion_max_ratio`` × the random-order AUC (and, if set, the insertion AUC at least
  ``insertion_min_ratio`` × its random AUC). AUCs of the mean curves; for logits, above the
  lowest value of the two curves compared (:class:`FaithfulnessResult`).

The overall verdict is ``"trusted"`` when every check that ran passed and the checks in
``required`` ran; ``"flagged: fails randomisation, faithfulness"`` when any failed;
``"unchecked: randomisation not run"`` otherwise. :class:`TrustResult` carries the numbers,
the thresholds and the rule that decided; :func:`trust_table` renders results as a
markdown table; :func:`best_trusted` picks a report's headline method.

    >>> from seis_keras.explain.saliency import saliency
    >>> explain = lambda m, x: saliency(m, x, class_index=1)        # fix the class
    >>> res = assess("gradient", model, X, explain, mask=ps_window, class_index=1,
    ...              settings=TrustSettings(randomisation_layer="conv4"))
    >>> res.verdict, res.rule

An explainer that lives in another process (the LRP worker) re-explains each randomised
copy through a weight swap: ``weight_swap_explainer(session.set_weights, lambda x:
session.analyze(x, "lrp.epsilon"))``.
"""
from __future__ import annotations

import dataclasses
import json
import math
from typing import Callable, Mapping, Sequence

import numpy as np

from seis_keras.atomic import _to_builtin
from seis_keras.explain import metrics
from seis_keras.explain.targets import ClassIndex
from seis_keras.explain.trust_checks import (FaithfulnessResult, LocalisationResult, RandomisationResult, _maps,
                                             faithfulness_check, localisation_check, randomisation_check,
                                             weight_swap_explainer)

__all__ = ["CHECKS", "SIMILARITY_LABELS", "CheckVerdict", "FaithfulnessResult", "LocalisationResult",
           "RandomisationResult", "TrustResult", "TrustSettings", "assess", "best_trusted", "faithfulness_check", "judge",
           "localisation_check", "randomisation_check", "trust_table", "weight_swap_explainer"]

CHECKS = ("randomisation", "localisation", "faithfulness")


@dataclasses.dataclass(frozen=True)
class TrustSettings:
    """Settings of the three checks and their pass thresholds (every default documented).

    Attributes:
        randomisation_layers: cascade, top-down (default: every layer with trainable
            weights, logits first).
        randomisation_layer: the verdict reads the cascade step that re-initialised the
            layers down to this one (default: the last step, every layer in the cascade).
            Issue 13's target for the detector: ``"conv4"``.
        randomisation_similarity: ``"spearman_abs"`` (default, Adebayo et al.'s), ``"spearman"``,
            ``"spearman_positive"`` (of the positive evidence max(R, 0), what localisation reads;
            :func:`~seis_keras.explain.metrics.map_similarity`) or ``"ssim"`` (then ``ssim`` is
            computed too). Every Spearman kind is computed and stored; this one decides.
        randomisation_max: passes when the mean similarity is below this (0.3, issue 13).
        randomisation_samples: the first this many inputs are re-explained per step (16).
        randomisation_control: also explain two copies re-initialised down to the verdict layer with
            different seeds (:func:`~seis_keras.explain.trust_checks.randomisation_control`, True): the
            similarity any upper layers give, shown beside the trained-vs-random one
            (``RandomisationResult.control``).
        ssim: also compute SSIM per step (scikit-image; off by default: slower).
        localisation_min_ratio: mass accuracy / uniform share must reach this (1.5).
        pointing_min_ratio: pointing-game hit rate / uniform share must reach this
            (default None: reported, not part of the verdict).
        steps: perturbation steps (20: 5 % of the time samples each).
        fill: replacement of removed samples: a number (0.0, the demeaned trace's mean),
            ``"mean"`` or ``"linear"`` (ROAD's imputation).
        noise: noise on filled samples, relative to each channel's std (0.0; ROAD: small).
        unit: ``"time"`` (whole time steps, all channels) or ``"element"``.
        score: ``"logit"`` of the target class (default) or its ``"probability"``. Logits,
            because a saturated sigmoid hides the change: on the planted-recovery detector
            the earthquake probability stays at 0.96 under every deletion order while the
            logit falls from 3.1 to 1.5 along the relevance order.
        random_orders: number of seeded random orders averaged for the baseline (5).
        deletion_max_ratio: deletion AUC / random-order AUC must be at most this (0.9;
            for logits both above their lowest value, :class:`FaithfulnessResult`).
        insertion_min_ratio: insertion AUC / random AUC must reach this (default None:
            reported, not part of the verdict; zero-filled inputs are off-distribution).
        faithfulness_samples: use the first this many inputs (default None: all).
        required: checks that must have run for "trusted" (randomisation, faithfulness).
        seed: seed of the re-initialisation, the random orders and the noise.
    """

    randomisation_layers: tuple[str, ...] | None = None
    randomisation_layer: str | None = None
    randomisation_similarity: str = "spearman_abs"
    randomisation_max: float = 0.3
    randomisation_samples: int = 16
    randomisation_control: bool = True
    ssim: bool = False
    localisation_min_ratio: float = 1.5
    pointing_min_ratio: float | None = None
    steps: int = 20
    fill: float | str = 0.0
    noise: float = 0.0
    unit: str = "time"
    score: str = "logit"
    random_orders: int = 5
    deletion_max_ratio: float = 0.9
    insertion_min_ratio: float | None = None
    faithfulness_samples: int | None = None
    required: tuple[str, ...] = ("randomisation", "faithfulness")
    seed: int = 0

    def __post_init__(self):
        if self.randomisation_layers is not None:
            object.__setattr__(self, "randomisation_layers", tuple(self.randomisation_layers))
        object.__setattr__(self, "required", tuple(self.required))
        bad = [c for c in self.required if c not in CHECKS]
        if bad:
            raise ValueError(f"TrustSettings.required: {bad} unknown (expected some of {list(CHECKS)})")
        if self.randomisation_similarity not in metrics.SIMILARITIES:
            raise ValueError(f"TrustSettings.randomisation_similarity: expected one of {metrics.SIMILARITIES}, "
                             f"got {self.randomisation_similarity!r}")
        for name in ("randomisation_samples", "steps", "random_orders"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"TrustSettings.{name}: expected an integer >= 1, got {getattr(self, name)!r}")
        if isinstance(self.fill, str) and self.fill not in ("mean", "linear"):
            raise ValueError(f"TrustSettings.fill: expected a number, 'mean' or 'linear', got {self.fill!r}")

    @classmethod
    def from_section(cls, section, **overrides) -> "TrustSettings":
        """Settings from a recipe's typed ``[trust]`` section (a dataclass, already validated): its fields
        that are settings; the others (methods, ground-truth margins, sample counts) are the recipe's own.

        Args:
            section: the dataclass instance (e.g. ``cfg.trust``).
            **overrides: values that win over the section (``seed=cfg.seed``).
        """
        names = {f.name for f in dataclasses.fields(cls)}
        return cls.from_config({k: v for k, v in dataclasses.asdict(section).items() if k in names}, **overrides)

    @classmethod
    def from_config(cls, section: Mapping | None = None, **overrides) -> "TrustSettings":
        """Settings from a recipe's ``[trust]`` section (every key must be a setting).

        Args:
            section: mapping of setting names to values (TOML lists become tuples).
            **overrides: values that win over the section.

        Returns:
            The validated settings.
        """
        values = {**dict(section or {}), **overrides}
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"[trust]: {unknown} are not trust settings (expected some of {sorted(names)})")
        return cls(**values)


@dataclasses.dataclass
class CheckVerdict:
    """One check: ``verdict`` is "pass", "fail" or "not run"; ``rule`` says why in words."""

    verdict: str
    rule: str
    numbers: dict = dataclasses.field(default_factory=dict)
    thresholds: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class TrustResult:
    """The verdict on one explanation method, with the numbers and rule behind it.

    Attributes:
        method: the method's label (e.g. "lrp.epsilon").
        verdict: "trusted", "flagged: fails …" or "unchecked: … not run".
        rule: the rule(s) that decided, in words with numbers.
        checks: one :class:`CheckVerdict` per check name in :data:`CHECKS`.
        settings: the :class:`TrustSettings` used.
        randomisation, localisation, faithfulness: the raw results (None if not run).
        extras: further numbers (``sparseness``: mean Gini index of |R|).
    """

    method: str
    verdict: str
    rule: str
    checks: dict[str, CheckVerdict]
    settings: TrustSettings
    randomisation: RandomisationResult | None = None
    localisation: LocalisationResult | None = None
    faithfulness: FaithfulnessResult | None = None
    extras: dict = dataclasses.field(default_factory=dict)

    @property
    def trusted(self) -> bool:
        return self.verdict == "trusted"

    def to_dict(self) -> dict:
        """Plain-JSON view: verdicts, numbers, thresholds, mean curves (no per-sample arrays)."""
        out = {"method": self.method, "verdict": self.verdict, "rule": self.rule,
               "checks": {k: dataclasses.asdict(v) for k, v in self.checks.items()},
               "settings": dataclasses.asdict(self.settings), "extras": dict(self.extras)}
        if self.randomisation is not None:
            out["randomisation_curves"] = {"layers": list(self.randomisation.layers),
                                           **{k: self.randomisation.mean(k) for k in self.randomisation.similarity}}
            out["randomisation_control"] = self.randomisation.control
        if self.faithfulness is not None:
            f = self.faithfulness
            out["perturbation_curves"] = {"fractions": f.fractions, **{m: getattr(f, m).mean(axis=0) for m in (
                "deletion", "deletion_random", "insertion", "insertion_random")}}
        return _no_nan(json.loads(json.dumps(out, default=_to_builtin)))

    def to_json(self) -> str:
        """:meth:`to_dict` as indented, strict JSON (a NaN number is written as null)."""
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)


def _no_nan(o):
    """``o`` with every non-finite float replaced by None (strict JSON)."""
    if isinstance(o, float):
        return o if math.isfinite(o) else None
    if isinstance(o, dict):
        return {k: _no_nan(v) for k, v in o.items()}
    if isinstance(o, list):
        return [_no_nan(v) for v in o]
    return o


# --- verdicts -------------------------------------------------------------------------------
#: short names of the randomisation similarities (verdict rules, report texts)
SIMILARITY_LABELS = {"spearman_abs": "Spearman |R|", "spearman": "Spearman R",
                     "spearman_positive": "Spearman R⁺ (positive evidence)", "ssim": "SSIM"}


def _randomisation_verdict(r: RandomisationResult, s: TrustSettings) -> CheckVerdict:
    layer = s.randomisation_layer or r.layers[-1]
    if layer not in r.layers:
        raise ValueError(f"TrustSettings.randomisation_layer: '{layer}' is not in the cascade {r.layers}")
    step = r.layers.index(layer)
    value = float(r.mean(s.randomisation_similarity)[step])
    passed = value < s.randomisation_max
    what = SIMILARITY_LABELS[s.randomisation_similarity]
    down = r.layers[0] if step == 0 else f"{r.layers[0]} … {layer}"
    rule = (f"mean {what} with the trained map after re-initialising {down} = {value:.2f} "
            f"({'<' if passed else '≥'} {s.randomisation_max:.2f})")
    numbers = {"similarity": value, "layer": layer, "kind": s.randomisation_similarity,
               "by_layer": dict(zip(r.layers, r.mean(s.randomisation_similarity).tolist()))}
    return CheckVerdict("pass" if passed else "fail", rule, numbers,
                        {"randomisation_max": s.randomisation_max, "randomisation_layer": layer})


def _localisation_verdict(loc: LocalisationResult, s: TrustSettings) -> CheckVerdict:
    q = loc.numbers
    thresholds = {"localisation_min_ratio": s.localisation_min_ratio, "pointing_min_ratio": s.pointing_min_ratio}
    if not np.isfinite(q["mass_accuracy"]):
        return CheckVerdict("fail", "no map has positive relevance", q, thresholds)
    ok_mass = q["mass_ratio"] >= s.localisation_min_ratio
    rule = (f"positive relevance in the ground truth {q['mass_accuracy']:.2f} = {q['mass_ratio']:.2f}× the "
            f"uniform share {q['uniform_share']:.2f} ({'≥' if ok_mass else '<'} {s.localisation_min_ratio:g}×)")
    ok_point = True
    if s.pointing_min_ratio is not None:
        ok_point = q["pointing_ratio"] >= s.pointing_min_ratio
        rule += (f"; pointing game {q['pointing_game']:.2f} = {q['pointing_ratio']:.2f}× uniform "
                 f"({'≥' if ok_point else '<'} {s.pointing_min_ratio:g}×)")
    return CheckVerdict("pass" if ok_mass and ok_point else "fail", rule, q, thresholds)


def _faithfulness_verdict(f: FaithfulnessResult, s: TrustSettings) -> CheckVerdict:
    q = f.numbers
    thresholds = {"deletion_max_ratio": s.deletion_max_ratio, "insertion_min_ratio": s.insertion_min_ratio}
    if not np.isfinite(q["deletion_ratio"]):
        return CheckVerdict("fail", "the random-order deletion curve is flat at its floor: deletion cannot tell "
                                    "orders apart", q, thresholds)
    ok_del = q["deletion_ratio"] <= s.deletion_max_ratio
    rule = (f"deletion AUC {q['deletion_auc']:.3f} = {q['deletion_ratio']:.2f}× the random-order AUC "
            f"{q['deletion_random_auc']:.3f} ({'≤' if ok_del else '>'} {s.deletion_max_ratio:g}×)")
    ok_ins = True
    if s.insertion_min_ratio is not None:
        ok_ins = q["insertion_ratio"] >= s.insertion_min_ratio
        rule += (f"; insertion AUC {q['insertion_auc']:.3f} vs random {q['insertion_random_auc']:.3f}: "
                 f"{q['insertion_ratio']:.2f}× ({'≥' if ok_ins else '<'} {s.insertion_min_ratio:g}×)")
    return CheckVerdict("pass" if ok_del and ok_ins else "fail", rule, q, thresholds)


def judge(method: str, *, randomisation: RandomisationResult | None = None,
          localisation: LocalisationResult | None = None, faithfulness: FaithfulnessResult | None = None,
          settings: TrustSettings | None = None, extras: dict | None = None) -> TrustResult:
    """The verdict from check results computed beforehand (see :func:`assess`).

    Args:
        method: label of the explanation method.
        randomisation, localisation, faithfulness: results of the checks that ran.
        settings: thresholds (:class:`TrustSettings`).
        extras: further numbers to carry (e.g. sparseness).

    Returns:
        :class:`TrustResult`.
    """
    s = settings or TrustSettings()
    checks = {}
    for name, res, fn in (("randomisation", randomisation, _randomisation_verdict),
                          ("localisation", localisation, _localisation_verdict),
                          ("faithfulness", faithfulness, _faithfulness_verdict)):
        checks[name] = fn(res, s) if res is not None else CheckVerdict("not run", f"{name} not run")
    failed = [k for k, v in checks.items() if v.verdict == "fail"]
    missing = [k for k in s.required if checks[k].verdict == "not run"]
    if failed:
        verdict, rule = f"flagged: fails {', '.join(failed)}", "; ".join(checks[k].rule for k in failed)
    elif missing:
        verdict, rule = f"unchecked: {', '.join(missing)} not run", f"required checks not run: {', '.join(missing)}"
    else:
        verdict = "trusted"
        rule = "; ".join(v.rule for v in checks.values() if v.verdict == "pass")
    return TrustResult(method, verdict, rule, checks, s, randomisation, localisation, faithfulness, dict(extras or {}))


def assess(method: str, model, X: np.ndarray, explain: Callable | None = None, *,
           relevance: np.ndarray | None = None, mask: np.ndarray | None = None,
           class_index: ClassIndex = "predicted", settings: TrustSettings | None = None) -> TrustResult:
    """Run the checks on one explanation method and give the verdict.

    Args:
        method: label of the method (the row name in :func:`trust_table`).
        model: trained Keras model outputting logits (not modified).
        X: inputs (N, T, C) (or (N, ...) with ``settings.unit="element"``).
        explain: ``explain(model, X) -> maps shaped like X`` for the same fixed class as
            ``class_index``; needed for randomisation (None: randomisation not run) and
            for the maps when ``relevance`` is not given.
        relevance: the trained model's maps of ``X`` if already computed.
        mask: ground truth for localisation (None: localisation not run).
        class_index: the class the maps explain, for the perturbation scores.
        settings: :class:`TrustSettings`.

    Returns:
        :class:`TrustResult` (``extras["sparseness"]``: mean Gini index of |R|).
    """
    s = settings or TrustSettings()
    if relevance is None:
        if explain is None:
            raise ValueError("assess: expected explain (a callable) or relevance (the maps), got neither")
        relevance = _maps(explain, model, X, "explain(model, X)")
    R = metrics._finite(np.asarray(relevance, dtype=np.float64), "relevance")
    if R.shape != np.shape(X):
        raise ValueError(f"relevance: expected the shape of X {np.shape(X)}, got {R.shape}")
    rand = None if explain is None else randomisation_check(
        model, X, explain, layers=s.randomisation_layers, samples=s.randomisation_samples,
        ssim=s.ssim or s.randomisation_similarity == "ssim", seed=s.seed, control=s.randomisation_control,
        control_layer=s.randomisation_layer)
    extras = {"sparseness": float(np.nanmean(metrics.sparseness(R)))}
    loc = localisation_check(R, mask) if mask is not None else None
    faith = faithfulness_check(model, X, R, class_index=class_index, steps=s.steps, fill=s.fill, noise=s.noise,
                               unit=s.unit, score=s.score, random_orders=s.random_orders,
                               samples=s.faithfulness_samples, seed=s.seed)
    return judge(method, randomisation=rand, localisation=loc, faithfulness=faith, settings=s, extras=extras)


# --- reports --------------------------------------------------------------------------------
def _f(x, digits: int = 2) -> str:
    return "—" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def _randomisation_cell(numbers: dict, control: dict | None) -> str:
    if not numbers:
        return "not run"
    cell = f"{_f(numbers['similarity'])} ({numbers['layer']}"
    if control and control.get("layer") == numbers.get("layer") and numbers.get("kind") in control:
        cell += f"; two random copies {_f(control[numbers['kind']])}"
    return cell + ")"


def trust_table(results: Sequence[TrustResult]) -> str:
    """Markdown table, one row per method: the numbers beside their baselines, verdict, rule."""
    head = ("| method | randomisation: similarity (layer; two random copies) | mass in ground truth (uniform) "
            "| pointing game (uniform) | deletion AUC (random) | insertion AUC (random) | verdict | rule |")
    lines = [head, "|" + "---|" * 8]
    for r in results:
        c = r.checks
        rnd = c["randomisation"].numbers
        loc, fai = c["localisation"].numbers, c["faithfulness"].numbers
        cells = [r.method,
                 _randomisation_cell(rnd, None if r.randomisation is None else r.randomisation.control),
                 f"{_f(loc['mass_accuracy'])} ({_f(loc['uniform_share'])})" if loc else "not run",
                 f"{_f(loc['pointing_game'])} ({_f(loc['uniform_share'])})" if loc else "not run",
                 f"{_f(fai['deletion_auc'], 3)} ({_f(fai['deletion_random_auc'], 3)})" if fai else "not run",
                 f"{_f(fai['insertion_auc'], 3)} ({_f(fai['insertion_random_auc'], 3)})" if fai else "not run",
                 f"**{r.verdict}**", r.rule]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def best_trusted(results: Sequence[TrustResult]) -> TrustResult | None:
    """The headline method: the best trusted one, or None when no method passed.

    Best = highest localisation mass ratio (where every trusted method has one), then the
    lowest deletion AUC ratio, then the lowest randomisation similarity; ties keep the
    order given.
    """
    ok = [r for r in results if r.trusted]
    if not ok:
        return None

    def key(r):
        loc = r.checks["localisation"].numbers
        fai = r.checks["faithfulness"].numbers
        rnd = r.checks["randomisation"].numbers
        return (-(loc.get("mass_ratio", -math.inf) if all(x.localisation is not None for x in ok) else 0.0),
                fai.get("deletion_ratio", math.inf), rnd.get("similarity", math.inf))

    return min(ok, key=key)
