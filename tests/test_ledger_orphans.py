"""Calls left pending by a killed process are closed as abandoned by the next one, priced
like the capture's own sweep prices them, counted by budgets, and still overridden by a
late real end."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from backend_sql import fetch, scalar
from click.testing import CliRunner

from agent_routing.budgets import Budgets
from agent_routing.cli import main
from agent_routing.config import BudgetConfig, LedgerSettings, Settings
from agent_routing.errors import ConfigError
from agent_routing.ledger import LedgerWriter, OrphanSweep, SQLiteLedger
from agent_routing.ledger.orphans import CLOSED_BY
from agent_routing.records import CallRecord, Outcome, UnitPrices, Usage, UsageSource
from agent_routing.tokens import count_message_tokens

T0 = 1_780_000_000.0
PRICES = UnitPrices(
    input=2.5e-6, output=1e-5, cache_read=None, cache_creation=None, reasoning=None,
    source="litellm", model_key="gpt-4o",
)  # fmt: skip
FAST = LedgerSettings(flush_interval_ms=20)
MESSAGES = [
    {"role": "system", "content": "Summarise the tool output for the agent's memory."},
    {"role": "user", "content": "ls -la returned 42 files, three of them larger than 1 GB."},
]


@pytest.fixture
def ledger(backend_ledger: SQLiteLedger) -> SQLiteLedger:
    """The ledger under test, on each backend (SQLite file, PostgreSQL database)."""
    return backend_ledger


def pending(call_id: str, started_at: float, **fields: object) -> CallRecord:
    """A row as the pre-call hook opens it: pending, input counted, priced input."""
    values: dict[str, object] = {
        "model": "gpt-4o",
        "outcome": Outcome.PENDING,
        "usage": Usage(input_tokens=1000),
        "usage_source": UsageSource.ESTIMATED,
        "prices": PRICES,
        "cost_usd": 1000 * PRICES.input,
    }
    values.update(fields)
    return CallRecord(id=call_id, started_at=started_at, **values)


def bucket_total(url: str | Path) -> tuple[float, float]:
    """(sum of the spend buckets, sum of counted call costs): equal when triggers kept up."""
    buckets = scalar(str(url), "SELECT COALESCE(SUM(cost_usd), 0) FROM spend_buckets")
    calls = scalar(
        str(url),
        "SELECT COALESCE(SUM(cost_usd), 0) FROM calls "
        "WHERE outcome != 'pending' AND cost_usd IS NOT NULL",
    )
    return float(buckets), float(calls)


async def test_old_pending_rows_close_priced_young_and_final_ones_stay(
    ledger: SQLiteLedger, ledger_url: str
) -> None:
    """Only pending rows older than the cutoff close: abandoned, ended_at set, cost = stored
    usage at stored prices (input, and output as known); no prices -> unpriced, not $0."""
    await ledger.upsert_calls(
        [
            pending("old", T0),
            pending("old-streamed", T0 + 1, usage=Usage(input_tokens=1000, output_tokens=200)),
            pending("old-unpriced", T0 + 2, model="my-local", prices=None, cost_usd=None),
            pending("young", T0 + 600),
            pending("done", T0, outcome=Outcome.OK, usage=Usage(input_tokens=10), cost_usd=0.001),
        ]
    )
    swept = await ledger.close_orphaned_calls(started_before=T0 + 300, now=T0 + 900)
    expected = 1000 * PRICES.input + (1000 * PRICES.input + 200 * PRICES.output)
    assert swept.closed == 3
    assert swept.unpriced == 1
    assert swept.cost_usd == pytest.approx(expected)

    old = await ledger.get_call("old")
    assert old is not None
    assert (old.outcome, old.ended_at, old.latency_ms) == (Outcome.ABANDONED, T0 + 900, None)
    assert old.extra["closed_by"] == CLOSED_BY
    assert old.usage_source is UsageSource.ESTIMATED
    assert old.cost_usd == pytest.approx(1000 * PRICES.input)
    streamed = await ledger.get_call("old-streamed")
    assert streamed is not None
    assert streamed.cost_usd == pytest.approx(1000 * PRICES.input + 200 * PRICES.output)
    unpriced = await ledger.get_call("old-unpriced")
    assert unpriced is not None
    assert (unpriced.outcome, unpriced.cost_usd) == (Outcome.ABANDONED, None)
    young, done = await ledger.get_call("young"), await ledger.get_call("done")
    assert young is not None
    assert young.outcome is Outcome.PENDING
    assert done is not None
    assert done.outcome is Outcome.OK
    assert done.ended_at is None

    again = await ledger.close_orphaned_calls(started_before=T0 + 300, now=T0 + 901)
    assert again == OrphanSweep(closed=0, cost_usd=0.0, unpriced=0)
    buckets, calls = bucket_total(ledger_url)
    assert buckets == pytest.approx(calls) == pytest.approx(expected + 0.001)


async def test_a_late_real_end_or_provider_usage_wins_over_the_orphan_close(
    ledger: SQLiteLedger, ledger_url: str
) -> None:
    """The close is an ordinary merged event: the caller's end report (state final) and the
    provider's usage (rank 2) replace it, and the spend buckets follow every change."""
    await ledger.upsert_calls([pending("a", T0), pending("b", T0)])
    await ledger.close_orphaned_calls(started_before=T0 + 1, now=T0 + 700)

    ended = pending(
        "a", T0, outcome=Outcome.OK, ended_at=T0 + 3, latency_ms=3000.0,
        usage=Usage(input_tokens=1000, output_tokens=50), cost_usd=0.003,
    )  # fmt: skip
    provider_usage = Usage(input_tokens=1100, output_tokens=80)
    succeeded = pending(
        "b", T0, outcome=Outcome.OK, ended_at=T0 + 4, usage=provider_usage,
        usage_source=UsageSource.PROVIDER, cost_usd=0.00355,
    )  # fmt: skip
    await ledger.upsert_calls([ended, succeeded])

    a, b = await ledger.get_call("a"), await ledger.get_call("b")
    assert a is not None
    assert b is not None
    assert (a.outcome, a.ended_at, a.latency_ms, a.cost_usd) == (Outcome.OK, T0 + 3, 3000.0, 0.003)
    assert (b.outcome, b.usage, b.usage_source) == (
        Outcome.OK,
        provider_usage,
        UsageSource.PROVIDER,
    )
    assert b.cost_usd == 0.00355
    buckets, calls = bucket_total(ledger_url)
    assert buckets == pytest.approx(calls) == pytest.approx(0.003 + 0.00355)


async def test_closing_settles_the_calls_reservation(ledger: SQLiteLedger) -> None:
    """A reservation held for the dead call stops counting once the row is counted, so the
    money is neither missing nor counted twice."""
    budgets = Budgets(
        ledger,
        Settings(budgets=[BudgetConfig(scope="conversation", limit_usd=1)]),
        estimate_cost=lambda _model, inp, out: inp * PRICES.input + out * PRICES.output,
    )
    verdict = await budgets.check(
        model="gpt-4o", conversation_id="conv", input_tokens=1000, max_output_tokens=100
    )
    assert verdict.reservation_id is not None
    now = time.time()
    await ledger.upsert_calls(
        [pending("r", now - 700, conversation_id="conv", reservation_id=verdict.reservation_id)]
    )
    assert (await budgets.status("conv"))[0].spent_usd == pytest.approx(
        verdict.estimated_cost_usd
    )  # only the hold counts while the row is pending
    await ledger.close_orphaned_calls(started_before=now - 600)
    reservation = await ledger.get_reservation(verdict.reservation_id)
    assert reservation is not None
    assert reservation.status == "settled"
    assert (await budgets.status("conv"))[0].spent_usd == pytest.approx(1000 * PRICES.input)


async def test_the_sweep_reads_only_pending_rows_through_their_index(
    ledger: SQLiteLedger, ledger_url: str
) -> None:
    """Run at every process start, the sweep must not scan the whole call history."""
    explain = "EXPLAIN QUERY PLAN" if ledger_url.endswith(".db") else "EXPLAIN"
    plan = fetch(
        ledger_url,
        f"{explain} SELECT id FROM calls "
        "WHERE outcome = 'pending' AND started_at < ? ORDER BY started_at, id",
        (T0,),
        pg_setup=["SET enable_seqscan = off"],  # a tiny table: show the index it would use
    )
    assert any("idx_calls_pending" in str(row) for row in plan), plan


def test_writer_refuses_a_non_positive_age(tmp_path: Path) -> None:
    """A bad `abandoned_after_s` is refused naming the field (0 would close live calls)."""
    with pytest.raises(ConfigError, match="abandoned_after_s"):
        LedgerWriter(tmp_path / "ledger.db", FAST, abandoned_after_s=0)


def test_a_failing_sweep_never_stops_the_writer(tmp_path: Path) -> None:
    """If the sweep fails (a backend error), records are still written."""
    path = tmp_path / "ledger.db"

    class BrokenSweep(SQLiteLedger):
        async def close_orphaned_calls(
            self, *, started_before: float, now: float | None = None
        ) -> OrphanSweep:
            raise sqlite3.OperationalError("disk I/O error")

    writer = LedgerWriter(path, FAST, ledger_factory=lambda: BrokenSweep(path))
    writer.submit(pending("x", time.time(), outcome=Outcome.OK))
    assert writer.flush(timeout=20)
    writer.close(timeout=10)
    assert writer.stats().orphans_closed == 0
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM calls").fetchone() == (1,)


def test_doctor_closes_orphans_and_says_how_many(tmp_path: Path) -> None:
    """`doctor` closes pending rows older than capture.abandoned_after_s and reports the
    count and the cost now counted, in text and in --json; a second run finds none."""
    db = tmp_path / "ledger.db"

    async def seed() -> None:
        async with SQLiteLedger(db) as ledger:
            now = time.time()
            await ledger.upsert_calls([pending("dead", now - 601), pending("live", now - 5)])

    asyncio.run(seed())
    result = CliRunner().invoke(main, ["doctor", "--db", str(db)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    ledger_line = next(line for line in result.stdout.splitlines() if " ledger " in line)
    assert "closed 1 call(s) left pending over 600 s by dead processes" in ledger_line
    assert "$0.0025 now counted" in ledger_line

    again = CliRunner().invoke(main, ["doctor", "--db", str(db), "--json"])
    checks = {check["name"]: check for check in json.loads(again.stdout)["checks"]}
    assert checks["ledger"]["facts"]["orphans_closed"] == 0
    with sqlite3.connect(db) as connection:
        rows = dict(connection.execute("SELECT id, outcome FROM calls").fetchall())
    assert rows == {"dead": "abandoned", "live": "pending"}


KILLED_MID_CALL = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from agent_routing.capture import begin_call, enable_capture
    from agent_routing.config import Settings

    db, call_id, reservation_id = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    handle = enable_capture(db, settings=Settings())
    begin_call(
        model="gpt-4o-mini", messages={messages!r}, call_id=call_id, kind="utility",
        conversation_id="conv-killed", reservation_id=reservation_id,
    )
    assert handle.flush(30)
    print("opened", flush=True)
    time.sleep(600)
    """
).format(messages=MESSAGES)


@pytest.mark.slow
def test_next_process_closes_the_call_of_a_sigkilled_one(tmp_path: Path) -> None:
    """A real process opens a call (capture `begin_call`, flushed) and is SIGKILLed. The
    next writer to open the ledger closes that row as abandoned, priced at its stored unit
    prices; budgets then count exactly its cost (buckets and per-conversation sums alike),
    its reservation no longer counts, a younger pending row is left alone, and a late
    provider usage event still wins."""
    db = tmp_path / "ledger.db"
    after_s = 3.0
    settings = Settings(
        budgets=[
            BudgetConfig(scope="daily", limit_usd=5),
            BudgetConfig(scope="conversation", limit_usd=1),
        ]
    )

    async def reserve() -> tuple[str, float]:
        async with SQLiteLedger(db) as ledger:
            verdict = await Budgets(ledger, settings).check(
                model="gpt-4o-mini", conversation_id="conv-killed", input_tokens=50
            )
        assert verdict.reservation_id is not None
        assert verdict.estimated_cost_usd is not None
        return verdict.reservation_id, verdict.estimated_cost_usd

    reservation_id, held = asyncio.run(reserve())
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_MID_CALL, str(db), "killed-call", reservation_id],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "opened", child.stderr and child.stderr.read()
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()

    async def spend() -> dict[str, float | None]:
        async with SQLiteLedger(db) as ledger:
            statuses = await Budgets(ledger, settings).status("conv-killed")
        return {status.key: status.spent_usd for status in statuses}

    async def get(call_id: str) -> CallRecord | None:
        async with SQLiteLedger(db) as ledger:
            return await ledger.get_call(call_id)

    dead = asyncio.run(get("killed-call"))
    assert dead is not None
    assert dead.outcome is Outcome.PENDING
    assert dead.prices is not None
    assert dead.usage is not None
    assert asyncio.run(spend()) == {
        "daily:*": pytest.approx(held),
        "conversation:*": pytest.approx(held),
    }  # while pending, only the reservation counts

    time.sleep(max(0.0, dead.started_at + after_s + 0.05 - time.time()))
    young = pending("young", time.time(), model="gpt-4o-mini")
    writer = LedgerWriter(db, FAST, abandoned_after_s=after_s)
    writer.submit(young)  # the first record starts the thread: it opens, then sweeps
    assert writer.flush(timeout=30)
    assert writer.stats().orphans_closed == 1

    closed = asyncio.run(get("killed-call"))
    assert closed is not None
    assert closed.outcome is Outcome.ABANDONED
    assert closed.extra["closed_by"] == CLOSED_BY
    assert closed.ended_at is not None
    assert closed.ended_at >= dead.started_at + after_s
    assert closed.usage == Usage(input_tokens=count_message_tokens(MESSAGES, "gpt-4o-mini"))
    expected = closed.usage.input_tokens * dead.prices.input
    assert closed.cost_usd == pytest.approx(expected)
    assert expected > 0
    still = asyncio.run(get("young"))
    assert still is not None
    assert still.outcome is Outcome.PENDING
    assert asyncio.run(spend()) == {
        "daily:*": pytest.approx(expected),
        "conversation:*": pytest.approx(expected),
    }

    late = dataclasses.replace(
        closed,
        outcome=Outcome.OK,
        usage=Usage(input_tokens=closed.usage.input_tokens, output_tokens=120),
        usage_source=UsageSource.PROVIDER,
        cost_usd=expected + 120 * dead.prices.output,
        extra={},
    )
    writer.submit(late)
    assert writer.flush(timeout=30)
    writer.close(timeout=10)
    final = asyncio.run(get("killed-call"))
    assert final is not None
    assert (final.outcome, final.usage_source) == (Outcome.OK, UsageSource.PROVIDER)
    assert final.cost_usd == pytest.approx(late.cost_usd)
    assert asyncio.run(spend())["daily:*"] == pytest.approx(late.cost_usd)
    buckets, calls = bucket_total(db)
    assert buckets == pytest.approx(calls)
