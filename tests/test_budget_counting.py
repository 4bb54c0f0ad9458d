"""Budgets that count right: fresh spend, alerts of calls actually made, exact money, unpriced
models, and no tier climbing for background or rule-bound calls during a cooldown."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from router_support import THREE_TIERS, settings_with

from agent_routing.budgets import Budgets
from agent_routing.budgets.rules import format_usd
from agent_routing.config import CallKind, LedgerSettings, Settings, settings_from_mapping
from agent_routing.errors import BudgetBlockedError
from agent_routing.host.failures import block_message
from agent_routing.ledger import SQLiteLedger
from agent_routing.ledger.writer import LedgerWriter
from agent_routing.records import CallRecord, Outcome
from agent_routing.router import CooldownRegistry, Router, RouteRequest, refusal, run_with_fallback
from agent_routing.testing import FixedAnalyzer, RecordingSink

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC).timestamp()
HIGH = 0.99  # the strongest tier
COSTS = {"gpt-4o": 0.03, "gpt-4.1-mini": 0.02, "gpt-4o-mini": 0.004}


def fixed_cost(model: str, input_tokens: int, output_tokens: int) -> float | None:
    """Each tier's estimate, whatever the size: large $0.03, medium $0.02, small $0.004."""
    return COSTS.get(model)


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[SQLiteLedger]:
    async with SQLiteLedger(tmp_path / "ledger.db") as opened:
        yield opened


def budget_settings(*budgets: dict[str, object], **extra: object) -> Settings:
    return settings_from_mapping(
        {
            "tiers": [tier.model_dump() for tier in THREE_TIERS],
            "budgets": list(budgets),
            **extra,
        }
    )


# --- alerts count calls actually made ------------------------------------------------------


async def test_a_downgraded_candidate_fires_no_alert(ledger: SQLiteLedger) -> None:
    """Alerts count the chosen call's reservation, never a refused dearer candidate's."""
    settings = budget_settings({"scope": "daily", "limit_usd": 0.01, "enforcement": "downgrade"})
    budgets = Budgets(ledger, settings, estimate_cost=fixed_cost, clock=lambda: NOW)
    router = Router(settings, analyzer=FixedAnalyzer(HIGH), budgets=budgets, sink=RecordingSink())
    first = await router.route(RouteRequest("q", input_tokens=100, conversation_id="c"))
    assert first.model == "gpt-4o-mini"  # large and medium were downgraded
    assert first.budget_alerts == ()  # $0.004 of $0.01 is 40 %: below every threshold
    assert await ledger.query_alerts() == []
    second = await router.route(RouteRequest("q", input_tokens=100, conversation_id="c"))
    assert second.model == "gpt-4o-mini"
    assert len(second.budget_alerts) == 2  # $0.008 live: 50 % and 80 % of $0.01
    stored = await ledger.query_alerts()
    assert sorted(alert.threshold for alert in stored) == [0.5, 0.8]
    assert all(alert.spent_usd == pytest.approx(0.008) for alert in stored)
    assert "of $0.01 " in second.budget_alerts[0]
    assert "$0.008 spent or reserved" in second.budget_alerts[0]


async def test_a_dry_run_fires_no_alert(ledger: SQLiteLedger) -> None:
    """`route --dry-run` holds nothing and so alerts nothing."""
    settings = budget_settings({"scope": "daily", "limit_usd": 0.001, "enforcement": "warn"})
    budgets = Budgets(ledger, settings, estimate_cost=fixed_cost, clock=lambda: NOW)
    router = Router(settings, analyzer=FixedAnalyzer(HIGH), budgets=budgets)
    decision = await router.route(RouteRequest("q", input_tokens=100), dry_run=True)
    assert decision.model == "gpt-4o"
    assert await ledger.query_alerts() == []


# --- a check sees what was committed before it ------------------------------------------------


async def test_a_check_sees_spend_written_just_before_it(tmp_path: Path) -> None:
    """A record handed to the ledger writer a moment ago counts in the next check."""
    path = tmp_path / "ledger.db"
    writer = LedgerWriter(path, LedgerSettings(flush_interval_ms=5_000))  # a slow batch
    settings = budget_settings({"scope": "daily", "limit_usd": 1.0, "enforcement": "block"})
    try:
        async with SQLiteLedger(path) as ledger:
            writer.submit(
                CallRecord(
                    id="done",
                    started_at=NOW,
                    model="gpt-4o-mini",
                    outcome=Outcome.OK,
                    cost_usd=0.9,
                )
            )
            blind = Budgets(ledger, settings, estimate_cost=lambda *_: 0.2, clock=lambda: NOW)
            unseen = await blind.check(model="gpt-4o-mini", conversation_id=None, input_tokens=10)
            assert unseen.action == "allow"  # the batch is still in the writer's queue
            assert unseen.reservation_id is not None
            await blind.release(unseen.reservation_id)
            fresh = Budgets(
                ledger,
                settings,
                estimate_cost=lambda *_: 0.2,
                clock=lambda: NOW,
                pending_writes=writer.aflush,
            )
            seen = await fresh.check(model="gpt-4o-mini", conversation_id=None, input_tokens=10)
            assert seen.action == "block"
            assert "spent $0.90" in seen.reason
    finally:
        writer.close(5.0)


# --- money printed exactly --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (1.0, "$1.00"),
        (0.005, "$0.005"),
        (0.0079, "$0.0079"),
        (0.00012, "$0.00012"),
        (0.0, "$0.00"),
        (1234.5, "$1,234.50"),
        (0.030812, "$0.030812"),
    ],
)
def test_money_is_printed_with_the_decimals_it_needs(amount: float, text: str) -> None:
    """No "$0.00" for a small limit: as many decimals as the amount has (2 to 8)."""
    assert format_usd(amount) == text


async def test_small_limits_are_exact_in_messages(ledger: SQLiteLedger) -> None:
    """A $0.005 per-call limit and a $0.004 spend read as such in the refusal."""
    settings = budget_settings(
        {"scope": "call", "limit_usd": 0.005, "enforcement": "block"},
    )
    budgets = Budgets(ledger, settings, estimate_cost=lambda *_: 0.0061, clock=lambda: NOW)
    verdict = await budgets.check(model="gpt-4o-mini", conversation_id=None, input_tokens=10)
    assert verdict.action == "block"
    assert "($0.005 per call)" in verdict.reason
    assert "$0.0061 exceeds it" in verdict.reason
    message = block_message(refusal(verdict, "gpt-4o-mini"))
    assert "Remaining" not in message  # a per-call limit has no remaining money to show


# --- unpriced models ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "enforcement", "action"),
    [
        ("budget", "block", "block"),
        ("budget", "warn", "warn"),
        ("block", "warn", "block"),
        ("warn", "block", "warn"),
        ("allow", "block", "allow"),
    ],
)
async def test_unpriced_calls_follow_the_pricing_unpriced_setting(
    ledger: SQLiteLedger, policy: str, enforcement: str, action: str
) -> None:
    """`pricing.unpriced` decides; the reason says the price is unknown and how to add it."""
    settings = budget_settings(
        {"scope": "daily", "limit_usd": 1.0, "enforcement": enforcement},
        pricing={"unpriced": policy},
    )
    budgets = Budgets(ledger, settings, clock=lambda: NOW)
    verdict = await budgets.check(model="acme/unknown-9", conversation_id=None, input_tokens=10)
    assert verdict.action == action
    assert verdict.reservation_id is None
    assert verdict.unpriced_model == "acme/unknown-9"
    assert "price of model 'acme/unknown-9' is unknown" in verdict.reason
    assert "prices:" in verdict.reason


async def test_an_unpriced_refusal_never_says_raise_the_limit(ledger: SQLiteLedger) -> None:
    """The user is told to add a price, not to raise a limit that has money left."""
    settings = budget_settings({"scope": "daily", "limit_usd": 1.0, "enforcement": "block"})
    budgets = Budgets(ledger, settings, clock=lambda: NOW)
    verdict = await budgets.check(model="acme/unknown-9", conversation_id=None, input_tokens=10)
    message = block_message(refusal(verdict, "acme/unknown-9"))
    assert "Raise the limit" not in message
    assert "Remaining" not in message
    assert "Add the price" in message
    priced = block_message(BudgetBlockedError("over", budget="daily:*", remaining_usd=0.004))
    assert "Remaining: $0.004." in priced
    assert "Raise the limit" in priced


def test_pricing_unpriced_is_validated() -> None:
    """An unknown policy is refused naming the field."""
    with pytest.raises(Exception, match="pricing"):
        settings_from_mapping({"pricing": {"unpriced": "sometimes"}})


# --- cooldowns never move background and rule-bound calls up -----------------------------------


MEDIUM = 0.65  # between the balanced thresholds of three tiers (0.599, 0.744)


def cooling_router(*cooling: str) -> Router:
    cooldowns = CooldownRegistry()
    for model in cooling:
        cooldowns.cool(model, 60)
    return Router(settings_with(), analyzer=FixedAnalyzer(MEDIUM), cooldowns=cooldowns)


async def test_a_rule_bound_call_waits_instead_of_moving_up() -> None:
    """A utility call (rule: cheapest) keeps the cheapest tier while it cools; no dearer hop."""
    router = cooling_router("gpt-4o-mini")
    decision = await router.route(RouteRequest("q", input_tokens=100, call_kind=CallKind.UTILITY))
    assert decision.model == "gpt-4o-mini"
    assert [tier.model for tier in decision.fallback_chain] == ["gpt-4o-mini"]
    assert decision.record is not None
    notes = {c["model"]: c["note"] for c in decision.record.candidates}
    assert "not moving up" in notes["gpt-4.1-mini"]
    assert "not moving up" in notes["gpt-4o"]


async def test_a_background_call_takes_the_next_cheaper_tier() -> None:
    """A background call whose tier cools down goes one cheaper, never dearer."""
    router = cooling_router("gpt-4.1-mini")
    decision = await router.route(RouteRequest("q", input_tokens=100, background=True))
    assert decision.model == "gpt-4o-mini"
    assert [tier.model for tier in decision.fallback_chain] == ["gpt-4o-mini"]
    foreground = await router.route(RouteRequest("q", input_tokens=100))
    assert foreground.model == "gpt-4o"  # a main call may still move up for quality


async def test_a_long_cooldown_wait_is_announced() -> None:
    """A wait longer than a few seconds calls `on_wait` before sleeping; a short one does not."""
    cooldowns = CooldownRegistry()
    cooldowns.cool("gpt-4o-mini", 30)
    heard: list[tuple[float, str]] = []
    slept: list[float] = []

    async def on_wait(seconds: float, model: str) -> None:
        heard.append((round(seconds), model))

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def attempt(tier: object) -> str:
        return "ok"

    chain = [THREE_TIERS[0]]
    assert (
        await run_with_fallback(chain, attempt, cooldowns=cooldowns, sleep=sleep, on_wait=on_wait)
        == "ok"
    )
    assert heard == [(30, "gpt-4o-mini")]
    assert slept
    cooldowns.cool("gpt-4.1-mini", 1)
    heard.clear()
    await run_with_fallback(
        [THREE_TIERS[1]], attempt, cooldowns=cooldowns, sleep=sleep, on_wait=on_wait
    )
    assert heard == []
