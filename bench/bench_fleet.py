"""Fleet benchmark: SQLite beside PostgreSQL in one run.

Run: `.venv/bin/python bench/bench_fleet.py` (`--quick` for a smoke run, `--calls N` to
change the report size, default 1,000,000; `--reports-only` for part 3 alone,
`--writers-only` for part 1 alone, `--calls-path` to time the calls-only SQL path too).

1. Writer throughput: 8 writer processes submit realistic calls through `get_writer(url)`
   (the registry, as capture does) into one ledger; records/s = records / (last flush -
   first submit); the row count is checked (lost = submitted - stored). Measured with the
   report rollup triggers and without them (dropped: the write path before them).
2. Budget check latency: `Budgets.check()` + `release()` under a daily block budget, p50/p99.
3. Report latency on a ledger of N calls over 30 days, SQLite beside PostgreSQL: every
   breakdown of the whole ledger (`build_report`, best of 3; by conversation lists the top
   10 and sums the rest), the last 7 days by model and by conversation, and by day in a
   half-hour zone (Asia/Kolkata: the part-hours at each local midnight are read from the
   calls); the time migration m012 takes on that ledger; with `--calls-path`, the previous
   SQL path too (every call aggregated in the database, `build_report_from_calls`); then
   the path before that (every call loaded into Python and summarised), measured on a
   100,000-call ledger since it would take minutes at 1,000,000.

The PostgreSQL server is a throwaway one (tests/pgserver.py) started with the durability
defaults (fsync and synchronous_commit on), on the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from pgserver import PostgresServer

from agent_routing.budgets import Budgets
from agent_routing.config import BudgetConfig, LedgerSettings, Settings
from agent_routing.ledger import get_writer, ledger_for
from agent_routing.ledger.report_rollup import (
    TASK_LAST_TRIGGERS,
    backfill_sql,
    task_last_backfill_sql,
    task_last_sqlite_statements,
)
from agent_routing.ledger.report_rollup import sqlite_statements as rollup_statements
from agent_routing.ledger.rows import CALL_COLUMNS, call_to_row
from agent_routing.ledger.urls import parse_ledger_url
from agent_routing.records import CallRecord, Outcome, UnitPrices, Usage, UsageSource
from agent_routing.reports import (
    build_report,
    build_report_from_calls,
    build_report_in_python,
    prepare_query,
)

PRICES = UnitPrices(input=1.5e-7, output=6e-7, cache_read=7.5e-8, model_key="gpt-4o-mini")
MODELS = ["gpt-4o-mini", "gpt-4o", "claude-3-5-haiku", "gemini/gemini-2.0-flash", "local-llm"]
OUTCOMES = [Outcome.OK] * 90 + [Outcome.ERROR] * 4 + [Outcome.TIMEOUT] * 2 + [Outcome.BLOCKED] * 2
OUTCOMES += [Outcome.ABANDONED, Outcome.RATE_LIMITED]


def make_record(tag: str, index: int, started_at: float | None = None) -> CallRecord:
    """A call record as the capture layer writes it (usage, prices, cost, context)."""
    usage = Usage(input_tokens=1800 + index % 400, output_tokens=220, cached_read_tokens=1024)
    now = time.time() if started_at is None else started_at
    return CallRecord(
        id=f"{tag}-{index:08d}",
        started_at=now,
        model="gpt-4o-mini",
        provider="openai",
        call_kind="chat",
        conversation_id=f"{tag}-conv-{index // 50}",
        agent_no=0,
        tier="cheap",
        ended_at=now + 0.85,
        latency_ms=850.0,
        outcome=Outcome.OK,
        usage=usage,
        usage_source=UsageSource.PROVIDER,
        prices=PRICES,
        cost_usd=usage.input_tokens * PRICES.input + usage.output_tokens * PRICES.output,
        extra={"litellm_call_id": f"{tag}-{index}"},
    )


def varied_record(rng: random.Random, index: int, start: float, span_s: float) -> CallRecord:
    """A call of a busy fleet: several models, tools, tiers, outcomes, conversations. A
    conversation is 50 calls in a session of about an hour that starts at a random time of
    the span (as an agent's task runs), 20,000 conversations per 1,000,000 calls."""
    model = rng.choice(MODELS)
    outcome = rng.choice(OUTCOMES)
    usage = Usage(rng.randrange(200, 8000), rng.randrange(0, 1500), cached_read_tokens=0)
    conversation = index // 50
    session = random.Random(conversation).random() * (span_s - 3600)
    at = start + session + (index % 50) * 72 + rng.random() * 72
    return CallRecord(
        id=f"r-{index:08d}",
        started_at=at,
        model=model,
        provider="openai",
        call_kind=rng.choice(["chat", "chat", "utility", "memory", "embedding"]),
        conversation_id=f"conv-{conversation}",
        agent_no=rng.randrange(3),
        tool=rng.choice([None, "code_execution", "search_engine", "memory_load"]),
        decision_id=None,
        tier=rng.choice(["cheap", "strong"]),
        attempt=1 if rng.random() < 0.03 else 0,
        ended_at=at + 1,
        latency_ms=rng.lognormvariate(6.5, 0.6),
        outcome=outcome,
        usage=usage,
        usage_source=UsageSource.PROVIDER,
        prices=None if model == "local-llm" else PRICES,
        cost_usd=None if model == "local-llm" else usage.input_tokens * 1.5e-7,
        tokens_saved=rng.choice([None, 0, 300]),
        usd_saved=None,
    )


# --- 1. writer throughput --------------------------------------------------------------


def writer_process(url: str, tag: str, count: int, barrier: Any, results: Any) -> None:
    """One agent process: wait for the start, submit `count` records, flush, report times."""
    writer = get_writer(url, LedgerSettings())
    records = [make_record(tag, index) for index in range(count)]
    barrier.wait()
    started = time.time()
    for record in records:
        writer.submit(record)
    flushed = writer.flush(timeout=600)
    results.put((started, time.time(), flushed))


def count_calls(url: str) -> int:
    target = parse_ledger_url(url)
    if target.path is not None:
        with sqlite3.connect(target.path) as db:
            return int(db.execute("SELECT COUNT(*) FROM calls").fetchone()[0])
    import psycopg

    with psycopg.connect(target.dsn) as conn:
        row = conn.execute("SELECT COUNT(*) FROM calls").fetchone()
        return int(row[0]) if row else 0


def open_and_close(url: str) -> None:
    async def run() -> None:
        ledger = ledger_for(path=url)
        await ledger.open()
        await ledger.close()

    asyncio.run(run())


def drop_rollup_triggers(url: str) -> None:
    """Migrate, then drop the report triggers (rollup, last finished call per conversation):
    the write path as before them."""
    open_and_close(url)
    target = parse_ledger_url(url)
    if target.path is not None:
        with sqlite3.connect(target.path) as db:
            for name in (
                "calls_rollup_insert",
                "calls_rollup_update",
                "calls_rollup_delete",
                *TASK_LAST_TRIGGERS,
            ):
                db.execute(f"DROP TRIGGER {name}")
        return
    import psycopg

    with psycopg.connect(target.dsn, autocommit=True) as conn:
        conn.execute("DROP TRIGGER calls_rollup ON calls")


def measure_writers(url: str, processes: int, per_process: int) -> dict[str, Any]:
    open_and_close(url)  # create and migrate first, as a deployed ledger would be
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes)
    results = context.Queue()
    workers = [
        context.Process(target=writer_process, args=(url, f"w{n}", per_process, barrier, results))
        for n in range(processes)
    ]
    for worker in workers:
        worker.start()
    times = [results.get(timeout=900) for _ in workers]
    for worker in workers:
        worker.join()
    submitted = processes * per_process
    elapsed = max(end for _, end, _ in times) - min(start for start, _, _ in times)
    return {
        "records": submitted,
        "per_second": submitted / elapsed,
        "lost": submitted - count_calls(url),
        "all_flushed": all(flushed for _, _, flushed in times),
    }


# --- 2. budget check latency -------------------------------------------------------------


async def measure_check_latency(url: str, count: int) -> dict[str, float]:
    settings = Settings(budgets=[BudgetConfig(scope="daily", limit_usd=1e9, enforcement="block")])
    ledger = ledger_for(path=url)
    await ledger.open()
    try:
        budgets = Budgets(ledger, settings, estimate_cost=lambda *_: 0.001)
        durations = []
        for _ in range(count):
            before = time.perf_counter()
            verdict = await budgets.check(
                model="gpt-4o-mini", conversation_id="bench", input_tokens=2000
            )
            durations.append((time.perf_counter() - before) * 1000)
            assert verdict.reservation_id is not None
            await budgets.release(verdict.reservation_id)
    finally:
        await ledger.close()
    durations.sort()
    return {"p50_ms": statistics.median(durations), "p99_ms": durations[int(count * 0.99) - 1]}


# --- 3. reports at scale -------------------------------------------------------------------


def fill(url: str, calls: int, seed: int = 1) -> None:
    """Store `calls` varied calls over the last 30 days (bulk load with the triggers off,
    then the spend buckets and the report rollup filled as the migrations backfill them)."""
    open_and_close(url)
    rng = random.Random(seed)
    start = time.time() - 30 * 86_400
    target = parse_ledger_url(url)
    columns = ", ".join(CALL_COLUMNS)
    if target.path is not None:
        from agent_routing.ledger.merge import UPSERT_CALL_SQL

        db = sqlite3.connect(target.path, isolation_level=None)
        db.execute("BEGIN IMMEDIATE")
        triggers = [
            t
            for t in rollup_statements() + task_last_sqlite_statements()
            if t.startswith("CREATE TRIGGER")
        ]
        for name in (
            "calls_rollup_insert",
            "calls_rollup_update",
            "calls_rollup_delete",
            *TASK_LAST_TRIGGERS,
        ):
            db.execute(f"DROP TRIGGER {name}")
        for first in range(0, calls, 50_000):
            rows = [
                call_to_row(varied_record(rng, i, start, 30 * 86_400))
                for i in range(first, min(calls, first + 50_000))
            ]
            db.executemany(UPSERT_CALL_SQL, rows)
        db.execute("DELETE FROM report_rollup")
        for statement in [*backfill_sql("sqlite"), task_last_backfill_sql(), *triggers]:
            db.execute(statement)
        db.execute("COMMIT")
        db.execute("ANALYZE")
        db.close()
        return
    import psycopg

    with psycopg.connect(target.dsn, autocommit=True) as conn:
        conn.execute("ALTER TABLE calls DISABLE TRIGGER calls_spend")
        conn.execute("ALTER TABLE calls DISABLE TRIGGER calls_rollup")
        with conn.cursor() as cursor, cursor.copy(f"COPY calls ({columns}) FROM STDIN") as copy:
            for index in range(calls):
                copy.write_row(call_to_row(varied_record(rng, index, start, 30 * 86_400)))
        conn.execute("ALTER TABLE calls ENABLE TRIGGER calls_spend")
        conn.execute("ALTER TABLE calls ENABLE TRIGGER calls_rollup")
        for statement in [*backfill_sql("postgresql"), task_last_backfill_sql()]:
            conn.execute(statement)
        conn.execute(
            "INSERT INTO spend_buckets (bucket, model, cost_usd) "
            "SELECT floor(started_at / 900)::bigint, model, SUM(cost_usd) FROM calls "
            "WHERE outcome <> 'pending' AND cost_usd IS NOT NULL GROUP BY 1, 2"
        )
        conn.execute("VACUUM ANALYZE calls")
        conn.execute("VACUUM ANALYZE report_rollup")
        conn.execute("VACUUM ANALYZE report_task_last")


def time_migration_m012(url: str) -> float:
    """Seconds migration m012 (report_task_last) takes on the ledger at `url`: undone,
    then applied again by opening the ledger."""
    target = parse_ledger_url(url)
    if target.path is not None:
        with sqlite3.connect(target.path) as db:
            for name in TASK_LAST_TRIGGERS:
                db.execute(f"DROP TRIGGER {name}")
            db.execute("DROP TABLE report_task_last")
            db.execute("DELETE FROM _routing_migrations WHERE name = 'm012_report_task_last'")
    else:
        import psycopg

        with psycopg.connect(target.dsn, autocommit=True) as conn:
            conn.execute("DROP TABLE report_task_last")
            conn.execute("DELETE FROM _routing_migrations WHERE name = 'm012_report_task_last'")
    before = time.perf_counter()
    open_and_close(url)
    return time.perf_counter() - before


async def time_report(
    url: str,
    by: str,
    *,
    python: bool = False,
    runs: int = 3,
    since: str | None = None,
    calls_only: bool = False,
    tz: str = "UTC",
) -> float:
    """Best of `runs` wall times (ms) of one report (whole ledger, or from `since`);
    `calls_only`: aggregated from the calls without the rollup (the previous SQL path)."""
    ledger = ledger_for(path=url)
    await ledger.open()
    try:
        best = float("inf")
        for _ in range(runs):
            gc.collect()
            before = time.perf_counter()
            builder: Any = build_report_in_python if python else build_report
            if calls_only:
                builder = build_report_from_calls
            report = await builder(ledger, prepare_query(by=by, since=since, tz=tz))
            best = min(best, (time.perf_counter() - before) * 1000)
            assert report.totals.calls > 0
    finally:
        await ledger.close()
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--calls", type=int, default=1_000_000, help="calls in the report ledger")
    parser.add_argument("--reports-only", action="store_true", help="only part 3")
    parser.add_argument(
        "--backend", choices=("sqlite", "postgresql"), help="only this backend (parts 1 and 2)"
    )
    parser.add_argument("--writers-only", action="store_true", help="only part 1")
    parser.add_argument(
        "--calls-path", action="store_true", help="also time the calls-only SQL path (slow)"
    )
    args = parser.parse_args(argv)
    per_process = 1_000 if args.quick else 10_000
    checks = 200 if args.quick else 2_000
    calls = 20_000 if args.quick else args.calls
    python_calls = 5_000 if args.quick else 100_000

    server = PostgresServer(fsync=True).start()
    directory = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    try:
        backends = {
            "sqlite": lambda name: str(directory / f"{name}.db"),
            "postgresql": server.create_database,
        }
        print(f"# 1. writer throughput: 8 processes x {per_process:,} records")
        for backend, new_url in () if args.reports_only else backends.items():
            if args.backend and backend != args.backend:
                continue
            for triggers in (True, False):
                url = new_url(f"w-{backend}-{triggers}")
                if not triggers:
                    drop_rollup_triggers(url)
                result = measure_writers(url, 8, per_process)
                print(
                    f"{backend:<11} {result['per_second']:>9,.0f} records/s  "
                    f"lost {result['lost']}  all flushed {result['all_flushed']}  "
                    f"({'with' if triggers else 'WITHOUT'} the report rollup triggers)"
                )
        if args.writers_only:
            return
        print(f"\n# 2. Budgets.check() + release(), daily block budget, {checks:,} checks")
        for backend, new_url in () if args.reports_only else backends.items():
            latency = asyncio.run(measure_check_latency(new_url(f"b-{backend}"), checks))
            print(f"{backend:<11} p50 {latency['p50_ms']:.2f} ms  p99 {latency['p99_ms']:.2f} ms")
        print(
            f"\n# 3. report latency (best of 3), {calls:,} calls over 30 days, "
            f"{calls // 50:,} conversations of 50 calls"
        )
        today = datetime.now(UTC).date()
        week = (today - timedelta(days=7)).isoformat()
        cases = [
            ("by model", "model", None, "UTC"),
            ("by kind", "kind", None, "UTC"),
            ("by tool", "tool", None, "UTC"),
            ("by tier", "tier", None, "UTC"),
            ("by day", "day", None, "UTC"),
            ("by conversation", "conversation", None, "UTC"),
            ("7 days by model", "model", week, "UTC"),
            ("7 days by conv.", "conversation", week, "UTC"),
            ("by day, Kolkata", "day", None, "Asia/Kolkata"),
        ]
        urls = {}
        for backend, new_url in backends.items():
            urls[backend] = new_url(f"r-{backend}")
            before = time.perf_counter()
            fill(urls[backend], calls)
            print(f"{backend} loaded in {time.perf_counter() - before:.0f} s", end="; ")
            print(f"migration m012 on it: {time_migration_m012(urls[backend]):.1f} s")
        print(f"  {'report':<17}" + "".join(f"{backend:>12}" for backend in urls))
        for label, by, since, tz in cases:
            figures = [
                asyncio.run(time_report(url, by, since=since, tz=tz)) for url in urls.values()
            ]
            line = f"  {label:<17}" + "".join(f"{ms:>9,.0f} ms" for ms in figures)
            if args.calls_path:
                raw = [
                    asyncio.run(time_report(u, by, since=since, tz=tz, calls_only=True, runs=1))
                    for u in urls.values()
                ]
                line += "   from the calls: " + " / ".join(f"{ms:,.0f} ms" for ms in raw)
            print(line)
        print(f"\n# previous code path (every call into Python), {python_calls:,} calls")
        for backend, new_url in backends.items():
            url = new_url(f"p-{backend}")
            fill(url, python_calls)
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            old = asyncio.run(time_report(url, "model", python=True, runs=1))
            rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            new = asyncio.run(time_report(url, "model"))
            print(
                f"{backend:<11} python: {old:,.0f} ms "
                f"(peak RSS +{(rss_after - rss_before) / 1024:.0f} MB)"
                f"  SQL: {new:,.0f} ms"
            )
    finally:
        server.stop()
        for path in directory.glob("*"):
            path.unlink()
        directory.rmdir()


if __name__ == "__main__":
    main()
