"""Analyzers chosen by name: `router.analyzer` picks one from this registry.

Built in:

- `features` (default): the explainable feature model (:class:`ComplexityAnalyzer`), the
  prior every other analyzer starts from;
- `text`: the learnable text analyzer (:class:`~agent_routing.analyzer._text.TextAnalyzer`),
  trained on the user's own benefit labels by `agent-routing train --data FILE` or by duel
  mode's refits.

Each analyzer carries its own score quantile table (`score_quantiles`), which the router's
strategies use; none borrows another's. :func:`register_analyzer` adds one (a factory taking
the settings and the model file to load, or None for the default).

Model files say what they are (`format`), so :func:`load_analyzer_file` builds the right
analyzer from any file `train` writes and refuses others naming the file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from agent_routing.errors import ConfigError

if TYPE_CHECKING:
    from agent_routing.config import Settings
    from agent_routing.protocols import CalibratedAnalyzer

AnalyzerFactory = Callable[["Settings", Path | None], "CalibratedAnalyzer"]

FEATURES = "features"
TEXT = "text"
DEFAULT_ANALYZER = FEATURES
TEXT_MODEL_FILE = "text-analyzer-model.json"  # under $AGENT_ROUTING_HOME: train's default


def _features(settings: Settings, path: Path | None) -> CalibratedAnalyzer:
    from agent_routing.analyzer._model import load_model
    from agent_routing.analyzer._scoring import ComplexityAnalyzer

    if path is not None:
        _expect_format(path, FEATURE_FORMAT, FEATURES)
        return ComplexityAnalyzer(load_model(path))
    from agent_routing.analyzer.learning import current_model

    return ComplexityAnalyzer(current_model(settings))


def _text(settings: Settings, path: Path | None) -> CalibratedAnalyzer:
    from agent_routing.analyzer._text import TextAnalyzer, load_text_model

    if path is None:
        default = text_model_path()
        path = default if default.exists() else None
    record = settings.router.duel.enabled  # duel refits train on the recorded buckets
    if path is None:
        return TextAnalyzer(record_text=record)  # untrained: scores like the feature model
    _expect_format(path, TEXT_FORMAT, TEXT)
    return TextAnalyzer(load_text_model(path), record_text=record)


FEATURE_FORMAT = "agent-routing/complexity-model"
TEXT_FORMAT = "agent-routing/text-analyzer"
_FORMATS = {FEATURE_FORMAT: FEATURES, TEXT_FORMAT: TEXT}

_REGISTRY: dict[str, AnalyzerFactory] = {FEATURES: _features, TEXT: _text}


def text_model_path() -> Path:
    """Where `train --data` writes by default and the `text` analyzer looks first."""
    from agent_routing.config import data_home

    return data_home() / TEXT_MODEL_FILE


def register_analyzer(name: str, factory: AnalyzerFactory) -> None:
    """Make `factory` available as `router.analyzer: <name>`."""
    if not name or not name.replace("_", "").replace("-", "").isalnum():
        raise ConfigError.single("router.analyzer", f"not a valid analyzer name: {name!r}")
    _REGISTRY[name] = factory


def analyzer_names() -> list[str]:
    """The registered analyzer names, sorted."""
    return sorted(_REGISTRY)


def check_analyzer_name(name: str) -> None:
    """ConfigError naming `router.analyzer` unless `name` is registered."""
    if name not in _REGISTRY:
        raise ConfigError.single(
            "router.analyzer", f"unknown analyzer {name!r}: choose one of {analyzer_names()}"
        )


def _expect_format(path: Path, expected: str, name: str) -> None:
    from agent_routing.analyzer._text import read_model_document

    found = read_model_document(path).get("format")
    if found != expected:
        kind = _FORMATS.get(str(found), "unknown")
        raise ConfigError.single(
            "router.model_path",
            f"{str(path)!r} is a {kind!r} model file (format {found!r}), but router.analyzer "
            f"is {name!r}: set router.analyzer to {kind!r} or point router.model_path at a "
            f"{name!r} model",
        )


def build_analyzer(settings: Settings, name: str | None = None) -> CalibratedAnalyzer:
    """The analyzer `name` (default: `router.analyzer`) over `router.model_path` or its default."""
    name = name or settings.router.analyzer
    check_analyzer_name(name)
    return _REGISTRY[name](settings, settings.router.model_path)


def load_analyzer_file(path: Path) -> CalibratedAnalyzer:
    """The analyzer a model file belongs to, loaded from it (errors name the file)."""
    from agent_routing.analyzer._model import ModelFormatError, model_from_dict
    from agent_routing.analyzer._scoring import ComplexityAnalyzer
    from agent_routing.analyzer._text import TextAnalyzer, read_model_document
    from agent_routing.analyzer._text import model_from_dict as text_from_dict

    document = read_model_document(path)
    found = document.get("format")
    if found == TEXT_FORMAT:
        return TextAnalyzer(text_from_dict(document, source=str(path)))
    if found == FEATURE_FORMAT:
        try:
            return ComplexityAnalyzer(model_from_dict(document))
        except ModelFormatError as error:
            raise ModelFormatError(
                [(f"{path}: {where}", message) for where, message in error.problems]
            ) from None
    raise ModelFormatError(
        [
            (
                f"{path}: model.format",
                f"unknown model format {found!r} (expected one of {sorted(_FORMATS)})",
            )
        ]
    )
