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
    python -m seis_keras.recipes.norcia_shap --data ZENODO_DIR                     # both splits
    python -m seis_keras.recipes.norcia_shap --data ZENODO_DIR --published-split   # the trace split only

Sections (``__main__.run``): data and labels (``study``); per split in ``split.groupings`` — by
default the code's random 70/15/15 split **by trace** (the published numbers; one event's records
at several stations can land in training and test), then a split **by event** (no event in two
parts, the honest score) — the preprocessing (the input contract with that split's training
standardisation) and training as the code (Adam 1e-3, batch 32, 10 epochs, last weights kept)
with test metrics (``training``), one row each; on the first split's model: SHAP maps (Partition
with inpainting, the code; GradientExplainer beside it) on shuffled 32-sample batches, class
means as the code (each map divided by its batch's signed max, mean of the per-batch class
means) and the band shares of the maps (``shap.share_cells``: each frequency row's SHAP summed over
time and channels, the per-cell share beside) beside the traces' own, the model input's own class
contrast in the band and the explainer's ceiling (a model that reads only the band, explained with
the same settings; Partition also with ``shap.ceiling_maskers``) (``shap_maps``); trust checks of
each method — cascading randomisation, localisation in the planted band, deletion of cells
(``trust``); the figures with their verdicts (``figures``); the exported model with its input
contract and the report with where the run differs from the code (``report``). The code's
8-bit PNG path is ``preprocess.quantise_uint8`` (off).
"""
