"""agent_routing.testing: the public fakes drive the real router and budgets as documented."""

from __future__ import annotations

import time

from agent_routing.budgets import Budgets
from agent_routing.config import BudgetConfig, Settings, settings_from_mapping
from agent_routing.ledger import SpendWindow
from agent_routing.records import CallRecord, Outcome
from agent_routing.router import Router, RouteRequest
from agent_routing.testing import (
    FailingAnalyzer,
    FixedAnalyzer,
    RecordingSink,
    ScriptedBudgets,
    memory_ledger,
)

TWO_TIERS = settings_from_mapping(
    {
        "tiers": [
            {"name": "cheap", "model": "gpt-4o-mini"},
            {"name": "strong", "model": "gpt-4o"},
        ]
    }
)


async def test_the_documented_example_routes_a_hard_prompt_away_from_a_spent_budget() -> None:
    """The module docstring's example: a hard prompt whose strong tier's budget says
    downgrade lands on the cheap tier, and the decision is recorded once."""
    budgets, sink = ScriptedBudgets(actions={"gpt-4o": "downgrade"}), RecordingSink()
    analyzer = FixedAnalyzer(0.9)
    router = Router(TWO_TIERS, analyzer=analyzer, budgets=budgets, sink=sink)
    decision = await router.route(RouteRequest("Prove it.", input_tokens=100))
    assert decision.model == "gpt-4o-mini"
    assert len(sink.decisions) == 1
    assert budgets.checks[0] == "gpt-4o"
    assert [request.prompt for request in analyzer.requests] == ["Prove it."]


async def test_a_failing_analyzer_keeps_the_configured_model() -> None:
    """FailingAnalyzer shows fail-open routing: the call keeps the model it came with."""
    router = Router(TWO_TIERS, analyzer=FailingAnalyzer(), sink=RecordingSink())
    decision = await router.route(
        RouteRequest("Prove it.", input_tokens=100, configured_model="gpt-4o")
    )
    assert decision.model == "gpt-4o"
    assert decision.reason.startswith("fail open")


async def test_the_memory_ledger_is_the_real_ledger_without_a_file() -> None:
    """Budgets read spend from memory_ledger exactly as from a file, and nothing is written."""
    settings = Settings(budgets=[BudgetConfig(scope="daily", limit_usd=1.0)])
    async with memory_ledger() as ledger:
        await ledger.upsert_calls(
            [
                CallRecord(
                    id="c1",
                    started_at=time.time(),
                    model="gpt-4o-mini",
                    outcome=Outcome.OK,
                    cost_usd=0.25,
                )
            ]
        )
        assert await ledger.spent_usd(SpendWindow(), now=time.time()) == 0.25
        statuses = await Budgets(ledger, settings).status(None)
    assert [status.spent_usd for status in statuses] == [0.25]
