"""Section 6, backward optimisation (§2.5.2, §3.2; Figs 5, 6, S15, S16).

The optimal input of the earthquake class for every run (the training loss toward the class,
``bo.steps`` iterations from a zero and from random initialisations), its spectrum against the
training earthquakes' (Fig. 5B), the noise-class prototype of model A (Fig. S16), the real
earthquakes of Fig. 4 (the chosen samples A, B, ...) optimised by model A (Fig. 6: log amplitude
ratio in time and frequency for sample B; the change of every sample) and sample B optimised by
every run (Fig. S19: "the models perform similar alterations": Pearson r of each run's change
with run A's).

Optimiser (issue 15.12): plain SGD on the input with lr 6 (``bo.optimizer = "sgd"``,
``bo.learning_rate``), as the authors' library (pytorch-cnn-visualizations' class-sample
generator: ``SGD([image], lr=6)``, no momentum; ``bo.weight_decay`` as its regularised
generator's ``weight_decay``) and §2.2 ("quite similar to how the model is
originally trained"). SGD steps scale with the gradient, so a real earthquake the model already
detects (small loss) changes little — §3.2's observation; Adam (``bo.optimizer = "adam"``, a
setting) moves every sample by ~lr per step whatever the gradient, and needs its own small step
for the real initialisation (``bo.real_init_learning_rate``).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from seis_keras.explain.optimal_input import log_amplitude_ratio, optimal_input, spectrum_vs_training
from seis_keras.explain.spectral import amplitude_spectrum
from seis_keras.plots import detector as plots
from seis_keras.recipes.detector.config import Bo, DetectorConfig
from seis_keras.recipes.detector.data import training_windows
from seis_keras.recipes.detector.study import ChosenSamples, DetectorData, Training
from seis_keras.recipes.runner import RunFolder

#: Training earthquakes whose mean spectrum Fig. 5B compares with (the first ones of the train split).
N_TRAINING_POSITIVES = 2000


def high_frequency_share(x: np.ndarray, fs: float, split_hz: float) -> float:
    """Share of the amplitude spectrum (summed over components) above ``split_hz``."""
    f, a = amplitude_spectrum(x, fs, axis=-2)
    a = a.sum(axis=-1)
    return float(a[..., f >= split_hz].sum() / max(a.sum(), 1e-30))


@dataclasses.dataclass(frozen=True)
class BackwardOptimisation:
    """The zero-init optimal inputs of every run (n_runs, T, C), the training earthquakes they are compared
    with (Fig. 5B) and ``metrics.json["backward_optimisation"]``."""

    optimal_zero_init: np.ndarray
    training_positives: np.ndarray
    metrics: dict


def bo_settings(b: Bo) -> dict:
    """``optimal_input`` settings of ``[bo]`` (zero and random initialisations)."""
    return dict(steps=b.steps, learning_rate=b.learning_rate, objective=b.objective, optimizer=b.optimizer,
                momentum=b.momentum, weight_decay=b.weight_decay)


def change_summary(x_in: np.ndarray, x_out: np.ndarray, fs: float) -> dict:
    """Mean |change| in the first 5 s and in 5–10 s, and the share of the total change in the first 5 s."""
    change = np.abs(np.asarray(x_out, dtype=np.float64) - np.asarray(x_in, dtype=np.float64))
    first, second = change[: int(5 * fs)].mean(), change[int(5 * fs): int(10 * fs)].mean()
    return {"mean_abs_change": float(change.mean()), "mean_abs_change_first_5s": float(first),
            "mean_abs_change_5_to_10s": float(second),
            "max_abs_change": float(change.max())}


def backward_optimisation(data: DetectorData, training: Training, chosen: ChosenSamples, cfg: DetectorConfig,
                          folder: RunFolder) -> BackwardOptimisation:
    """Optimal inputs (zero, random, real initialisation) of every run, and the noise prototype."""
    b, fs, comps = cfg.bo, cfg.data.sampling_rate, cfg.data.component_order
    kw = bo_settings(b)
    train = data.splits["train"]
    x_pos = training_windows(data, train[data.labels[train] == 1][:N_TRAINING_POSITIVES])
    shape = data.test.x.shape[1:]
    x_in = data.test.x[chosen.reference]
    zeros, histories, per_run, noise = [], {}, {}, None
    for i, r in enumerate(training.runs):
        # one optimisation per run: zero init, random inits (and for model A the noise prototype)
        # as one batch with a target class per sample; the samples are independent
        rand = b.random_std * np.random.default_rng(1000 + i).standard_normal((b.n_random, *shape))
        inits, targets = [np.zeros((1, *shape)), rand], [1] * (1 + b.n_random)
        if i == 0 and b.noise_prototype:
            inits.append(np.zeros((1, *shape)))
            targets.append(0)
        x_opt, hist = optimal_input(r.model, np.array(targets), init=np.concatenate(inits).astype(np.float32), **kw)
        zeros.append(x_opt[0])
        histories[r.name] = hist[:, 0]
        per_run[r.name] = {"final_loss_zero_init": float(hist[-1, 0]), "initial_loss_zero_init": float(hist[0, 0]),
                           "final_loss_random_init": float(hist[-1, 1:1 + b.n_random].mean()),
                           "max_abs_per_component_zero_init": np.abs(x_opt[0]).max(axis=0).tolist()}
        if i == 0:
            noise = (x_opt[1 + b.n_random:], hist[:, 1 + b.n_random:])
    # real initialisation (Fig. 6): the Fig. 4 earthquakes, model A, as one batch (independent samples)
    real_kw = {**kw, "learning_rate": b.real_init_learning_rate}
    x_eq = data.test.x[chosen.earthquakes]
    eq_names = chosen.names[: len(chosen.earthquakes)]
    x_eq_out, h_eq = optimal_input(training.reference.model, 1, init=x_eq, **real_kw)
    ref = chosen.reference_index
    x_out, h_real = x_eq_out[[ref]], h_eq[:, [ref]]
    # sample B across the runs (Fig. S19)
    b_out = {training.reference.name: x_out[0]}
    for r in training.runs[1:]:
        b_out[r.name] = optimal_input(r.model, 1, init=x_in, **real_kw)[0][0]
    zeros = np.stack(zeros)
    spec = spectrum_vs_training(zeros, x_pos, fs)
    folder.save_figure(plots.optimal_inputs(zeros, [r.name for r in training.runs], spec, fs, comps),
                       "fig5_optimal_inputs_zero_init")
    folder.save_figure(plots.loss_histories(histories), "figS15_bo_loss")
    f_ratio, ratio_f = log_amplitude_ratio(x_in, x_out[0], domain="frequency", fs=fs)
    ratio_t = log_amplitude_ratio(x_in, x_out[0], domain="time")
    folder.save_figure(plots.real_init_ratio(x_in, x_out[0], ratio_t, f_ratio, ratio_f, fs, comps),
                       "fig6_real_init_log_ratio")
    folder.save_figure(plots.real_init_changes(x_eq, x_eq_out, eq_names, fs, comps,
                                               title="Fig. 6: real initialisation, the Fig. 4 earthquakes (model A)"),
                       "fig6_real_init_samples")
    folder.save_figure(plots.real_init_changes(np.stack([x_in] * len(b_out)), np.stack(list(b_out.values())),
                                               list(b_out), fs, comps,
                                               title=f"Fig. S19: sample {eq_names[ref]} optimised by every run"),
                       "figS19_real_init_runs")
    change = np.abs(x_out[0] - x_in)
    per_sample = {name: {"initial_loss": float(h_eq[0, i]), "final_loss": float(h_eq[-1, i]),
                         **change_summary(x_eq[i], x_eq_out[i], fs)} for i, name in enumerate(eq_names)}
    delta_a = (b_out[training.reference.name] - x_in).ravel()
    runs_b = {name: {**change_summary(x_in, xo, fs),
                     "pearson_change_with_run_A": float(np.corrcoef(delta_a, (xo - x_in).ravel())[0, 1])
                     if np.std(delta_a) > 0 and np.std(xo - x_in) > 0 else None}
              for name, xo in b_out.items()}
    result = {
        "steps": b.steps, "per_run": per_run,
        "fraction_components_within_unit_amplitude": float((np.abs(zeros).max(axis=1) <= 1.0).mean()),
        "paper_fraction_components_within_unit_amplitude": 25 / 30,
        "high_frequency_share": {"split_hz": b.high_frequency_hz, "optimal_zero_init_mean": float(np.mean(
            [high_frequency_share(z, fs, b.high_frequency_hz) for z in zeros])),
            "training_positives": high_frequency_share(x_pos, fs, b.high_frequency_hz)},
        "random_init_final_loss_mean": float(np.mean([v["final_loss_random_init"] for v in per_run.values()])),
        "optimizer": b.optimizer, "learning_rate": b.learning_rate, "momentum": b.momentum,
        "weight_decay": b.weight_decay,
        "real_init_samples": per_sample,
        "real_init_samples_more_change_first_5s": float(np.mean([v["mean_abs_change_first_5s"] >
                                                                  v["mean_abs_change_5_to_10s"]
                                                                  for v in per_sample.values()])),
        "real_init_sample_B_runs": runs_b,
        "real_init": {"sample": chosen.names[chosen.reference_index], "learning_rate": b.real_init_learning_rate,
                      "initial_loss": float(h_real[0, 0]), "final_loss": float(h_real[-1, 0]),
                      "median_time_log_ratio": float(np.median(ratio_t)),
                      "fraction_time_ratio_above_2": float((ratio_t > 2).mean()),
                      "mean_abs_change_first_5s": float(change[: int(5 * fs)].mean()),
                      "mean_abs_change_5_to_10s": float(change[int(5 * fs): int(10 * fs)].mean())},
    }
    if b.noise_prototype:
        xn, hn = noise
        folder.save_figure(plots.waveforms(xn[0], fs, comps, title="Fig. S16: noise-class optimal input "
                                                                   "(zero init, model A)"), "figS16_noise_prototype")
        result["noise_prototype"] = {"final_loss": float(hn[-1, 0]), "max_abs": float(np.abs(xn).max()),
                                     "earthquake_prototype_max_abs_mean": float(np.abs(zeros).max(axis=(1, 2)).mean())}
    return BackwardOptimisation(zeros, x_pos, result)
