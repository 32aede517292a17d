"""seis_keras.explain lazy exports: every name resolves; functions win over same-named modules."""
import importlib
import types

import seis_keras.explain as explain


def test_every_export_resolves_to_a_callable():
    for name in explain.__all__:
        assert callable(getattr(explain, name)), name


def test_function_wins_over_submodule_of_the_same_name():
    importlib.import_module("seis_keras.explain.saliency")
    importlib.import_module("seis_keras.explain.lrp")
    from seis_keras.explain import feature_maps, lrp, optimal_input, saliency
    for f in (saliency, lrp, optimal_input, feature_maps):
        assert isinstance(f, types.FunctionType)
    assert saliency is importlib.import_module("seis_keras.explain.saliency").saliency
