"""Analyzers chosen by name, each routed over its own score quantiles; text model files checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent_routing.analyzer import ComplexityAnalyzer, ModelFormatError
from agent_routing.analyzer._text import (
    TextAnalyzer,
    load_text_model,
    model_to_dict,
    save_text_model,
)
from agent_routing.analyzer._text_training import fit_text_model, row_from_request, score_rows
from agent_routing.analyzer.registry import build_analyzer, load_analyzer_file, text_model_path
from agent_routing.config import settings_from_mapping
from agent_routing.errors import ConfigError
from agent_routing.protocols import AnalysisRequest
from agent_routing.router import Router
from agent_routing.router.strategies import (
    SHIPPED_SCORE_QUANTILES,
    STRONG_SHARES,
    quantile_at,
    quantiles_for,
)

PROMPTS = [
    f"{topic} number {i}"
    for i, topic in enumerate(
        ["compute the eigenvalues of this matrix", "say hello politely", "list two fruits",
         "prove the theorem about primes"] * 15
    )
]  # fmt: skip


def trained(tmp_path: Path) -> Path:
    """A text model whose label is 'the prompt mentions fruits or hello' (saved to a file)."""
    prior = ComplexityAnalyzer()
    rows = [
        row_from_request(
            AnalysisRequest(prompt=p, category="a" if i % 2 else "b"),
            float("fruits" in p or "hello" in p),
            prior,
        )
        for i, p in enumerate(PROMPTS)
    ]
    path = tmp_path / "text.json"
    save_text_model(fit_text_model(rows), path)
    return path


def test_router_uses_the_analyzer_named_in_settings(tmp_path: Path) -> None:
    """router.analyzer picks the class; an unknown name is refused naming the field."""
    features = Router(settings_from_mapping({}))
    assert isinstance(features.analyzer, ComplexityAnalyzer)
    text = Router(settings_from_mapping({"router": {"analyzer": "text"}}))
    assert isinstance(text.analyzer, TextAnalyzer)
    with pytest.raises(ConfigError) as error:
        Router(settings_from_mapping({"router": {"analyzer": "magic"}}))
    assert error.value.problems[0][0] == "router.analyzer"
    assert "'features'" in error.value.problems[0][1]


def test_untrained_text_analyzer_scores_exactly_like_the_feature_model() -> None:
    """Before any training the learnable analyzer is the prior (same scores, same table)."""
    text, features = TextAnalyzer(), ComplexityAnalyzer()
    for prompt in PROMPTS[:8]:
        request = AnalysisRequest(prompt=prompt, history=("earlier",), iteration=2)
        assert text.analyze(request).score == pytest.approx(features.analyze(request).score)
    assert text.score_quantiles == features.score_quantiles == SHIPPED_SCORE_QUANTILES


def test_each_analyzer_is_routed_over_its_own_quantiles(tmp_path: Path) -> None:
    """A trained text model brings its own table; the router's thresholds come from it."""
    path = trained(tmp_path)
    settings = settings_from_mapping({"router": {"analyzer": "text", "model_path": str(path)}})
    router = Router(settings)
    table = load_text_model(path).score_quantiles
    assert table != SHIPPED_SCORE_QUANTILES
    assert quantiles_for(router.analyzer) == table
    balanced = STRONG_SHARES["balanced"]
    assert router.thresholds() == [quantile_at(1.0 - balanced, table)]
    assert router.thresholds() != [quantile_at(1.0 - balanced, SHIPPED_SCORE_QUANTILES)]


def test_trained_text_model_learns_the_label_and_round_trips(tmp_path: Path) -> None:
    """The fit separates the two kinds of prompts; the file reloads to identical scores."""
    path = trained(tmp_path)
    model = load_text_model(path)
    analyzer = TextAnalyzer(model)
    easy = analyzer.analyze(AnalysisRequest(prompt="list two fruits number 99", category="a"))
    hard = analyzer.analyze(AnalysisRequest(prompt="prove the theorem number 98", category="a"))
    assert easy.score > hard.score
    assert "text" in dict(easy.top_features)
    assert any(name.startswith("hash:") for name in easy.features)
    row = row_from_request(AnalysisRequest(prompt="list two fruits number 99", category="a"), 1.0,
                           ComplexityAnalyzer())  # fmt: skip
    assert score_rows(model, [row])[0] == pytest.approx(easy.score)
    assert load_text_model(path) == model


def test_text_model_files_are_checked_and_errors_name_the_file(tmp_path: Path) -> None:
    """A wrong format version, a non-finite weight or a feature model under `text` is refused."""
    path = trained(tmp_path)
    document = model_to_dict(load_text_model(path))
    old = tmp_path / "old.json"
    old.write_text(json.dumps({**document, "format_version": 99}))
    with pytest.raises(ModelFormatError) as error:
        load_text_model(old)
    assert str(old) in error.value.problems[0][0]
    assert "format_version" in error.value.problems[0][0]
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({**document, "intercept": "high"}))
    with pytest.raises(ModelFormatError, match="intercept"):
        load_analyzer_file(broken)
    features_file = tmp_path / "features.json"
    from agent_routing.analyzer import load_default_model, save_model

    save_model(load_default_model(), features_file)
    assert isinstance(load_analyzer_file(features_file), ComplexityAnalyzer)
    settings = settings_from_mapping(
        {"router": {"analyzer": "text", "model_path": str(features_file)}}
    )
    with pytest.raises(ConfigError, match=r"router\.model_path"):
        build_analyzer(settings)


def test_text_analyzer_loads_the_model_train_writes_by_default(tmp_path: Path) -> None:
    """With no router.model_path, `text` loads $AGENT_ROUTING_HOME/text-analyzer-model.json."""
    path = trained(tmp_path)
    text_model_path().parent.mkdir(parents=True, exist_ok=True)
    text_model_path().write_bytes(path.read_bytes())
    analyzer = build_analyzer(settings_from_mapping({"router": {"analyzer": "text"}}))
    assert isinstance(analyzer, TextAnalyzer)
    assert analyzer.model == load_text_model(path)


def test_duel_mode_needs_the_text_analyzer() -> None:
    """Duel labels train the text analyzer, so enabling duels under `features` is refused."""
    with pytest.raises(ConfigError) as error:
        settings_from_mapping({"router": {"duel": {"enabled": True}}})
    assert "router" in error.value.problems[0][0]
    assert "analyzer: text" in error.value.problems[0][1]
