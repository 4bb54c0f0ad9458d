"""Router.acompletion / run_decision: a routed call through real litellm, hop by hop."""

from __future__ import annotations

import pytest
from litellm_support import LitellmSpy, litellm_error
from router_support import settings_with

from agent_routing.capture import METADATA_KEY
from agent_routing.errors import BudgetBlockedError
from agent_routing.router import CooldownRegistry, HopCall, Router, RouteRequest
from agent_routing.router._execution import run_decision
from agent_routing.testing import FixedAnalyzer, RecordingSink, ScriptedBudgets

MESSAGES = [{"role": "user", "content": "hello"}]
MID = 0.5  # between the explicit thresholds below: the medium tier
THRESHOLDS = [0.3, 0.7]


def make_router(score: float, budgets: ScriptedBudgets | None = None, **router: object) -> Router:
    return Router(
        settings_with(**{"thresholds": THRESHOLDS, **router}),
        analyzer=FixedAnalyzer(score),
        budgets=budgets,
        sink=RecordingSink(),
        cooldowns=CooldownRegistry(),
    )


async def test_acompletion_applies_the_decision(monkeypatch: pytest.MonkeyPatch) -> None:
    """Model, output cap and capture metadata reach litellm; the caller's kwargs survive."""
    budgets = ScriptedBudgets()
    router = make_router(0.0, budgets, output_caps={"chat": 300})
    decision = await router.route(RouteRequest("hi", input_tokens=20, conversation_id="c9"))
    spy = LitellmSpy(monkeypatch, {})
    response = await router.acompletion(
        decision, MESSAGES, temperature=0.2, max_tokens=1000, metadata={"mine": 1}
    )
    assert response.choices[0].message.content == "answer from gpt-4o-mini"
    [call] = spy.calls
    assert (call["model"], call["max_tokens"], call["temperature"]) == ("gpt-4o-mini", 300, 0.2)
    assert call["metadata"]["mine"] == 1
    attribution = spy.attribution(0)
    assert attribution["decision_id"] == decision.decision_id
    assert attribution["tier"] == "small"
    assert attribution["reservation_id"] == decision.reservation_id
    assert attribution["conversation_id"] == "c9"


async def test_rate_limited_hop_falls_back_with_a_fresh_budget_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A 429 moves to the next tier (hop 1: `attempt` 1 in its capture metadata), checks
    its budget, and releases the failed hop's hold."""
    budgets = ScriptedBudgets()
    router = make_router(0.0, budgets)
    decision = await router.route(RouteRequest("hi", input_tokens=20))
    first_reservation = decision.reservation_id
    spy = LitellmSpy(monkeypatch, {"gpt-4o-mini": litellm_error("RateLimitError", status=429)})
    response = await router.acompletion(decision, MESSAGES)
    assert response.choices[0].message.content == "answer from gpt-4.1-mini"
    assert [call["model"] for call in spy.calls] == ["gpt-4o-mini", "gpt-4.1-mini"]
    assert budgets.checks == ["gpt-4o-mini", "gpt-4.1-mini"]
    second_reservation = spy.attribution(1)["reservation_id"]
    assert budgets.open == {second_reservation}
    assert first_reservation in budgets.released
    assert spy.attribution(1)["tier"] == "medium"
    assert (spy.attribution(0).get("attempt"), spy.attribution(1)["attempt"]) == (None, 1)
    assert not router.cooldowns.available("gpt-4o-mini")


async def test_fallback_skips_a_dearer_tier_the_budget_downgrades(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """From medium, a 503 would hop to large; its `downgrade` verdict skips it for small."""
    budgets = ScriptedBudgets(actions={"gpt-4o": "downgrade"})
    router = make_router(MID, budgets)
    decision = await router.route(RouteRequest("hi", input_tokens=20))
    assert decision.model == "gpt-4.1-mini"
    spy = LitellmSpy(
        monkeypatch, {"gpt-4.1-mini": litellm_error("ServiceUnavailableError", status=503)}
    )
    response = await router.acompletion(decision, MESSAGES)
    assert response.choices[0].message.content == "answer from gpt-4o-mini"
    assert [call["model"] for call in spy.calls] == ["gpt-4.1-mini", "gpt-4o-mini"]
    assert budgets.checks == ["gpt-4.1-mini", "gpt-4o", "gpt-4o-mini"]
    assert len(budgets.open) == 1


async def test_fallback_hop_blocked_by_budget_refuses_the_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A hop whose budget blocks ends the call with BudgetBlockedError and holds nothing."""
    budgets = ScriptedBudgets(actions={"gpt-4.1-mini": "block", "gpt-4o": "block"})
    router = make_router(0.0, budgets)
    decision = await router.route(RouteRequest("hi", input_tokens=20))
    LitellmSpy(monkeypatch, {"gpt-4o-mini": litellm_error("Timeout")})
    with pytest.raises(BudgetBlockedError):
        await router.acompletion(decision, MESSAGES)
    assert budgets.open == set()


async def test_context_overflow_only_hops_to_a_larger_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After an overflow on the 1M-token model, the 128k models are not tried."""
    router = make_router(MID)
    decision = await router.route(RouteRequest("hi", input_tokens=20))
    overflow = litellm_error("ContextWindowExceededError")
    spy = LitellmSpy(monkeypatch, {"gpt-4.1-mini": overflow})
    with pytest.raises(type(overflow)):
        await router.acompletion(decision, MESSAGES)
    assert [call["model"] for call in spy.calls] == ["gpt-4.1-mini"]


async def test_shadow_decision_calls_only_the_configured_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In shadow mode the call goes to the configured model, without fallback to the tiers."""
    router = make_router(0.0, shadow=True)
    decision = await router.route(RouteRequest("hi", input_tokens=20, configured_model="gpt-4o"))
    spy = LitellmSpy(monkeypatch, {"gpt-4o": litellm_error("InternalServerError", status=500)})
    with pytest.raises(Exception, match="provider said no"):
        await router.acompletion(decision, MESSAGES)
    assert [call["model"] for call in spy.calls] == ["gpt-4o"]
    assert "tier" not in spy.attribution(0)


async def test_run_decision_hands_each_hop_to_a_host_attempt() -> None:
    """A host-style attempt (not litellm) gets the tier, hop number, call id and reservation."""
    budgets = ScriptedBudgets()
    router = make_router(0.0, budgets)
    decision = await router.route(RouteRequest("hi", input_tokens=20))
    seen: list[HopCall] = []

    async def host_call(call: HopCall) -> str:
        seen.append(call)
        if call.number == 0:
            raise TimeoutError("host model timed out")
        return f"{call.tier.name} ok"

    assert await router.run_decision(decision, host_call) == "medium ok"
    assert [(c.number, c.tier.name) for c in seen] == [(0, "small"), (1, "medium")]
    assert seen[0].reservation_id == decision.reservation_id
    assert seen[0].call_id != seen[1].call_id
    assert seen[1].metadata[METADATA_KEY]["call_id"] == seen[1].call_id


async def test_run_decision_needs_only_the_parts_it_uses() -> None:
    """execution.run_decision runs a chain from a tier table, settings and cooldowns alone."""
    router = make_router(0.0, output_caps={"chat": 300})
    decision = await router.route(RouteRequest("hi", input_tokens=20))
    seen: list[HopCall] = []

    async def host_call(call: HopCall) -> str:
        seen.append(call)
        if call.number == 0:
            raise TimeoutError("host model timed out")
        return f"{call.tier.name} ok"

    result = await run_decision(
        decision,
        host_call,
        tiers=router.tiers,
        budgets=None,
        settings=router.settings.router,
        cooldowns=CooldownRegistry(),
    )
    assert result == "medium ok"
    assert [(c.number, c.tier.name) for c in seen] == [(0, "small"), (1, "medium")]
    assert seen[1].kwargs["max_tokens"] == 300  # the fallback hop is capped by the settings


async def test_bad_caller_attribution_never_stops_the_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """A malformed conversation id is dropped from the metadata; the routed call still runs."""
    router = make_router(0.0)
    decision = await router.route(RouteRequest("hi", input_tokens=20, conversation_id="  "))
    spy = LitellmSpy(monkeypatch, {})
    await router.acompletion(decision, MESSAGES)
    attribution = spy.attribution(0)
    assert "conversation_id" not in attribution
    assert attribution["decision_id"] == decision.decision_id
