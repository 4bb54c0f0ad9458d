"""Duel mode in Agent Zero: a thin adapter over :mod:`agent_routing.router.duel`.

Two hooks, one line each in host/signals.py:

- :func:`note_reply` (`chat_model_call_after`, main call): when the routed call went to the
  cheapest tier and the duel draw and budget allow it, keep the prompt messages and the
  cheap reply for the end of the iteration;
- :func:`iteration_done` (`message_loop_end`): the agent's own signals of this iteration are
  known now (did the reply parse as a tool call, did the tool succeed), so the duel starts
  in the background: the strongest tier answers the same messages (litellm, its tool call
  is never executed), a judge model decides where the signals cannot, and both outcomes go
  to the ledger. Nothing here ever raises into the agent loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from agent_routing.config import Settings
from agent_routing.host import _state as state
from agent_routing.host._messages import is_tool_request, to_litellm_messages
from agent_routing.router.duel import DuelAnswer, Duels

logger = logging.getLogger("agent_routing.host")

PENDING_KEY = "_agent_routing_duel"
DUEL_OUTPUT_TOKENS = 1024
_TASKS: set[asyncio.Task[Any]] = set()  # keep background duels alive until they finish
_DUELS: dict[int, Duels] = {}


def duels_for(settings: Settings, sink: Any) -> Duels:
    """One :class:`Duels` per settings object (its random draw and budget file persist)."""
    found = _DUELS.get(id(settings))
    if found is None:
        found = Duels(settings.router.duel, sink=sink, refit=lambda: _refit(settings))
        _DUELS[id(settings)] = found
    return found


def _refit(settings: Settings) -> None:
    from agent_routing.analyzer.learning import refit_text_from_ledger

    report = refit_text_from_ledger(None, settings)
    logger.info("agent-routing: duel refit: %s", report.reason)


def note_reply(agent: Any, call_data: dict[str, Any], response: str) -> None:
    """Keep the messages and the cheap reply of a call chosen for a duel (see module doc)."""
    try:
        route = state.iteration_route(getattr(agent, "loop_data", None))
        if route is None or not route.decision.applied or route.decision.record is None:
            return
        settings = route.router.settings
        if not settings.router.duel.enabled:
            return
        tiers = route.router.tiers
        record = route.decision.record
        index = record.extra.get("tier_index")
        strongest = tiers[len(tiers) - 1]
        estimate = tiers.estimate_cost(
            strongest, int(record.extra.get("input_tokens") or 0), DUEL_OUTPUT_TOKENS
        )
        duels = duels_for(settings, route.router.sink)
        if not isinstance(index, int) or not duels.wants(
            tier_index=index, tier_count=len(tiers), estimate_usd=estimate or 0.0
        ):
            return
        messages = to_litellm_messages(call_data.get("messages") or [])
        agent.data[PENDING_KEY] = (route, messages, response, strongest, estimate or 0.0)
    except Exception as error:  # never into the agent loop
        logger.warning("agent-routing: duel not started: %r", error)


def iteration_done(agent: Any) -> None:
    """Start the pending duel in the background with this iteration's signals."""
    try:
        pending = agent.data.pop(PENDING_KEY, None)
        if pending is None:
            return
        route, messages, response, strongest, estimate = pending
        signals = set(agent.data.get(state.SIGNALS_KEY) or ())
        parsed = is_tool_request(response)
        cheap = DuelAnswer(
            model=str(route.decision.model),
            text=response,
            tool_call_parsed=parsed,
            tool_succeeded=None if not parsed else "tool_error" not in signals,
        )
        settings = route.router.settings
        duels = duels_for(settings, route.router.sink)
        prompt = str(messages[-1].get("content", "")) if messages else ""
        task = asyncio.get_running_loop().create_task(
            duels.run(
                decision=route.decision.record,
                prompt=prompt,
                cheap=cheap,
                strong_tier=strongest.name,
                call_other=lambda: _call_strong(strongest.model, messages),
                judge=_judge(settings.router.duel.judge_model),
                estimate_usd=estimate,
            )
        )
        _TASKS.add(task)
        task.add_done_callback(_TASKS.discard)
    except Exception as error:
        logger.warning("agent-routing: duel not started: %r", error)


async def _acompletion(**kwargs: Any) -> Any:
    from agent_routing._litellm import litellm_module

    return await litellm_module().acompletion(**kwargs)


# The coroutine that makes the duel's calls (litellm.acompletion); tests put one here that
# passes litellm's `mock_response`, so no provider is ever called.
COMPLETION: Callable[..., Awaitable[Any]] = _acompletion


async def _call_strong(model: str, messages: list[dict[str, Any]]) -> DuelAnswer:
    from agent_routing._litellm import litellm_module

    litellm = litellm_module()
    response = await COMPLETION(model=model, messages=messages, max_tokens=DUEL_OUTPUT_TOKENS)
    text = str(response.choices[0].message.content or "")
    try:
        cost: float | None = float(litellm.completion_cost(completion_response=response))
    except Exception:
        cost = None
    return DuelAnswer(model=model, text=text, tool_call_parsed=is_tool_request(text), cost_usd=cost)


def _judge(model: str | None) -> Any:
    if model is None:
        return None

    async def ask(messages: list[dict[str, str]]) -> str:
        response = await COMPLETION(model=model, messages=messages, max_tokens=5)
        return str(response.choices[0].message.content or "")

    return ask
