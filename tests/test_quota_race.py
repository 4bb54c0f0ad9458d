"""Quotas stop bursts: back-to-back calls are admitted up to the quota before any call is
recorded. The same across processes (40 concurrent checks from 4 processes admit exactly
10) is tests/test_ledger_contract.py's quota burst, on every backend."""

from __future__ import annotations

from pathlib import Path

from agent_routing.budgets import Budgets
from agent_routing.config import QuotaConfig, Settings
from agent_routing.ledger import SQLiteLedger, run_sync

QUOTA = {"model": "gpt-4o-mini", "unit": "requests", "period": "minute", "limit": 10}


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
