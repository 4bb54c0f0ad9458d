"""What a call's ledger row says beyond its usage: its hop number, the compression savings
made for it, and the price tier its prompt size put it in.

Real litellm (mock responses, no network), the real capture thread and a real SQLite
ledger file; reports are built from that file.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fakehost import _reset_litellm_logging_worker
from litellm_support import LitellmSpy, litellm_error
from router_support import settings_with

from agent_routing import pricing
from agent_routing._litellm import litellm_module
from agent_routing.capture import (
    METADATA_KEY,
    CaptureHandle,
    MemorySink,
    begin_call,
    capture_metadata,
    enable_capture,
    end_call,
)
from agent_routing.capture._callbook import CallBook, CaptureStats
from agent_routing.capture._events import Opened, Succeeded
from agent_routing.config import Settings
from agent_routing.errors import ConfigError
from agent_routing.ledger import ledger_for
from agent_routing.records import CallRecord, Outcome, Usage, UsageSource
from agent_routing.reports import build_report, prepare_query
from agent_routing.router import CooldownRegistry, Router, RouteRequest
from agent_routing.testing import FixedAnalyzer, RecordingSink

MESSAGES = [{"role": "user", "content": "Summarise the attached log in one line."}]


@pytest.fixture
async def capture(tmp_path: Path) -> AsyncIterator[tuple[CaptureHandle, Path]]:
    """Capture into a real ledger file for one test (litellm's async logging worker unbound
    first, as in a fresh process: see fakehost._reset_litellm_logging_worker)."""
    _reset_litellm_logging_worker()
    db = tmp_path / "ledger.db"
    handle = enable_capture(db, settings=Settings())
    yield handle, db
    handle.close()


async def ledger_rows(
    handle: CaptureHandle, db: Path, count: int, *, provider_usage: bool = False
) -> list[CallRecord]:
    """The ledger's rows, by attempt, once `count` of them are final (and, with
    `provider_usage`, carry the provider's usage): litellm's async callbacks land later."""
    ledger = ledger_for(Settings().ledger, db)
    await ledger.open()
    try:
        for _ in range(300):
            assert handle.flush(10)
            rows = await ledger.query_calls()
            if len(rows) == count and all(
                r.outcome is not Outcome.PENDING
                and (r.usage_source is UsageSource.PROVIDER or not provider_usage)
                for r in rows
            ):
                return sorted(rows, key=lambda r: r.attempt)
            await asyncio.sleep(0.02)
        raise AssertionError(f"rows never final: {rows}")
    finally:
        await ledger.close()


def problem_fields(error: ConfigError) -> list[str]:
    return [field for field, _ in error.problems]


# --- attempt ------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [-1, True, 1.5, "1", None])
def test_attempt_must_be_a_non_negative_integer(bad: object) -> None:
    """capture_metadata and begin_call refuse a bad attempt with an error naming `attempt`."""
    with pytest.raises(ConfigError) as metadata_error:
        capture_metadata(attempt=bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as begin_error:
        begin_call(model="gpt-4o-mini", attempt=bad)  # type: ignore[arg-type]
    assert problem_fields(metadata_error.value) == ["attempt"]
    assert problem_fields(begin_error.value) == ["attempt"]


def test_attempt_travels_in_metadata_only_for_fallback_hops() -> None:
    """The first try adds nothing to litellm's metadata; hop n carries attempt n."""
    assert "attempt" not in capture_metadata()[METADATA_KEY]
    assert capture_metadata(attempt=2)[METADATA_KEY]["attempt"] == 2


def test_a_litellm_retry_inside_a_fallback_hop_counts_past_the_hop() -> None:
    """The call book takes the hop number from metadata, and a litellm-level retry of that
    hop (same injected id, new litellm id) is one attempt further, never lower."""
    sink = MemorySink()
    calls = CallBook(Settings(), sink, CaptureStats())
    fields = capture_metadata(call_id="hop-1", attempt=1)[METADATA_KEY]
    for litellm_id, at in (("L1", 1.0), ("L2", 2.0)):
        calls.apply(
            Opened("hop-1", litellm_id, "gpt-4o", "openai", MESSAGES, fields, False, at, True)
        )
    assert [row.attempt for row in sink.calls()] == [1, 2]


async def test_a_rate_limited_first_hop_and_its_fallback_are_attempts_0_and_1(
    capture: tuple[CaptureHandle, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Router.acompletion: a 429 on the first tier, then success on the next. The ledger has
    two rows of one decision with attempts 0 and 1, and the per-model report shows the
    fallback model's retry rate (1.0) and the total's (0.5)."""
    handle, db = capture
    router = Router(
        settings_with(thresholds=[0.3, 0.7]),
        analyzer=FixedAnalyzer(0.0),
        sink=RecordingSink(),
        cooldowns=CooldownRegistry(),
    )
    decision = await router.route(RouteRequest("hi", input_tokens=20))
    assert decision.decision_id is not None
    LitellmSpy(monkeypatch, {"gpt-4o-mini": litellm_error("RateLimitError", status=429)})
    await router.acompletion(decision, MESSAGES)

    first, second = await ledger_rows(handle, db, 2)
    assert [(r.model, r.outcome, r.attempt) for r in (first, second)] == [
        ("openai/gpt-4o-mini", Outcome.RATE_LIMITED, 0),
        ("openai/gpt-4.1-mini", Outcome.OK, 1),
    ]
    assert first.decision_id == second.decision_id == decision.decision_id

    ledger = ledger_for(Settings().ledger, db)
    await ledger.open()
    try:
        report = await build_report(ledger, prepare_query(by="model"))
    finally:
        await ledger.close()
    by_model = {group.key: group for group in report.groups}
    assert by_model["openai/gpt-4.1-mini"].retry_rate == 1.0
    assert by_model["openai/gpt-4o-mini"].retry_rate == 0.0
    assert report.totals.retries == 1
    assert report.totals.retry_rate == 0.5


# --- compression savings ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"tokens_saved": -1}, "tokens_saved"),
        ({"tokens_saved": True}, "tokens_saved"),
        ({"tokens_saved": 10.0}, "tokens_saved"),
        ({"usd_saved": -0.01}, "usd_saved"),
        ({"usd_saved": math.nan}, "usd_saved"),
        ({"usd_saved": math.inf}, "usd_saved"),
        ({"usd_saved": "0.1"}, "usd_saved"),
    ],
)
def test_bad_savings_are_refused_naming_the_field(kwargs: dict[str, Any], field: str) -> None:
    """begin_call validates compression savings like every other field."""
    with pytest.raises(ConfigError) as error:
        begin_call(model="gpt-4o-mini", **kwargs)
    assert problem_fields(error.value) == [field]


async def test_savings_stay_on_the_calls_own_row_through_every_later_event(
    capture: tuple[CaptureHandle, Path],
) -> None:
    """begin_call(tokens_saved, usd_saved) puts the savings on the opened row; the end
    report and litellm's success callback (provider usage) that follow keep them, in one
    ledger row, and the cost report totals them."""
    handle, db = capture
    litellm = litellm_module()
    call_id = begin_call(
        model="gpt-4o-mini", messages=MESSAGES, tokens_saved=4_200, usd_saved=0.00063
    )
    response = await litellm.acompletion(
        model="gpt-4o-mini",
        messages=MESSAGES,
        mock_response="The log is fine.",
        metadata=capture_metadata(call_id=call_id),
    )
    end_call(call_id, response_text=response.choices[0].message.content)

    [row] = await ledger_rows(handle, db, 1, provider_usage=True)  # after the end report
    assert row.id == call_id
    assert (row.tokens_saved, row.usd_saved) == (4_200, 0.00063)

    ledger = ledger_for(Settings().ledger, db)
    await ledger.open()
    try:
        report = await build_report(ledger, prepare_query(by="model"))
    finally:
        await ledger.close()
    assert (report.totals.tokens_saved, report.totals.usd_saved) == (4_200, 0.00063)


# --- tiered prices ------------------------------------------------------------------------


def test_provider_usage_across_the_threshold_moves_the_row_to_the_tier() -> None:
    """The row opens at the base tier (a short estimated prompt); provider usage of 250k
    prompt tokens re-prices it at gemini-2.5-pro's >200k tier, as litellm bills it."""
    # An entry the shipped snapshot prices alike, so the installed litellm bills it (the
    # snapshot corrected gemini/gemini-2.5-pro's cache price: test_pricing_sources.py).
    model = "gemini/gemini-2.5-pro-preview-06-05"
    litellm = litellm_module()
    sink = MemorySink()
    calls = CallBook(Settings(), sink, CaptureStats())
    calls.apply(Opened("long-1", "L1", model, "gemini", MESSAGES, {}, False, 1.0, True))
    opened = sink.calls()[0]
    assert opened.prices is not None
    assert opened.prices.model_key == model

    usage = Usage(input_tokens=250_000, output_tokens=1_200, cached_read_tokens=100_000)
    response = litellm.ModelResponse(usage=pricing.litellm_usage(usage, "gemini"))
    calls.apply(
        Succeeded(
            "long-1", "L1", model, "gemini", {}, response, 1.0, 2.0, "acompletion", False, None
        )
    )
    [row] = sink.calls()
    assert row.usage == usage
    assert row.prices is not None
    assert row.prices.model_key == f"{model}@>200k"
    expected = float(litellm.completion_cost(completion_response=response, model=model))
    assert row.cost_usd == pytest.approx(expected, rel=1e-12)


async def test_a_long_prompt_call_is_stored_at_its_tier_and_costs_what_litellm_charges(
    capture: tuple[CaptureHandle, Path],
) -> None:
    """A real captured call whose provider usage is above 200k prompt tokens: the ledger row
    keeps the tier's prices (merged over the base-tier open) and litellm's own cost."""
    handle, db = capture
    litellm = litellm_module()
    model = "anthropic/claude-sonnet-4-20250514"
    usage = Usage(
        input_tokens=230_000,
        output_tokens=900,
        cached_read_tokens=120_000,
        cache_creation_tokens=20_000,
    )
    mock = litellm.ModelResponse(usage=pricing.litellm_usage(usage, "anthropic"))
    mock.choices[0].message.content = "done"
    await litellm.acompletion(
        model=model, messages=MESSAGES, mock_response=mock, metadata=capture_metadata()
    )
    [row] = await ledger_rows(handle, db, 1, provider_usage=True)
    assert row.usage == usage
    assert row.prices is not None
    assert row.prices.model_key == "claude-sonnet-4-20250514@>200k"
    assert row.cost_usd == pytest.approx(pricing.litellm_cost(model, usage, "anthropic"))
    assert row.cost_usd == pytest.approx(row.extra["litellm_cost_usd"], rel=1e-9)
