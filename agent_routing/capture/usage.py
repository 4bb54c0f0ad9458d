"""What a litellm response or exception tells us: token usage and how the call ended.

litellm normalises provider usage to OpenAI's shape: `prompt_tokens` includes cached and
cache-write tokens (it adds Anthropic's `cache_read_input_tokens` and
`cache_creation_input_tokens` to `input_tokens`), cached tokens sit in
`prompt_tokens_details.cached_tokens`, reasoning tokens in
`completion_tokens_details.reasoning_tokens` and inside `completion_tokens` - except for the
providers in :data:`agent_routing.pricing.REASONING_OUTSIDE_COMPLETION`, whose
`completion_tokens` exclude reasoning. The Responses API's `input_tokens` / `output_tokens`
(with `input_tokens_details.cached_tokens`, `output_tokens_details.reasoning_tokens`) mean
the same and are read the same way. :class:`records.Usage` always counts cached tokens
inside input and reasoning inside output.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from agent_routing.pricing import REASONING_OUTSIDE_COMPLETION
from agent_routing.provider_errors import classify_error
from agent_routing.records import Outcome, Usage

ERROR_MESSAGE_LIMIT = 500


def _field(source: Any, name: str) -> Any:
    if source is None:
        return None
    if isinstance(source, Mapping):
        return source.get(name)
    return getattr(source, name, None)


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def usage_from_litellm(usage: Any, provider: str | None = None) -> Usage | None:
    """A litellm `Usage` (object or dict) as :class:`records.Usage`; None if it has no counts.

    Inconsistent reports are read the way they must have been meant: cached plus
    cache-write tokens above `prompt_tokens` mean the prompt count excluded them (raw
    Anthropic style), reasoning above `completion_tokens` means it was reported outside.
    """
    if usage is None:
        return None
    prompt = _field(usage, "prompt_tokens")
    completion = _field(usage, "completion_tokens")
    prompt_details = _field(usage, "prompt_tokens_details")
    completion_details = _field(usage, "completion_tokens_details")
    if not isinstance(prompt, int) and not isinstance(completion, int):  # Responses API shape
        prompt, completion = _field(usage, "input_tokens"), _field(usage, "output_tokens")
        prompt_details = _field(usage, "input_tokens_details")
        completion_details = _field(usage, "output_tokens_details")
    if not isinstance(prompt, int) and not isinstance(completion, int):
        return None
    input_tokens, output_tokens = _count(prompt), _count(completion)
    cached = _count(_field(prompt_details, "cached_tokens")) or _count(
        _field(usage, "cache_read_input_tokens")
    )
    cache_write = _count(_field(prompt_details, "cache_creation_tokens")) or _count(
        _field(usage, "cache_creation_input_tokens")
    )
    reasoning = _count(_field(completion_details, "reasoning_tokens"))
    if provider in REASONING_OUTSIDE_COMPLETION or reasoning > output_tokens:
        output_tokens += reasoning
    input_tokens = max(input_tokens, cached + cache_write)
    return Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cached_read_tokens=cached,
        cache_creation_tokens=cache_write,
        reasoning_tokens=reasoning,
    )


def provider_cost(usage: Any) -> float | None:
    """The price the host or provider put on a call (`usage["cost"]`), or None."""
    cost = _field(usage, "cost")
    if isinstance(cost, int | float) and not isinstance(cost, bool):
        return float(cost) if math.isfinite(cost) and cost >= 0 else None
    return None


def outcome_of(error: BaseException) -> Outcome:
    """How a call that raised `error` ended: the provider error classification fallback
    uses too, so the ledger and the fallback logic never disagree about what an error means."""
    return classify_error(error).outcome


def error_summary(error: BaseException) -> tuple[str, str]:
    """(class name, message trimmed to ERROR_MESSAGE_LIMIT characters) of `error`."""
    message = str(error)
    if len(message) > ERROR_MESSAGE_LIMIT:
        message = message[: ERROR_MESSAGE_LIMIT - 1] + "…"
    return type(error).__name__, message


def response_text(response: Any) -> str:
    """The assistant text (content plus reasoning) of a litellm response, or ''."""
    choices = _field(response, "choices")
    if not choices:
        return ""
    message = _field(choices[0], "message") or _field(choices[0], "delta")
    parts = [_field(message, "content"), _field(message, "reasoning_content")]
    return "".join(part for part in parts if isinstance(part, str))
