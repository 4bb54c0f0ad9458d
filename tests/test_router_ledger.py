"""The router with the real parts: SQLite ledger, Budgets, background writer, capture, analyzer."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from agent_routing.budgets import Budgets
from agent_routing.capture import enable_capture
from agent_routing.config import Settings, settings_from_mapping
from agent_routing.ledger import SQLiteLedger, get_writer
from agent_routing.router import Router, RouteRequest

HARD = (
    "Prove step by step that sqrt(2) is irrational, then write a Python function that checks "
    "it numerically with exact rational arithmetic, with tests and an explanation."
)
MESSAGES = [{"role": "user", "content": HARD}]


def settings_for(db: Path, **router: Any) -> Settings:
    """Two default tiers, every chat call preferring the strong one, a small per-chat budget."""
    return settings_from_mapping(
        {
            "ledger": {"path": str(db), "flush_interval_ms": 10},
            "router": {"thresholds": [0.0], **router},
            "budgets": [{"scope": "conversation", "limit_usd": 0.005, "enforcement": "downgrade"}],
        }
    )


async def test_downgraded_call_lands_in_the_ledger_tied_to_its_decision(tmp_path: Path) -> None:
    """Budget downgrade -> cheap tier; the call row points at the decision and settles its hold."""
    db = tmp_path / "ledger.db"
    settings = settings_for(db)
    async with SQLiteLedger(db) as ledger:
        writer = get_writer(db, settings.ledger)
        router = Router(settings, budgets=Budgets(ledger, settings), sink=writer)
        capture = enable_capture(db, settings=settings)
        try:
            decision = await router.route(
                RouteRequest(HARD, conversation_id="chat-1", configured_model="gpt-4o")
            )
            response = await router.acompletion(decision, MESSAGES, mock_response="done")
            assert response.choices[0].message.content == "done"
            assert capture.flush(timeout=30)
        finally:
            capture.close()
        assert writer.flush(timeout=30)

        assert (decision.tier.name if decision.tier else None) == "cheap"
        [stored] = await ledger.query_decisions(conversation_id="chat-1")
        assert stored.id == decision.id
        assert stored.chosen_model == "gpt-4o-mini"
        assert stored.extra["features"]  # the full feature vector, for learning
        budgets_seen = {c["tier"]: c["budget"] for c in stored.candidates}
        assert budgets_seen == {"strong": "downgrade", "cheap": "allow"}
        [call] = await ledger.query_calls(conversation_id="chat-1")
        assert (call.decision_id, call.tier, call.reservation_id) == (
            decision.id,
            "cheap",
            decision.reservation_id,
        )
        assert call.model.endswith("gpt-4o-mini")
        assert decision.reservation_id is not None
        held = await ledger.get_reservation(decision.reservation_id)
        assert held is not None
        assert held.status == "settled"
    with sqlite3.connect(db) as connection:
        holds = sorted(connection.execute("SELECT model, status FROM reservations").fetchall())
    # The strong tier's hold was released when the budget walk moved on; the cheap one settled.
    assert holds == [("gpt-4o", "released"), ("gpt-4o-mini", "settled")]


async def test_shadow_mode_only_adds_a_decision_row(tmp_path: Path) -> None:
    """Shadow: the decision row says what routing would do; holds match an unrouted call."""
    db = tmp_path / "ledger.db"
    settings = settings_for(db, shadow=True)
    async with SQLiteLedger(db) as ledger:
        writer = get_writer(db, settings.ledger)
        router = Router(settings, budgets=Budgets(ledger, settings), sink=writer)
        decision = await router.route(
            RouteRequest(HARD, conversation_id="chat-2", configured_model="gpt-4o-mini")
        )
        assert writer.flush(timeout=30)
        assert decision.model == "gpt-4o-mini"
        assert decision.applied is False
        [stored] = await ledger.query_decisions(conversation_id="chat-2")
        assert (stored.applied, stored.chosen_model, stored.configured_model) == (
            False,
            "gpt-4o-mini",  # strong preferred, downgraded by the budget, as live routing would
            "gpt-4o-mini",
        )
        assert await ledger.query_calls(conversation_id="chat-2") == []
        assert decision.reservation_id is not None
        held = await ledger.get_reservation(decision.reservation_id)
        assert held is not None
        assert (held.model, held.status) == ("gpt-4o-mini", "open")
