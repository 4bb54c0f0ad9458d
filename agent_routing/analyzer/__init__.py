"""Task-complexity analyzer: explainable features, a small JSON model, training and refits.

Public API (imported lazily, so that importing this package loads no numpy, scikit-learn
or tokenizer):

- :class:`ComplexityAnalyzer` implements :class:`agent_routing.protocols.Analyzer`;
- :func:`load_default_model`, :func:`load_model`, :func:`save_model`, :class:`AnalyzerModel`;
- :func:`score_examples`, :func:`score_features` score requests or recorded feature dicts;
- :func:`train_model`, :func:`train_model_from_features` fit on outcomes (optionally
  starting from a base model); :func:`build_model` rebuilds the shipped model from data.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent_routing.analyzer.features import FEATURE_NAMES, extract_features
    from agent_routing.analyzer.model import (
        AnalyzerModel,
        ModelFormatError,
        load_default_model,
        load_model,
        save_model,
    )
    from agent_routing.analyzer.pipeline import build_model
    from agent_routing.analyzer.refit import train_model, train_model_from_features
    from agent_routing.analyzer.scoring import (
        ComplexityAnalyzer,
        model_for_settings,
        score_examples,
        score_features,
    )

_EXPORTS = {
    "FEATURE_NAMES": "features",
    "extract_features": "features",
    "AnalyzerModel": "model",
    "ModelFormatError": "model",
    "load_default_model": "model",
    "load_model": "model",
    "save_model": "model",
    "build_model": "pipeline",
    "train_model": "refit",
    "train_model_from_features": "refit",
    "ComplexityAnalyzer": "scoring",
    "model_for_settings": "scoring",
    "score_examples": "scoring",
    "score_features": "scoring",
}

__all__ = [
    "FEATURE_NAMES",
    "AnalyzerModel",
    "ComplexityAnalyzer",
    "ModelFormatError",
    "build_model",
    "extract_features",
    "load_default_model",
    "load_model",
    "model_for_settings",
    "save_model",
    "score_examples",
    "score_features",
    "train_model",
    "train_model_from_features",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'agent_routing.analyzer' has no attribute {name!r}")
    return getattr(importlib.import_module(f"agent_routing.analyzer.{module}"), name)
