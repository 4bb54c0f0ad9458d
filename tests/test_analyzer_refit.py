"""Fitting on recorded outcomes: fresh fits, refits from a base model, and input validation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from agent_routing.analyzer import (
    extract_features,
    score_features,
    train_model,
    train_model_from_features,
)
from agent_routing.analyzer._model import load_default_model, model_json
from agent_routing.config import CallKind
from agent_routing.errors import ConfigError
from agent_routing.protocols import AnalysisRequest

PROMPTS = (
    "Rename the variable.",
    "List the files in the folder.",
    "Summarize the last message.",
    "Fix the failing test in parser.py and explain the cause.",
    "Design a migration plan for the billing database with zero downtime.",
    "Prove that the algorithm terminates for every input.",
)


def ledger_rows(count: int = 60) -> list[tuple[dict[str, float], float]]:
    """Recorded decisions where the strong model was needed exactly when tools had failed."""
    rows = []
    for index in range(count):
        errors = index % 3
        request = AnalysisRequest(
            prompt=PROMPTS[index % len(PROMPTS)],
            tool_errors=errors,
            iteration=index % 5,
            call_kind=CallKind.CHAT,
        )
        rows.append((extract_features(request), 1.0 if errors else 0.0))
    return rows


def test_refit_learns_what_the_outcomes_show_and_keeps_the_format() -> None:
    """Outcomes driven by tool errors raise the tool-error weight above the base prior."""
    base = load_default_model()
    rows = ledger_rows()
    refit = train_model_from_features(rows, base=base, seed=0)
    weights = {f.name: f for f in refit.features}
    base_weights = {f.name: f for f in base.features}
    assert weights["tool_errors_log"].weight > base_weights["tool_errors_log"].weight
    assert weights["tool_errors_log"].source == "learned"
    assert weights["failure_signals_log"].source == "prior"  # constant in the rows: not refit
    assert refit.feature_names == base.feature_names
    scores = score_features(refit, [features for features, _ in rows])
    labels = np.array([label for _, label in rows])
    assert scores[labels == 1].mean() > scores[labels == 0].mean() + 0.2
    assert refit.metrics["in_sample_log_loss"] < refit.metrics["in_sample_log_loss_base"]
    assert refit.training["base_model_version"] == base.model_version
    assert refit.training["lineage"][-1] == base.model_version
    assert refit.training["data"] == base.training["data"]


def test_refit_with_few_rows_stays_close_to_the_base_order() -> None:
    """Two uninformative rows leave the base model's ranking of prompts unchanged."""
    base = load_default_model()
    rows = [
        (extract_features(AnalysisRequest(prompt="Rename the file.")), 0.0),
        (extract_features(AnalysisRequest(prompt="Rename the file.")), 1.0),
    ]
    refit = train_model_from_features(rows, base=base)
    probes = [extract_features(AnalysisRequest(prompt=p)) for p in PROMPTS]
    assert np.array_equal(
        np.argsort(score_features(base, probes)), np.argsort(score_features(refit, probes))
    )


def test_fresh_fit_without_base_learns_the_signal() -> None:
    """With no base, a plain logistic fit still separates the two kinds of outcome."""
    rows = ledger_rows()
    model = train_model_from_features(rows)
    weights = {f.name: f.weight for f in model.features}
    assert weights["tool_errors_log"] > 0
    assert model.training["method"].startswith("penalised logistic regression")
    scores = score_features(model, [features for features, _ in rows])
    labels = np.array([label for _, label in rows])
    assert scores[labels == 1].min() > scores[labels == 0].max()


def test_train_model_accepts_requests_and_is_deterministic() -> None:
    """train_model extracts features itself; the same examples give the same file."""
    examples = [
        (AnalysisRequest(prompt=PROMPTS[i % 6], tool_errors=i % 2), float(i % 2)) for i in range(20)
    ]
    first = train_model(examples, base=load_default_model(), seed=3)
    second = train_model(examples, base=load_default_model(), seed=3)
    assert model_json(first) == model_json(second)


@pytest.mark.parametrize(
    ("rows", "field"),
    [
        ([], "rows"),
        ([({}, 0.0)], "rows"),
        ([(extract_features(AnalysisRequest(prompt="a")), 0.0)] * 2, "rows"),
        ([(extract_features(AnalysisRequest(prompt="a")), 1.5)] * 2, "rows[0].label"),
        ([(extract_features(AnalysisRequest(prompt="a")), math.nan)] * 2, "rows[0].label"),
        (
            [(extract_features(AnalysisRequest(prompt="a")), 0.0), ({"iteration_log": 1.0}, 1.0)],
            "rows[1]",
        ),
    ],
)
def test_bad_rows_are_rejected_naming_the_field(rows, field: str) -> None:
    """Too few rows, labels outside [0, 1], one-sided labels and gaps name the problem."""
    with pytest.raises(ConfigError) as raised:
        train_model_from_features(rows, base=load_default_model())
    assert raised.value.problems[0][0] == field
