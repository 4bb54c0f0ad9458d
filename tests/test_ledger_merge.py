"""The calls upsert: events of one call in any order, repeated or not, give one right row."""

from __future__ import annotations

import dataclasses
import itertools
import json
import sqlite3
from pathlib import Path

import pytest

from agent_routing.ledger import Reservation, SpendWindow, SQLiteLedger
from agent_routing.ledger.merge import MERGE_ASSIGNMENTS
from agent_routing.ledger.rows import CALL_COLUMNS
from agent_routing.records import CallRecord, Outcome, UnitPrices, Usage, UsageSource

T0 = 1_780_000_000.0
PRICES = UnitPrices(input=1.5e-7, output=6e-7, cache_read=7.5e-8, model_key="gpt-4o-mini")


def _cost(usage: Usage) -> float:
    return usage.input_tokens * PRICES.input + usage.output_tokens * PRICES.output


def open_event(call_id: str = "call-1") -> CallRecord:
    """The pre-call hook: pending, exact input estimated, full context."""
    usage = Usage(input_tokens=1200)
    return CallRecord(
        id=call_id,
        started_at=T0,
        model="gpt-4o-mini",
        provider="openai",
        call_kind="chat",
        conversation_id="conv-1",
        agent_no=0,
        tool="code_execution",
        decision_id="dec-1",
        tier="cheap",
        reservation_id="res-1",
        stream=True,
        usage=usage,
        usage_source=UsageSource.ESTIMATED,
        prices=PRICES,
        cost_usd=_cost(usage),
        tokens_saved=300,
        usd_saved=300 * PRICES.input,
        extra={"opened_by": "pre_call"},
    )


def end_event(call_id: str = "call-1") -> CallRecord:
    """The caller's end report: final, estimated output, little context."""
    usage = Usage(input_tokens=1200, output_tokens=350)
    return CallRecord(
        id=call_id,
        started_at=T0 + 0.004,
        model="gpt-4o-mini",
        ended_at=T0 + 2.0,
        latency_ms=2000.0,
        outcome=Outcome.OK,
        usage=usage,
        usage_source=UsageSource.ESTIMATED,
        prices=PRICES,
        cost_usd=_cost(usage),
        extra={"reported_by": "caller"},
    )


def provider_event(call_id: str = "call-1") -> CallRecord:
    """A late provider success callback: provider usage, its own timing."""
    usage = Usage(input_tokens=1187, output_tokens=342, cached_read_tokens=1024)
    return CallRecord(
        id=call_id,
        started_at=T0 + 0.002,
        model="gpt-4o-mini",
        provider="openai",
        ended_at=T0 + 2.1,
        latency_ms=2098.0,
        outcome=Outcome.OK,
        usage=usage,
        usage_source=UsageSource.PROVIDER,
        prices=PRICES,
        cost_usd=0.000321,
        extra={"litellm_call_id": "abc"},
    )


EXPECTED = CallRecord(
    id="call-1",
    started_at=T0,
    model="gpt-4o-mini",
    provider="openai",
    call_kind="chat",
    conversation_id="conv-1",
    agent_no=0,
    tool="code_execution",
    decision_id="dec-1",
    tier="cheap",
    reservation_id="res-1",
    stream=True,
    ended_at=T0 + 2.1,
    latency_ms=2098.0,
    outcome=Outcome.OK,
    usage=Usage(input_tokens=1187, output_tokens=342, cached_read_tokens=1024),
    usage_source=UsageSource.PROVIDER,
    prices=PRICES,
    cost_usd=0.000321,
    tokens_saved=300,
    usd_saved=300 * PRICES.input,
    extra={"opened_by": "pre_call", "reported_by": "caller", "litellm_call_id": "abc"},
)


@pytest.fixture
def ledger(backend_ledger: SQLiteLedger) -> SQLiteLedger:
    """The ledger under test, on each backend (SQLite file, PostgreSQL database)."""
    return backend_ledger


def _raw_row(path: Path, call_id: str) -> dict[str, object]:
    """Every stored column but the write time (JSON compared as data, not text)."""
    with sqlite3.connect(path) as db:
        row = db.execute(
            f"SELECT {', '.join(CALL_COLUMNS)} FROM calls WHERE id = ?", (call_id,)
        ).fetchone()
    values = dict(zip(CALL_COLUMNS, row, strict=True))
    del values["updated_at"]
    values["extra"] = json.loads(values["extra"])
    return values


def test_every_column_has_a_merge_rule() -> None:
    """No calls column is left out of the ON CONFLICT update (it would keep its first value)."""
    assigned = [text.split(" = ", 1)[0] for text in MERGE_ASSIGNMENTS]
    assert sorted(assigned) == sorted(c for c in CALL_COLUMNS if c != "id")


@pytest.mark.parametrize("order", list(itertools.permutations(["open", "end", "provider"])))
async def test_all_event_orders_give_the_same_row(tmp_path: Path, order: tuple[str, ...]) -> None:
    """Every order of open / end-report / provider events, one batch each, ends in one row."""
    makers = {"open": open_event, "end": end_event, "provider": provider_event}
    path = tmp_path / "ledger.db"
    async with SQLiteLedger(path) as ledger:
        for name in order:
            await ledger.upsert_calls([makers[name]()])
        assert await ledger.get_call("call-1") == EXPECTED
    reference = tmp_path / "reference.db"
    async with SQLiteLedger(reference) as ledger:
        await ledger.upsert_calls([open_event(), end_event(), provider_event()])
    assert _raw_row(path, "call-1") == _raw_row(reference, "call-1")


async def test_repeated_events_are_idempotent(ledger: SQLiteLedger) -> None:
    """Sending every event twice, in one batch and again later, changes nothing."""
    events = [provider_event(), open_event(), open_event(), end_event(), provider_event()]
    await ledger.upsert_calls(events)
    await ledger.upsert_calls([end_event(), open_event(), provider_event()])
    assert await ledger.get_call("call-1") == EXPECTED
    assert len(await ledger.query_calls()) == 1


async def test_provider_usage_is_never_replaced_by_an_estimate(ledger: SQLiteLedger) -> None:
    """Estimates arriving after provider usage keep the provider's tokens and cost."""
    await ledger.upsert_calls([provider_event(), end_event(), open_event()])
    stored = await ledger.get_call("call-1")
    assert stored is not None
    assert stored.usage_source == UsageSource.PROVIDER
    assert stored.usage == provider_event().usage
    assert stored.cost_usd == 0.000321


async def test_final_outcome_never_goes_back_to_pending(ledger: SQLiteLedger) -> None:
    """A pending event after the end report leaves the call ended, with its end-time usage."""
    await ledger.upsert_calls([end_event()])
    await ledger.upsert_calls([open_event()])
    stored = await ledger.get_call("call-1")
    assert stored is not None
    assert stored.outcome == Outcome.OK
    assert stored.usage == end_event().usage
    assert stored.ended_at == T0 + 2.0


async def test_abandoned_guess_yields_to_a_late_success(ledger: SQLiteLedger) -> None:
    """A call closed as abandoned becomes ok when the provider's success arrives, either order."""
    abandoned = CallRecord(
        id="call-1", started_at=T0, model="gpt-4o-mini", outcome=Outcome.ABANDONED
    )
    await ledger.upsert_calls([open_event(), abandoned, provider_event()])
    await ledger.upsert_calls([provider_event("call-2"), abandoned_copy("call-2")])
    for call_id in ("call-1", "call-2"):
        stored = await ledger.get_call(call_id)
        assert stored is not None
        assert stored.outcome == Outcome.OK


def abandoned_copy(call_id: str) -> CallRecord:
    return CallRecord(id=call_id, started_at=T0, model="gpt-4o-mini", outcome=Outcome.ABANDONED)


async def test_error_fields_follow_the_outcome(ledger: SQLiteLedger) -> None:
    """A caller-reported error superseded by provider success drops the error; any order."""
    error = CallRecord(
        id="call-1",
        started_at=T0,
        model="gpt-4o-mini",
        outcome=Outcome.TIMEOUT,
        error_class="Timeout",
        error_message="read timed out",
    )
    await ledger.upsert_calls([error, provider_event()])
    second = dataclasses.replace(error, id="call-2")
    await ledger.upsert_calls([provider_event("call-2"), second])
    for call_id in ("call-1", "call-2"):
        stored = await ledger.get_call(call_id)
        assert stored is not None
        assert (stored.outcome, stored.error_class, stored.error_message) == (
            Outcome.OK,
            None,
            None,
        )


async def test_unknown_fields_never_overwrite_known_ones(ledger: SQLiteLedger) -> None:
    """An event with None fields and the default kind keeps what an earlier event knew."""
    sparse = CallRecord(id="call-1", started_at=T0 + 5, model="gpt-4o-mini", outcome=Outcome.OK)
    await ledger.upsert_calls([open_event(), sparse])
    stored = await ledger.get_call("call-1")
    assert stored is not None
    assert (stored.tool, stored.call_kind, stored.tier, stored.tokens_saved) == (
        "code_execution",
        "chat",
        "cheap",
        300,
    )
    assert stored.usage == open_event().usage  # the sparse event carried no usage
    assert stored.started_at == T0


async def test_cost_and_prices_follow_their_usage(ledger: SQLiteLedger) -> None:
    """Provider usage without a cost makes the call unpriced (the estimate's cost is not kept),
    while the stored unit prices stay."""
    unpriced = CallRecord(
        id="call-1",
        started_at=T0,
        model="gpt-4o-mini",
        outcome=Outcome.OK,
        usage=Usage(input_tokens=900, output_tokens=10),
        usage_source=UsageSource.PROVIDER,
    )
    await ledger.upsert_calls([end_event(), unpriced])
    stored = await ledger.get_call("call-1")
    assert stored is not None
    assert stored.usage == unpriced.usage
    assert stored.cost_usd is None
    assert stored.prices == PRICES


async def test_final_event_settles_its_reservation_in_the_same_write(ledger: SQLiteLedger) -> None:
    """The reservation named by a call is settled when the merged row becomes final, even if
    the reservation id arrived with the pending event after the final one."""
    await ledger.reserve(
        Reservation(
            id="res-1", created_at=T0 - 1, expires_at=T0 + 900, model="gpt-4o-mini", amount_usd=0.5
        ),
        [],
    )
    window = SpendWindow(since=T0 - 10, until=T0 + 10)
    assert await ledger.spent_usd(window, now=T0) == pytest.approx(0.5)
    await ledger.upsert_calls([end_event()])  # final, but does not name the reservation
    assert await ledger.spent_usd(window, now=T0) == pytest.approx(0.5 + _cost(end_event().usage))
    await ledger.upsert_calls([open_event()])  # names it: now settled
    reservation = await ledger.get_reservation("res-1")
    assert reservation is not None
    assert (reservation.status, reservation.call_id) == ("settled", "call-1")
    assert await ledger.spent_usd(window, now=T0) == pytest.approx(_cost(end_event().usage))
