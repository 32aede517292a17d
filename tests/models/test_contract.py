"""Tests of seis_keras.models.contract: one input contract per model, on the model."""
import json

import numpy as np
import pytest

from seis_keras.data import transforms as T
from seis_keras.models import CITATIONS, CONTRACTS, InputContract, contract_of, get_model
from seis_keras.models.contract import transform_from_spec, transform_spec


def test_every_waveform_model_carries_its_paper_contract_and_citation():
    assert contract_of("detector").input_shape == (500, 3)              # 25 s at 20 Hz, E/N/Z
    assert contract_of("detector").transforms == ("MaxNormalize",)      # §2.1: "not filtered", divided by the max
    assert contract_of("norcia").input_shape == (2500, 3)
    assert contract_of("precursor").input_shape == (16384, 3)
    assert contract_of("spectrogram").input_shape == (33, 153, 3)       # the transform's output shape
    assert CONTRACTS["subduction"] is None and "ml4szeq" in CITATIONS["subduction"]
    assert all(len(CITATIONS[name]) > 20 for name in CONTRACTS)
    for name in ("detector", "norcia", "spectrogram"):                    # the default model follows it
        c = contract_of(name)
        assert get_model(name, contract=c).input_shape[1:] == c.input_shape
    with pytest.raises(ValueError, match="tabular"):
        contract_of("subduction")


def test_a_new_sampling_rate_rebuilds_the_model_or_is_refused():
    c = contract_of("detector").replace(sampling_rate=100.0, window_samples=2500)
    assert get_model("detector", contract=c).input_shape == (None, 2500, 3)
    with pytest.raises(ValueError, match="input_length=500 disagrees with the input contract"):
        get_model("detector", contract=c, input_length=500)
    two = contract_of("norcia").replace(component_order="NZ")
    assert get_model("norcia", contract=two).input_shape == (None, 2500, 2)
    short = contract_of("spectrogram").replace(window_samples=1000)
    assert get_model("spectrogram", contract=short).input_shape == (None, 33, 59, 3)
    with pytest.raises(ValueError, match="tabular model takes no input contract"):
        get_model("subduction", contract=contract_of("detector"))


def test_transform_specs_round_trip_with_settings():
    band = T.Bandpass(3.0, 6.0, 100.0, order=2)
    assert transform_spec(band) == "Bandpass(fmin=3.0, fmax=6.0, fs=100.0, order=2)"
    back = transform_from_spec(transform_spec(band))
    x = np.random.default_rng(0).standard_normal((2, 300, 3)).astype(np.float32)
    np.testing.assert_array_equal(back(x), band(x))
    st = T.Standardize(mean=np.array([1.0, 2.0, 3.0]), std=np.array([2.0, 2.0, 2.0]))
    np.testing.assert_array_equal(transform_from_spec(transform_spec(st))(x), st(x))
    assert transform_spec(T.MaxNormalize()) == "MaxNormalize"
    for bad, msg in (("Whiten", "unknown"), ("Bandpass(1, 2, 3)", "not a transform spec"),
                     ("Bandpass(fmin=x)", "literals"), ("MaxNormalize(foo=1)", "foo")):
        with pytest.raises(ValueError, match=msg):
            transform_from_spec(bad, where="cfg")


def test_contract_json_round_trip_and_one_line_errors():
    c = contract_of("detector").with_transforms([T.Demean(), T.MaxNormalize()])
    assert c.transforms == ("Demean", "MaxNormalize")
    assert InputContract.from_json(json.loads(json.dumps(c.to_json()))) == c
    with pytest.raises(ValueError, match="model.json: unknown keys \\['rate'\\]"):
        InputContract.from_json({"rate": 20}, where="model.json")
    with pytest.raises(ValueError, match="model.json: .*sampling_rate: expected > 0"):
        InputContract.from_json({"sampling_rate": 0}, where="model.json")
    with pytest.raises(ValueError, match="window_samples"):
        InputContract(window_samples=2.5)
    with pytest.raises(ValueError, match="component_order"):
        InputContract(component_order="ZZE")
