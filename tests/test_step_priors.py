"""Step priors as measured on Who&When: first steps and reading steps up, iteration dropped."""

from __future__ import annotations

import math

import pytest

from agent_routing.analyzer import ComplexityAnalyzer, extract_features, load_default_model
from agent_routing.analyzer._priors import CONTEXT_PRIORS
from agent_routing.config import CallKind, CascadeConfig
from agent_routing.protocols import AnalysisRequest

PROMPT = "Find the opening hours of the museum and summarise the reviews."


def score(**context: object) -> float:
    """The shipped model's score of PROMPT in the given context."""
    return ComplexityAnalyzer().analyze(AnalysisRequest(prompt=PROMPT, **context)).score  # type: ignore[arg-type]


def test_first_step_of_a_sub_agent_scores_higher_than_its_later_steps() -> None:
    """A sub-agent's first step gets the measured +ln 6.05; the main agent's does not."""
    first = extract_features(AnalysisRequest(prompt=PROMPT, call_kind=CallKind.SUBORDINATE))
    later = extract_features(
        AnalysisRequest(prompt=PROMPT, call_kind=CallKind.SUBORDINATE, iteration=3)
    )
    main = extract_features(AnalysisRequest(prompt=PROMPT, call_kind=CallKind.CHAT))
    assert first["subordinate_first_step"] == 1.0
    assert later["subordinate_first_step"] == 0.0
    assert main["subordinate_first_step"] == 0.0
    assert score(call_kind=CallKind.SUBORDINATE) > score(
        call_kind=CallKind.SUBORDINATE, iteration=3
    )


def test_iteration_count_no_longer_raises_the_score() -> None:
    """Iteration pointed the wrong way on Who&When, so its prior is dropped (weight 0)."""
    assert score(iteration=2) == pytest.approx(score(iteration=40))


def test_tool_errors_and_reading_steps_raise_the_score_by_the_measured_ratios() -> None:
    """One earlier tool error adds ln 1.99, a reading (tool I/O) call ln 1.37 to the log-odds."""
    model = {f.name: f for f in load_default_model().features}
    assert model["tool_errors_log"].weight * math.log1p(1) == pytest.approx(
        math.log(1.99), abs=0.02
    )
    assert model["kind_tool_io"].weight == pytest.approx(math.log(1.37), abs=0.01)
    assert model["subordinate_first_step"].weight == pytest.approx(math.log(6.05), abs=0.01)
    assert model["iteration_log"].weight == 0.0
    for name in ("tool_errors_log", "kind_tool_io", "subordinate_first_step", "iteration_log"):
        assert model[name].weight == CONTEXT_PRIORS[name].weight  # the file carries the priors
        assert "bench/step_priors.py" in model[name].why
    assert score(iteration=1, tool_errors=1) > score(iteration=1)


def test_cascade_escalates_once_by_default() -> None:
    """Escalation on failure stays one retry one tier up unless configured otherwise."""
    assert CascadeConfig().max_escalations == 1
