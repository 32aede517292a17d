"""The subduction-segment MLP of the ml4szeq / xai-megathrust framework.

ml4szeq: "A machine-learning framework for megathrust earthquakes in subduction zones"
(public PyTorch code and README; the study classifying subduction segments by the largest
GCMT magnitude they hosted and explaining the classifier with LRP).

Input contract: 49 numeric features per along-strike segment (DXT/FDM/SDM at 200/400/600 km,
sediment, plate velocity, age, gravity and roughness statistics), Yeo–Johnson power
transformed and standardised. Output: logits over magnitude classes (3 classes cut at the
0.33 / 0.65 quantiles of MR_GCMT, or 2 classes at Mw 8.0).

Architecture (code): Dense h1 → Dropout → ReLU → Dense h2 → Dropout → ReLU →
Dense(n_classes) logits, h1 = 500, h2 = 100, dropout 0.2. The code trains the logits with a
sigmoid + BCE on one-hot labels (the README says softmax); the training module picks the
loss, this model only produces logits.

Parameter count with the defaults (n_features=49, n_classes=3): 75 403.
"""
from __future__ import annotations

from tensorflow import keras
from tensorflow.keras import layers

CITATION = ("ml4szeq / xai-megathrust: a machine-learning framework for megathrust earthquakes in subduction "
            "zones (public PyTorch code and README; raw data doi:10.26180/25066592)")

#: Tabular, not waveforms: no InputContract. The input is the 49 features of
#: ``seis_keras.data.subduction.FEATURE_COLUMNS`` through ``SubductionTransforms`` fitted on the table.
CONTRACT = None


def subduction(*, n_features: int = 49, n_classes: int = 3, hidden_units: tuple[int, int] = (500, 100),
               dropout: float = 0.2, name: str = "subduction") -> keras.Model:
    """Build the ml4szeq MLP (logits output).

    Args:
        n_features: input features; 49 in the published tables.
        n_classes: output classes; 3 (default, quantile classes) or 2 (Mw < 8 / >= 8).
        hidden_units: widths (h1, h2); code 500, 100.
        dropout: rate of both dropout layers; code 0.2.
        name: model name.

    Returns:
        A functional model: input ``features`` ``(batch, n_features)`` → output ``logits``
        ``(batch, n_classes)``. Layers ``fc1``, ``dropout1``, ``relu1``, ``fc2``,
        ``dropout2``, ``relu2``, ``logits``.
    """
    if len(hidden_units) != 2:
        raise ValueError(f"subduction: hidden_units={hidden_units!r} (expected two widths h1, h2)")
    inputs = keras.Input((n_features,), name="features")
    x = inputs
    for i, units in enumerate(hidden_units, start=1):
        x = layers.Dense(int(units), name=f"fc{i}")(x)
        x = layers.Dropout(dropout, name=f"dropout{i}")(x)
        x = layers.Activation("relu", name=f"relu{i}")(x)
    outputs = layers.Dense(n_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)
