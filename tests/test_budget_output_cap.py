"""Under a block budget, a call may write no more output than its reservation covers: the
router caps `max_tokens` (passed to litellm) to the output tokens reserved."""

from __future__ import annotations

from pathlib import Path

from fakehost import FakeHost, fake_host, respond

from agent_routing.budgets import Budgets
from agent_routing.config import BudgetConfig, Settings
from agent_routing.ledger import SQLiteLedger, run_sync

__all__ = ["fake_host"]


async def test_a_real_turn_under_a_block_budget_caps_max_tokens(fake_host: FakeHost) -> None:
    """Every call the provider receives under a daily block budget carries a max_tokens no
    larger than the reserved output (1024 by default; before: none, so a provider could
    write past the estimate and over the limit)."""
    fake_host.configure(
        {
            "budgets": [{"scope": "daily", "limit_usd": 50.0, "enforcement": "block"}],
            "reservation": {"output_estimate_tokens": 700},
        }
    )
    fake_host.provider.script_main(respond("4"))
    assert await fake_host.send(fake_host.new_context(), "What is 2+2?") == "4"
    main = fake_host.provider.main_calls()
    assert main
    caps = [call.kwargs.get("max_tokens") for call in fake_host.provider.calls]
    assert all(isinstance(cap, int) and cap <= 700 for cap in caps), caps


async def test_without_a_block_budget_no_cap_is_added(fake_host: FakeHost) -> None:
    """A warn budget holds no money back: the main call keeps the host's own settings."""
    fake_host.configure({"budgets": [{"scope": "daily", "limit_usd": 50.0, "enforcement": "warn"}]})
    fake_host.provider.script_main(respond("4"))
    await fake_host.send(fake_host.new_context(), "What is 2+2?")
    assert fake_host.provider.main_calls()[0].kwargs.get("max_tokens") is None


def test_the_verdict_names_the_tokens_its_reservation_covers(tmp_path: Path) -> None:
    """Budgets.check: a block budget's verdict carries the reserved output tokens (the
    call's own max_tokens when given); warn budgets carry none."""

    async def check() -> list[int | None]:
        out = []
        async with SQLiteLedger(tmp_path / "ledger.db") as ledger:
            for enforcement, given in (("block", None), ("block", 300), ("warn", None)):
                settings = Settings(
                    budgets=[BudgetConfig(scope="daily", limit_usd=10, enforcement=enforcement)]
                )
                verdict = await Budgets(ledger, settings).check(
                    model="gpt-4o-mini",
                    conversation_id="c",
                    input_tokens=100,
                    max_output_tokens=given,
                )
                out.append(verdict.max_output_tokens)
        return out

    assert run_sync(check()) == [1024, 300, None]
