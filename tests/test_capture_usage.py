"""Reading provider usage and exceptions the way litellm reports them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agent_routing._litellm import litellm_module
from agent_routing.capture.usage import (
    ERROR_MESSAGE_LIMIT,
    error_summary,
    outcome_of,
    response_text,
    usage_from_litellm,
)
from agent_routing.errors import BudgetBlockedError
from agent_routing.records import Outcome, Usage


def test_openai_style_usage_with_cache_and_reasoning() -> None:
    """prompt_tokens includes cached tokens and completion_tokens includes reasoning."""
    usage = litellm_module().Usage(
        prompt_tokens=1_200,
        completion_tokens=300,
        total_tokens=1_500,
        prompt_tokens_details={"cached_tokens": 1_024},
        completion_tokens_details={"reasoning_tokens": 200},
    )
    assert usage_from_litellm(usage, "openai") == Usage(
        1_200, 300, cached_read_tokens=1_024, reasoning_tokens=200
    )


def test_anthropic_usage_through_litellm_keeps_cache_reads_and_writes() -> None:
    """litellm's Anthropic usage (cache fields as kwargs) maps to cached and cache-write counts."""
    usage = litellm_module().Usage(
        prompt_tokens=5_000,
        completion_tokens=100,
        total_tokens=5_100,
        cache_read_input_tokens=3_000,
        cache_creation_input_tokens=1_500,
    )
    assert usage_from_litellm(usage, "anthropic") == Usage(
        5_000, 100, cached_read_tokens=3_000, cache_creation_tokens=1_500
    )


def test_raw_anthropic_counts_excluding_cache_are_read_as_meant() -> None:
    """If cached + cache-write tokens exceed prompt_tokens, the prompt count excluded them."""
    raw = {
        "prompt_tokens": 20,
        "completion_tokens": 5,
        "cache_read_input_tokens": 900,
        "cache_creation_input_tokens": 80,
    }
    assert usage_from_litellm(raw, "anthropic") == Usage(
        980, 5, cached_read_tokens=900, cache_creation_tokens=80
    )


def test_xai_reasoning_is_added_to_output() -> None:
    """xAI reports completion_tokens without reasoning; output must include it."""
    raw = {
        "prompt_tokens": 100,
        "completion_tokens": 40,
        "completion_tokens_details": {"reasoning_tokens": 60},
    }
    assert usage_from_litellm(raw, "xai") == Usage(100, 100, reasoning_tokens=60)


def test_reasoning_above_completion_means_it_was_reported_outside() -> None:
    """Any provider reporting more reasoning than completion tokens gets them added."""
    raw = {
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "completion_tokens_details": {"reasoning_tokens": 50},
    }
    assert usage_from_litellm(raw, "some_provider") == Usage(10, 55, reasoning_tokens=50)


def test_missing_usage_is_none() -> None:
    """No usage object, or one without counts, reads as None (not zero)."""
    assert usage_from_litellm(None) is None
    assert usage_from_litellm({"foo": 1}) is None


def exceptions() -> list[tuple[Any, Outcome]]:
    litellm = litellm_module()
    common = {"llm_provider": "openai", "model": "gpt-4o"}
    return [
        (litellm.RateLimitError(message="429", **common), Outcome.RATE_LIMITED),
        (
            litellm.ContextWindowExceededError(message="too long", **common),
            Outcome.CONTEXT_OVERFLOW,
        ),
        (litellm.ContentPolicyViolationError(message="no", **common), Outcome.CONTENT_POLICY),
        (litellm.Timeout(message="slow", **common), Outcome.TIMEOUT),
        (litellm.BadRequestError(message="bad", **common), Outcome.ERROR),
        (TimeoutError(), Outcome.TIMEOUT),
        (asyncio.CancelledError(), Outcome.ABANDONED),
        (BudgetBlockedError("over budget"), Outcome.BLOCKED),
        (ValueError("x"), Outcome.ERROR),
    ]


def test_exceptions_map_to_outcomes() -> None:
    """litellm's exception classes (and ours) map to the matching outcome."""
    for error, outcome in exceptions():
        assert outcome_of(error) is outcome, type(error).__name__


def test_error_summary_trims_long_messages() -> None:
    """The stored message is bounded; the class name is kept."""
    name, message = error_summary(RuntimeError("x" * 5_000))
    assert name == "RuntimeError"
    assert len(message) == ERROR_MESSAGE_LIMIT


def test_response_text_joins_content_and_reasoning() -> None:
    """The text of a response is its content plus any reasoning content."""
    response = litellm_module().ModelResponse(
        choices=[
            {"message": {"role": "assistant", "content": "answer", "reasoning_content": "thought "}}
        ]
    )
    assert response_text(response) == "answerthought "
    assert response_text(None) == ""


@pytest.mark.parametrize(
    "bad",
    [
        {"prompt_tokens": -5, "completion_tokens": 3},
        {"prompt_tokens": True, "completion_tokens": 2},
    ],
)
def test_nonsense_counts_are_read_as_zero(bad: dict[str, Any]) -> None:
    """Negative or boolean counts never become usage."""
    usage = usage_from_litellm(bad)
    assert usage is not None
    assert usage.input_tokens == 0
