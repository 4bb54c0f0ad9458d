"""Model file format, loading errors, the shipped model and the Analyzer's scoring."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from agent_routing.analyzer import (
    FEATURE_NAMES,
    ComplexityAnalyzer,
    extract_features,
    model_for_settings,
    score_examples,
    score_features,
)
from agent_routing.analyzer._model import (
    FORMAT_NAME,
    FeatureSpec,
    ModelFormatError,
    load_default_model,
    load_model,
    make_model,
    model_json,
    save_model,
)
from agent_routing.config import CallKind, Settings
from agent_routing.protocols import AnalysisRequest

HARD = (
    "Let $f(x) = \\frac{3x^2 - 5x + 2}{x - 4}$. Find all real numbers $a$ such that the "
    "equation f(x) = a has exactly one solution, then prove that for every integer n > 2 "
    "the sum of the first n values f(k), k = 5, 6, ..., is not a prime. Determine the "
    "limit of f(x)/x as x tends to infinity and compute the remainder of f(7) modulo 3."
)
EASY = "hi"


def tiny_model(weight: float = 1.0) -> object:
    """A valid model whose only non-zero weight is on the prompt size."""
    specs = [
        FeatureSpec(name, mean=0.0, scale=1.0, weight=weight if name == "prompt_tokens_log" else 0)
        for name in FEATURE_NAMES
    ]
    return make_model(specs, intercept=-2.0, training={"seed": 0}, metrics={})


def test_save_and_load_round_trip_is_identical(tmp_path: Path) -> None:
    """A saved model loads back equal, and saving it again writes the same bytes."""
    model = load_default_model()
    path = tmp_path / "model.json"
    save_model(model, path)
    loaded = load_model(path)
    assert loaded == model
    save_model(loaded, tmp_path / "again.json")
    assert path.read_bytes() == (tmp_path / "again.json").read_bytes()


def test_version_is_derived_from_parameters() -> None:
    """Equal parameters give equal versions; changing one weight changes the version."""
    assert tiny_model(1.0).model_version == tiny_model(1.0).model_version
    assert tiny_model(1.0).model_version != tiny_model(1.5).model_version


def test_file_is_json_with_format_version_and_feature_order(tmp_path: Path) -> None:
    """The file records its format, version and every feature with scaler and weight, in order."""
    path = tmp_path / "model.json"
    save_model(load_default_model(), path)
    document = json.loads(path.read_text())
    assert document["format"] == FORMAT_NAME
    assert document["format_version"] == 1
    assert [f["name"] for f in document["features"]] == list(FEATURE_NAMES)
    assert {"mean", "scale", "weight", "source"} <= set(document["features"][0])


def _write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    return path


def _document() -> dict[str, object]:
    return json.loads(model_json(load_default_model()))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.update(format="something-else"), "model.format"),
        (lambda d: d.update(format_version=99), "model.format_version"),
        (lambda d: d["features"].pop(), "model.features"),
        (lambda d: d["features"][0].update(name="renamed"), "model.features"),
        (lambda d: d["features"].reverse(), "model.features"),
        (
            lambda d: d["features"][2].update(scale=-1.0),
            "model.features[2] (mean_word_length).scale",
        ),
        (lambda d: d["features"][1].update(weight="heavy"), "model.features[1].weight"),
        (lambda d: d["features"][1].update(source="guess"), "model.features[1].source"),
        (lambda d: d.pop("intercept"), "model.intercept"),
    ],
)
def test_loading_a_bad_document_names_the_field(tmp_path: Path, change, field: str) -> None:
    """Every format or feature mismatch raises ModelFormatError naming the field."""
    document = _document()
    change(document)
    with pytest.raises(ModelFormatError) as raised:
        load_model(_write(tmp_path, document))
    assert raised.value.problems[0][0] == field


def test_loading_missing_or_non_json_file_names_model_path(tmp_path: Path) -> None:
    """A missing file and a non-JSON file are errors about model_path."""
    with pytest.raises(ModelFormatError, match="cannot read"):
        load_model(tmp_path / "absent.json")
    (tmp_path / "text.json").write_text("not json")
    with pytest.raises(ModelFormatError, match="not JSON"):
        load_model(tmp_path / "text.json")


def test_shipped_model_records_how_it_was_made() -> None:
    """The shipped model names its data files with hashes, seed, versions and both hold-outs."""
    model = load_default_model()
    training = model.training
    assert training["seed"] == 0
    assert training["sklearn_version"]
    assert {entry["dataset"] for entry in training["data"]} == {"mmlu_pro", "math", "code"}
    assert all(len(entry["sha256"]) == 64 for entry in training["data"])
    assert {"row_level_5fold", "leave_one_dataset_out", "length_baseline"} <= set(model.metrics)
    priors = [f for f in model.features if f.source == "prior"]
    assert priors
    assert all(f.why for f in priors)


def test_analysis_matches_the_formula_and_names_top_contributions() -> None:
    """score = sigmoid(intercept + sum of contributions); top_features are the largest ones."""
    model = load_default_model()
    analysis = ComplexityAnalyzer(model, top_k=3).analyze(AnalysisRequest(prompt=HARD))
    assert tuple(analysis.features) == FEATURE_NAMES
    contributions = {
        f.name: f.weight * (analysis.features[f.name] - f.mean) / f.scale for f in model.features
    }
    logit = model.intercept + sum(contributions.values())
    assert analysis.score == pytest.approx(1 / (1 + math.exp(-logit)))
    expected = sorted(contributions.items(), key=lambda item: abs(item[1]), reverse=True)[:3]
    assert [name for name, _ in analysis.top_features] == [name for name, _ in expected]
    for (_, shown), (_, value) in zip(analysis.top_features, expected, strict=True):
        assert shown == pytest.approx(value, abs=1e-4)
    assert analysis.model_version == model.model_version


def test_hard_prompt_scores_above_easy_one() -> None:
    """A multi-part maths problem scores higher than a greeting."""
    analyzer = ComplexityAnalyzer()
    hard = analyzer.analyze(AnalysisRequest(prompt=HARD)).score
    easy = analyzer.analyze(AnalysisRequest(prompt=EASY)).score
    assert 0.0 <= easy < hard <= 1.0


def test_context_priors_move_the_score_in_their_documented_direction() -> None:
    """Tool errors and failure signals raise the score; a utility call lowers it."""
    analyzer = ComplexityAnalyzer()
    base = analyzer.analyze(AnalysisRequest(prompt="Rename the file.")).score
    struggling = analyzer.analyze(
        AnalysisRequest(prompt="Rename the file.", tool_errors=3, signals=("misformat",))
    ).score
    utility = analyzer.analyze(
        AnalysisRequest(prompt="Rename the file.", call_kind=CallKind.UTILITY)
    ).score
    assert utility < base < struggling


def test_batch_scoring_equals_single_analysis() -> None:
    """score_examples and score_features give the same scores as analyze()."""
    model = load_default_model()
    requests = [AnalysisRequest(prompt=HARD), AnalysisRequest(prompt=EASY, iteration=3)]
    single = [ComplexityAnalyzer(model).analyze(r).score for r in requests]
    assert list(score_examples(model, requests)) == pytest.approx(single)
    recorded = [extract_features(r) for r in requests]
    assert list(score_features(model, recorded)) == pytest.approx(single)


def test_score_features_names_the_row_missing_a_feature() -> None:
    """A recorded feature dict without a model feature is rejected, naming the row."""
    rows = [extract_features(AnalysisRequest(prompt="a")), {"prompt_tokens_log": 1.0}]
    with pytest.raises(ModelFormatError) as raised:
        score_features(load_default_model(), rows)
    assert raised.value.problems[0][0] == "rows[1]"


def test_settings_model_path_overrides_the_shipped_model(tmp_path: Path) -> None:
    """router.model_path selects the model file the analyzer uses."""
    path = tmp_path / "custom.json"
    save_model(tiny_model(2.0), path)
    settings = Settings.model_validate({"router": {"model_path": str(path)}})
    assert model_for_settings(settings).model_version == tiny_model(2.0).model_version
    analyzer = ComplexityAnalyzer.from_settings(settings)
    assert (
        analyzer.analyze(AnalysisRequest(prompt="x")).model_version == tiny_model(2.0).model_version
    )
    assert model_for_settings(Settings()) == load_default_model()


def test_negative_top_k_is_rejected() -> None:
    """top_k below zero is a configuration error naming top_k."""
    with pytest.raises(ModelFormatError, match="top_k"):
        ComplexityAnalyzer(top_k=-1)


@pytest.mark.slow
def test_analysis_loads_only_the_tokenizer() -> None:
    """Importing and building loads no heavy library; analyzing loads tiktoken and nothing else."""
    code = (
        "import sys\n"
        "from agent_routing.analyzer import ComplexityAnalyzer\n"
        "from agent_routing.protocols import AnalysisRequest\n"
        "HEAVY = ('numpy', 'sklearn', 'scipy', 'tiktoken', 'litellm')\n"
        "analyzer = ComplexityAnalyzer()\n"
        "print(sorted(m for m in HEAVY if m in sys.modules))\n"
        "analyzer.analyze(AnalysisRequest(prompt='Prove it.'))\n"
        "print(sorted(m for m in HEAVY if m in sys.modules))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.split("\n")[:2] == ["[]", "['tiktoken']"]
