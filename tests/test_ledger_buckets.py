"""Spend buckets: trigger-kept sums always equal the sum over calls, for any event history."""

from __future__ import annotations

import random
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite
import pytest

from agent_routing.ledger import SpendWindow, SQLiteLedger
from agent_routing.ledger.merge import UPSERT_CALL_SQL
from agent_routing.ledger.periods import day_bounds, month_bounds, resolve_timezone
from agent_routing.ledger.queries import bucket_range
from agent_routing.ledger.rows import call_to_row
from agent_routing.ledger.sqlite.migrations import MIGRATIONS, m008_price_version, migrate
from agent_routing.records import CallRecord, Outcome, Usage, UsageSource

START = datetime(2026, 3, 30, 18, 0, tzinfo=UTC).timestamp()  # spans a month end in Asia
MODELS = ("gpt-4o", "gpt-4o-mini", "claude-3-5-haiku-20241022")
ZONES = ("UTC", "Asia/Kathmandu", "America/St_Johns", "Asia/Tokyo")  # +5:45, -2:30, +9


def random_history(seed: int, calls: int = 300) -> list[CallRecord]:
    """Open/end/provider events of many calls, shuffled and partly repeated: costs change,
    outcomes move from pending to final, start times move earlier across buckets."""
    rng = random.Random(seed)
    events: list[CallRecord] = []
    for index in range(calls):
        call_id = f"call-{index}"
        model = rng.choice(MODELS)
        started = START + rng.uniform(0, 3 * 86400)
        estimate = round(rng.uniform(0, 0.01), 6)
        events.append(
            CallRecord(call_id, started + rng.uniform(0, 1800), model, usage=Usage(100),
                       cost_usd=estimate / 2)
        )  # fmt: skip
        events.append(
            CallRecord(call_id, started, model, outcome=rng.choice([Outcome.OK, Outcome.ERROR]),
                       usage=Usage(100, 10), cost_usd=rng.choice([estimate, None]))
        )  # fmt: skip
        if rng.random() < 0.5:
            events.append(
                CallRecord(call_id, started + 5, model, outcome=Outcome.OK,
                           usage=Usage(95, 12), usage_source=UsageSource.PROVIDER,
                           cost_usd=round(rng.uniform(0, 0.01), 6))
            )  # fmt: skip
    rng.shuffle(events)
    events += rng.sample(events, len(events) // 5)  # repeats
    return events


def raw_sum(path: Path, window: SpendWindow) -> float:
    """The spend of a window summed over call rows directly (the reference)."""
    sql = "SELECT COALESCE(SUM(cost_usd), 0) FROM calls WHERE outcome != 'pending'"
    sql += " AND started_at >= ? AND started_at < ?"
    params: list[object] = [window.since, window.until]
    if window.model:
        sql += " AND model = ?"
        params.append(window.model)
    with sqlite3.connect(path) as db:
        return float(db.execute(sql, params).fetchone()[0])


def windows() -> list[SpendWindow]:
    out = []
    for zone_name in ZONES:
        zone = resolve_timezone(zone_name)
        for offset in (0, 86400, 2 * 86400):
            since, until = day_bounds(START + offset, zone)
            out += [SpendWindow(since, until), SpendWindow(since, until, model="gpt-4o")]
        since, until = month_bounds(START, zone)
        out.append(SpendWindow(since, until, model="gpt-4o-mini"))
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_bucket_sums_match_call_sums(tmp_path: Path, seed: int) -> None:
    """After a shuffled, repeated history of events, every day and month window in zones
    with 15/30/45-minute offsets has the same spend from buckets as from the calls."""
    path = tmp_path / "ledger.db"
    history = random_history(seed)
    async with SQLiteLedger(path) as ledger:
        for start in range(0, len(history), 37):
            await ledger.upsert_calls(history[start : start + 37])
        for window in windows():
            assert bucket_range(window) is not None
            assert await ledger.spent_usd(window, now=START) == pytest.approx(
                raw_sum(path, window), abs=1e-12
            )


async def test_migration_backfills_buckets_from_existing_calls(tmp_path: Path) -> None:
    """A ledger written before the buckets existed gets them filled from its calls."""
    path = tmp_path / "ledger.db"
    history = random_history(7, calls=60)
    async with aiosqlite.connect(path, isolation_level=None) as db:
        # The schema before m006_spend_buckets, with the columns today's rows carry (m008).
        await migrate(db, [*MIGRATIONS[:5], m008_price_version])
        await db.execute("BEGIN IMMEDIATE")
        await db.executemany(UPSERT_CALL_SQL, [call_to_row(record) for record in history])
        await db.execute("COMMIT")
        tables = {row[0] for row in await db.execute_fetchall("SELECT name FROM sqlite_master")}
        assert "spend_buckets" not in tables
    async with SQLiteLedger(path) as ledger:  # applies m006, backfilling
        for window in windows():
            assert await ledger.spent_usd(window, now=START) == pytest.approx(
                raw_sum(path, window), abs=1e-12
            )
        assert await ledger.spent_usd(windows()[0], now=START) > 0


def test_only_whole_bucket_windows_use_buckets() -> None:
    """Day windows use buckets; open, unaligned or per-conversation windows sum the calls."""
    midnight = datetime(2026, 3, 10, tzinfo=UTC).timestamp()
    assert bucket_range(SpendWindow(midnight, midnight + 86400)) == (
        int(midnight // 900),
        int(midnight // 900) + 96,
    )
    assert bucket_range(SpendWindow(midnight + 1, midnight + 86400)) is None
    assert bucket_range(SpendWindow(midnight, None)) is None
    assert bucket_range(SpendWindow(midnight, midnight + 900, conversation_id="c")) is None
