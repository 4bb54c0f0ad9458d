"""Attribution from the calling context, Responses-API usage and the host's own usage.

Real litellm calls (`mock_response`), real capture into a MemorySink.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from agent_routing._litellm import litellm_module
from agent_routing.capture import CaptureHandle, MemorySink, begin_call, enable_capture, end_call
from agent_routing.capture.scope import call_scope, current_scope, make_scope
from agent_routing.capture.usage import provider_cost, usage_from_litellm
from agent_routing.config import Settings
from agent_routing.errors import ConfigError
from agent_routing.records import CallRecord, Outcome, Usage, UsageSource


@pytest.fixture
def captured() -> Iterator[tuple[CaptureHandle, MemorySink]]:
    """Capture into a MemorySink for one test; unregistered afterwards."""
    sink = MemorySink()
    handle = enable_capture(sink=sink, settings=Settings())
    yield handle, sink
    handle.close()


async def rows_when(
    handle: CaptureHandle, sink: MemorySink, ready: Any, count: int = 1
) -> list[CallRecord]:
    """The rows once there are `count` of them and all are `ready` (callbacks come later)."""
    for _ in range(300):
        await asyncio.sleep(0.01)
        assert handle.flush(10)
        rows = sink.calls()
        if len(rows) == count and all(ready(row) for row in rows):
            return rows
    raise AssertionError(f"rows never ready: {sink.calls()}")


def test_responses_api_usage_reads_like_chat_usage() -> None:
    """`input_tokens`/`output_tokens` with their details mean prompt/completion tokens."""
    usage = usage_from_litellm(
        {
            "input_tokens": 1200,
            "output_tokens": 90,
            "input_tokens_details": {"cached_tokens": 1000},
            "output_tokens_details": {"reasoning_tokens": 40},
        }
    )
    assert usage == Usage(
        input_tokens=1200, output_tokens=90, cached_read_tokens=1000, reasoning_tokens=40
    )
    assert usage_from_litellm({"cost": 0.1}) is None


def test_provider_cost_takes_only_a_finite_non_negative_number() -> None:
    """`usage["cost"]` is the host's price when it is a real amount, else None."""
    assert provider_cost({"cost": 0.25}) == 0.25
    assert [provider_cost({"cost": v}) for v in (None, -1, float("nan"), True, "1")] == [None] * 5


def test_end_call_refuses_a_bad_cost_naming_the_field() -> None:
    """A negative or non-numeric cost is a ConfigError naming `cost_usd`."""
    for bad in (-0.5, float("inf"), "0.1", True):
        with pytest.raises(ConfigError, match="cost_usd"):
            end_call("some-call", cost_usd=bad)  # type: ignore[arg-type]


async def test_a_call_without_metadata_is_attributed_from_the_calling_context(
    captured: Any,
) -> None:
    """An embedding made through a shared object carries the scope of whoever calls it."""
    handle, sink = captured
    litellm = litellm_module()

    def embed() -> None:
        litellm.embedding(model="openai/text-embedding-3-small", input=["x"], mock_response=[0.1])

    with call_scope(make_scope(conversation_id="chat-a", agent_no=0, tool="memory_load")):
        embed()
    with call_scope(make_scope(conversation_id="chat-b", agent_no=2)):
        embed()
    assert current_scope() is None
    rows = await rows_when(handle, sink, lambda r: r.outcome is Outcome.OK, count=2)
    got = sorted((r.conversation_id, r.agent_no, r.tool, r.call_kind) for r in rows)
    assert got == [("chat-a", 0, "memory_load", "embedding"), ("chat-b", 2, None, "embedding")]


async def test_a_responses_call_lands_on_the_row_its_caller_opened(captured: Any) -> None:
    """`aresponses` (no pre-call hook, two success callbacks, no metadata of ours) merges
    into the row `begin_call` opened, through the scope carrying its call id."""
    handle, sink = captured
    call_id = begin_call(model="openai/gpt-4o", kind="utility", conversation_id="chat-r")
    with call_scope(make_scope(call_id=call_id, conversation_id="chat-r", kind="utility")):
        response = await litellm_module().aresponses(
            model="openai/gpt-4o", input="hi", mock_response="hello"
        )
    end_call(call_id, response_text=response.output[0].content[0].text)
    [row] = await rows_when(handle, sink, lambda r: r.usage_source is UsageSource.PROVIDER)
    assert (row.id, row.call_kind, row.conversation_id) == (call_id, "utility", "chat-r")
    assert row.usage is not None
    assert row.usage.input_tokens == response.usage.input_tokens


async def test_the_hosts_usage_and_price_stay_over_a_later_litellm_callback(
    captured: Any,
) -> None:
    """v2 hands `LLMResult.usage` to `end_call`; litellm's own report of the same call comes
    later and neither replaces it nor adds a row; `cost_usd` is the row's price."""
    handle, sink = captured
    call_id = begin_call(model="openai/gpt-4o", kind="chat", conversation_id="chat-u")
    host_usage = Usage(input_tokens=5000, output_tokens=50, cached_read_tokens=4096)
    end_call(call_id, response_text="ok", usage=host_usage, cost_usd=0.004)
    with call_scope(make_scope(call_id=call_id, conversation_id="chat-u", kind="chat")):
        await litellm_module().acompletion(
            model="openai/gpt-4o", messages=[{"role": "user", "content": "hi"}], mock_response="ok"
        )
    [row] = await rows_when(handle, sink, lambda r: "litellm_cost_usd" in r.extra)
    assert row.usage == host_usage
    assert row.usage_source is UsageSource.PROVIDER
    assert row.cost_usd == pytest.approx(0.004)


def test_a_responses_retry_without_pre_call_hook_is_a_row_of_its_own() -> None:
    """The Responses API has no pre-call hook: a failure under one litellm id, then a
    success under another for the same call id, are two rows (attempts 0 and 1)."""
    import datetime

    from agent_routing.capture._callbook import CallBook, CaptureStats
    from agent_routing.capture._events import Failed, Opened, Reported, Succeeded
    from agent_routing.capture._metadata import checked_attribution

    sink = MemorySink()
    book = CallBook(Settings(), sink, CaptureStats())
    call_id, fields = "01K0RESPONSESRETRY00000001", {"call_id": "01K0RESPONSESRETRY00000001"}
    attribution = checked_attribution(
        call_id=call_id,
        conversation_id="chat-1",
        agent_no=0,
        kind="utility",
        tool=None,
        decision_id=None,
        tier=None,
        reservation_id=None,
    )
    messages = [{"role": "user", "content": "hi"}]
    now = datetime.datetime.now()
    litellm = litellm_module()
    limited = litellm.RateLimitError(message="slow down", llm_provider="openai", model="gpt-4o")
    response = litellm.ResponsesAPIResponse.model_validate(
        {
            "id": "resp_1",
            "created_at": 0,
            "output": [],
            "usage": {"input_tokens": 40, "output_tokens": 5, "total_tokens": 45},
        }
    )
    book.apply(Opened(call_id, None, "gpt-4o", "openai", messages, attribution, True, 0.0, False))
    book.apply(Failed(call_id, "L1", "gpt-4o", "openai", fields, limited, now, now))
    book.apply(Reported(call_id, "ok", "", None, None, 1.0))
    for _ in range(2):  # litellm fires the sync and the async success callback
        book.apply(
            Succeeded(
                call_id,
                "L2",
                "gpt-4o",
                "openai",
                fields,
                response,
                now,
                now,
                "aresponses",
                True,
                None,
            )
        )
    rows = {row.id: row for row in sink.calls()}
    first, second = sorted(rows.values(), key=lambda row: row.attempt)
    assert (first.id, first.attempt, first.outcome) == (call_id, 0, Outcome.RATE_LIMITED)
    assert (second.attempt, second.outcome, second.conversation_id) == (1, Outcome.OK, "chat-1")
    assert second.usage is not None
    assert (second.usage.input_tokens, second.extra["logical_call_id"]) == (40, call_id)
