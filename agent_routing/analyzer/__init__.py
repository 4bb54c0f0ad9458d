"""Task-complexity analyzer: explainable features, a small JSON model, training and refits.

Public API (imported lazily, so that importing this package loads no numpy, scikit-learn
or tokenizer):

- :class:`ComplexityAnalyzer` implements :class:`agent_routing.protocols.Analyzer`;
- :func:`load_default_model`, :func:`load_model`, :func:`save_model`, :class:`AnalyzerModel`;
- :func:`score_examples`, :func:`score_features` score requests or recorded feature dicts;
- :func:`train_model`, :func:`train_model_from_features` fit on outcomes (optionally
  starting from a base model); :func:`build_model` rebuilds the shipped model from data;
- :class:`TextAnalyzer` (the learnable `text` analyzer), :func:`train_text_file` fits it on
  a labelled file, :func:`save_text_model` writes its model.

Public modules besides this one: `registry` (analyzers chosen by name), `learning` (refits
from the ledger's outcomes), `evaluate` (the `eval` and `calibrate` commands as library
calls) and `quantiles` (score quantile tables and the strategies' strong shares, shared
with the router). The `_*` modules are internal: `_features`, `_tokens` and `_priors` (the
feature analyzer's inputs), `_model`, `_scoring`, `_refit`, `_ranking` and `_pipeline` (its
model, scoring and training), `_datasets` (the training sets), `_text` and
`_text_training` (the text analyzer).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent_routing._lazy import lazy_exports

if TYPE_CHECKING:
    from agent_routing.analyzer._features import FEATURE_NAMES, extract_features
    from agent_routing.analyzer._model import (
        AnalyzerModel,
        ModelFormatError,
        load_default_model,
        load_model,
        save_model,
    )
    from agent_routing.analyzer._pipeline import build_model
    from agent_routing.analyzer._refit import train_model, train_model_from_features
    from agent_routing.analyzer._scoring import (
        ComplexityAnalyzer,
        model_for_settings,
        score_examples,
        score_features,
    )
    from agent_routing.analyzer._text import TextAnalyzer, save_text_model
    from agent_routing.analyzer._text_training import train_text_file

_EXPORTS = {
    "FEATURE_NAMES": "_features",
    "extract_features": "_features",
    "AnalyzerModel": "_model",
    "ModelFormatError": "_model",
    "load_default_model": "_model",
    "load_model": "_model",
    "save_model": "_model",
    "build_model": "_pipeline",
    "train_model": "_refit",
    "train_model_from_features": "_refit",
    "ComplexityAnalyzer": "_scoring",
    "model_for_settings": "_scoring",
    "score_examples": "_scoring",
    "score_features": "_scoring",
    "TextAnalyzer": "_text",
    "save_text_model": "_text",
    "train_text_file": "_text_training",
}

__all__ = [
    "FEATURE_NAMES",
    "AnalyzerModel",
    "ComplexityAnalyzer",
    "ModelFormatError",
    "TextAnalyzer",
    "build_model",
    "extract_features",
    "load_default_model",
    "load_model",
    "model_for_settings",
    "save_model",
    "save_text_model",
    "score_examples",
    "score_features",
    "train_model",
    "train_model_from_features",
    "train_text_file",
]

__getattr__ = lazy_exports(__name__, _EXPORTS)
