"""Conversion between records (CallRecord, DecisionRecord, OutcomeSignal) and table rows.

Kept apart from the SQL so any backend with the same columns can reuse it. The two
"rank" columns of `calls` are computed here, from the event a record describes; the merge
rules in :mod:`agent_routing.ledger.merge` compare them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from agent_routing.records import (
    CallRecord,
    DecisionRecord,
    Outcome,
    OutcomeSignal,
    UnitPrices,
    Usage,
    UsageSource,
)

USAGE_COLUMNS: tuple[str, ...] = (
    "input_tokens",
    "output_tokens",
    "cached_read_tokens",
    "cache_creation_tokens",
    "reasoning_tokens",
    "usage_source",
    "usage_rank",
)
"""The columns that move together as one call's usage (see the merge rules)."""

PRICE_COLUMNS: tuple[str, ...] = (
    "price_input",
    "price_output",
    "price_cache_read",
    "price_cache_creation",
    "price_reasoning",
    "price_source",
    "price_model_key",
    "price_version",
)
"""The unit prices a call was billed at; they follow the usage they belong to."""

CALL_COLUMNS: tuple[str, ...] = (
    "id",
    "started_at",
    "model",
    "provider",
    "call_kind",
    "conversation_id",
    "agent_no",
    "tool",
    "decision_id",
    "tier",
    "reservation_id",
    "attempt",
    "stream",
    "ended_at",
    "latency_ms",
    "outcome",
    "error_class",
    "error_message",
    *USAGE_COLUMNS,
    *PRICE_COLUMNS,
    "cost_usd",
    "tokens_saved",
    "usd_saved",
    "state_rank",
    "extra",
    "updated_at",
)

DECISION_COLUMNS: tuple[str, ...] = (
    "id",
    "created_at",
    "conversation_id",
    "agent_no",
    "call_kind",
    "strategy",
    "chosen_tier",
    "chosen_model",
    "configured_model",
    "score",
    "top_features",
    "candidates",
    "reason",
    "applied",
    "extra",
)

SIGNAL_COLUMNS: tuple[str, ...] = ("decision_id", "kind", "created_at", "detail")

# Usage rank: how far usage can be trusted. Provider counts beat any estimate; an estimate
# made when the call ended (input + output) beats the one made when it opened (input only).
USAGE_RANK_PENDING_ESTIMATE = 0
USAGE_RANK_FINAL_ESTIMATE = 1
USAGE_RANK_PROVIDER = 2

# State rank: how final the outcome is. A final outcome never goes back to pending, and a
# guess ("abandoned") yields to a real end; the provider's own report is the last word.
STATE_RANK_PENDING = 0
STATE_RANK_ABANDONED = 1
STATE_RANK_FINAL = 2
STATE_RANK_PROVIDER = 3


def _json(value: Any) -> str:
    """JSON text that never fails: values JSON cannot encode are stored as their str()."""
    return json.dumps(value, default=str, separators=(",", ":"))


def usage_rank(record: CallRecord) -> int | None:
    """The rank of the usage this record carries (None when it carries none)."""
    if record.usage is None:
        return None
    if record.usage_source == UsageSource.PROVIDER:
        return USAGE_RANK_PROVIDER
    if record.outcome != Outcome.PENDING:
        return USAGE_RANK_FINAL_ESTIMATE
    return USAGE_RANK_PENDING_ESTIMATE


def state_rank(record: CallRecord) -> int:
    """The rank of the outcome this record reports."""
    if record.outcome == Outcome.PENDING:
        return STATE_RANK_PENDING
    if record.outcome == Outcome.ABANDONED:
        return STATE_RANK_ABANDONED
    if record.usage is not None and record.usage_source == UsageSource.PROVIDER:
        return STATE_RANK_PROVIDER
    return STATE_RANK_FINAL


def call_to_row(record: CallRecord, *, now: float | None = None) -> tuple[Any, ...]:
    """The `calls` row for one event of a call, in :data:`CALL_COLUMNS` order."""
    usage = record.usage
    prices = record.prices
    source: str | None = None
    if usage is not None:
        source = (record.usage_source or UsageSource.ESTIMATED).value
    return (
        record.id,
        record.started_at,
        record.model,
        record.provider,
        str(record.call_kind),
        record.conversation_id,
        record.agent_no,
        record.tool,
        record.decision_id,
        record.tier,
        record.reservation_id,
        record.attempt,
        None if record.stream is None else int(record.stream),
        record.ended_at,
        record.latency_ms,
        Outcome(record.outcome).value,
        record.error_class,
        record.error_message,
        None if usage is None else usage.input_tokens,
        None if usage is None else usage.output_tokens,
        None if usage is None else usage.cached_read_tokens,
        None if usage is None else usage.cache_creation_tokens,
        None if usage is None else usage.reasoning_tokens,
        source,
        usage_rank(record),
        None if prices is None else prices.input,
        None if prices is None else prices.output,
        None if prices is None else prices.cache_read,
        None if prices is None else prices.cache_creation,
        None if prices is None else prices.reasoning,
        None if prices is None else prices.source,
        None if prices is None else prices.model_key,
        None if prices is None else prices.version,
        record.cost_usd,
        record.tokens_saved,
        record.usd_saved,
        state_rank(record),
        _json(record.extra or {}),
        time.time() if now is None else now,
    )


def call_from_row(row: Sequence[Any]) -> CallRecord:
    """Rebuild a CallRecord from a row selected with :data:`CALL_COLUMNS`."""
    value = dict(zip(CALL_COLUMNS, row, strict=True))
    usage = None
    if value["input_tokens"] is not None:
        usage = Usage(
            input_tokens=value["input_tokens"],
            output_tokens=value["output_tokens"] or 0,
            cached_read_tokens=value["cached_read_tokens"] or 0,
            cache_creation_tokens=value["cache_creation_tokens"] or 0,
            reasoning_tokens=value["reasoning_tokens"] or 0,
        )
    prices = None
    if value["price_input"] is not None:
        prices = UnitPrices(
            input=value["price_input"],
            output=value["price_output"],
            cache_read=value["price_cache_read"],
            cache_creation=value["price_cache_creation"],
            reasoning=value["price_reasoning"],
            source=value["price_source"] or "",
            model_key=value["price_model_key"] or "",
            version=value["price_version"] or "",
        )
    return CallRecord(
        id=value["id"],
        started_at=value["started_at"],
        model=value["model"],
        provider=value["provider"],
        call_kind=value["call_kind"],
        conversation_id=value["conversation_id"],
        agent_no=value["agent_no"],
        tool=value["tool"],
        decision_id=value["decision_id"],
        tier=value["tier"],
        reservation_id=value["reservation_id"],
        attempt=value["attempt"],
        stream=None if value["stream"] is None else bool(value["stream"]),
        ended_at=value["ended_at"],
        latency_ms=value["latency_ms"],
        outcome=Outcome(value["outcome"]),
        error_class=value["error_class"],
        error_message=value["error_message"],
        usage=usage,
        usage_source=None if value["usage_source"] is None else UsageSource(value["usage_source"]),
        prices=prices,
        cost_usd=value["cost_usd"],
        tokens_saved=value["tokens_saved"],
        usd_saved=value["usd_saved"],
        extra=json.loads(value["extra"]),
    )


def decision_to_row(decision: DecisionRecord) -> tuple[Any, ...]:
    """The `decisions` row, in :data:`DECISION_COLUMNS` order."""
    return (
        decision.id,
        decision.created_at,
        decision.conversation_id,
        decision.agent_no,
        str(decision.call_kind),
        decision.strategy,
        decision.chosen_tier,
        decision.chosen_model,
        decision.configured_model,
        decision.score,
        _json([[name, weight] for name, weight in decision.top_features]),
        _json(decision.candidates),
        decision.reason,
        int(decision.applied),
        _json(decision.extra or {}),
    )


def decision_from_row(row: Sequence[Any]) -> DecisionRecord:
    """Rebuild a DecisionRecord from a row selected with :data:`DECISION_COLUMNS`."""
    value = dict(zip(DECISION_COLUMNS, row, strict=True))
    return DecisionRecord(
        id=value["id"],
        created_at=value["created_at"],
        conversation_id=value["conversation_id"],
        agent_no=value["agent_no"],
        call_kind=value["call_kind"],
        strategy=value["strategy"],
        chosen_tier=value["chosen_tier"],
        chosen_model=value["chosen_model"],
        configured_model=value["configured_model"],
        score=value["score"],
        top_features=[
            (str(name), float(weight)) for name, weight in json.loads(value["top_features"])
        ],
        candidates=json.loads(value["candidates"]),
        reason=value["reason"],
        applied=bool(value["applied"]),
        extra=json.loads(value["extra"]),
    )


def signal_to_row(signal: OutcomeSignal) -> tuple[Any, ...]:
    """The `signals` row, in :data:`SIGNAL_COLUMNS` order."""
    return (signal.decision_id, signal.kind, signal.created_at, signal.detail)


def signal_from_row(row: Sequence[Any]) -> OutcomeSignal:
    """Rebuild an OutcomeSignal from a row selected with :data:`SIGNAL_COLUMNS`."""
    decision_id, kind, created_at, detail = row
    return OutcomeSignal(decision_id=decision_id, kind=kind, created_at=created_at, detail=detail)
