"""Budget checks beside a busy event loop: refused calls and check latency.

Run: `.venv/bin/python bench/bench_busy_loop.py` (or `--quick` for a smoke run).

One process ("busy") checks a block budget on an event loop that also runs a task doing
1 s of synchronous work at a time, as Agent Zero's loop does. Another process
("checker") makes N budget checks with the default 5 s lock wait and records each
verdict and its latency. Both run twice on a fresh ledger: once with the reservation
written as one transaction on the connection's thread (the code now), and once with the
former way, one awaited statement at a time inside BEGIN IMMEDIATE (kept here as the
baseline), which held the write lock while the busy loop did its own work.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agent_routing.budgets import Budgets
from agent_routing.config import BudgetConfig, Settings
from agent_routing.ledger import SQLiteLedger
from agent_routing.ledger.base import Reservation, ReserveResult, SpendLimit
from agent_routing.ledger.queries import RESERVATION_COLUMNS, spend_query

BURST_S = 1.0  # the busy loop's synchronous work between two awaits


def _stopped(stop: Path) -> bool:
    return stop.exists()


def _synchronous_work(seconds: float) -> None:
    time.sleep(seconds)  # stands for the loop's own blocking work (parsing, tokenizing)


SETTINGS = Settings(budgets=[BudgetConfig(scope="daily", limit_usd=1000, enforcement="block")])


class StatementAtATimeLedger(SQLiteLedger):
    """The former reservation: each statement awaited inside BEGIN IMMEDIATE (baseline)."""

    async def reserve(
        self, reservation: Reservation, limits: Sequence[SpendLimit]
    ) -> ReserveResult:
        spent: dict[str, float] = {}
        refused_by = None
        async with self._write() as db:
            for limit in limits:
                sql, params = spend_query(limit.window, reservation.created_at)
                rows = list(await db.execute_fetchall(sql, params))
                spent[limit.key] = float(rows[0][0])
            for limit in limits:
                if limit.hard and spent[limit.key] + reservation.amount_usd > limit.limit_usd:
                    refused_by = limit.key
            if refused_by is None:
                values = [getattr(reservation, c, None) for c in RESERVATION_COLUMNS]
                values[RESERVATION_COLUMNS.index("status")] = "open"
                await db.execute(
                    f"INSERT INTO reservations ({', '.join(RESERVATION_COLUMNS)}) "
                    f"VALUES ({', '.join('?' for _ in RESERVATION_COLUMNS)})",
                    values,
                )
        return ReserveResult(
            reservation_id=None if refused_by else reservation.id,
            spent_usd=spent,
            refused_by=refused_by,
        )


def _ledger(path: str, legacy: bool, **kwargs: Any) -> SQLiteLedger:
    return (StatementAtATimeLedger if legacy else SQLiteLedger)(path, **kwargs)


async def busy(path: str, stop: Path, legacy: bool) -> None:
    async with _ledger(path, legacy) as ledger:
        budgets = Budgets(ledger, SETTINGS, estimate_cost=lambda *_: 0.001)

        async def hog() -> None:
            while not _stopped(stop):
                _synchronous_work(BURST_S)
                await asyncio.sleep(0)

        async def checks() -> None:
            while not _stopped(stop):
                await budgets.check(model="gpt-4o-mini", conversation_id="busy", input_tokens=10)

        await asyncio.gather(hog(), checks(), checks())


async def checker(path: str, count: int, legacy: bool) -> None:
    out = []
    async with _ledger(path, legacy) as ledger:  # default busy_timeout: 5 s
        budgets = Budgets(ledger, SETTINGS, estimate_cost=lambda *_: 0.001)
        for _ in range(count):
            started = time.perf_counter()
            verdict = await budgets.check(model="gpt-4o-mini", conversation_id="c", input_tokens=10)
            out.append([verdict.action, (time.perf_counter() - started) * 1000])
            await asyncio.sleep(0.05)
    print(json.dumps(out))


def run(count: int, legacy: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "ledger.db")
        asyncio.run(_create(path))
        stop = Path(folder) / "stop"
        me = [sys.executable, __file__]
        mode = ["--legacy"] if legacy else []
        hog = subprocess.Popen([*me, "--role", "busy", path, str(stop), *mode])
        time.sleep(2.0)
        done = subprocess.run(
            [*me, "--role", "checker", path, str(count), *mode],
            capture_output=True,
            text=True,
            check=True,
        )
        stop.touch()
        hog.wait(60)
    verdicts = json.loads(done.stdout)
    latencies = sorted(ms for _, ms in verdicts)
    return {
        "checks": len(verdicts),
        "refused": sum(1 for action, _ in verdicts if action != "allow"),
        "p50_ms": statistics.median(latencies),
        "p95_ms": latencies[int(0.95 * (len(latencies) - 1))],
        "max_ms": latencies[-1],
    }


async def _create(path: str) -> None:
    async with SQLiteLedger(path):
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20 checks instead of 100")
    parser.add_argument("--role", choices=["busy", "checker"], help=argparse.SUPPRESS)
    parser.add_argument("--legacy", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.role == "busy":
        asyncio.run(busy(options.args[0], Path(options.args[1]), options.legacy))
        return
    if options.role == "checker":
        asyncio.run(checker(options.args[0], int(options.args[1]), options.legacy))
        return
    count = 20 if options.quick else 100
    print(f"{count} budget checks beside a loop busy {BURST_S:g} s at a time (lock wait 5 s)")
    print(f"{'reservation':<28} {'refused':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for label, legacy in (("one transaction (now)", False), ("statement at a time (before)", True)):
        row = run(count, legacy)
        print(
            f"{label:<28} {row['refused']:>4}/{row['checks']:<3} {row['p50_ms']:>8.1f} "
            f"{row['p95_ms']:>8.1f} {row['max_ms']:>8.1f}"
        )


if __name__ == "__main__":
    main()
