"""Capture of real litellm calls (mock responses, no network): one row per call, always.

Covers sync and async, streamed and not, success and failure, embeddings, attribution
from metadata, and the cases Agent Zero produces: a stream the caller stops reading (no
success callback ever), a success callback arriving after the caller's own end report,
and a retry under the same injected call id.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from agent_routing import pricing
from agent_routing._litellm import litellm_module
from agent_routing.capture import (
    CaptureHandle,
    MemorySink,
    begin_call,
    call_id_of,
    capture_metadata,
    enable_capture,
    end_call,
)
from agent_routing.config import Settings
from agent_routing.errors import BudgetBlockedError
from agent_routing.records import CallRecord, Outcome, Usage, UsageSource
from agent_routing.tokens import count_message_tokens, count_text_tokens

MESSAGES = [
    {"role": "system", "content": "You are Agent Zero. Reply with a JSON tool call."},
    {"role": "user", "content": "Find out what the weather in Lisbon is tomorrow."},
]
LONG_REPLY = "The weather in Lisbon tomorrow will be sunny with a light breeze from the sea. " * 4


@pytest.fixture
def litellm() -> Any:
    return litellm_module()


@pytest.fixture
def captured() -> Iterator[tuple[CaptureHandle, MemorySink]]:
    """Capture into a MemorySink for one test; unregistered afterwards."""
    sink = MemorySink()
    handle = enable_capture(sink=sink, settings=Settings())
    yield handle, sink
    handle.close()


def only_row(handle: CaptureHandle, sink: MemorySink) -> CallRecord:
    assert handle.flush(10)
    rows = sink.calls()
    assert len(rows) == 1, rows
    return rows[0]


def _row(handle: CaptureHandle, sink: MemorySink) -> CallRecord | None:
    assert handle.flush(10)
    rows = sink.calls()
    assert len(rows) <= 1, rows
    return rows[0] if rows else None


def _settled(row: CallRecord) -> bool:
    return row.outcome is not Outcome.PENDING


def settled_row_sync(
    handle: CaptureHandle, sink: MemorySink, ready: Callable[[CallRecord], bool] = _settled
) -> CallRecord:
    """The only row once `ready` (litellm logs sync calls from its thread pool, later)."""
    for _ in range(500):
        row = _row(handle, sink)
        if row is not None and ready(row):
            return row
        time.sleep(0.01)
    raise AssertionError(f"row never ready: {sink.calls()}")


async def settled_row(
    handle: CaptureHandle, sink: MemorySink, ready: Callable[[CallRecord], bool] = _settled
) -> CallRecord:
    """The only row once `ready` (litellm runs async callbacks as later tasks)."""
    for _ in range(500):
        await asyncio.sleep(0.01)
        row = _row(handle, sink)
        if row is not None and ready(row):
            return row
    raise AssertionError(f"row never ready: {sink.calls()}")


def _provider_usage(row: CallRecord) -> bool:
    return row.usage_source is UsageSource.PROVIDER


def test_sync_completion_is_one_ok_row_priced_like_litellm(captured: Any, litellm: Any) -> None:
    """A sync completion gives one OK row with provider usage and litellm's own cost."""
    handle, sink = captured
    litellm.completion(model="gpt-4o-mini", messages=MESSAGES, mock_response="ok")
    row = settled_row_sync(handle, sink)
    assert row.outcome is Outcome.OK
    assert row.model == "openai/gpt-4o-mini"
    assert row.provider == "openai"
    assert row.usage == Usage(input_tokens=10, output_tokens=20)  # litellm's fixed mock usage
    assert row.usage_source is UsageSource.PROVIDER
    assert row.prices == pricing.unit_prices("openai/gpt-4o-mini")
    assert row.cost_usd == pytest.approx(row.extra["litellm_cost_usd"])
    assert row.latency_ms is not None
    assert row.latency_ms >= 0
    assert handle.stats.hook_errors == 0
    assert handle.stats.worker_errors == 0


async def test_async_completion_carries_metadata_attribution(captured: Any, litellm: Any) -> None:
    """Every attribution field put in metadata lands on the row, under the injected id."""
    handle, sink = captured
    metadata = capture_metadata(
        conversation_id="ctx-7",
        agent_no=2,
        kind="utility",
        tool="memory_save",
        decision_id="dec-1",
        tier="cheap",
        reservation_id="res-1",
    )
    await litellm.acompletion(
        model="gpt-4o-mini",
        messages=MESSAGES,
        mock_response="ok",
        metadata={"trace": "x", **metadata},
    )
    row = await settled_row(handle, sink)
    assert row.id == call_id_of(metadata)
    assert (row.conversation_id, row.agent_no, row.call_kind, row.tool) == (
        "ctx-7",
        2,
        "utility",
        "memory_save",
    )
    assert (row.decision_id, row.tier, row.reservation_id) == ("dec-1", "cheap", "res-1")
    assert row.outcome is Outcome.OK


async def test_async_stream_read_to_the_end_gets_provider_usage(
    captured: Any, litellm: Any
) -> None:
    """A fully read async stream is closed by litellm's success callback (its counts)."""
    handle, sink = captured
    metadata = capture_metadata(kind="chat")
    stream = await litellm.acompletion(
        model="gpt-4o", messages=MESSAGES, mock_response=LONG_REPLY, stream=True, metadata=metadata
    )
    async for _chunk in stream:
        pass
    row = await settled_row(handle, sink)
    assert row.id == call_id_of(metadata)
    assert row.outcome is Outcome.OK
    assert row.stream is True
    assert row.usage_source is UsageSource.PROVIDER
    assert row.usage is not None
    assert row.usage.output_tokens > 20


def test_sync_stream_read_to_the_end_is_one_ok_row(captured: Any, litellm: Any) -> None:
    """A fully read sync stream (per-chunk hooks fire too) still makes exactly one row."""
    handle, sink = captured
    for _chunk in litellm.completion(
        model="gpt-4o-mini", messages=MESSAGES, mock_response=LONG_REPLY, stream=True
    ):
        pass
    row = settled_row_sync(handle, sink)
    assert row.outcome is Outcome.OK
    assert row.usage_source is UsageSource.PROVIDER


async def test_abandoned_stream_is_opened_exact_and_closed_by_end_report(
    captured: Any, litellm: Any
) -> None:
    """Agent Zero's main call: a few chunks read, stream dropped, no success callback ever.
    The pre-call hook opened the row with the exact input count; the end report closes it
    with an estimated output count."""
    handle, sink = captured
    metadata = capture_metadata(kind="chat", conversation_id="ctx-1", agent_no=0)
    call_id = call_id_of(metadata)
    assert call_id is not None
    stream = await litellm.acompletion(
        model="openai/gpt-4o",
        messages=MESSAGES,
        mock_response=LONG_REPLY,
        stream=True,
        metadata=metadata,
    )
    text = ""
    async for chunk in stream:
        text += chunk.choices[0].delta.content or ""
        if len(text) > 20:
            break
    del stream, chunk
    gc.collect()

    opened = only_row(handle, sink)
    exact_input = count_message_tokens(MESSAGES, "openai/gpt-4o")
    assert opened.id == call_id
    assert opened.outcome is Outcome.PENDING
    assert opened.usage == Usage(input_tokens=exact_input)
    assert opened.cost_usd == pytest.approx(
        pricing.estimate_cost_usd("openai/gpt-4o", exact_input, 0)
    )

    end_call(call_id, response_text=text)
    await asyncio.sleep(0.3)  # give litellm every chance to (wrongly) fire a callback
    closed = only_row(handle, sink)
    assert closed.outcome is Outcome.OK
    assert closed.usage_source is UsageSource.ESTIMATED
    assert closed.usage == Usage(
        input_tokens=exact_input, output_tokens=count_text_tokens(text, "gpt-4o")
    )
    assert closed.cost_usd == pytest.approx(
        pricing.estimate_cost_usd("openai/gpt-4o", exact_input, count_text_tokens(text, "gpt-4o"))
    )
    assert "litellm_cost_usd" not in closed.extra  # no success callback arrived


async def test_abandoned_stream_without_end_report_is_swept(litellm: Any) -> None:
    """A dropped stream nobody reports is closed ABANDONED by the sweep: exact input,
    output 0 (litellm has no per-chunk hook for async streams)."""
    sink = MemorySink()
    handle = enable_capture(sink=sink, settings=Settings(capture={"abandoned_after_s": 60}))
    try:
        stream = await litellm.acompletion(
            model="gpt-4o-mini", messages=MESSAGES, mock_response=LONG_REPLY, stream=True
        )
        await stream.__anext__()
        del stream
        row = only_row(handle, sink)
        assert handle.sweep(now=row.started_at + 59) == 0  # not old enough yet
        assert handle.sweep(now=row.started_at + 61) == 1
        swept = only_row(handle, sink)
        assert swept.outcome is Outcome.ABANDONED
        assert swept.extra["closed_by"] == "sweep"
        assert swept.usage == Usage(input_tokens=count_message_tokens(MESSAGES, "gpt-4o-mini"))
    finally:
        handle.close()


def test_dropped_sync_stream_estimates_output_from_chunks_seen(litellm: Any) -> None:
    """For a sync stream litellm's per-chunk hook shows the text, so an abandoned row
    estimates the output actually streamed."""
    sink = MemorySink()
    handle = enable_capture(sink=sink, settings=Settings())
    try:
        stream = litellm.completion(
            model="gpt-4o-mini", messages=MESSAGES, mock_response=LONG_REPLY, stream=True
        )
        seen, chunks = "", 0
        for chunk in stream:
            seen += chunk.choices[0].delta.content or ""
            chunks += 1
            if len(seen) > 40:
                break
        for _ in range(500):  # litellm logs each chunk from its thread pool, a little later
            if handle.flush(10) and handle.stats.events >= 1 + chunks:
                break
            time.sleep(0.01)
        handle.close()  # what happens at exit
        row = sink.calls()[0]
        assert row.outcome is Outcome.ABANDONED
        assert row.extra["closed_by"] == "exit"
        assert row.usage is not None
        assert row.usage.output_tokens > 0
        # litellm logs chunks from a thread pool, so they may arrive out of order: the
        # estimate covers the same characters, tokenised in arrival order.
        assert count_text_tokens(seen, "gpt-4o-mini") <= row.usage.output_tokens <= len(seen)
    finally:
        handle.close()


async def test_late_success_callback_merges_into_the_reported_row(
    captured: Any, litellm: Any
) -> None:
    """When the caller's end report comes first and litellm's success callback after it,
    the row moves from estimated to provider usage - still one row."""
    handle, sink = captured
    metadata = capture_metadata(kind="utility")
    call_id = call_id_of(metadata)
    assert call_id is not None
    await litellm.acompletion(
        model="gpt-4o-mini", messages=MESSAGES, mock_response="short answer", metadata=metadata
    )
    end_call(call_id, response_text="short answer")  # before litellm's callback task runs
    row = await settled_row(handle, sink, _provider_usage)
    events = [(r.outcome, r.usage_source) for r in sink.submissions]
    reported = events.index((Outcome.OK, UsageSource.ESTIMATED))
    assert reported < events.index((Outcome.OK, UsageSource.PROVIDER))
    assert row.usage == Usage(10, 20)
    assert row.outcome is Outcome.OK
    assert {r.id for r in sink.submissions} == {call_id}


@pytest.mark.parametrize(
    ("make_error", "outcome", "error_class"),
    [
        (
            lambda m: m.RateLimitError(
                message="slow down", llm_provider="openai", model="gpt-4o-mini"
            ),
            Outcome.RATE_LIMITED,
            "RateLimitError",
        ),
        (
            lambda m: m.ContextWindowExceededError(
                message="too long", llm_provider="openai", model="gpt-4o-mini"
            ),
            Outcome.CONTEXT_OVERFLOW,
            "ContextWindowExceededError",
        ),
        (
            lambda m: m.Timeout(
                message="took too long", llm_provider="openai", model="gpt-4o-mini"
            ),
            Outcome.TIMEOUT,
            "Timeout",
        ),
        (lambda m: Exception("boom"), Outcome.ERROR, "InternalServerError"),
    ],
)
async def test_failures_record_their_outcome_and_bill_nothing(
    captured: Any, litellm: Any, make_error: Any, outcome: Outcome, error_class: str
) -> None:
    """A failed call is one row with the classified outcome, error class and $0."""
    handle, sink = captured
    with pytest.raises(Exception):  # noqa: B017 - litellm maps each mock to its own class
        await litellm.acompletion(
            model="gpt-4o-mini", messages=MESSAGES, mock_response=make_error(litellm)
        )
    row = await settled_row(handle, sink)
    assert row.outcome is outcome
    assert row.error_class == error_class
    assert row.usage == Usage()
    assert row.cost_usd == 0.0
    assert row.extra["input_tokens_estimate"] == count_message_tokens(MESSAGES, "gpt-4o-mini")


def test_sync_failure_is_recorded(captured: Any, litellm: Any) -> None:
    """The sync failure path records the error too."""
    handle, sink = captured
    with pytest.raises(litellm.InternalServerError):
        litellm.completion(model="gpt-4o-mini", messages=MESSAGES, mock_response=Exception("boom"))
    assert settled_row_sync(handle, sink).outcome is Outcome.ERROR


def test_sync_embedding_is_recorded(captured: Any, litellm: Any) -> None:
    """An embedding (success callback only, no pre-call hook) is one priced row."""
    handle, sink = captured
    litellm.embedding(
        model="text-embedding-3-small",
        input=["remember this"],
        mock_response=[0.1, 0.2],
        metadata=capture_metadata(kind="embedding", conversation_id="ctx-3"),
    )
    row = settled_row_sync(handle, sink)
    assert row.call_kind == "embedding"
    assert row.conversation_id == "ctx-3"
    assert row.usage_source is UsageSource.PROVIDER
    assert row.usage == Usage(input_tokens=10)
    prices = pricing.unit_prices("text-embedding-3-small")
    assert prices is not None
    assert row.cost_usd == pytest.approx(10 * prices.input)


async def test_async_embedding_without_metadata_is_still_recorded(
    captured: Any, litellm: Any
) -> None:
    """An unattributed embedding gets its kind from the call type."""
    handle, sink = captured
    await litellm.aembedding(model="text-embedding-3-small", input=["x"], mock_response=[0.1])
    row = await settled_row(handle, sink)
    assert row.call_kind == "embedding"
    assert row.outcome is Outcome.OK


async def test_retry_under_the_same_call_id_is_a_new_attempt_row(
    captured: Any, litellm: Any
) -> None:
    """Agent Zero retries a failed request with the same kwargs (same injected call id):
    the failed attempt keeps its row, the retry gets attempt 1, the end report closes it."""
    handle, sink = captured
    metadata = capture_metadata(kind="chat")
    call_id = call_id_of(metadata)
    assert call_id is not None
    with pytest.raises(litellm.RateLimitError):
        await litellm.acompletion(
            model="gpt-4o-mini",
            messages=MESSAGES,
            metadata=metadata,
            mock_response=litellm.RateLimitError(
                message="429", llm_provider="openai", model="gpt-4o-mini"
            ),
        )
    stream = await litellm.acompletion(
        model="gpt-4o-mini",
        messages=MESSAGES,
        mock_response=LONG_REPLY,
        stream=True,
        metadata=metadata,
    )
    await stream.__anext__()
    end_call(call_id, response_text="The weather")
    assert handle.flush(10)
    first, retry = sink.calls()
    assert first.id == call_id
    assert first.attempt == 0
    assert first.outcome is Outcome.RATE_LIMITED
    assert retry.attempt == 1
    assert retry.extra["logical_call_id"] == call_id
    assert retry.outcome is Outcome.OK
    assert retry.call_kind == "chat"


async def test_begin_call_row_is_completed_by_litellms_events(captured: Any, litellm: Any) -> None:
    """A self-reporting caller's begin_call row and litellm's events share one row."""
    handle, sink = captured
    call_id = begin_call(
        model="gpt-4o-mini", messages=MESSAGES, kind="title", conversation_id="ctx-9"
    )
    await litellm.acompletion(
        model="gpt-4o-mini",
        messages=MESSAGES,
        mock_response="Lisbon weather",
        metadata=capture_metadata(call_id=call_id, kind="title"),
    )
    row = await settled_row(handle, sink, _provider_usage)
    assert row.id == call_id
    assert row.call_kind == "title"
    assert row.conversation_id == "ctx-9"
    assert row.outcome is Outcome.OK


def test_budget_blocked_call_is_recorded_as_blocked(captured: Any) -> None:
    """A call refused by a budget before reaching litellm is one BLOCKED row costing $0."""
    handle, sink = captured
    call_id = begin_call(model="gpt-4o", messages=MESSAGES, kind="chat")
    end_call(call_id, error=BudgetBlockedError("daily budget reached", budget="daily:*"))
    row = only_row(handle, sink)
    assert row.outcome is Outcome.BLOCKED
    assert row.error_class == "BudgetBlockedError"
    assert row.cost_usd == 0.0


def test_unknown_model_is_recorded_unpriced(captured: Any, litellm: Any) -> None:
    """A model litellm cannot price is recorded with cost None, never $0."""
    handle, sink = captured
    litellm.completion(model="openai/acme-lab-model", messages=MESSAGES, mock_response="hi")
    row = settled_row_sync(handle, sink)
    assert row.outcome is Outcome.OK
    assert row.usage is not None
    assert row.prices is None
    assert row.cost_usd is None


def test_override_prices_a_custom_model_in_capture(litellm: Any) -> None:
    """Settings.prices apply to captured calls of a model litellm does not know."""
    sink = MemorySink()
    settings = Settings(
        prices={
            "openai/acme-lab-model": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}
        }
    )
    handle = enable_capture(sink=sink, settings=settings)
    try:
        litellm.completion(model="openai/acme-lab-model", messages=MESSAGES, mock_response="hi")
        row = settled_row_sync(handle, sink)
        assert row.prices is not None
        assert row.prices.source == "override"
        assert row.cost_usd == pytest.approx(10 * 1e-6 + 20 * 2e-6)
    finally:
        handle.close()


def test_end_report_for_an_unknown_call_is_counted_not_recorded(captured: Any) -> None:
    """end_call for an id nothing opened changes no row and is counted."""
    handle, sink = captured
    end_call("01NOTACALLID000000000000000", response_text="x")
    assert handle.flush(10)
    assert sink.calls() == []
    assert handle.stats.unmatched_reports == 1


def test_calls_from_many_threads_are_each_one_row(captured: Any, litellm: Any) -> None:
    """Sync completions from 8 threads at once: every call is exactly one OK row."""
    handle, sink = captured

    def agent(number: int) -> None:
        for _ in range(15):
            litellm.completion(
                model="gpt-4o-mini",
                messages=MESSAGES,
                mock_response="ok",
                metadata=capture_metadata(kind="utility", agent_no=number),
            )

    threads = [threading.Thread(target=agent, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for _ in range(500):  # success callbacks run on litellm's thread pool, a little later
        assert handle.flush(10)
        rows = sink.calls()
        if len(rows) == 120 and all(row.outcome is Outcome.OK for row in rows):
            break
        time.sleep(0.01)
    assert len(rows) == 120
    assert all(
        row.outcome is Outcome.OK and row.usage_source is UsageSource.PROVIDER for row in rows
    )
    assert sorted({row.agent_no for row in rows}) == list(range(8))
    assert handle.stats.hook_errors == 0
    assert handle.stats.worker_errors == 0


def test_finished_calls_are_forgotten_after_the_retention_time(captured: Any) -> None:
    """Memory stays bounded: a sweep long after a call ended forgets it, so a stray second
    end report for it no longer matches anything."""
    handle, sink = captured
    call_id = begin_call(model="gpt-4o-mini", messages=MESSAGES)
    end_call(call_id, response_text="done")
    assert handle.flush(10)
    assert handle.sweep(now=time.time() + 10_000) == 0
    end_call(call_id, response_text="again")
    assert handle.flush(10)
    assert handle.stats.unmatched_reports == 1
    row = sink.get(call_id)
    assert row is not None
    assert row.outcome is Outcome.OK
