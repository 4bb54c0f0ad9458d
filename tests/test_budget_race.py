"""The budget race: 100 concurrent checks in 4 processes against one $1 cap in one file."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent_routing.config import LedgerSettings
from agent_routing.ledger import LedgerWriter, SpendWindow, SQLiteLedger, run_sync
from agent_routing.records import CallRecord, Outcome

ESTIMATE = 0.03
ACTUAL = 0.025
CAP = 1.0

CHECKER = f"""
import asyncio, json, sys, time
from pathlib import Path
from agent_routing.budgets import Budgets
from agent_routing.config import BudgetConfig, Settings
from agent_routing.ledger import SQLiteLedger

async def main():
    path, go = sys.argv[1], Path(sys.argv[2])
    settings = Settings(budgets=[BudgetConfig(scope="daily", limit_usd={CAP})])
    async with SQLiteLedger(path) as ledger:
        budgets = Budgets(ledger, settings, estimate_cost=lambda *_: {ESTIMATE})
        print("ready", flush=True)
        while not go.exists():
            await asyncio.sleep(0.005)
        verdicts = await asyncio.gather(*(
            budgets.check(model="gpt-4o-mini", conversation_id=f"c{{n}}", input_tokens=500)
            for n in range(25)
        ))
    print(json.dumps([[v.action, v.reservation_id] for v in verdicts]))

asyncio.run(main())
"""


@pytest.mark.slow
def test_concurrent_checks_never_overspend(tmp_path: Path) -> None:
    """100 checks racing in 4 processes reserve at most the $1 cap (33 x $0.03); after the
    calls settle with their real cost, spend is exactly the sum of those costs."""
    path = tmp_path / "ledger.db"

    async def create() -> None:
        async with SQLiteLedger(path):
            pass

    run_sync(create())
    go = tmp_path / "go"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", CHECKER, str(path), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for process in processes:  # every process has imported and opened the ledger
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready", process.stderr
    go.touch()
    verdicts: list[tuple[str, str | None]] = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        verdicts.extend((action, rid) for action, rid in json.loads(out))

    allowed = [rid for action, rid in verdicts if action == "allow"]
    assert len(verdicts) == 100
    assert len(allowed) == int(CAP / ESTIMATE)  # 33: the 34th would exceed the cap
    assert all(action == "block" for action, rid in verdicts if rid is None)
    with sqlite3.connect(path) as db:
        held = db.execute("SELECT SUM(amount_usd) FROM reservations WHERE status = 'open'")
        assert held.fetchone()[0] <= CAP + 1e-9

    writer = LedgerWriter(path, LedgerSettings(flush_interval_ms=10))
    for index, rid in enumerate(allowed):
        writer.submit(
            CallRecord(
                id=f"call-{index}",
                started_at=time.time(),
                model="gpt-4o-mini",
                reservation_id=rid,
                outcome=Outcome.OK,
                cost_usd=ACTUAL,
            )
        )
    assert writer.close(timeout=30)

    async def spent() -> float:
        async with SQLiteLedger(path) as ledger:
            return await ledger.spent_usd(SpendWindow(), now=time.time())

    assert run_sync(spent()) == pytest.approx(len(allowed) * ACTUAL, abs=1e-12)
    with sqlite3.connect(path) as db:
        statuses = dict(db.execute("SELECT status, COUNT(*) FROM reservations GROUP BY status"))
    assert statuses == {"settled": len(allowed)}
