"""Magrini & Marrocco: a log-spectrogram CNN for Norcia foreshocks/aftershocks, explained with SHAP.

Magrini, M. & Marrocco, F., "What is machine learning teaching us? Explainable AI for seismic
models" (EQML project, slides and public PyTorch code; SPEC §3). The Norcia traces of Laurenti
et al. 2024 become 3-channel log spectrograms (``scipy.signal.spectrogram`` fs 100, nperseg 64,
noverlap 48 → 33 frequencies × 153 times, ``log1p``, min-max per channel, standardised with
the training set's per-channel mean/std); a small 2D CNN separates foreshocks (0) from
aftershocks (1); SHAP (Partition explainer, inpainting image masker, the top class's logit)
shows where in frequency and time it looks, averaged over correctly classified samples per
class. Published: accuracy 0.9575, precision 0.9477, recall 0.9707, F1 0.9591.

    python -m seis_keras.recipes.norcia_shap --profile quick
    python -m seis_keras.recipes.norcia_shap --data ZENODO_DIR --published-split

Sections (``__main__.run``): data and labels, split (random 70/15/15; by default no event in two
splits — ``--published-split`` splits traces as published, so one event's traces from different
stations can land in training and test) and preprocessing (``study``); training as the code
(Adam 1e-3, batch 32, 10 epochs, last weights kept) and test metrics (``training``); SHAP maps
(Partition with inpainting, and GradientExplainer), class means, and on built-in data the share
of |SHAP| mass in the planted 30–40 Hz band (``shap_maps``); the exported model with its input
contract (standardisation statistics included) and the report (``report``).
"""
