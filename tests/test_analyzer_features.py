"""Feature extraction: each feature reads what its name says, context features and token counts."""

from __future__ import annotations

import math

import pytest

from agent_routing.analyzer import _features as F
from agent_routing.analyzer._priors import CONTEXT_PRIORS, TEXT_DIRECTIONS
from agent_routing.analyzer._tokens import (
    EXACT_LIMIT_CHARS,
    count_tokens_exact,
    estimate_tokens,
)
from agent_routing.config import CallKind
from agent_routing.protocols import AnalysisRequest

CODE_PROMPT = """Fix the bug in this Python function so the tests pass:

```python
def mean(values):
    return sum(values) / len(values) if values else None;
```
"""
MATH_PROMPT = r"Find all real $x$ such that $\frac{x^2 - 1}{x + 2} = 3$. Prove your answer."


def test_feature_names_are_text_then_context_and_priors_cover_them_in_order() -> None:
    """The model input order is the text features, then the context features, each documented."""
    assert F.FEATURE_NAMES == F.TEXT_FEATURES + F.CONTEXT_FEATURES
    assert tuple(TEXT_DIRECTIONS) == F.TEXT_FEATURES
    assert tuple(CONTEXT_PRIORS) == F.CONTEXT_FEATURES
    assert all(prior.why for prior in CONTEXT_PRIORS.values())


def test_code_prompt_sets_code_features_and_not_latex() -> None:
    """A fenced Python snippet counts as a code block with code words and symbols, no LaTeX."""
    features = F.text_features(CODE_PROMPT)
    assert features["code_block"] == 1.0
    assert features["code_word_count_log"] >= math.log1p(3)  # def, return, python, ...
    assert features["code_symbol_count_log"] > 0
    assert features["latex_marker_count_log"] == 0.0


def test_math_prompt_sets_math_features_and_reasoning_markers() -> None:
    """LaTeX, maths vocabulary, calculation and proof words are each counted."""
    features = F.text_features(MATH_PROMPT)
    assert features["latex_marker_count_log"] == pytest.approx(
        math.log1p(MATH_PROMPT.count("$") + 1)
    )
    assert features["math_word_count_log"] == pytest.approx(math.log1p(1))  # "real"
    assert features["calculation_word_count_log"] == pytest.approx(math.log1p(1))  # "find"
    assert features["reasoning_word_count_log"] == pytest.approx(math.log1p(1))  # "prove"
    assert features["code_block"] == 0.0


def test_question_type_flags() -> None:
    """Explanation, creation and transformation requests are told apart by their verbs."""
    assert F.text_features("Why does ice float? Explain.")["asks_explanation"] == 1.0
    assert F.text_features("Write a haiku about rain.")["asks_creation"] == 1.0
    summary = F.text_features("Summarize this email in one line.")
    assert summary["asks_transformation"] == 1.0
    assert summary["asks_creation"] == 0.0
    assert F.text_features("Why? Why? Why?")["question_count_log"] == pytest.approx(math.log1p(3))


def test_numeric_features_count_digits_numbers_and_lines() -> None:
    """Digits, numbers and lines holding a digit are counted exactly."""
    prompt = "Costs: 12 and 7\nno digits here\nTotal 19"
    features = F.text_features(prompt)
    assert features["digit_ratio"] == pytest.approx(5 / len(prompt))
    assert features["number_count_log"] == pytest.approx(math.log1p(3))
    assert features["numeric_line_ratio"] == pytest.approx(2 / 3)
    assert features["line_count_log"] == pytest.approx(math.log1p(2))


def test_empty_prompt_gives_finite_zero_features() -> None:
    """An empty prompt is valid input and every feature is zero."""
    features = F.text_features("")
    assert set(features) == set(F.TEXT_FEATURES)
    assert all(value == 0.0 for value in features.values())


def test_content_markers_are_read_from_head_and_tail_only() -> None:
    """A marker in the middle of a very long prompt is outside the bounded window."""
    filler = "plain words only " * 2_000
    middle = filler + "```python\ndef f(): pass\n```" + filler
    at_end = filler + filler + "```python\ndef f(): pass\n```"
    assert F.text_features(middle)["code_block"] == 0.0
    assert F.text_features(at_end)["code_block"] == 1.0
    assert F.text_features(middle)["prompt_tokens_log"] > math.log(5_000)  # size: whole text


def test_context_features_from_request() -> None:
    """History, iteration, tools, attachments, errors and failure signals are log1p counts."""
    request = AnalysisRequest(
        prompt="continue",
        history=("a" * 400, "b" * 400),
        call_kind=CallKind.SUBORDINATE,
        tools=("code_execution", "search", "search"),
        attachments=1,
        iteration=4,
        tool_errors=2,
        signals=("tool_error", "success", "misformat"),
    )
    features = F.context_features(request)
    assert features["history_messages_log"] == pytest.approx(math.log1p(2))
    assert features["history_tokens_log"] == pytest.approx(math.log1p(800 / 4))
    assert features["iteration_log"] == pytest.approx(math.log1p(4))
    assert features["tools_used_log"] == pytest.approx(math.log1p(2))
    assert features["attachments_log"] == pytest.approx(math.log1p(1))
    assert features["tool_errors_log"] == pytest.approx(math.log1p(2))
    assert features["failure_signals_log"] == pytest.approx(math.log1p(2))  # not "success"
    assert features["kind_subordinate"] == 1.0
    assert features["kind_background"] == 0.0


@pytest.mark.parametrize(
    ("kind", "flag"),
    [
        (CallKind.UTILITY, "kind_background"),
        (CallKind.MEMORY, "kind_background"),
        (CallKind.SUMMARIZATION, "kind_background"),
        (CallKind.TITLE, "kind_background"),
        (CallKind.BROWSER, "kind_tool_io"),
        (CallKind.DOCUMENT_QUERY, "kind_tool_io"),
        (CallKind.SCHEDULED, "kind_scheduled"),
    ],
)
def test_call_kind_sets_exactly_one_flag(kind: CallKind, flag: str) -> None:
    """Each call kind maps to its one kind flag; a chat call sets none."""
    flags = [name for name in F.CONTEXT_FEATURES if name.startswith("kind_")]
    features = F.context_features(AnalysisRequest(prompt="x", call_kind=kind))
    assert [name for name in flags if features[name] == 1.0] == [flag]
    chat = F.context_features(AnalysisRequest(prompt="x"))
    assert all(chat[name] == 0.0 for name in flags)


def test_extract_features_returns_every_model_input_in_order() -> None:
    """extract_features gives one value per FEATURE_NAMES entry, in that order."""
    features = F.extract_features(AnalysisRequest(prompt=MATH_PROMPT, tool_errors=1))
    assert tuple(features) == F.FEATURE_NAMES
    assert features["tool_errors_log"] == pytest.approx(math.log1p(1))


def test_token_estimate_is_exact_for_short_text_and_close_for_long_text() -> None:
    """Short texts are counted exactly; long ones are extrapolated within a few per cent."""
    short = "The quick brown fox jumps over the lazy dog. " * 10
    assert len(short) <= EXACT_LIMIT_CHARS
    assert estimate_tokens(short) == count_tokens_exact(short)
    long = "The quick brown fox jumps over the lazy dog; 42 more lines follow. " * 400
    exact = count_tokens_exact(long)
    assert abs(estimate_tokens(long) - exact) / exact < 0.05
    assert estimate_tokens("") == 0
