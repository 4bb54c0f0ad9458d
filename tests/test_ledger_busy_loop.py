"""A busy event loop never holds the ledger's write lock while it does its own slow work."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent_routing.ledger import SQLiteLedger, run_sync

# One process checks budgets on an event loop that also runs a task blocking it for 0.6 s
# at a time (as Agent Zero's loop does with its own synchronous work).
BUSY = """
import asyncio, sys, time
from pathlib import Path
from agent_routing.budgets import Budgets
from agent_routing.config import BudgetConfig, Settings
from agent_routing.ledger import SQLiteLedger

async def main():
    path, stop = sys.argv[1], Path(sys.argv[2])
    settings = Settings(budgets=[BudgetConfig(scope="daily", limit_usd=1000, enforcement="block")])
    async with SQLiteLedger(path) as ledger:
        budgets = Budgets(ledger, settings, estimate_cost=lambda *_: 0.001)

        async def hog():
            while not stop.exists():
                time.sleep(0.6)  # the loop's own slow, synchronous work
                await asyncio.sleep(0)

        async def checks():
            while not stop.exists():
                await budgets.check(model="gpt-4o-mini", conversation_id="busy", input_tokens=10)

        await asyncio.gather(hog(), checks(), checks())

asyncio.run(main())
"""

# The other process checks the same budget with a short lock wait (300 ms) and reports
# each verdict: a lock held across the busy loop's work would refuse these calls.
CHECKER = """
import asyncio, json, sys
from agent_routing.budgets import Budgets
from agent_routing.config import BudgetConfig, Settings
from agent_routing.ledger import SQLiteLedger

async def main():
    settings = Settings(budgets=[BudgetConfig(scope="daily", limit_usd=1000, enforcement="block")])
    async with SQLiteLedger(sys.argv[1], busy_timeout_ms=300) as ledger:
        budgets = Budgets(ledger, settings, estimate_cost=lambda *_: 0.001)
        out = []
        for n in range(int(sys.argv[2])):
            verdict = await budgets.check(model="gpt-4o-mini", conversation_id="c", input_tokens=10)
            out.append([verdict.action, verdict.reason])
            await asyncio.sleep(0.1)
    print(json.dumps(out))

asyncio.run(main())
"""


def _create(path: Path) -> None:
    async def create() -> None:
        async with SQLiteLedger(path):
            pass

    run_sync(create())


def _wait_for_first_reservation(path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with sqlite3.connect(path, timeout=5) as db:
            if db.execute("SELECT COUNT(*) FROM reservations").fetchone()[0]:
                return
        time.sleep(0.05)
    raise AssertionError("the busy process never reserved")


@pytest.mark.slow
def test_budget_checks_beside_a_busy_loop_are_not_refused(tmp_path: Path) -> None:
    """60 checks with a 300 ms lock wait, beside a process whose loop blocks 0.6 s at a
    time between its own reservations, are all allowed (before: most were refused as
    "database is locked", because the lock was held across the busy loop's work)."""
    path = tmp_path / "ledger.db"
    _create(path)
    stop = tmp_path / "stop"
    busy = subprocess.Popen(
        [sys.executable, "-c", BUSY, str(path), str(stop)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_first_reservation(path)  # the busy process is reserving and hogging
        checker = subprocess.run(
            [sys.executable, "-c", CHECKER, str(path), "60"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        stop.touch()
        _, busy_err = busy.communicate(timeout=60)
    assert checker.returncode == 0, checker.stderr
    assert busy.returncode == 0, busy_err
    verdicts = json.loads(checker.stdout)
    refused = [reason for action, reason in verdicts if action != "allow"]
    assert len(verdicts) == 60
    assert refused == []
