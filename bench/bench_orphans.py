"""What closing the calls of dead processes costs each process at start.

Run: `.venv/bin/python bench/bench_orphans.py`

Seeds one SQLite ledger with 100,000 finished calls plus pending ones (100 older than the
cutoff, as left by killed processes, and 10 younger, as a live process's), then times
`close_orphaned_calls` (one `BEGIN IMMEDIATE` transaction) with the partial index of
migration m007 and, on a copy without it, as the sweep would run on m006's indexes. A
second sweep, finding nothing to close, is what every process start pays from then on.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

from agent_routing.ledger import SQLiteLedger
from agent_routing.records import CallRecord, Outcome, UnitPrices, Usage, UsageSource

PRICES = UnitPrices(input=1.5e-7, output=6e-7, model_key="gpt-4o-mini")
FINISHED = 100_000
ORPHANS = 100
YOUNG = 10
NOW = 1_780_000_000.0
CUTOFF = NOW - 600


def record(index: int, started_at: float, outcome: Outcome) -> CallRecord:
    """A call as the capture writes it (usage, prices, cost)."""
    usage = Usage(input_tokens=1800, output_tokens=0 if outcome is Outcome.PENDING else 220)
    return CallRecord(
        id=f"c{index:08d}",
        started_at=started_at,
        model="gpt-4o-mini",
        outcome=outcome,
        usage=usage,
        usage_source=UsageSource.ESTIMATED,
        prices=PRICES,
        cost_usd=usage.input_tokens * PRICES.input + usage.output_tokens * PRICES.output,
    )


async def seed(path: Path) -> None:
    async with SQLiteLedger(path) as ledger:
        span = 30 * 86_400
        batch: list[CallRecord] = []
        for index in range(FINISHED):
            batch.append(record(index, NOW - span + index * span / FINISHED, Outcome.OK))
            if len(batch) == 5_000:
                await ledger.upsert_calls(batch)
                batch = []
        old = [record(FINISHED + i, CUTOFF - 3_600 + i, Outcome.PENDING) for i in range(ORPHANS)]
        young = [record(FINISHED + ORPHANS + i, NOW - 60, Outcome.PENDING) for i in range(YOUNG)]
        pending = old + young
        await ledger.upsert_calls(batch + pending)


async def sweep_twice(path: Path) -> tuple[float, float, int]:
    async with SQLiteLedger(path) as ledger:
        start = time.perf_counter()
        first = await ledger.close_orphaned_calls(started_before=CUTOFF, now=NOW)
        middle = time.perf_counter()
        await ledger.close_orphaned_calls(started_before=CUTOFF, now=NOW)
        end = time.perf_counter()
    return (middle - start) * 1000, (end - middle) * 1000, first.closed


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        base = Path(directory) / "seeded.db"
        asyncio.run(seed(base))
        for label, drop_index in (("with idx_calls_pending (m007)", False), ("without it", True)):
            path = Path(directory) / f"{drop_index}.db"
            shutil.copy(base, path)
            if drop_index:
                with sqlite3.connect(path) as db:
                    db.execute("DROP INDEX idx_calls_pending")  # m007 stays marked applied
            first_ms, again_ms, closed = asyncio.run(sweep_twice(path))
            print(
                f"{label:32s} closing {closed} of {ORPHANS + YOUNG} pending among "
                f"{FINISHED:,} calls: {first_ms:7.2f} ms; nothing left to close: {again_ms:6.2f} ms"
            )


if __name__ == "__main__":
    main()
