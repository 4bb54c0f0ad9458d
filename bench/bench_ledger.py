"""Ledger benchmark: writer throughput with 1 and 8 processes, and submit() latency.

Run: `.venv/bin/python bench/bench_ledger.py` (or `--quick` for a smoke run).

Each writer process submits realistic CallRecords through `get_writer()` into one shared
SQLite file, then flushes; throughput is records / (last flush - first submit) across all
processes, and the row count is checked afterwards (lost = submitted - stored). The
`synchronous=FULL` row and the Budgets.check() line show what an fsync per commit would
cost (see ledger/sqlite/_connection.py). submit() latency is measured on a running asyncio
event loop while the writer thread is busy writing.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from agent_routing.budgets import Budgets
from agent_routing.config import BudgetConfig, LedgerSettings, Settings
from agent_routing.ledger import LedgerWriter, SQLiteLedger
from agent_routing.records import CallRecord, Outcome, UnitPrices, Usage, UsageSource

PRICES = UnitPrices(input=1.5e-7, output=6e-7, cache_read=7.5e-8, model_key="gpt-4o-mini")


def make_record(tag: str, index: int) -> CallRecord:
    """A call record as the capture layer writes it (usage, prices, cost, context)."""
    usage = Usage(input_tokens=1800 + index % 400, output_tokens=220, cached_read_tokens=1024)
    return CallRecord(
        id=f"{tag}-{index:08d}",
        started_at=time.time(),
        model="gpt-4o-mini",
        provider="openai",
        call_kind="chat",
        conversation_id=f"{tag}-conv-{index // 50}",
        agent_no=0,
        tier="cheap",
        ended_at=time.time(),
        latency_ms=850.0,
        outcome=Outcome.OK,
        usage=usage,
        usage_source=UsageSource.PROVIDER,
        prices=PRICES,
        cost_usd=usage.input_tokens * PRICES.input + usage.output_tokens * PRICES.output,
        extra={"litellm_call_id": f"{tag}-{index}"},
    )


def writer_process(
    path: str, tag: str, count: int, synchronous: str, barrier: Any, results: Any
) -> None:
    """One agent process: wait for the start, submit `count` records, flush, report times."""
    settings = LedgerSettings()

    def factory() -> SQLiteLedger:
        return SQLiteLedger(path, busy_timeout_ms=settings.busy_timeout_ms, synchronous=synchronous)

    writer = LedgerWriter(Path(path), settings, ledger_factory=factory)
    records = [make_record(tag, index) for index in range(count)]
    barrier.wait()
    start = time.time()
    for record in records:
        writer.submit(record)
    flushed = writer.flush(timeout=600)
    end = time.time()
    writer.close(timeout=60)
    results.put((start, end, flushed))


def measure_throughput(processes: int, per_process: int, synchronous: str) -> dict[str, Any]:
    """Run `processes` writers into a fresh file; return records/s and the count check."""
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as directory:
        path = str(Path(directory) / "ledger.db")

        async def create() -> None:
            async with SQLiteLedger(path):
                pass

        asyncio.run(create())
        barrier = context.Barrier(processes)
        results = context.Queue()
        workers = [
            context.Process(
                target=writer_process,
                args=(path, f"p{n}", per_process, synchronous, barrier, results),
            )
            for n in range(processes)
        ]
        for worker in workers:
            worker.start()
        times = [results.get(timeout=900) for _ in workers]
        for worker in workers:
            worker.join()
        with sqlite3.connect(path) as db:
            stored = db.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
    submitted = processes * per_process
    elapsed = max(end for _, end, _ in times) - min(start for start, _, _ in times)
    return {
        "label": f"{processes} process{'es' if processes > 1 else ''}, synchronous={synchronous}",
        "records": submitted,
        "seconds": elapsed,
        "per_second": submitted / elapsed,
        "lost": submitted - stored,
        "all_flushed": all(flushed for _, _, flushed in times),
    }


async def measure_submit_latency(count: int) -> dict[str, float]:
    """submit() wall time per call on a running event loop (the writer thread is busy)."""
    with tempfile.TemporaryDirectory() as directory:
        writer = LedgerWriter(Path(directory) / "ledger.db", LedgerSettings())
        records = [make_record("lat", index) for index in range(count)]
        writer.submit(records[0])  # start the thread outside the measurement
        durations = []
        clock = time.perf_counter_ns
        for index, record in enumerate(records[1:], start=1):
            before = clock()
            writer.submit(record)
            durations.append((clock() - before) / 1000)
            if index % 100 == 0:
                await asyncio.sleep(0)  # let the loop run, as an agent's loop would
        assert await writer.aflush(timeout_s=600)
        await asyncio.to_thread(writer.close, 60)
    durations.sort()
    return {
        "p50_us": statistics.median(durations),
        "p99_us": durations[int(len(durations) * 0.99) - 1],
        "max_us": durations[-1],
        "samples": float(len(durations)),
    }


async def measure_check_latency(
    count: int, synchronous: str, calls: int, *, scope: str = "daily", spread_s: float = 0.0
) -> dict[str, float]:
    """Budgets.check() + release() wall time under one budget, with `calls` settled calls
    already stored, started over the last `spread_s` seconds."""
    with tempfile.TemporaryDirectory() as directory:
        settings = Settings(budgets=[BudgetConfig(scope=scope, limit_usd=1e9)])
        async with SQLiteLedger(Path(directory) / "ledger.db", synchronous=synchronous) as ledger:
            now = time.time()
            records = [make_record("old", index) for index in range(calls)]
            for index, record in enumerate(records):
                record.started_at = now - spread_s * index / max(calls, 1)
            for start in range(0, calls, 5_000):
                await ledger.write_batch(records[start : start + 5_000])
            budgets = Budgets(ledger, settings, estimate_cost=lambda *_: 0.001)
            durations = []
            for _ in range(count):
                before = time.perf_counter()
                verdict = await budgets.check(
                    model="gpt-4o-mini", conversation_id="bench", input_tokens=2000
                )
                durations.append((time.perf_counter() - before) * 1000)
                assert verdict.action == "allow"
                assert verdict.reservation_id is not None
                await budgets.release(verdict.reservation_id)
    durations.sort()
    return {
        "p50_ms": statistics.median(durations),
        "p99_ms": durations[int(len(durations) * 0.99) - 1],
    }


def main(argv: list[str] | None = None) -> None:
    """Print throughput rows and submit latency side by side."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    args = parser.parse_args(argv)
    per_process = 2_000 if args.quick else 10_000
    single = 8 * per_process // 2
    rows = [
        measure_throughput(1, single, "NORMAL"),
        measure_throughput(8, per_process, "NORMAL"),
        measure_throughput(1, single, "FULL"),
    ]
    latency = asyncio.run(measure_submit_latency(5_000 if args.quick else 50_000))
    checks = 200 if args.quick else 1_000
    stored = 10_000 if args.quick else 100_000
    check_rows = [
        ("daily, NORMAL, empty ledger", asyncio.run(measure_check_latency(checks, "NORMAL", 0))),
        ("daily, FULL, empty ledger", asyncio.run(measure_check_latency(checks, "FULL", 0))),
        (
            f"daily, NORMAL, {stored:,} calls today",
            asyncio.run(measure_check_latency(checks, "NORMAL", stored, spread_s=3_600)),
        ),
        (
            f"monthly, NORMAL, {stored:,} calls in 30 days",
            asyncio.run(
                measure_check_latency(
                    checks, "NORMAL", stored, scope="monthly", spread_s=30 * 86_400
                )
            ),
        ),
    ]

    base = rows[0]["per_second"]
    print(f"ledger writer throughput ({'quick' if args.quick else 'full'} run)")
    print(
        f"{'writers':<34}{'records':>9}{'seconds':>9}{'records/s':>11}{'vs 1 proc':>11}{'lost':>6}"
    )
    for row in rows:
        print(
            f"{row['label']:<34}{row['records']:>9,}{row['seconds']:>9.2f}"
            f"{row['per_second']:>11,.0f}{row['per_second'] / base:>10.2f}x{row['lost']:>6}"
        )
    print()
    print(
        f"submit() on a running asyncio loop ({int(latency['samples']):,} calls): "
        f"p50 {latency['p50_us']:.1f} us, p99 {latency['p99_us']:.1f} us, "
        f"max {latency['max_us']:.0f} us"
    )
    print()
    print(f"Budgets.check() + release(), {checks:,} sequential checks")
    for label, figures in check_rows:
        print(
            f"  {label:<42} p50 {figures['p50_ms']:5.2f} ms   p99 {figures['p99_ms']:5.2f} ms"
            f"   ({figures['p50_ms'] / check_rows[0][1]['p50_ms']:.1f}x)"
        )
    goal = rows[1]["per_second"] >= 5_000 and rows[1]["lost"] == 0
    print(f"goal (>= 5,000 records/s with 8 writers, zero lost): {'met' if goal else 'NOT met'}")
    if any(row["lost"] or not row["all_flushed"] for row in rows):
        raise SystemExit("records were lost or a flush timed out")


if __name__ == "__main__":
    main()
