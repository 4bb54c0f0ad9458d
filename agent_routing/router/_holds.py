"""Budget holds: how the router lets go of a reservation and how it reports a refusal.

Shared by the candidate walk, fail-open/shadow pass-through and the fallback hops, so that
every path releases and refuses the same way.
"""

from __future__ import annotations

import logging

from agent_routing.errors import BudgetBlockedError
from agent_routing.protocols import BudgetGuard, BudgetVerdict

logger = logging.getLogger("agent_routing.router")


async def release(budgets: BudgetGuard | None, reservation_id: str | None) -> None:
    """Drop a reservation whose call will not happen; a failure is logged, not raised
    (an unreleased reservation stops counting by itself after `reservation.ttl_s`)."""
    if budgets is None or reservation_id is None:
        return
    try:
        await budgets.release(reservation_id)
    except Exception as error:
        logger.warning("releasing reservation %s failed: %r", reservation_id, error)


async def fire_alerts(
    budgets: BudgetGuard | None, model: str, conversation_id: str | None
) -> tuple[str, ...]:
    """Fire the budget alerts of a call that is really made (its reservation is live now);
    a guard without alerts, or a failure, gives none (logged)."""
    fire = getattr(budgets, "fire_alerts", None)
    if fire is None:
        return ()
    try:
        fired = await fire(model=model, conversation_id=conversation_id)
    except Exception as error:
        logger.warning("budget alerts for %s failed: %r", model, error)
        return ()
    return tuple(fired)


def refusal(verdict: BudgetVerdict, model: str) -> BudgetBlockedError:
    """The error for a `block` verdict: the budget's own reason, key and remaining money."""
    return BudgetBlockedError(
        verdict.reason or f"budget {verdict.budget_key or '?'} blocks {model}",
        budget=verdict.budget_key or "",
        remaining_usd=verdict.remaining_usd or 0.0,
        unpriced_model=verdict.unpriced_model,
    )
