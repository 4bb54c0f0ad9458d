"""Plain records that flow between capture, ledger, budgets, router and reports.

Slotted dataclasses, not pydantic: they are built on the agent's hot path (one per LLM
call) and validated at the boundaries instead (config, CLI, API).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, Literal, get_args


class Outcome(StrEnum):
    """How a call ended."""

    PENDING = "pending"  # opened at the pre-call hook, not completed yet
    OK = "ok"
    ERROR = "error"  # any other error; `error_class` names it
    RATE_LIMITED = "rate_limited"
    TIMEOUT = "timeout"
    CONTEXT_OVERFLOW = "context_overflow"
    CONTENT_POLICY = "content_policy"
    BLOCKED = "blocked"  # refused by a budget before it reached the provider
    ABANDONED = "abandoned"  # opened, never completed (stream dropped, process died)


# Outcomes counted as errors (reports, OpenTelemetry spans): the provider or the call failed.
# BLOCKED never reached a provider; PENDING and ABANDONED are not known to have failed.
ERROR_OUTCOMES: frozenset[Outcome] = frozenset(
    {
        Outcome.ERROR,
        Outcome.RATE_LIMITED,
        Outcome.TIMEOUT,
        Outcome.CONTEXT_OVERFLOW,
        Outcome.CONTENT_POLICY,
    }
)


# Outcome signals (:class:`OutcomeSignal.kind`): what the agent's own behaviour says about a
# routed answer. The failure kinds escalate the cascade (`router.cascade.escalate_on` takes
# them) and label "a stronger model was needed" when the analyzer learns from the ledger.
FailureSignal = Literal[
    "misformat", "empty_reply", "repeated_reply", "tool_error", "explicit_failure"
]
SignalKind = Literal[FailureSignal, "success"]
FAILURE_SIGNALS: frozenset[str] = frozenset(get_args(FailureSignal))
SUCCESS_SIGNAL: Final = "success"
SIGNAL_KINDS: frozenset[str] = FAILURE_SIGNALS | {SUCCESS_SIGNAL}


class UsageSource(StrEnum):
    """Where a row's token counts come from. `provider` always wins over `estimated`."""

    PROVIDER = "provider"
    ESTIMATED = "estimated"


@dataclass(slots=True, frozen=True)
class UnitPrices:
    """USD per token used to price one call (stored with the call; history never reprices).

    `reasoning` is None when the model bills reasoning tokens at the output price.
    `cache_read` / `cache_creation` are None when the model has no separate cache price
    (those tokens are then billed at `input`).
    """

    input: float
    output: float
    cache_read: float | None = None
    cache_creation: float | None = None
    reasoning: float | None = None
    source: str = "litellm"  # "litellm" (installed map), "snapshot" (shipped map) or "override"
    model_key: str = ""  # the price-map entry that supplied the prices
    # The litellm release whose map priced it ("" for an override); provenance, so two
    # equal sets of prices compare equal whatever release they came from.
    version: str = field(default="", compare=False)


@dataclass(slots=True, frozen=True)
class Usage:
    """Token usage of one call.

    `input_tokens` is the whole prompt including cached tokens (as providers report
    `prompt_tokens`); `output_tokens` includes reasoning tokens (as `completion_tokens`).
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cached_read_tokens: int = 0
    cache_creation_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens


@dataclass(slots=True)
class CallRecord:
    """One LLM (or embedding) call: one row in the ledger's `calls` table.

    Rows are upserted by `id`: the pre-call hook opens the row (PENDING, exact input), the
    caller's end-of-call report closes it (estimated output), and a provider success
    callback that arrives later fills in provider usage on the same row. Fields left None
    mean "unknown in this event" and never overwrite a known value.
    """

    id: str
    started_at: float  # Unix seconds
    model: str
    provider: str | None = None
    call_kind: str = "other"
    conversation_id: str | None = None
    agent_no: int | None = None
    tool: str | None = None
    decision_id: str | None = None
    tier: str | None = None
    reservation_id: str | None = None
    attempt: int = 0  # 0 = first try; >0 = a fallback/retry hop of the same logical call
    stream: bool | None = None
    ended_at: float | None = None
    latency_ms: float | None = None
    outcome: Outcome = Outcome.PENDING
    error_class: str | None = None
    error_message: str | None = None
    usage: Usage | None = None
    usage_source: UsageSource | None = None
    prices: UnitPrices | None = None
    cost_usd: float | None = None  # None = unpriced (never silently $0)
    tokens_saved: int | None = None  # input tokens removed by compression before this call
    usd_saved: float | None = None  # what those tokens would have cost at this call's prices
    extra: dict[str, Any] = field(default_factory=dict)


# The `strategy` a duel's record carries (router/duel.py writes it; the text analyzer's
# refit reads its labels back): not a routing strategy, a judged comparison of two tiers.
DUEL_STRATEGY: Final = "duel"


def duel_gain(cheap_ok: object, strong_ok: object) -> float | None:
    """The gain label of a duel verdict: 1 when only the strong answer was good enough, 0
    when only the cheap one was, 0.5 when both or neither were; None unless both are bools
    (router/duel.py records it; the refit derives it for records written before)."""
    if not isinstance(cheap_ok, bool) or not isinstance(strong_ok, bool):
        return None
    return (int(strong_ok) - int(cheap_ok) + 1) / 2


@dataclass(slots=True)
class DecisionRecord:
    """One routing decision, written before the call it routes; calls refer to it by id."""

    id: str
    created_at: float
    conversation_id: str | None
    agent_no: int | None
    call_kind: str
    strategy: str
    chosen_tier: str | None
    chosen_model: str
    configured_model: str | None  # what the host would have used without routing
    score: float | None
    top_features: list[tuple[str, float]] = field(default_factory=list)
    candidates: list[dict[str, Any]] = field(default_factory=list)  # tier, model, est. cost, ok?
    reason: str = ""
    applied: bool = True  # False in shadow mode
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class OutcomeSignal:
    """An agent-side signal about the quality of a routed answer (cascade and learning)."""

    decision_id: str
    kind: str  # one of SIGNAL_KINDS
    created_at: float
    detail: str = ""
