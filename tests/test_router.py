"""The Router facade: decisions and their records, budgets, context, quotas, shadow, fail-open."""

from __future__ import annotations

import json

import pytest
from router_support import settings_with

from agent_routing.config import CallKind
from agent_routing.errors import BudgetBlockedError
from agent_routing.router import CooldownRegistry, Router, RouteRequest
from agent_routing.router.strategies import STRATEGIES
from agent_routing.testing import FailingAnalyzer, FixedAnalyzer, RecordingSink, ScriptedBudgets

HIGH = 0.99  # above every built-in threshold: the strongest tier
LOW = 0.0  # below every threshold: the cheapest tier


def make_router(score: float = HIGH, **kwargs: object) -> tuple[Router, RecordingSink]:
    """A router over small/medium/large with a recording sink; kwargs go to `router:`."""
    sink = RecordingSink()
    budgets = kwargs.pop("budgets", None)
    cooldowns = kwargs.pop("cooldowns", None)
    router = Router(
        settings_with(**kwargs),
        analyzer=FixedAnalyzer(score),
        budgets=budgets,  # type: ignore[arg-type]
        sink=sink,
        cooldowns=cooldowns,  # type: ignore[arg-type]
    )
    return router, sink


async def test_decision_record_explains_the_choice() -> None:
    """The recorded decision has the score, features, costed candidates, reason and an id."""
    router, sink = make_router(score=HIGH)
    decision = await router.route(
        RouteRequest("write a parser", input_tokens=1000, conversation_id="c1", agent_no=0)
    )
    assert (decision.tier.name if decision.tier else None, decision.model) == ("large", "gpt-4o")
    assert decision.decision_id == decision.id
    [record] = sink.decisions
    assert record.id == decision.id
    assert record.chosen_model == "gpt-4o"
    assert record.score == HIGH
    assert record.top_features == [("code_block", 0.4), ("prompt_tokens_log", 0.1)]
    assert record.extra["features"] == {"prompt_tokens_log": 3.0, "code_block": 1.0}
    assert record.extra["tier_index"] == 2
    assert record.extra["thresholds"] == pytest.approx(STRATEGIES["balanced"].thresholds(3))
    assert "balanced: score 0.990 >=" in record.reason
    chosen = [c for c in record.candidates if c["chosen"]]
    assert [c["tier"] for c in chosen] == ["large"]
    # 1000 input tokens and the 1024-token reservation output estimate, at gpt-4o's prices
    assert chosen[0]["estimated_cost_usd"] == pytest.approx(1000 * 2.5e-6 + 1024 * 1e-5)
    json.dumps(record.candidates)  # plain JSON for the ledger


async def test_budget_downgrade_takes_the_next_cheaper_allowed_tier() -> None:
    """`downgrade` on the preferred tier moves down; the kept reservation is the chosen one."""
    budgets = ScriptedBudgets(actions={"gpt-4o": "downgrade", "gpt-4.1-mini": "downgrade"})
    router, sink = make_router(score=HIGH, budgets=budgets)
    decision = await router.route(RouteRequest("q", input_tokens=500))
    assert decision.model == "gpt-4o-mini"
    assert budgets.checks == ["gpt-4o", "gpt-4.1-mini", "gpt-4o-mini"]
    assert budgets.open == {decision.reservation_id}
    assert sink.decisions[0].extra["reservation_id"] == decision.reservation_id
    assert "large: budget: downgrade for gpt-4o" in decision.reason


async def test_downgrade_on_the_cheapest_tier_still_routes_there() -> None:
    """When every tier says `downgrade`, the cheapest is taken (downgrade never refuses)."""
    budgets = ScriptedBudgets(
        actions=dict.fromkeys(["gpt-4o", "gpt-4.1-mini", "gpt-4o-mini"], "downgrade")
    )
    router, _ = make_router(score=HIGH, budgets=budgets)
    decision = await router.route(RouteRequest("q", input_tokens=500))
    assert decision.model == "gpt-4o-mini"
    assert budgets.open == {decision.reservation_id}
    assert "nothing cheaper left" in decision.reason


async def test_budget_block_refuses_and_releases_everything() -> None:
    """`block` raises BudgetBlockedError, holds no reservation and records why."""
    budgets = ScriptedBudgets(actions={"gpt-4o": "downgrade", "gpt-4.1-mini": "block"})
    router, sink = make_router(score=HIGH, budgets=budgets)
    with pytest.raises(BudgetBlockedError, match="daily budget spent") as caught:
        await router.route(RouteRequest("q", input_tokens=500))
    assert caught.value.budget == "daily:*"
    assert budgets.open == set()
    [record] = sink.decisions
    assert "blocked by budget" in record.reason
    assert record.chosen_model == "gpt-4.1-mini"


async def test_prompt_too_long_is_compressed_rather_than_sent_dearer() -> None:
    """A prompt that fits the cheap tier after compression stays there with compress_to_tokens."""
    router, _ = make_router(score=LOW)
    decision = await router.route(RouteRequest("q", input_tokens=200_000))
    assert decision.model == "gpt-4o-mini"  # 128k window; 200k x 0.5 = 100k fits
    assert decision.compress_to_tokens is not None
    assert 100_000 <= decision.compress_to_tokens <= 128_000


async def test_prompt_that_cannot_fit_moves_to_a_larger_window() -> None:
    """When even compression cannot fit, the next tier with room takes it (never an overflow)."""
    router, _ = make_router(score=LOW)
    decision = await router.route(RouteRequest("q", input_tokens=300_000))
    assert decision.model == "gpt-4.1-mini"  # 1M window
    assert decision.compress_to_tokens is None
    record = decision.record
    assert record is not None
    fits = {c["tier"]: c["fit"] for c in record.candidates}
    assert fits["small"] == "too_large"


async def test_prompt_larger_than_every_window_compresses_to_the_largest() -> None:
    """Nothing fits even compressed: the largest window, compressed to it, best effort."""
    router, _ = make_router(score=LOW)
    decision = await router.route(RouteRequest("q", input_tokens=3_000_000))
    assert decision.model == "gpt-4.1-mini"
    assert decision.compress_to_tokens == 1_047_576
    assert "best effort" in decision.reason


async def test_model_at_quota_or_cooling_down_is_skipped_for_the_next_in_chain() -> None:
    """Quota-exhausted and cooling models count as unavailable; the chain goes up, then down."""
    budgets = ScriptedBudgets(at_quota={"gpt-4o-mini"})
    router, _ = make_router(score=LOW, budgets=budgets)
    decision = await router.route(RouteRequest("q", input_tokens=100))
    assert decision.model == "gpt-4.1-mini"
    cooldowns = CooldownRegistry()
    cooldowns.cool("gpt-4o", 60)
    router, _ = make_router(score=HIGH, cooldowns=cooldowns)
    decision = await router.route(RouteRequest("q", input_tokens=100))
    assert decision.model == "gpt-4.1-mini"
    assert "large: cooling down" in decision.reason
    # The chain still lists the cooling model: the fallback runner skips it while it cools.
    assert [t.model for t in decision.fallback_chain] == ["gpt-4.1-mini", "gpt-4o", "gpt-4o-mini"]


async def test_every_model_unavailable_still_routes_to_the_preferred_one() -> None:
    """If all tiers are at quota, the preferred tier is used and the provider decides."""
    budgets = ScriptedBudgets(at_quota={"gpt-4o-mini", "gpt-4.1-mini", "gpt-4o"})
    router, _ = make_router(score=HIGH, budgets=budgets)
    decision = await router.route(RouteRequest("q", input_tokens=100))
    assert decision.model == "gpt-4o"
    assert "unavailable" in decision.reason


async def test_sticky_override_is_honoured_unless_the_budget_forbids_going_up() -> None:
    """A forced tier wins over the score, but a budget `downgrade` still moves it down."""
    router, _ = make_router(score=LOW)
    decision = await router.route(RouteRequest("q", input_tokens=100, forced="large"))
    assert decision.model == "gpt-4o"
    budgets = ScriptedBudgets(actions={"gpt-4o": "downgrade"})
    router, _ = make_router(score=LOW, budgets=budgets)
    decision = await router.route(RouteRequest("q", input_tokens=100, forced="large"))
    assert decision.model == "gpt-4.1-mini"


async def test_output_caps_per_kind_and_per_tier() -> None:
    """`max_tokens` is the call kind's cap, the tier's max_output_tokens, or the smaller."""
    router, _ = make_router(score=LOW, output_caps={"title": 64, "chat": 2000})
    title = await router.route(RouteRequest("name this chat", CallKind.TITLE, input_tokens=50))
    assert title.max_tokens == 64
    assert title.call_kwargs()["max_tokens"] == 64
    chat = await router.route(RouteRequest("q", input_tokens=50))
    assert chat.max_tokens == 2000
    settings = settings_with(output_caps={"chat": 2000})
    tiers = [t.model_copy(update={"max_output_tokens": 500}) for t in settings.effective_tiers()]
    router = Router(settings, analyzer=FixedAnalyzer(LOW), tiers=tiers)
    capped = await router.route(RouteRequest("q", input_tokens=50))
    assert capped.max_tokens == 500
    uncapped = await router.route(RouteRequest("q", CallKind.MEMORY, input_tokens=50))
    assert uncapped.max_tokens == 500


async def test_analyzer_failure_fails_open_to_the_configured_model() -> None:
    """An analyzer exception keeps the configured model, says why, and does not raise."""
    sink = RecordingSink()
    router = Router(settings_with(), analyzer=FailingAnalyzer(), sink=sink)
    decision = await router.route(
        RouteRequest("q", input_tokens=100, configured_model="openrouter/some/host-model")
    )
    assert decision.model == "openrouter/some/host-model"
    assert decision.tier is None
    assert decision.reason.startswith("fail open: RuntimeError: model file is corrupt")
    [record] = sink.decisions
    assert (record.chosen_model, record.score, record.applied) == (
        "openrouter/some/host-model",
        None,
        True,
    )
    no_host = await router.route(RouteRequest("q", input_tokens=100))
    assert no_host.model == "gpt-4o"  # no configured model: the strongest tier


async def test_out_of_range_score_fails_open() -> None:
    """A score outside [0, 1] is treated as an analyzer failure, not routed on."""
    router = Router(settings_with(), analyzer=FixedAnalyzer(score=1.7))
    decision = await router.route(RouteRequest("q", input_tokens=10, configured_model="gpt-4o"))
    assert decision.reason.startswith("fail open: ValueError")


async def test_fail_open_still_enforces_a_budget_block() -> None:
    """Failing open never bypasses money: a blocking budget still refuses the configured model."""
    budgets = ScriptedBudgets(actions={"gpt-4o": "block"})
    router = Router(settings_with(), analyzer=FailingAnalyzer(), budgets=budgets)
    with pytest.raises(BudgetBlockedError):
        await router.route(RouteRequest("q", input_tokens=10, configured_model="gpt-4o"))


async def test_shadow_mode_changes_nothing_but_the_ledger() -> None:
    """Shadow records the routed choice with applied=False; the call is what unrouted would be."""
    request = RouteRequest("q", input_tokens=100, configured_model="gpt-4o")
    off_budgets = ScriptedBudgets()
    off, off_sink = make_router(score=LOW, enabled=False, budgets=off_budgets)
    baseline = await off.route(request)
    shadow_budgets = ScriptedBudgets()
    shadow, shadow_sink = make_router(score=LOW, shadow=True, budgets=shadow_budgets)
    decision = await shadow.route(request)

    applied = ("model", "tier", "max_tokens", "compress_to_tokens", "applied")
    assert [getattr(decision, name) for name in applied[:-1]] == [
        getattr(baseline, name) for name in applied[:-1]
    ]
    assert decision.model == "gpt-4o"
    assert decision.applied is False
    assert off_sink.decisions == []
    [record] = shadow_sink.decisions
    assert (record.chosen_model, record.applied, record.configured_model) == (
        "gpt-4o-mini",
        False,
        "gpt-4o",
    )
    assert decision.decision_id == record.id  # the call's row points at the shadow decision
    # Only the reservation of the model actually used is held, exactly as without routing.
    assert len(shadow_budgets.open) == len(off_budgets.open) == 1
    assert decision.reservation_id in shadow_budgets.open


async def test_dry_run_records_nothing_and_holds_nothing() -> None:
    """A dry run (the CLI) returns the decision but writes no record and keeps no reservation."""
    budgets = ScriptedBudgets()
    router, sink = make_router(score=HIGH, budgets=budgets)
    decision = await router.route(RouteRequest("q", input_tokens=100), dry_run=True)
    assert decision.model == "gpt-4o"
    assert decision.record is not None
    assert decision.decision_id is None
    assert decision.reservation_id is None
    assert sink.decisions == []
    assert budgets.open == set()


async def test_broken_budget_guard_refuses_the_call(caplog: pytest.LogCaptureFixture) -> None:
    """A guard that raises (not a deliberate block) cannot vouch for the money: routing
    fails open to the configured model, whose budget check then refuses it (logged)."""

    class BrokenBudgets(ScriptedBudgets):
        async def check(self, **kwargs: object) -> object:  # type: ignore[override]
            raise OSError("disk full")

    router = Router(settings_with(), analyzer=FixedAnalyzer(HIGH), budgets=BrokenBudgets())
    with pytest.raises(BudgetBlockedError, match=r"disk full\), so the call is refused"):
        await router.route(RouteRequest("q", input_tokens=10, configured_model="gpt-4o"))
    assert "budget check for gpt-4o failed" in caplog.text
