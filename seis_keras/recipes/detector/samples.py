"""Section 4, the explained samples (§3): "ten earthquakes of different distances and magnitudes and some noise".

From the evaluation split: earthquakes that model A classifies correctly, spread evenly over
the sorted epicentral distances (A nearest … J farthest) when the store has
``source_distance_km``, else drawn at random (seeded); noise windows classified correctly,
drawn at random. Earthquake "B" (``fmv.reference_sample``) is the paper's reference sample.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from seis_keras.recipes.detector.config import DetectorConfig
from seis_keras.recipes.detector.study import LETTERS, ChosenSamples, DetectorData, Evaluation, Training

#: Metadata columns listed beside each chosen sample (report table, Fig. S1).
SAMPLE_COLUMNS = ("source_distance_km", "source_magnitude", "trace_p_arrival_sample", "trace_s_arrival_sample")


def choose_samples(meta_test: pd.DataFrame, y_test: np.ndarray, p_test: np.ndarray, n_eq: int, n_noise: int,
                   seed: int, threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """The chosen earthquakes (correct, spread over distance) and noise windows (correct).

    Args:
        meta_test: the evaluation windows' metadata.
        y_test: their labels.
        p_test: model A's earthquake probabilities.
        n_eq, n_noise: how many of each (fewer if fewer are available).
        seed: seeds the random draws.
        threshold: the probability from which a window is called an earthquake.

    Returns:
        ``(earthquake positions, noise positions)`` in the evaluation split; earthquakes sorted
        by distance (when known), noise sorted by position. Without a correctly classified
        window of a class, any window of that class is taken.
    """
    rng = np.random.default_rng(seed)
    eq = np.flatnonzero((y_test == 1) & (p_test >= threshold))
    noise = np.flatnonzero((y_test == 0) & (p_test < threshold))
    if len(eq) == 0:
        eq = np.flatnonzero(y_test == 1)
    if len(noise) == 0:
        noise = np.flatnonzero(y_test == 0)
    if len(eq) == 0 or len(noise) == 0:
        raise ValueError("evaluation split: needs earthquake and noise windows to explain")
    if "source_distance_km" in meta_test.columns and np.isfinite(meta_test["source_distance_km"].to_numpy()[eq]).all():
        eq = eq[np.argsort(meta_test["source_distance_km"].to_numpy()[eq], kind="stable")]
        eq = eq[np.unique(np.round(np.linspace(0, len(eq) - 1, min(n_eq, len(eq)))).astype(int))]
    else:
        eq = np.sort(rng.choice(eq, min(n_eq, len(eq)), replace=False))
    return eq, np.sort(rng.choice(noise, min(n_noise, len(noise)), replace=False))


def chosen_samples(data: DetectorData, training: Training, evaluation: Evaluation,
                   cfg: DetectorConfig) -> ChosenSamples:
    """The samples every explanation section shows, with their metadata (``metrics.json["chosen_samples"]``)."""
    test = data.test
    p = evaluation.probabilities[training.reference.name]
    eq, noise = choose_samples(test.meta, test.y, p, cfg.fmv.n_earthquakes, cfg.fmv.n_noise, cfg.seed,
                               cfg.evaluation.threshold)
    reference = int(eq[min(cfg.fmv.reference_sample, len(eq) - 1)])
    cols = [c for c in SAMPLE_COLUMNS if c in test.meta.columns]
    table = {}
    for name, pos in zip(LETTERS, np.concatenate([eq, noise])):
        row = {"label": int(test.y[pos]), f"p_model_{training.reference.name}": float(p[pos])}
        row.update({c: (float(v) if np.isfinite(v) else None)
                    for c, v in ((c, float(test.meta[c].iloc[pos])) for c in cols)})
        table[name] = row
    return ChosenSamples(eq, noise, reference, table)
