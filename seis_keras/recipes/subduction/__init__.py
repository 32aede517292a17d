"""ml4szeq: which subduction segments host great earthquakes, and what the network looks at.

Reproduces the ml4szeq / xai-megathrust framework (SPEC §5; README in
``papers/ml4szeq_subduction-framework-readme.txt``; raw data DOI 10.26180/25066592): an MLP
classifies 50 km subduction segments of eight zones by the largest GCMT magnitude they hosted
(2 classes: Mw < 8 / ≥ 8; 3 classes: quantile cuts ≈ Mw 6.4, 8.3) from 49 geophysical and
kinematic features; spatial cross-validation with an exclusion distance measures F1; LRP-ε
(toward the predicted class, true positives, robust-scaled per sample) shows per-class feature
relevance, beside gradient saliency, gradient SHAP and our recommended LRP composite; a trust
section checks every method (randomisation, planted-feature localisation, deletion).

    python -m seis_keras.recipes.subduction --data ../shared/data/subduction --profile quick

Without ``--data`` the built-in synthetic table (``seis_keras.data.synthetic``, planted rule
on a few features) is used, and the report checks the planted features rank on top.

Sections (``__main__.run``, in the order of the study): data (``study``), class schemes,
spatial cross-validation (``cross_validation``), the released checkpoints on our folds
(``reference``, with ``--reference-checkpoints``), relevance (``relevance``), its trust checks
(``trust``), the final models
(``final_models``), the report (``report``). Training is many tiny fits, done by
:class:`seis_keras.train.mlp.MLPTrainer` (the code's loop: sigmoid+BCE on one-hot labels, a
one-cycle learning rate, inverse-frequency resampling every epoch, the best validation epoch kept).
"""
