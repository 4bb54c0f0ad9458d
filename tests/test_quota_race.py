"""Quotas stop bursts: concurrent and back-to-back calls are admitted atomically, like
budget reservations, across processes sharing one ledger file."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent_routing.budgets import Budgets
from agent_routing.config import QuotaConfig, Settings
from agent_routing.ledger import SQLiteLedger, run_sync

QUOTA = {"model": "gpt-4o-mini", "unit": "requests", "period": "minute", "limit": 10}

CHECKER = f"""
import asyncio, json, sys
from pathlib import Path
from agent_routing.budgets import Budgets
from agent_routing.config import QuotaConfig, Settings
from agent_routing.ledger import SQLiteLedger

async def main():
    path, go = sys.argv[1], Path(sys.argv[2])
    settings = Settings(quotas=[QuotaConfig(**{QUOTA!r})])
    async with SQLiteLedger(path) as ledger:
        budgets = Budgets(ledger, settings, provider_of=lambda _: "openai")
        while not go.exists():
            await asyncio.sleep(0.005)
        answers = await asyncio.gather(
            *(budgets.quota_available("gpt-4o-mini") for _ in range(10))
        )
    print(json.dumps(answers))

asyncio.run(main())
"""


def _create(path: Path) -> None:
    async def create() -> None:
        async with SQLiteLedger(path):
            pass

    run_sync(create())


@pytest.mark.slow
def test_forty_concurrent_calls_in_four_processes_get_exactly_ten(tmp_path: Path) -> None:
    """10 requests/minute, 40 concurrent checks in 4 processes: exactly 10 admitted
    (before: all 40, since none had been recorded yet)."""
    path = tmp_path / "ledger.db"
    _create(path)
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
    time.sleep(0.5)
    go.touch()
    answers: list[bool] = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        answers.extend(json.loads(out))
    assert len(answers) == 40
    assert answers.count(True) == 10


def test_back_to_back_calls_are_admitted_up_to_the_quota(tmp_path: Path) -> None:
    """30 checks in a row, before any call record is written: the first 10 pass, then the
    model is unavailable; other models are not affected (before: 30 of 30 passed)."""
    path = tmp_path / "ledger.db"
    settings = Settings(quotas=[QuotaConfig.model_validate(QUOTA)])

    async def burst() -> tuple[list[bool], bool]:
        async with SQLiteLedger(path) as ledger:
            budgets = Budgets(ledger, settings, provider_of=lambda _: "openai")
            answers = [await budgets.quota_available("gpt-4o-mini") for _ in range(30)]
            return answers, await budgets.quota_available("gpt-4o")

    answers, other = run_sync(burst())
    assert answers == [True] * 10 + [False] * 20
    assert other is True
