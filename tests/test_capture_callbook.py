"""The merge rules of the call book, driven event by event (no threads, no timing).

The events are built the way the hooks build them; the litellm objects are real.
"""

from __future__ import annotations

import datetime
import itertools
from typing import Any

import pytest

from agent_routing._litellm import litellm_module
from agent_routing.capture import METADATA_KEY, MemorySink
from agent_routing.capture._callbook import CallBook, CaptureStats
from agent_routing.capture._events import Event, Failed, Opened, Reported, StreamDelta, Succeeded
from agent_routing.config import Settings
from agent_routing.records import CallRecord, Outcome, Usage, UsageSource
from agent_routing.tokens import count_message_tokens, count_text_tokens

MESSAGES = [{"role": "user", "content": "Write a haiku about ledgers and rain."}]
CALL = "01K0CALLBOOKTEST0000000001"
T0 = 1_800_000_000.0


def book(abandoned_after_s: float = 600.0) -> tuple[CallBook, MemorySink]:
    sink = MemorySink()
    settings = Settings(capture={"abandoned_after_s": abandoned_after_s})
    return CallBook(settings, sink, CaptureStats()), sink


def fields(**extra: Any) -> dict[str, Any]:
    return {"call_id": CALL, "kind": "chat", **extra}


def opened(litellm_id: str = "L1", at: float = T0) -> Opened:
    return Opened(
        CALL, litellm_id, "gpt-4o-mini", "openai", list(MESSAGES), fields(), True, at, True
    )


def succeeded(litellm_id: str = "L1") -> Succeeded:
    response = litellm_module().ModelResponse(
        usage=litellm_module().Usage(prompt_tokens=21, completion_tokens=17, total_tokens=38)
    )
    start = datetime.datetime.fromtimestamp(T0)
    end = datetime.datetime.fromtimestamp(T0 + 1.5)
    return Succeeded(
        CALL,
        litellm_id,
        "gpt-4o-mini",
        "openai",
        fields(),
        response,
        start,
        end,
        "acompletion",
        True,
        1.5e-5,
    )


def reported(text: str = "Ink pools on the page", error: BaseException | None = None) -> Reported:
    return Reported(CALL, text, None, error, None, T0 + 1.0)


def final(sink: MemorySink) -> CallRecord:
    rows = sink.calls()
    assert len(rows) == 1, rows
    return rows[0]


def test_open_then_report_is_estimated_ok() -> None:
    """Opened + reported: OK, exact input count, output counted from the text."""
    calls, sink = book()
    calls.apply(opened())
    assert final(sink).outcome is Outcome.PENDING
    calls.apply(reported())
    row = final(sink)
    assert row.outcome is Outcome.OK
    assert row.usage == Usage(
        count_message_tokens(MESSAGES, "openai/gpt-4o-mini"),
        count_text_tokens("Ink pools on the page", "gpt-4o-mini"),
    )
    assert row.usage_source is UsageSource.ESTIMATED
    assert row.latency_ms == pytest.approx(1_000.0)


@pytest.mark.parametrize("order", list(itertools.permutations(["report", "success"])))
def test_report_and_success_in_either_order_end_the_same(order: tuple[str, ...]) -> None:
    """Whether litellm's success comes before or after the caller's report, the row ends
    with provider usage, OK, and litellm's timing."""
    calls, sink = book()
    calls.apply(opened())
    for name in order:
        calls.apply(reported() if name == "report" else succeeded())
    row = final(sink)
    assert row.outcome is Outcome.OK
    assert row.usage == Usage(21, 17)
    assert row.usage_source is UsageSource.PROVIDER
    assert row.latency_ms == pytest.approx(1_500.0)
    assert row.extra["litellm_cost_usd"] == 1.5e-5


def test_failure_beats_a_later_ok_report() -> None:
    """A provider failure is authoritative: a later end report does not turn it OK."""
    calls, sink = book()
    calls.apply(opened())
    error = litellm_module().RateLimitError(
        message="429", llm_provider="openai", model="gpt-4o-mini"
    )
    calls.apply(Failed(CALL, "L1", "gpt-4o-mini", "openai", fields(), error, T0, T0 + 0.2))
    calls.apply(reported(text=""))
    row = final(sink)
    assert row.outcome is Outcome.RATE_LIMITED
    assert row.usage == Usage()
    assert row.cost_usd == 0.0


def test_duplicate_pre_call_changes_nothing() -> None:
    """The same attempt announced twice is still one row with one input count."""
    calls, sink = book()
    calls.apply(opened())
    calls.apply(opened())
    assert len(sink.submissions) == 1


def test_second_attempt_gets_its_own_row_and_closes_the_first() -> None:
    """A new litellm call id under the same injected id is a retry: attempt 1, new row;
    a still-pending first attempt is closed as abandoned."""
    calls, sink = book()
    calls.apply(opened("L1"))
    calls.apply(opened("L2", at=T0 + 2))
    calls.apply(reported())
    first, second = sink.calls()
    assert first.id == CALL
    assert first.outcome is Outcome.ABANDONED
    assert first.extra["closed_by"] == "retry"
    assert second.attempt == 1
    assert second.extra["logical_call_id"] == CALL
    assert second.outcome is Outcome.OK


def test_sweep_abandons_only_old_pending_calls() -> None:
    """The sweep closes pending calls older than abandoned_after_s, not younger ones."""
    calls, sink = book(abandoned_after_s=60)
    calls.apply(opened())
    assert calls.sweep(T0 + 59) == 0
    assert calls.sweep(T0 + 61) == 1
    row = final(sink)
    assert row.outcome is Outcome.ABANDONED
    assert row.extra["closed_by"] == "sweep"
    assert row.usage == Usage(count_message_tokens(MESSAGES, "openai/gpt-4o-mini"))


def test_streamed_text_estimates_an_abandoned_output() -> None:
    """Sync-stream chunks seen before the call was dropped become its output estimate."""
    calls, sink = book()
    calls.apply(opened())
    for piece in ("Rain taps", " the ledger"):
        calls.apply(StreamDelta(CALL, "L1", piece))
    assert calls.abandon_open("exit", T0 + 5) == 1
    row = final(sink)
    assert row.usage is not None
    assert row.usage.output_tokens == count_text_tokens("Rain taps the ledger", "gpt-4o-mini")


def test_late_success_revives_an_abandoned_row() -> None:
    """A success callback after the sweep gave up turns the row OK with provider usage."""
    calls, sink = book(abandoned_after_s=60)
    calls.apply(opened())
    calls.sweep(T0 + 61)
    calls.apply(succeeded())
    row = final(sink)
    assert row.outcome is Outcome.OK
    assert row.usage_source is UsageSource.PROVIDER


def test_attribution_comes_from_metadata_fields() -> None:
    """Metadata fields land on the row; malformed values are dropped, not fatal."""
    calls, sink = book()
    event = opened()
    event.fields = {
        METADATA_KEY: "ignored",
        **fields(conversation_id="ctx", agent_no=-3, tier="cheap", kind="memory"),
    }
    calls.apply(event)
    row = final(sink)
    assert (row.conversation_id, row.tier, row.call_kind) == ("ctx", "cheap", "memory")
    assert row.agent_no is None


def test_report_with_provider_usage_is_trusted() -> None:
    """Usage given to end_call counts as provider usage (the caller got it from the provider)."""
    calls, sink = book()
    calls.apply(opened())
    calls.apply(Reported(CALL, "x", None, None, Usage(100, 7, cached_read_tokens=64), T0 + 1))
    row = final(sink)
    assert row.usage == Usage(100, 7, cached_read_tokens=64)
    assert row.usage_source is UsageSource.PROVIDER


def test_every_event_kind_is_handled() -> None:
    """apply() accepts each hook event type (a guard against an event nobody merges)."""
    calls, sink = book()
    events: list[Event] = [opened(), StreamDelta(CALL, "L1", "x"), succeeded(), reported()]
    for event in events:
        calls.apply(event)
    assert final(sink).outcome is Outcome.OK
