"""The SQLite ledger's storage operations: round trips, queries, atomic batches, budgets, cache."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from agent_routing.config import BudgetConfig
from agent_routing.ledger import (
    BudgetAlert,
    Ledger,
    LedgerError,
    Reservation,
    SpendLimit,
    SpendWindow,
    SQLiteLedger,
    ledger_for,
)
from agent_routing.ledger.postgres import PostgresLedger
from agent_routing.records import (
    CallRecord,
    DecisionRecord,
    Outcome,
    OutcomeSignal,
    UnitPrices,
    Usage,
    UsageSource,
)

T0 = 1_780_000_000.0
INTEGRITY_ERRORS = (sqlite3.IntegrityError, psycopg.IntegrityError)


@pytest.fixture
def ledger(backend_ledger: SQLiteLedger) -> SQLiteLedger:
    """The ledger under test, on each backend (SQLite file, PostgreSQL database)."""
    return backend_ledger


def call(call_id: str, started_at: float = T0, **fields: object) -> CallRecord:
    values: dict[str, object] = {"model": "gpt-4o-mini", "outcome": Outcome.OK}
    values.update(fields)
    return CallRecord(id=call_id, started_at=started_at, **values)


def ids(calls: list[CallRecord]) -> list[str]:
    return [c.id for c in calls]


def test_sqlite_ledger_satisfies_the_protocol(tmp_path: Path) -> None:
    """The SQLite backend is a Ledger, and ledger_for builds one from settings."""
    assert isinstance(SQLiteLedger(tmp_path / "x.db"), Ledger)
    assert isinstance(ledger_for(path=tmp_path / "y.db"), SQLiteLedger)


async def test_call_record_round_trips_every_field(ledger: SQLiteLedger) -> None:
    """A fully populated CallRecord comes back equal, prices and extra JSON included."""
    record = CallRecord(
        id="c1",
        started_at=T0,
        model="claude-3-5-sonnet-20241022",
        provider="anthropic",
        call_kind="utility",
        conversation_id="conv",
        agent_no=2,
        tool="memory_load",
        decision_id="d1",
        tier="strong",
        reservation_id="r1",
        attempt=1,
        stream=False,
        ended_at=T0 + 1,
        latency_ms=1000.5,
        outcome=Outcome.RATE_LIMITED,
        error_class="RateLimitError",
        error_message="429",
        usage=Usage(100, 20, cached_read_tokens=50, cache_creation_tokens=10, reasoning_tokens=5),
        usage_source=UsageSource.PROVIDER,
        prices=UnitPrices(3e-6, 1.5e-5, 3e-7, 3.75e-6, None, "override", "claude"),
        cost_usd=0.0012,
        tokens_saved=40,
        usd_saved=0.00012,
        extra={"nested": {"a": [1, 2]}, "unicode": "é"},
    )
    await ledger.upsert_calls([record])
    assert await ledger.get_call("c1") == record
    assert await ledger.get_call("missing") is None


async def test_query_calls_filters_and_orders(ledger: SQLiteLedger) -> None:
    """Time range is half-open; conversation, model, kind and limit filter; oldest first."""
    await ledger.upsert_calls(
        [
            call("a", T0 + 2, conversation_id="x", call_kind="chat"),
            call("b", T0, conversation_id="x", call_kind="utility"),
            call("c", T0 + 1, conversation_id="y", model="gpt-4o"),
            call("d", T0 + 3, conversation_id="x"),
        ]
    )
    assert ids(await ledger.query_calls()) == ["b", "c", "a", "d"]
    assert ids(await ledger.query_calls(since=T0 + 1, until=T0 + 3)) == ["c", "a"]
    assert ids(await ledger.query_calls(conversation_id="x")) == ["b", "a", "d"]
    assert ids(await ledger.query_calls(model="gpt-4o")) == ["c"]
    assert ids(await ledger.query_calls(call_kind="utility")) == ["b"]
    assert ids(await ledger.query_calls(limit=2)) == ["b", "c"]
    with pytest.raises(LedgerError, match="limit"):
        await ledger.query_calls(limit=-1)


async def test_input_is_never_spliced_into_sql(ledger: SQLiteLedger) -> None:
    """Quotes and SQL fragments in values are stored and matched as plain data."""
    hostile = "x'; DROP TABLE calls; --"
    await ledger.upsert_calls([call("evil", conversation_id=hostile, model=hostile)])
    found = await ledger.query_calls(conversation_id=hostile, model=hostile)
    assert [c.id for c in found] == ["evil"]
    assert await ledger.cache_get(hostile, hostile) is None


async def test_decisions_and_signals_round_trip_once(ledger: SQLiteLedger) -> None:
    """Decisions keep their features and candidates; duplicates of either are not repeated."""
    decision = DecisionRecord(
        id="d1",
        created_at=T0,
        conversation_id="conv",
        agent_no=0,
        call_kind="chat",
        strategy="balanced",
        chosen_tier="cheap",
        chosen_model="gpt-4o-mini",
        configured_model="gpt-4o",
        score=0.31,
        top_features=[("code_blocks", 0.2), ("length", -0.1)],
        candidates=[{"tier": "cheap", "ok": True}],
        reason="simple step",
        applied=False,
        extra={"k": 1},
    )
    signal = OutcomeSignal(decision_id="d1", kind="misformat", created_at=T0 + 1, detail="no json")
    await ledger.write_batch(decisions=[decision, decision], signals=[signal, signal])
    await ledger.insert_decisions([decision])
    await ledger.insert_signals([signal])
    assert await ledger.query_decisions() == [decision]
    assert await ledger.query_decisions(conversation_id="other") == []
    assert await ledger.query_signals(decision_id="d1") == [signal]
    assert await ledger.query_signals(kind="success") == []


async def test_a_batch_is_all_or_nothing(ledger: SQLiteLedger, tmp_path: Path) -> None:
    """A batch with one record the schema rejects writes none of its records."""
    bad = call("bad", model=None)  # calls.model is NOT NULL
    with pytest.raises(INTEGRITY_ERRORS) as raised:
        await ledger.write_batch(
            calls=[call("good"), bad],
            decisions=[
                DecisionRecord("d", T0, None, None, "chat", "balanced", None, "m", None, None)
            ],
        )
    assert await ledger.query_calls() == []
    assert await ledger.query_decisions() == []
    assert not ledger.is_transient_error(raised.value)
    assert ledger.is_transient_error(
        psycopg.OperationalError("server closed the connection")
        if isinstance(ledger, PostgresLedger)
        else sqlite3.OperationalError("database is locked")
    )
    await ledger.upsert_calls([call("after")])  # the connection is usable again
    assert [c.id for c in await ledger.query_calls()] == ["after"]


async def test_reserve_refuses_only_at_a_hard_limit(ledger: SQLiteLedger) -> None:
    """A hard limit refuses the reservation that would exceed it; a soft one only reports."""
    window = SpendWindow(since=T0 - 100, until=T0 + 100)
    hard = SpendLimit("daily:*", window, 1.0, hard=True)
    soft = SpendLimit("monthly:*", SpendWindow(), 0.1, hard=False)

    def reservation(rid: str, amount: float) -> Reservation:
        return Reservation(rid, T0, T0 + 60, "gpt-4o", amount, conversation_id="c")

    first = await ledger.reserve(reservation("r1", 0.6), [hard, soft])
    assert (first.reservation_id, first.refused_by) == ("r1", None)
    assert first.spent_usd == {"daily:*": 0.0, "monthly:*": 0.0}
    second = await ledger.reserve(reservation("r2", 0.6), [hard, soft])
    assert (second.reservation_id, second.refused_by) == (None, "daily:*")
    assert second.spent_usd["daily:*"] == pytest.approx(0.6)
    assert await ledger.get_reservation("r2") is None
    assert await ledger.release_reservation("r1") is True
    assert await ledger.release_reservation("r1") is False
    assert await ledger.spent_usd(window, now=T0) == 0.0


async def test_expired_reservations_stop_counting(ledger: SQLiteLedger) -> None:
    """An open reservation counts until it expires, then no more."""
    await ledger.reserve(Reservation("r", T0, T0 + 60, "gpt-4o", 0.25), [])
    window = SpendWindow()
    assert await ledger.spent_usd(window, now=T0 + 59) == pytest.approx(0.25)
    assert await ledger.spent_usd(window, now=T0 + 61) == 0.0


async def test_spend_counts_final_calls_by_model_and_conversation(ledger: SQLiteLedger) -> None:
    """Spend sums costs of ended calls matching the window; pending calls are not counted."""
    await ledger.upsert_calls(
        [
            call("a", cost_usd=0.1, conversation_id="c1"),
            call("b", cost_usd=0.2, model="gpt-4o", conversation_id="c1"),
            call("c", cost_usd=0.4, outcome=Outcome.PENDING, conversation_id="c1"),
            call("d", T0 + 500, cost_usd=0.8, conversation_id="c2"),
        ]
    )
    assert await ledger.spent_usd(SpendWindow(), now=T0) == pytest.approx(1.1)
    assert await ledger.spent_usd(SpendWindow(until=T0 + 1), now=T0) == pytest.approx(0.3)
    assert await ledger.spent_usd(SpendWindow(model="gpt-4o"), now=T0) == pytest.approx(0.2)
    assert await ledger.spent_usd(SpendWindow(conversation_id="c1"), now=T0) == pytest.approx(0.3)


async def test_usage_totals_count_requests_and_tokens(ledger: SQLiteLedger) -> None:
    """Quotas see requests and input+output tokens per model or provider, minus blocked calls."""
    await ledger.upsert_calls(
        [
            call("a", usage=Usage(100, 10), provider="openai"),
            call("b", usage=Usage(50, 5), provider="openai", model="gpt-4o"),
            call("c", outcome=Outcome.PENDING, provider="openai"),
            call("d", outcome=Outcome.BLOCKED, usage=Usage(999, 0), provider="openai"),
            call("e", T0 + 100, usage=Usage(7, 0), provider="openai"),
        ]
    )
    totals = await ledger.usage_totals(since=T0, until=T0 + 10, provider="openai")
    assert (totals.requests, totals.tokens) == (3, 165)
    totals = await ledger.usage_totals(since=None, until=None, model="gpt-4o-mini")
    assert (totals.requests, totals.tokens) == (3, 117)


async def test_alert_is_stored_once(ledger: SQLiteLedger) -> None:
    """The same budget, period and threshold is stored once; another period is new."""
    alert = BudgetAlert("daily:*", "day:2026-05-01", 0.8, T0, 4.0, 5.0, "80%")
    assert await ledger.insert_alert(alert) is True
    assert await ledger.insert_alert(alert) is False
    later = BudgetAlert("daily:*", "day:2026-05-02", 0.8, T0 + 86400, 4.0, 5.0, "80%")
    assert await ledger.insert_alert(later) is True
    assert await ledger.query_alerts() == [alert, later]
    assert await ledger.query_alerts(since=T0 + 1) == [later]


async def test_budget_overrides_are_stored_replaced_and_deleted(ledger: SQLiteLedger) -> None:
    """A stored budget replaces one with the same key and can be deleted."""
    await ledger.save_budget(BudgetConfig(scope="daily", limit_usd=5))
    await ledger.save_budget(BudgetConfig(scope="daily", limit_usd=7, enforcement="warn"))
    await ledger.save_budget(BudgetConfig(scope="monthly", limit_usd=50, model="gpt-4o"))
    stored = await ledger.stored_budgets()
    assert [(b.key, b.limit_usd, b.enforcement) for b in stored] == [
        ("daily:*", 7.0, "warn"),
        ("monthly:gpt-4o", 50.0, "block"),
    ]
    assert await ledger.delete_budget("daily:*") is True
    assert await ledger.delete_budget("daily:*") is False
    assert [b.key for b in await ledger.stored_budgets()] == ["monthly:gpt-4o"]


async def test_corrupt_stored_budget_raises_naming_it(tmp_path: Path) -> None:
    """A stored budget edited into something invalid raises LedgerError naming its key."""
    path = tmp_path / "ledger.db"
    async with SQLiteLedger(path):
        pass
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO budget_overrides VALUES ('daily:*', '{\"scope\": \"weekly\"}', 0)")
    async with SQLiteLedger(path) as ledger:
        with pytest.raises(LedgerError, match=r"budget_overrides\['daily:\*'\]"):
            await ledger.stored_budgets()


async def test_cache_get_put(ledger: SQLiteLedger) -> None:
    """The key-value cache stores, replaces and separates namespaces."""
    assert await ledger.cache_get("summaries", "h1") is None
    await ledger.cache_put("summaries", "h1", "first")
    await ledger.cache_put("summaries", "h1", "second")
    await ledger.cache_put("other", "h1", "elsewhere")
    assert await ledger.cache_get("summaries", "h1") == "second"
    assert await ledger.cache_get("other", "h1") == "elsewhere"


async def test_closed_ledger_says_so(tmp_path: Path) -> None:
    """Using a ledger that is not open raises LedgerError naming the file."""
    ledger = SQLiteLedger(tmp_path / "ledger.db")
    with pytest.raises(LedgerError, match="not open"):
        await ledger.get_call("x")
    with pytest.raises(LedgerError, match="busy_timeout_ms"):
        SQLiteLedger(tmp_path / "x.db", busy_timeout_ms=-1)


async def test_in_memory_ledger_works(tmp_path: Path) -> None:
    """':memory:' gives a private, fully migrated ledger (used for docs and quick checks)."""
    async with SQLiteLedger(":memory:") as ledger:
        await ledger.upsert_calls([call("m")])
        assert (await ledger.get_call("m")) is not None
