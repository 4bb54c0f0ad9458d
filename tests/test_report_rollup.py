"""The report rollup: kept exact by triggers, backfilled by its migration, read for whole
hours with raw edges, and its percentiles within the stated bound."""

from __future__ import annotations

import dataclasses
import math
import random
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from backend_sql import fetch
from report_support import random_calls, same_report

from agent_routing.ledger import Ledger
from agent_routing.ledger.report_rollup import (
    PERCENTILE_ERROR,
    backfill_sql,
    histogram_percentile,
    rollup_source,
)
from agent_routing.ledger.report_sql import FAR, SUM_FIELDS
from agent_routing.ledger.rows import CALL_COLUMNS, call_to_row
from agent_routing.ledger.sqlite import SQLiteLedger
from agent_routing.ledger.sqlite.migrations import MIGRATIONS, migrate
from agent_routing.ledger.urls import parse_ledger_url
from agent_routing.records import Outcome, Usage
from agent_routing.reports import (
    _split_hours,
    build_report,
    build_report_from_calls,
    build_report_in_python,
    prepare_query,
)

KEY = "dim, hour, value, bucket"


def execute(url: str, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
    """Run write statements (`?` placeholders) on the ledger at `url`, committed."""
    target = parse_ledger_url(url)
    if target.path is not None:
        with sqlite3.connect(target.path) as db:
            for sql, params in statements:
                db.execute(sql, params)
        return
    import psycopg

    from agent_routing.ledger.postgres import pg_sql

    with psycopg.connect(target.dsn, autocommit=True) as conn:
        for sql, params in statements:
            conn.execute(pg_sql(sql), list(params))


def rollup_rows(url: str) -> dict[tuple[Any, ...], list[float]]:
    """The stored rollup, rows with calls left out (what a subtraction emptied)."""
    dialect = "sqlite" if parse_ledger_url(url).path is not None else "postgresql"
    sums = ", ".join(f"SUM({name})" for name in SUM_FIELDS)
    rows = fetch(
        url,
        f"SELECT {KEY}, {sums} FROM {rollup_source(dialect)} AS r GROUP BY {KEY} "
        "HAVING SUM(calls) <> 0",
    )
    return {tuple(row[:4]): [float(v) for v in row[4:]] for row in rows}


def aggregate_rows(url: str) -> dict[tuple[Any, ...], list[float]]:
    """The rollup as its backfill computes it from the calls now stored."""
    dialect = "sqlite" if parse_ledger_url(url).path is not None else "postgresql"
    found: dict[tuple[Any, ...], list[float]] = {}
    for statement in backfill_sql(dialect):
        select = statement[statement.index("SELECT") :]
        for row in fetch(url, select):
            sums = [float(v) for v in row[4:]]
            found[tuple(row[:4])] = sums + [0.0] * (len(SUM_FIELDS) - len(sums))
    return found


def task_last_rows(url: str) -> dict[str, tuple[Any, ...]]:
    """report_task_last as stored: conversation -> (started_at, id, outcome); conversations
    without a finished call (NULLs) left out."""
    rows = fetch(url, "SELECT conversation_id, started_at, id, outcome FROM report_task_last")
    return {str(row[0]): tuple(row[1:]) for row in rows if row[1] is not None}


def wanted_task_last(url: str) -> dict[str, tuple[Any, ...]]:
    """Each conversation's last finished call (greatest started_at, then id), from the calls."""
    found: dict[str, tuple[Any, ...]] = {}
    rows = fetch(
        url,
        "SELECT conversation_id, started_at, id, outcome FROM calls "
        "WHERE conversation_id IS NOT NULL AND outcome <> 'pending'",
    )
    for conversation, started_at, call_id, outcome in rows:
        current = found.get(str(conversation))
        if current is None or (started_at, call_id) > current[:2]:
            found[str(conversation)] = (started_at, call_id, outcome)
    return found


def assert_same(stored: dict[tuple[Any, ...], list[float]], wanted: dict[Any, Any]) -> None:
    assert stored.keys() == wanted.keys()
    for key, values in stored.items():
        assert all(
            math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
            for a, b in zip(values, wanted[key], strict=True)
        ), key


async def test_rollup_equals_the_calls_after_inserts_merges_updates_and_deletes(
    backend_ledger: Ledger, ledger_url: str
) -> None:
    """After random inserts, merges (pending then finished, usage corrected), direct
    updates and deletes, the rollup equals the aggregate of the calls, on both backends."""
    calls, _ = random_calls(3, 300)
    rng = random.Random(5)
    pending = [
        dataclasses.replace(c, outcome=Outcome.PENDING, usage=None, cost_usd=None, latency_ms=None)
        for c in calls
    ]
    await backend_ledger.write_batch(calls=pending[:200])
    await backend_ledger.write_batch(calls=calls[:150] + pending[200:])  # finish some
    corrected = [
        dataclasses.replace(c, usage=Usage(9_000, 900), cost_usd=0.5, latency_ms=42.0)
        for c in calls[100:120]
        if c.outcome != Outcome.PENDING
    ]
    await backend_ledger.write_batch(calls=corrected + calls[150:])
    assert_same(rollup_rows(ledger_url), aggregate_rows(ledger_url))
    assert task_last_rows(ledger_url) == wanted_task_last(ledger_url)
    ids = [c.id for c in calls]
    statements: list[tuple[str, Sequence[Any]]] = []
    for call_id in rng.sample(ids, 40):
        statements.append(
            (
                "UPDATE calls SET model = ?, started_at = started_at + ?, latency_ms = ?, "
                "tool = NULL, cost_usd = ? WHERE id = ?",
                ("moved", rng.choice([0, 3600, 86_400]), rng.random() * 9000, None, call_id),
            )
        )
    for call_id in rng.sample(ids, 10):  # to another conversation, or back to pending
        statements.append(("UPDATE calls SET conversation_id = ? WHERE id = ?", ("c9", call_id)))
        statements.append(("UPDATE calls SET outcome = 'pending' WHERE id = ?", (ids[-1],)))
    for call_id in rng.sample(ids, 30):
        statements.append(("DELETE FROM calls WHERE id = ?", (call_id,)))
    last = wanted_task_last(ledger_url)  # the last finished call of a conversation deleted
    statements += [("DELETE FROM calls WHERE id = ?", (last[c][1],)) for c in ("c1", "c2")]
    statements.append(("UPDATE calls SET extra = '{}' WHERE id = ?", (ids[0],)))  # no change
    postgresql = parse_ledger_url(ledger_url).path is None
    if postgresql:  # every written batch folded its deltas into the rollup
        assert fetch(ledger_url, "SELECT COUNT(*) FROM report_rollup_delta") == [(0,)]
    execute(ledger_url, statements)
    assert_same(rollup_rows(ledger_url), aggregate_rows(ledger_url))
    if not postgresql:  # SQLite's triggers keep it; PostgreSQL's fold does (below)
        assert task_last_rows(ledger_url) == wanted_task_last(ledger_url)
    for since, until in ((None, None), ("2026-03-12", "2026-03-15")):  # deltas not folded
        wanted = prepare_query(since=since, until=until, top=5)
        assert same_report(
            await build_report(backend_ledger, wanted),
            await build_report_in_python(backend_ledger, wanted),
            percentile_error=PERCENTILE_ERROR,
        )
    if postgresql:  # direct SQL left deltas; the next batch folds them, totals unchanged
        assert fetch(ledger_url, "SELECT COUNT(*) FROM report_rollup_delta")[0][0] > 0
        await backend_ledger.write_batch(calls=calls[:1])
        assert fetch(ledger_url, "SELECT COUNT(*) FROM report_rollup_delta") == [(0,)]
        assert_same(rollup_rows(ledger_url), aggregate_rows(ledger_url))
        assert task_last_rows(ledger_url) == wanted_task_last(ledger_url)
    everything = await build_report(backend_ledger, prepare_query(top=5))
    reference = await build_report_in_python(backend_ledger, prepare_query(top=5))
    assert same_report(everything, reference, percentile_error=PERCENTILE_ERROR)


async def test_sqlite_migration_backfills_the_calls_already_stored(tmp_path: Path) -> None:
    """m011 and m012 run on a ledger that already holds calls fill the rollup and each
    conversation's last finished call from them, and the triggers keep them from then on."""
    path = tmp_path / "old.db"
    calls, _ = random_calls(11, 200)
    db = sqlite3.connect(path, isolation_level=None)
    import aiosqlite

    async with aiosqlite.connect(path, isolation_level=None) as conn:
        await migrate(conn, [m for m in MIGRATIONS if m.__name__ < "m011"])
    columns = ", ".join(CALL_COLUMNS)
    marks = ", ".join("?" for _ in CALL_COLUMNS)
    db.executemany(
        f"INSERT INTO calls ({columns}) VALUES ({marks})", [call_to_row(c) for c in calls]
    )
    assert not db.execute("SELECT name FROM sqlite_master WHERE name = 'report_rollup'").fetchall()
    db.close()
    async with SQLiteLedger(path) as ledger:
        assert_same(rollup_rows(str(path)), aggregate_rows(str(path)))
        assert len(rollup_rows(str(path))) > 100
        assert task_last_rows(str(path)) == wanted_task_last(str(path))
        await ledger.write_batch(calls=[dataclasses.replace(calls[0], outcome=Outcome.OK)])
        assert task_last_rows(str(path)) == wanted_task_last(str(path))
        report = await build_report(ledger, prepare_query(by="tool"))
        assert same_report(
            report,
            await build_report_in_python(ledger, prepare_query(by="tool")),
            percentile_error=PERCENTILE_ERROR,
        )


async def test_postgres_migration_backfills_the_calls_already_stored(pg_server: Any) -> None:
    """On PostgreSQL, m011 and m012 fill the rollup and the last finished calls from the
    calls stored before them."""
    import psycopg

    from agent_routing.ledger.postgres.migrations import PG_MIGRATIONS, pg_migrate

    url = str(pg_server.create_database())
    target = parse_ledger_url(url)
    calls, _ = random_calls(12, 200)
    async with await psycopg.AsyncConnection.connect(target.dsn, autocommit=True) as conn:
        await pg_migrate(conn, [m for m in PG_MIGRATIONS if m[0] < "m011"])
        columns = ", ".join(CALL_COLUMNS)
        marks = ", ".join("%s" for _ in CALL_COLUMNS)
        async with conn.cursor() as cursor:
            await cursor.executemany(
                f"INSERT INTO calls ({columns}) VALUES ({marks})",
                [call_to_row(c) for c in calls],
            )
        assert await pg_migrate(conn) == ["m011_report_rollup", "m012_report_task_last"]
    assert len(rollup_rows(url)) > 100
    assert_same(rollup_rows(url), aggregate_rows(url))
    assert len(task_last_rows(url)) == 6
    assert task_last_rows(url) == wanted_task_last(url)


def test_ranges_split_into_whole_hours_and_raw_edges() -> None:
    """Whole UTC hours go to the rollup, the parts of an hour at either end to the calls;
    a range inside one hour is all raw; an open end is an open hour range."""
    hour = 3600.0
    assert _split_hours([("", None, None)]) == ([("", -FAR, FAR)], [])
    assert _split_hours([("", 10 * hour, 20 * hour)]) == ([("", 10, 20)], [])
    assert _split_hours([("d", 10.5 * hour, 20.25 * hour)]) == (
        [("d", 11, 20)],
        [("d", 10.5 * hour, 11 * hour), ("d", 20 * hour, 20.25 * hour)],
    )
    assert _split_hours([("", 10.2 * hour, 10.7 * hour)]) == ([], [("", 10.2 * hour, 10.7 * hour)])
    assert _split_hours([("", None, 5.5 * hour)]) == ([("", -FAR, 5)], [("", 5 * hour, 5.5 * hour)])


@pytest.mark.parametrize("tz", ["Asia/Kathmandu", "America/St_Johns", "Europe/Paris"])
async def test_reports_in_part_hour_zones_and_cut_ranges(backend_ledger: Ledger, tz: str) -> None:
    """By day in zones whose midnight is inside a UTC hour (+5:45, -3:30) or on one (DST),
    and for ranges cut inside an hour, the rollup report equals the Python one (sums exact,
    percentiles within the bound), on both backends."""
    calls, decisions = random_calls(21, 400)
    await backend_ledger.write_batch(calls=calls, decisions=decisions)
    for since, until in (
        (None, None),
        ("2026-03-11T05:20:00", "2026-03-15T17:50:00"),
        ("2026-03-12T03:10:00", "2026-03-12T03:55:00"),  # inside one hour: all raw
    ):
        for by in ("day", "conversation", "model"):
            wanted = prepare_query(by=by, tz=tz, since=since, until=until, top=4)
            assert same_report(
                await build_report(backend_ledger, wanted),
                await build_report_in_python(backend_ledger, wanted),
                percentile_error=PERCENTILE_ERROR,
            ), (tz, since, by)


async def test_range_inside_one_hour_has_exact_percentiles(backend_ledger: Ledger) -> None:
    """A range with no whole hour is read from the calls alone: percentiles are exact."""
    calls, _ = random_calls(8, 300)
    start = datetime(2026, 3, 10, 10, 5, tzinfo=UTC).timestamp()
    calls = [dataclasses.replace(c, started_at=start + 300 + i * 10) for i, c in enumerate(calls)]
    await backend_ledger.write_batch(calls=calls)
    since = datetime.fromtimestamp(start, UTC).isoformat()
    until = datetime.fromtimestamp(start + 1800, UTC).isoformat()
    wanted = prepare_query(since=since, until=until)
    report = await build_report(backend_ledger, wanted)
    assert report.totals.calls == 150
    assert report.totals.latency_p50_ms is not None
    assert same_report(report, await build_report_in_python(backend_ledger, wanted))


async def test_calls_only_path_still_equals_python(backend_ledger: Ledger) -> None:
    """build_report_from_calls (no rollup, the bench's comparison) is exact, percentiles too."""
    assert isinstance(backend_ledger, SQLiteLedger) or hasattr(backend_ledger, "report_rows")
    calls, decisions = random_calls(9, 300)
    await backend_ledger.write_batch(calls=calls, decisions=decisions)
    for by in ("model", "day"):
        wanted = prepare_query(by=by, tz="Asia/Kolkata")
        assert same_report(
            await build_report_from_calls(backend_ledger, wanted),  # type: ignore[arg-type]
            await build_report_in_python(backend_ledger, wanted),
        )


def test_histogram_percentiles_are_within_the_stated_bound() -> None:
    """On skewed random latencies from 0.01 ms to minutes, p50/p95/p99 from the histogram
    are within PERCENTILE_ERROR (9.05 %) of the exact interpolated percentile."""
    from agent_routing.ledger.report_rollup import BUCKETS_PER_OCTAVE

    rng = random.Random(1)
    assert pytest.approx(2 ** (1 / 8) - 1) == PERCENTILE_ERROR
    worst = 0.0
    for _ in range(300):
        values = [rng.lognormvariate(rng.uniform(-3, 11), rng.uniform(0.1, 2.5))]
        values += [rng.lognormvariate(6, 1) for _ in range(rng.randrange(0, 60))]
        histogram: dict[int, int] = {}
        for value in values:
            bucket = math.floor(BUCKETS_PER_OCTAVE * math.log2(max(value, 0.001)))
            histogram[bucket] = histogram.get(bucket, 0) + 1
        ordered = sorted(values)
        for fraction in (0.5, 0.95, 0.99):
            position = (len(ordered) - 1) * fraction
            low = math.floor(position)
            high = min(low + 1, len(ordered) - 1)
            exact = ordered[low] + (ordered[high] - ordered[low]) * (position - low)
            estimate = histogram_percentile(histogram, fraction)
            assert estimate is not None
            worst = max(worst, abs(estimate - exact) / exact)
    assert worst <= PERCENTILE_ERROR
    assert worst > PERCENTILE_ERROR / 2  # the bound is nearly reached: not a loose check
    assert histogram_percentile({-1000: 5}, 0.5) is None


async def test_rollup_triggers_work_without_sqlites_math_functions(tmp_path: Path) -> None:
    """On a SQLite built without `log2`/`floor`, the functions the ledger defines give the
    triggers exactly the rollup SQLite's own would (forced here over the built-ins)."""
    from agent_routing.ledger.sqlite import ensure_math_functions_sync

    calls, _ = random_calls(5, 300)
    calls = [
        dataclasses.replace(c, latency_ms=latency)
        for c, latency in zip(calls, [0.0004, 0.5, 1.0, 3.7, 250.0, None] * 50, strict=True)
    ]
    columns = ", ".join(CALL_COLUMNS)
    marks = ", ".join("?" for _ in CALL_COLUMNS)
    stored = {}
    for name, force in (("builtin", False), ("python", True)):
        path = tmp_path / f"{name}.db"
        async with SQLiteLedger(path):
            pass  # created and migrated
        db = sqlite3.connect(path, isolation_level=None)
        assert ensure_math_functions_sync(db, force=force) is force
        db.executemany(
            f"INSERT INTO calls ({columns}) VALUES ({marks})", [call_to_row(c) for c in calls]
        )
        db.close()
        stored[name] = rollup_rows(str(path))
    assert len(stored["builtin"]) > 50
    assert_same(stored["python"], stored["builtin"])
