"""Sections 3–4 of the detector study: feature maps (FMV, §3.1) and backward optimisation (§3.2).

Each section takes the :class:`Study` (data, evaluation windows, trained runs, config, run
folder), saves its figures and returns ``(metrics key, JSON-safe dict)``. LRP, explanation
quality and the scan are in :mod:`seis_keras.recipes.detector_lrp`.

Chosen samples (§3: "ten earthquakes of different distances and magnitudes and some noise
samples" from the evaluation set): earthquakes that model A classifies correctly, spread
evenly over the sorted epicentral distances (A nearest … J farthest) when the store has
``source_distance_km``, else drawn at random (seeded); noise windows classified correctly.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from seis_keras.recipes.runner import RunFolder

SAMPLE_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclasses.dataclass
class Study:
    """Everything the explanation sections share.

    Attributes:
        data: :class:`~seis_keras.recipes.detector.DetectorData`.
        x_test: normalised evaluation windows ``(n, 500, 3)``.
        y_test: their labels.
        meta_test: their metadata rows (DataFrame, index reset).
        runs: the trained runs (``runs[0]`` is model A).
        cfg: the config.
        folder: the run folder.
        p_test: model A's earthquake probability on ``x_test``.
        earthquakes: positions in ``x_test`` of the chosen earthquakes.
        noise: positions in ``x_test`` of the chosen noise windows.
        cache: results one section hands to a later one (LRP relevance for the quality section).
    """

    data: object
    x_test: np.ndarray
    y_test: np.ndarray
    meta_test: object
    runs: list
    cfg: dict
    folder: RunFolder
    p_test: np.ndarray
    earthquakes: np.ndarray
    noise: np.ndarray
    cache: dict = dataclasses.field(default_factory=dict)

    @property
    def fs(self) -> float:
        return float(self.cfg["data"]["sampling_rate"])

    @property
    def chosen(self) -> np.ndarray:
        return np.concatenate([self.earthquakes, self.noise])

    @property
    def chosen_names(self) -> list[str]:
        return [SAMPLE_LETTERS[i] for i in range(len(self.chosen))]

    @property
    def reference(self) -> int:
        """Position in ``x_test`` of earthquake "B" (``fmv.reference_sample``)."""
        k = min(int(self.cfg["fmv"]["reference_sample"]), len(self.earthquakes) - 1)
        return int(self.earthquakes[k])


def choose_samples(meta_test, y_test: np.ndarray, p_test: np.ndarray, n_eq: int, n_noise: int, seed: int):
    """The chosen earthquakes (correct, spread over distance) and noise windows (correct)."""
    rng = np.random.default_rng(seed)
    eq = np.flatnonzero((y_test == 1) & (p_test >= 0.5))
    noise = np.flatnonzero((y_test == 0) & (p_test < 0.5))
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


# --- 3. Feature map visualisation (§2.5.1, §3.1) ---------------------------------------------
def feature_map_visualisation(study: Study):
    """Figs 3–4, S12–S14: feature maps, within-layer and cross-run channel correlations."""
    from seis_keras.explain.feature_maps import (channel_correlations, cross_run_matching, feature_maps,
                                                 fraction_correlated_channels)
    from seis_keras.plots import detector as plots
    from seis_keras.plots.explanations import correlation_matrix, feature_maps_grid

    f = study.cfg["fmv"]
    layer, thr = f["layer"], float(f["threshold"])
    model_a = study.runs[0].model
    x = study.x_test[study.chosen]
    maps = feature_maps(model_a, x)
    n_eq = len(study.earthquakes)
    for i, kind in ((0, "earthquake"), (n_eq, "noise")):
        fig = feature_maps_grid(maps, sample=i)
        fig.suptitle(f"Fig. 3: feature maps f_k of model A, {kind} sample {study.chosen_names[i]}")
        study.folder.save_figure(fig, f"fig3_feature_maps_{kind}")
    study.folder.save_figure(plots.layer_feature_maps(maps[layer], study.chosen_names, n_eq, layer=layer),
                             "fig4_layer5_feature_maps")
    corr = channel_correlations(maps[layer])
    frac = fraction_correlated_channels(corr, thr)
    ref = int(np.flatnonzero(study.chosen == study.reference)[0])
    study.folder.save_figure(correlation_matrix(corr[ref], threshold=thr,
                                                title=f"Fig. S12: {layer} channel correlation, sample "
                                                      f"{study.chosen_names[ref]}, model A"), "figS12_channel_correlation")
    cross = {}
    for r in study.runs[1:]:
        other = feature_maps(r.model, x, layers=[layer])[layer]
        best, _, fraction = cross_run_matching(maps[layer], other, thr)
        cross[r.name] = {"fraction_reference_sample": float(fraction[ref]),
                         "fraction_mean_earthquakes": float(fraction[:n_eq].mean()),
                         "best_r_reference_sample": best[ref].tolist()}
    if cross:
        study.folder.save_figure(plots.cross_run_matching(cross, thr, study.chosen_names[ref]), "figS14_cross_run_matching")
    return "fmv", {
        "layer": layer, "threshold": thr, "samples": study.chosen_names,
        "sample_rows": study.data.splits["test"][study.chosen].tolist(),
        "fraction_correlated_channels": {"reference_sample": float(frac[ref]),
                                         "mean_earthquakes": float(frac[:n_eq].mean()),
                                         "mean_noise": float(frac[n_eq:].mean()),
                                         "paper_reference_sample": 0.49},
        "cross_run": {"per_run": cross,
                      "mean_fraction_reference_sample": (float(np.mean([c["fraction_reference_sample"]
                                                                         for c in cross.values()])) if cross else None),
                      "paper": "> 0.75 of channels with r > 0.8"},
        "max_abs_by_layer": {k: {"earthquake_mean": float(np.abs(v[:n_eq]).max(axis=(1, 2)).mean()),
                                 "noise_mean": float(np.abs(v[n_eq:]).max(axis=(1, 2)).mean())} for k, v in maps.items()},
    }


# --- 4. Backward optimisation (§2.5.2, §3.2) --------------------------------------------------
def _spectral_summary(x: np.ndarray, fs: float, split_hz: float) -> float:
    """Share of the amplitude spectrum (summed over components) above ``split_hz``."""
    from seis_keras.explain.spectral import amplitude_spectrum

    f, a = amplitude_spectrum(x, fs, axis=-2)
    a = a.sum(axis=-1)
    return float(a[..., f >= split_hz].sum() / max(a.sum(), 1e-30))


def backward_optimisation(study: Study):
    """Figs 5, 6, S15, S16: optimal inputs (zero, random, real init) of every run, noise prototype."""
    from seis_keras.explain.optimal_input import log_amplitude_ratio, optimal_input, spectrum_vs_training
    from seis_keras.plots import detector as plots
    from seis_keras.recipes.detector import load_windows

    b = study.cfg["bo"]
    kw = dict(steps=int(b["steps"]), learning_rate=float(b["learning_rate"]), objective=b["objective"])
    fs, split_hz = study.fs, float(b["high_frequency_hz"])
    pos_rows = study.data.splits["train"][study.data.labels[study.data.splits["train"]] == 1][:2000]
    x_pos = load_windows(study.data, pos_rows, study.cfg)
    shape = study.x_test.shape[1:]
    n_rand = int(b["n_random"])
    ref = study.reference
    x_in = study.x_test[ref]
    zeros, histories, per_run, extra = [], {}, {}, {}
    for i, r in enumerate(study.runs):
        # one optimisation per run: zero init, random inits (and for model A the noise prototype)
        # as one batch with a target class per sample; the samples are independent
        rand = float(b["random_std"]) * np.random.default_rng(1000 + i).standard_normal((n_rand, *shape))
        inits, targets = [np.zeros((1, *shape)), rand], [1] * (1 + n_rand)
        if i == 0 and b["noise_prototype"]:
            inits.append(np.zeros((1, *shape)))
            targets.append(0)
        x_opt, hist = optimal_input(r.model, np.array(targets), init=np.concatenate(inits).astype(np.float32), **kw)
        zeros.append(x_opt[0])
        histories[r.name] = hist[:, 0]
        per_run[r.name] = {"final_loss_zero_init": float(hist[-1, 0]), "initial_loss_zero_init": float(hist[0, 0]),
                           "final_loss_random_init": float(hist[-1, 1:1 + n_rand].mean()),
                           "max_abs_per_component_zero_init": np.abs(x_opt[0]).max(axis=0).tolist()}
        if i == 0:
            extra["noise"] = (x_opt[1 + n_rand:], hist[:, 1 + n_rand:])
    # real initialisation (Fig. 6): its own step size, Adam moves every sample by ~lr per step
    extra["real"] = optimal_input(study.runs[0].model, 1, init=x_in,
                                  **{**kw, "learning_rate": float(b["real_init_learning_rate"])})
    zeros = np.stack(zeros)
    spec = spectrum_vs_training(zeros, x_pos, fs)
    comps = study.cfg["data"]["component_order"]
    study.folder.save_figure(plots.optimal_inputs(zeros, [r.name for r in study.runs], spec, fs, comps),
                             "fig5_optimal_inputs_zero_init")
    study.folder.save_figure(plots.loss_histories(histories), "figS15_bo_loss")
    x_out, h_real = extra["real"]
    f_ratio, ratio_f = log_amplitude_ratio(x_in, x_out[0], domain="frequency", fs=fs)
    ratio_t = log_amplitude_ratio(x_in, x_out[0], domain="time")
    study.folder.save_figure(plots.real_init_ratio(x_in, x_out[0], ratio_t, f_ratio, ratio_f, fs, comps),
                             "fig6_real_init_log_ratio")
    result = {
        "steps": int(b["steps"]), "per_run": per_run,
        "fraction_components_within_unit_amplitude": float((np.abs(zeros).max(axis=1) <= 1.0).mean()),
        "paper_fraction_components_within_unit_amplitude": 25 / 30,
        "high_frequency_share": {"split_hz": split_hz, "optimal_zero_init_mean": float(np.mean(
            [_spectral_summary(z, fs, split_hz) for z in zeros])), "training_positives": _spectral_summary(x_pos, fs, split_hz)},
        "random_init_final_loss_mean": float(np.mean([v["final_loss_random_init"] for v in per_run.values()])),
        "real_init": {"sample": "B", "learning_rate": float(b["real_init_learning_rate"]), "initial_loss": float(h_real[0, 0]), "final_loss": float(h_real[-1, 0]),
                      "median_time_log_ratio": float(np.median(ratio_t)),
                      "fraction_time_ratio_above_2": float((ratio_t > 2).mean()),
                      "mean_abs_change_first_5s": float(np.abs(x_out[0] - x_in)[: int(5 * fs)].mean()),
                      "mean_abs_change_5_to_10s": float(np.abs(x_out[0] - x_in)[int(5 * fs): int(10 * fs)].mean())},
    }
    if b["noise_prototype"]:
        xn, hn = extra["noise"]
        study.folder.save_figure(plots.waveforms(xn[0], fs, comps, title="Fig. S16: noise-class optimal input "
                                                                         "(zero init, model A)"), "figS16_noise_prototype")
        result["noise_prototype"] = {"final_loss": float(hn[-1, 0]), "max_abs": float(np.abs(xn).max()),
                                     "earthquake_prototype_max_abs_mean": float(np.abs(zeros).max(axis=(1, 2)).mean())}
    return "backward_optimisation", result


def sample_table(study: Study) -> list[dict]:
    """The chosen samples with their metadata (report table, Fig. S1)."""
    cols = [c for c in ("source_distance_km", "source_magnitude", "trace_p_arrival_sample", "trace_s_arrival_sample")
            if c in study.meta_test.columns]
    rows = []
    for name, pos in zip(study.chosen_names, study.chosen):
        row = {"sample": name, "label": int(study.y_test[pos]), "p_model_A": float(study.p_test[pos])}
        row.update({c: (None if not np.isfinite(v) else float(v))
                    for c, v in ((c, float(study.meta_test[c].iloc[pos])) for c in cols)})
        rows.append(row)
    return rows


def study_from(data, x_test: np.ndarray, runs: list, cfg: dict, folder: RunFolder) -> Study:
    """Build the :class:`Study` (model A's evaluation probabilities, the chosen samples)."""
    from seis_keras.recipes.detector import probabilities

    rows = data.splits["test"]
    meta = data.store.metadata.iloc[rows].reset_index(drop=True)
    y = data.labels[rows]
    p = probabilities(runs[0].model, x_test)
    eq, noise = choose_samples(meta, y, p, int(cfg["fmv"]["n_earthquakes"]), int(cfg["fmv"]["n_noise"]),
                               int(cfg["seed"]))
    return Study(data, x_test, y, meta, runs, cfg, folder, p, eq, noise)


__all__ = ["Study", "study_from", "choose_samples", "feature_map_visualisation", "backward_optimisation",
           "sample_table"]
