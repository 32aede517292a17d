"""Interpreting a CNN earthquake detector with FMV, backward optimisation and LRP.

Majstorović, J., Giffard-Roisin, S. & Poli, P. (2023). Interpreting convolutional neural
network decision for earthquake detection with feature map visualization, backward
optimization and layer-wise relevance propagation methods. Geophys. J. Int. 232(2),
923–939. doi:10.1093/gji/ggac369 (SPEC §1; ``papers/majstorovic2023_…txt``).

Reproduces the study: a 7-layer 1D CNN separates 25 s three-component windows (20 Hz, E/N/Z,
each divided by its maximum) into earthquake and noise; ten runs differing only in seed and
sample order (run A is the reference) give accuracy mean ± std (paper: 0.9758 ± 8e-4 on
AQULO); then the three explanations — feature maps of the 7 conv layers (Figs 3–4, channel
correlations), the optimal input of each class by backward optimisation (Figs 5–6) and LRP-β
/ LRP-ε relevance with σ_LRP against distance (Figs 7–8) — are computed, and every explanation
method is checked (cascading randomisation, relevance mass in the P–S window and pointing game,
deletion vs random orders) with a verdict. Model A scans a
continuous record (``seis_keras.scan``) and is exported with its input contract.

    python -m seis_keras.recipes.detector --profile quick          # `make run`: minutes on a CPU
    python -m seis_keras.recipes.detector --data STORE --runs 10   # any earthquake/noise store
    python -m seis_keras.recipes.detector --data DIR --picks picks.csv   # waveform files + P picks
    python -m seis_keras.recipes.detector --profile quick --eval-data STORE  # + scored on other labelled windows
    python -m seis_keras.recipes.detector --set train.epochs=3 --set lrp.betas=[0.0]

Settings: ``recipes/detector.toml`` (every value with its source), checked against the schema
in :mod:`seis_keras.recipes.detector.config` before any data is read. Input: the model's
contract (``seis_keras.models.detector.CONTRACT``: 20 Hz, 500 samples, E/N/Z, MaxNormalize) at
the config's rate and window, with ``Demean`` first when ``data.demean`` says so (default
``"auto"``: for the built-in windows, which carry DC offsets; not for ``--data``, as the paper);
the model, the training pipeline, ``--eval-data``, the scan and the exported
``model/input_contract.json`` all follow it.

Sections, in the paper's order (``__main__.run``): 1 data (:mod:`.data`), 2 training and
3 evaluation (:mod:`.training`), 4 the chosen samples (:mod:`.samples`), 5 feature maps
(:mod:`.feature_maps`), 6 backward optimisation (:mod:`.backward_optimisation`: the authors' plain
SGD on the input, lr 6), 7 LRP (:mod:`.relevance`), 8 the trust checks of every explanation method
(:mod:`.trust`: randomisation, P–S localisation, deletion; the recommended method), 9 the paper's
LRP conclusions and relevance spectra with the recommended method beside the paper's rule
(:mod:`.recommended`), 10 the scan and 11 the exported model (:mod:`.scan`); the report in
:mod:`.report`, shared data classes and the paper's numbers in :mod:`.study`. Sections 7–9 share
one LRP worker.
"""
