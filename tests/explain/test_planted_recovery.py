"""Planted-signal recovery (issue 4): LRP of small models trained on the built-in data finds
what the generators planted, and loses it once the weights are re-initialised.

- Detector (``detector_data``, Majstorović setting): a narrow 7-block detector on max-normalised
  windows; LRP-epsilon (epsilon 1e-6, the paper's) of the earthquake logit, through the
  innvestigate worker, on correctly detected test earthquakes. Planted region: the P–S window
  from the generator's picks, P - 0.5 s to S + 2 s (the detector recipe's ``[quality]``).
- Norcia (``norcia_data``, Laurenti setting): the planted difference is spectral (aftershocks
  richer in 30–40 Hz), so the model reads a spectral view, the one-sided amplitude spectrum
  (``explain.spectral.amplitude_spectrum``) of P - 0.5 s .. +9.7 s, max-normalised; a small
  Conv1D net over frequency with an L1 kernel penalty (3e-3; without it the share measured
  0.77). LRP-epsilon of the aftershock logit on correctly classified aftershocks. Planted
  region: the frequency bins inside ``PLANTED_BAND_HZ`` (30–40 Hz, 20 % of the bins).

Randomisation: ``explain.metrics.model_randomisation_test`` (cascading, top layer first,
every weighted layer re-drawn from its initialiser at the last step) with the numpy LRP
(``lrp_reference``, same rule; equal to the worker's, checked here). The rank correlation
with the trained model's explanation must fall below 0.3 once all layers are re-initialised:
for signed maps in both studies, and for |maps| on the detector. (|maps| of the Norcia
spectral model keep ~0.42: epsilon relevance is x times a factor, and every spectrum x
decays with frequency, so |R| keeps the input's shape whatever the weights.)

Measured (2 cores): share of positive relevance in the planted region, training seed 0 (the
test) / seeds 1, 2, 3 — detector 0.895 / 0.923, 0.939, 0.782 (region: 39 % of the samples);
Norcia 0.836 / 0.826, 0.833, 0.431 (region: 20 % of the bins). The 0.8 target holds for most
trainings, not all: the test pins one seed, it does not prove it for every training.
LRP-alpha-beta (bias ignored) on the same seed-0 models: detector 0.826 (beta 0), 0.733
(beta 1); Norcia 0.642 (beta 1), and beta 0 leaves some aftershocks without positive relevance.
"""
import concurrent.futures

import numpy as np
import pytest
from scipy import stats
from tensorflow import keras

from seis_keras.data.synthetic import PLANTED_BAND_HZ, NorciaSettings, detector_data, norcia_data
from seis_keras.data.transforms import MaxNormalize
from seis_keras.explain.lrp import LRPAnalyzer
from seis_keras.explain.lrp_reference import lrp_reference
from seis_keras.explain.metrics import model_randomisation_test, relevance_mass_accuracy
from seis_keras.explain.spectral import amplitude_spectrum
from seis_keras.models import get_model

L = keras.layers
EPSILON = 1e-6            # Majstorović et al. 2023
N_RANDOMISATION = 8       # samples explained in the randomisation test


def _fit(model, x, y, loss, epochs):
    model.compile(keras.optimizers.Adam(3e-3), loss)
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0, shuffle=True)
    return model


def _detector_study():
    """Trained narrow detector, correctly detected test earthquakes, their P–S window masks."""
    X, meta = detector_data(1000, seed=1, realism=None)  # clean windows: the planted answer, no faults
    X = MaxNormalize()(X)
    y = meta["label"].to_numpy()
    train, test = np.arange(800), np.arange(800, 1000)
    keras.utils.set_random_seed(0)
    model = _fit(get_model("detector", filters=16, hidden_units=16), X[train], y[train],
                 keras.losses.BinaryCrossentropy(from_logits=True), epochs=8)
    z = model.predict(X[test], verbose=0)[:, 0]
    accuracy = float(np.mean((z > 0) == y[test]))
    keep = test[(y[test] == 1) & (z > 0)]
    fs = float(meta["trace_sampling_rate_hz"].iloc[0])
    p = meta["trace_p_arrival_sample"].to_numpy()[keep]
    s = meta["trace_s_arrival_sample"].to_numpy()[keep]
    t = np.arange(X.shape[1])[None, :]
    mask = (t >= np.floor(p - 0.5 * fs)[:, None]) & (t <= np.ceil(s + 2.0 * fs)[:, None])
    return dict(model=model, x=X[keep], mask=mask, neuron=0, accuracy=accuracy)


def _spectral_view(waveforms, fs):
    f, A = amplitude_spectrum(waveforms, fs, axis=1)                      # (N, F, C)
    return f, (A / A.max(axis=(1, 2), keepdims=True)).astype(np.float32)


def _norcia_study():
    """Trained spectral-view model, correctly classified aftershocks, the 30–40 Hz bins."""
    # the built-in data as before issue 14 (a five-fold 30-40 Hz change, no scatter): this test checks LRP on
    # a model that learned a clear planted band; the subtler defaults are calibrated for the recipes
    old = NorciaSettings(band_gain_pre=(0.5, 0.8), band_gain_post=(2.0, 1.4), band_gain_scatter=0.0,
                         gain_clock="days", preserve_energy=False)
    X, meta = norcia_data(160, seed=2, stations=("NRCA", "MMO1", "T1213"), settings=old)
    fs = float(meta["trace_sampling_rate_hz"].iloc[0])
    p = int(meta["trace_p_arrival_sample"].iloc[0])
    f, V = _spectral_view(X[:, p - 50: p + 974], fs)                      # 1024 samples from P - 0.5 s
    y = meta["label"].to_numpy()                                          # 0 pre, 1 post (aftershock)
    order = np.random.default_rng(0).permutation(len(V))
    test, train = order[: len(V) // 5], order[len(V) // 5:]
    keras.utils.set_random_seed(0)
    l1 = keras.regularizers.l1(3e-3)
    inp = keras.Input(V.shape[1:])
    h = L.Activation("relu")(L.Conv1D(8, 5, strides=2, kernel_regularizer=l1, name="conv1")(inp))
    h = L.Activation("relu")(L.Conv1D(8, 5, strides=2, name="conv2")(h))
    h = L.Activation("relu")(L.Dense(16, kernel_regularizer=l1, name="fc1")(L.Flatten()(h)))
    model = keras.Model(inp, L.Dense(2, name="logits")(h))
    model = _fit(model, V[train], y[train], keras.losses.SparseCategoricalCrossentropy(from_logits=True), epochs=15)
    pred = model.predict(V[test], verbose=0).argmax(axis=1)
    accuracy = float(np.mean(pred == y[test]))
    keep = test[(y[test] == 1) & (pred == 1)]
    band = (f >= PLANTED_BAND_HZ[0]) & (f <= PLANTED_BAND_HZ[1])
    mask = np.broadcast_to(band[None, :, None], V[keep].shape)
    return dict(model=model, x=V[keep], mask=mask, neuron=1, accuracy=accuracy)


def _explain_in_worker(study):
    with LRPAnalyzer(study["model"], "epsilon", epsilon=EPSILON, neuron=study["neuron"],
                     start_timeout=900, batch_timeout=900) as analyzer:
        return analyzer.analyze(study["x"])


@pytest.fixture(scope="module")
def studies():
    """Both trained studies with their worker relevance (two workers, started together)."""
    out = {"detector": _detector_study(), "norcia": _norcia_study()}
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(_explain_in_worker, study) for name, study in out.items()}
        for name, future in futures.items():
            out[name]["relevance"] = future.result(timeout=1800)
    return out


def _randomisation(study):
    """Cascading randomisation with the numpy LRP; returns (|.| correlations, signed ones at the end)."""
    x = study["x"][:N_RANDOMISATION]
    maps = []

    def explain(model, xb):
        maps.append(lrp_reference(model, xb, "epsilon", epsilon=EPSILON, neuron=study["neuron"]))
        return maps[-1]

    names, corr_abs = model_randomisation_test(study["model"], x, explain, seed=11)
    signed = np.array([stats.spearmanr(a.ravel(), b.ravel()).statistic for a, b in zip(maps[0], maps[-1])])
    return names, corr_abs, signed


@pytest.mark.parametrize("name, min_accuracy", [("detector", 0.85), ("norcia", 0.9)])
def test_lrp_relevance_lies_in_the_planted_region(studies, name, min_accuracy):
    study = studies[name]
    R, mask = study["relevance"], study["mask"]
    assert study["accuracy"] >= min_accuracy          # the model learned the planted difference
    assert len(R) >= 20 and R.shape == study["x"].shape
    mass = relevance_mass_accuracy(R, mask)
    assert np.all(np.isfinite(mass))                  # every explained sample has positive relevance
    print(f"\n{name}: accuracy {study['accuracy']:.3f}, positive LRP relevance inside the planted region "
          f"{mass.mean():.3f} (min {mass.min():.3f}, n={len(R)}; region = {mask.mean():.3f} of the input)")
    assert mass.mean() >= 0.8
    assert mass.mean() > mask.mean() + 0.3            # far above a uniform spread over the input


@pytest.mark.parametrize("name", ["detector", "norcia"])
def test_lrp_decorrelates_when_weights_are_randomised(studies, name):
    study = studies[name]
    x = study["x"][:N_RANDOMISATION]
    reference = lrp_reference(study["model"], x, "epsilon", epsilon=EPSILON, neuron=study["neuron"])
    worker = study["relevance"][:N_RANDOMISATION]
    # the numpy LRP used in the cascade is the worker's explanation (float32 vs float64)
    assert np.max(np.abs(worker - reference)) <= 1e-4 * np.max(np.abs(reference))
    names, corr_abs, signed = _randomisation(study)
    weighted = [layer.name for layer in study["model"].layers if layer.trainable_weights]
    assert names == weighted[::-1] and corr_abs.shape == (len(weighted), len(x))
    print(f"\n{name}: Spearman |R| by layer {dict(zip(names, corr_abs.mean(axis=1).round(3)))}; "
          f"all layers re-initialised: signed {signed.mean():.3f}")
    assert signed.mean() < 0.3
    if name == "detector":
        assert corr_abs[-1].mean() < 0.3
