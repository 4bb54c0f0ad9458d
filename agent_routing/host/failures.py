"""How the plugin fails: quietly for its own errors, loudly and cleanly for a budget block.

Agent Zero does not catch exceptions from extensions (§2.6): an unexpected error in a hook
would become a critical error of the agent loop. So every hook contains its own failures
(:func:`log_failure`), and cost tracking never stops the agent. The one deliberate
exception is a budget with enforcement `block`: the turn must end, with a message the user
sees. :func:`budget_block` writes that message to the chat's log and returns the host's
`HandledException`, which ends the monologue without the host's retry (a retry would only
be refused again).
"""

from __future__ import annotations

import logging
from typing import Any

from agent_routing.budgets.rules import format_usd
from agent_routing.errors import BudgetBlockedError
from agent_routing.host.layout import handled_exception_type

logger = logging.getLogger("agent_routing.host")

BLOCK_HEADING = "Budget limit reached: this task was stopped"
_SHOWN_KEY = "_agent_routing_block_shown"  # "_": never saved with the chat


def log_failure(agent: Any, where: str) -> None:
    """Log the exception being handled; the hook then returns and the loop goes on."""
    name = getattr(agent, "agent_name", "?")
    logger.exception("agent-routing: %s failed for %s (the agent continues)", where, name)


CONFIGURATION_BLOCK = "configuration"  # the budget key of a refusal for an unreadable config


def block_message(blocked: BudgetBlockedError) -> str:
    """The text the user sees when a budget stops the turn."""
    if blocked.budget == CONFIGURATION_BLOCK:
        return f"{blocked}\nFix the file (or the plugin settings), then send your message again."
    if blocked.unpriced_model is not None:  # no money is spent: the price is missing
        return (
            f"{blocked}. Add the price in the plugin settings ('prices:'), or set "
            "pricing.unpriced to warn or allow to let unpriced calls through, then send your "
            "message again."
        )
    periodic = blocked.budget and not blocked.budget.startswith("call:")  # a call has no rest
    remaining = f" Remaining: {format_usd(blocked.remaining_usd)}." if periodic else ""
    return (
        f"{blocked}.{remaining} Raise the limit (plugin settings, "
        "`agent-routing budget set`, or POST /api/plugins/agent_routing/budget) or wait "
        "for the next period, then send your message again."
    )


def _show_once(context: Any, message: str) -> None:
    """Log the block in the chat's UI once per user message (background calls block too)."""
    turn = getattr(context, "last_message", None)
    if context.data.get(_SHOWN_KEY) == turn and turn is not None:
        return
    context.data[_SHOWN_KEY] = turn
    context.log.log(type="error", heading=BLOCK_HEADING, content=message)


def blocked_this_turn(agent: Any) -> bool:
    """Whether a budget already stopped this chat's current user message."""
    context = getattr(agent, "context", None)
    data = getattr(context, "data", None)
    turn = getattr(context, "last_message", None)
    return isinstance(data, dict) and turn is not None and data.get(_SHOWN_KEY) == turn


def budget_block(agent: Any, blocked: BudgetBlockedError) -> Exception:
    """Tell the user why the turn stops, and return the exception that stops it."""
    message = block_message(blocked)
    _publish_block(agent, message)
    try:
        _show_once(agent.context, message)
    except Exception:
        logger.exception("agent-routing: could not show the budget message in the UI")
    logger.warning(
        "agent-routing: budget block for %s: %s", getattr(agent, "agent_name", "?"), blocked
    )
    try:
        stop: Exception = handled_exception_type()(message)
    except ImportError:
        stop = blocked
    stop.agent_routing_budget_stop = True  # type: ignore[attr-defined]
    return stop


def _publish_block(agent: Any, message: str) -> None:
    from agent_routing import events

    context_id = getattr(getattr(agent, "context", None), "id", None)
    events.publish(events.Event("budget_block", message, context_id, key=str(context_id)))


def is_budget_stop(error: BaseException) -> bool:
    """True for the exception :func:`budget_block` made: the one a hook must let through."""
    return bool(getattr(error, "agent_routing_budget_stop", False))
