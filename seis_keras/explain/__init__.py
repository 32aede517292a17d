"""seis_keras.explain: what the trained networks learned.

Every explainer takes a model (or saved-model path) and a batch and returns a numpy array
shaped like the batch; aggregation lives beside them, figures in ``seis_keras.plots``.

    >>> from seis_keras.explain import saliency, occlude_time, explain
    >>> S = saliency(model, X, class_index="predicted")
    >>> R = explain(model, X, "lrp.alpha_beta(beta=1)")     # any method of explain.methods

Names are imported lazily (on first use), so ``import seis_keras.explain`` is cheap and
does not import shap, tf-keras-vis or innvestigate until they are needed.

Four functions share their module's name (``lrp``, ``saliency``, ``optimal_input``,
``feature_maps``). On this package the *function* always wins, whatever was imported
before: importing a submodule does not rebind the package attribute. Reach the modules with
``from seis_keras.explain.saliency import ...`` or ``importlib.import_module``.
"""
from __future__ import annotations

import importlib
import sys
import types

_EXPORTS = {
    "lrp": ("lrp", "lrp"),
    "LRPAnalyzer": ("lrp", "LRPAnalyzer"),
    "LRPSession": ("lrp", "LRPSession"),
    "lrp_reference": ("lrp_reference", "lrp_reference"),
    "explain": ("methods", "explain"),
    "parse_method": ("methods", "parse_method"),
    "MethodSpec": ("methods", "MethodSpec"),
    "saliency": ("saliency", "saliency"),
    "smoothgrad": ("saliency", "smoothgrad"),
    "input_gradient": ("saliency", "input_gradient"),
    "gradient_x_input": ("saliency", "gradient_x_input"),
    "integrated_gradients": ("saliency", "integrated_gradients"),
    "optimal_input": ("optimal_input", "optimal_input"),
    "spectrum_vs_training": ("optimal_input", "spectrum_vs_training"),
    "log_amplitude_ratio": ("optimal_input", "log_amplitude_ratio"),
    "TotalVariation1D": ("optimal_input", "TotalVariation1D"),
    "feature_maps": ("feature_maps", "feature_maps"),
    "conv_layer_names": ("feature_maps", "conv_layer_names"),
    "channel_correlations": ("feature_maps", "channel_correlations"),
    "fraction_correlated_channels": ("feature_maps", "fraction_correlated_channels"),
    "cross_run_matching": ("feature_maps", "cross_run_matching"),
    "gradient_shap": ("shap_values", "gradient_shap"),
    "deep_shap": ("shap_values", "deep_shap"),
    "partition_shap": ("shap_values", "partition_shap"),
    "class_mean_maps": ("shap_values", "class_mean_maps"),
    "batch_class_mean_maps": ("shap_values", "batch_class_mean_maps"),
    "occlude_time": ("occlusion", "occlude_time"),
    "occlude_frequency": ("occlusion", "occlude_frequency"),
    "occlude_band": ("occlusion", "occlude_band"),
    "occlusion_positions": ("occlusion", "occlusion_positions"),
    "amplitude_spectrum": ("spectral", "amplitude_spectrum"),
    "spectrogram": ("spectral", "spectrogram"),
    "cumulative_spectrum": ("spectral", "cumulative_spectrum"),
    "class_cumulative_spectra": ("spectral", "class_cumulative_spectra"),
    "relative_difference": ("spectral", "relative_difference"),
    "savgol_width_to_bins": ("spectral", "savgol_width_to_bins"),
    "smooth_spectrum": ("spectral", "smooth_spectrum"),
    "find_spectral_peaks": ("spectral", "find_spectral_peaks"),
    "multitaper_spectrum": ("spectral", "multitaper_spectrum"),
    "spectral_ratio": ("spectral", "spectral_ratio"),
    "band_power_fraction": ("spectral", "band_power_fraction"),
    "sigma_lrp": ("spectral", "sigma_lrp"),
    "frequency_relevance": ("frequency", "frequency_relevance"),
    "time_frequency_relevance": ("frequency", "time_frequency_relevance"),
    "dft_lrp": ("frequency", "dft_lrp"),
    "stdft_lrp": ("frequency", "stdft_lrp"),
    "spectral_model": ("frequency", "spectral_model"),
    "band_share": ("frequency", "band_share"),
    "band_shares": ("frequency", "band_shares"),
    "input_band_share": ("frequency", "input_band_share"),
    "uniform_band_share": ("frequency", "uniform_band_share"),
    "conservation_error": ("metrics", "conservation_error"),
    "relevance_mass_accuracy": ("metrics", "relevance_mass_accuracy"),
    "pointing_game": ("metrics", "pointing_game"),
    "deletion_curve": ("metrics", "deletion_curve"),
    "model_randomisation_test": ("metrics", "model_randomisation_test"),
    "perturbation_curve": ("metrics", "perturbation_curve"),
    "uniform_share": ("metrics", "uniform_share"),
    "sparseness": ("metrics", "sparseness"),
    "map_similarity": ("metrics", "map_similarity"),
    "randomised_cascade": ("metrics", "randomised_cascade"),
    "random_logit_test": ("metrics", "random_logit_test"),
    "TrustSettings": ("trust", "TrustSettings"),
    "TrustResult": ("trust", "TrustResult"),
    "assess": ("trust", "assess"),
    "judge": ("trust", "judge"),
    "trust_table": ("trust", "trust_table"),
    "best_trusted": ("trust", "best_trusted"),
    "randomisation_check": ("trust", "randomisation_check"),
    "localisation_check": ("trust", "localisation_check"),
    "faithfulness_check": ("trust", "faithfulness_check"),
    "weight_swap_explainer": ("trust", "weight_swap_explainer"),
    "resolve_targets": ("targets", "resolve_targets"),
    "select_scores": ("targets", "select_scores"),
    "predict_logits": ("targets", "predict_logits"),
}

__all__ = sorted(_EXPORTS)
_SHADOWED = {name for name, (module, _) in _EXPORTS.items() if name == module}


class _ExplainPackage(types.ModuleType):
    """Keeps exported functions from being replaced by same-named submodules on import."""

    def __setattr__(self, name, value):
        if name in _SHADOWED and isinstance(value, types.ModuleType):
            return  # the submodule stays reachable through sys.modules
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _ExplainPackage


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'seis_keras.explain' has no attribute {name!r}")
    module, attr = _EXPORTS[name]
    value = getattr(importlib.import_module(f"seis_keras.explain.{module}"), attr)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
