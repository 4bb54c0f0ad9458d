"""Cascade: escalation on the agent's own failure signals, its limits, and its JSON state."""

from __future__ import annotations

import json

import pytest
from router_support import settings_with

from agent_routing.errors import ConfigError
from agent_routing.router import CascadeState, Router, RouteRequest
from agent_routing.testing import FixedAnalyzer, RecordingSink, ScriptedBudgets

LOW = 0.0


def make_router(
    budgets: ScriptedBudgets | None = None, **router: object
) -> tuple[Router, RecordingSink]:
    sink = RecordingSink()
    return Router(
        settings_with(**router), analyzer=FixedAnalyzer(LOW), budgets=budgets, sink=sink
    ), sink


async def step(router: Router, state: CascadeState) -> str:
    decision = await router.route(RouteRequest("fix the bug", input_tokens=200, cascade=state))
    assert decision.tier is not None
    return decision.tier.name


@pytest.mark.parametrize(
    "signal", ["misformat", "empty_reply", "repeated_reply", "tool_error", "explicit_failure"]
)
async def test_each_failure_signal_escalates_one_tier(signal: str) -> None:
    """A failure signal after a cheap answer sends the next call one tier up."""
    router, sink = make_router()
    state = CascadeState()
    assert await step(router, state) == "small"
    assert router.record_signal(state.last_decision_id or "", signal, cascade=state) is True
    assert await step(router, state) == "medium"
    assert sink.signals[0].kind == signal
    assert sink.signals[0].decision_id == sink.decisions[0].id
    assert "cascade: escalated to medium" in sink.decisions[1].reason


async def test_success_and_unlisted_signals_do_not_escalate() -> None:
    """`success`, and a failure kind not in `escalate_on`, leave the floor alone."""
    router, _ = make_router(cascade={"escalate_on": ["misformat"]})
    state = CascadeState()
    await step(router, state)
    assert router.record_signal(state.last_decision_id or "", "success", cascade=state) is False
    assert router.record_signal(state.last_decision_id or "", "tool_error", cascade=state) is False
    assert await step(router, state) == "small"


async def test_escalation_stops_at_max_escalations_and_the_strongest_tier() -> None:
    """At most `max_escalations` steps per task, never past the strongest tier."""
    router, _ = make_router(cascade={"max_escalations": 1})
    state = CascadeState()
    await step(router, state)
    assert router.record_signal("d", "misformat", cascade=state)
    assert await step(router, state) == "medium"
    assert not router.record_signal("d", "misformat", cascade=state)
    assert await step(router, state) == "medium"

    router, _ = make_router(cascade={"max_escalations": 5})
    state = CascadeState()
    await step(router, state)
    for _ in range(2):
        router.record_signal("d", "misformat", cascade=state)
        await step(router, state)
    assert state.last_tier == "large"
    assert not router.record_signal("d", "misformat", cascade=state)


async def test_escalation_never_goes_past_the_budget() -> None:
    """An escalated tier the budget refuses (`downgrade`) is not taken; the state says so."""
    budgets = ScriptedBudgets(actions={"gpt-4.1-mini": "downgrade"})
    router, sink = make_router(budgets=budgets)
    state = CascadeState()
    await step(router, state)
    router.record_signal("d", "tool_error", cascade=state)
    assert await step(router, state) == "small"
    assert state.stopped_by_budget is True
    assert "escalation stopped by the budget" in sink.decisions[-1].reason


async def test_disabled_cascade_never_escalates() -> None:
    """With `cascade.enabled: false` signals are recorded but routing ignores them."""
    router, sink = make_router(cascade={"enabled": False})
    state = CascadeState()
    await step(router, state)
    assert not router.record_signal("d", "misformat", cascade=state)
    assert await step(router, state) == "small"
    assert len(sink.signals) == 1


async def test_reset_starts_a_new_task_from_the_score() -> None:
    """After reset (a new user message) the floor is gone and escalations count from zero."""
    router, _ = make_router()
    state = CascadeState()
    await step(router, state)
    router.record_signal("d", "misformat", cascade=state)
    assert await step(router, state) == "medium"
    state.reset()
    assert await step(router, state) == "small"
    assert state.escalations == 0


async def test_state_round_trips_through_plain_json() -> None:
    """to_dict/from_dict survive json.dumps/loads and keep routing where it was."""
    router, _ = make_router()
    state = CascadeState()
    await step(router, state)
    router.record_signal("d", "misformat", cascade=state)
    saved = json.loads(json.dumps(state.to_dict()))
    restored = CascadeState.from_dict(saved)
    assert restored == state
    assert await step(router, restored) == "medium"
    assert CascadeState.from_dict(None) == CascadeState()
    assert CascadeState.from_dict({"escalations": 1, "from_a_newer_version": True}).escalations == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"escalations": "two"}, "cascade.escalations"),
        ({"escalations": -1}, "cascade.escalations"),
        ({"floor_tier": 3}, "cascade.floor_tier"),
        ({"stopped_by_budget": "yes"}, "cascade.stopped_by_budget"),
        (["not", "a", "mapping"], "cascade"),
    ],
)
def test_bad_saved_state_names_the_field(data: object, field: str) -> None:
    """A saved state with a wrong type is a ConfigError naming the field."""
    with pytest.raises(ConfigError) as caught:
        CascadeState.from_dict(data)  # type: ignore[arg-type]
    assert caught.value.problems[0][0] == field


def test_note_reply_detects_empty_and_repeated_replies() -> None:
    """An empty reply and an identical consecutive reply raise their signals."""
    state = CascadeState()
    assert state.note_reply("   ") == ["empty_reply"]
    assert state.note_reply("I will run the tests.") == []
    assert state.note_reply("I will run the tests.") == ["repeated_reply"]
    assert state.note_reply("Tests pass.") == []


def test_unknown_signal_kind_is_rejected() -> None:
    """record_signal names the field and the allowed kinds for an unknown kind."""
    router, sink = make_router()
    with pytest.raises(ConfigError, match=r"signal\.kind: unknown signal 'meh'"):
        router.record_signal("d", "meh")
    assert sink.signals == []


async def test_cascade_works_without_a_ledger() -> None:
    """With no sink the decision is unrecorded (id None), yet signals still escalate."""
    router = Router(settings_with(), analyzer=FixedAnalyzer(LOW))
    state = CascadeState()
    decision = await router.route(RouteRequest("q", input_tokens=10, cascade=state))
    assert decision.decision_id is None
    assert router.record_signal(decision.decision_id, "misformat", cascade=state)
    assert await step(router, state) == "medium"
