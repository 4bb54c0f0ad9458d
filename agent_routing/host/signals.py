"""Outcome signals: what the agent's own behaviour says about the routed answers.

Signals are stored in the ledger against the decision that routed the answer (they train
the analyzer and feed reports) and escalate the cascade, so that a cheap model that
misformats its reply, repeats itself or breaks a tool hands the next iteration to a
stronger tier. They also go into the next iteration's analysis request.

- `chat_model_call_after` (main call): `misformat` (no tool call the host accepts),
  `empty_reply`, `repeated_reply`;
- `tool_execute_after`: `tool_error` (a failing tool result), `success` (the `response`
  tool ended the task; the detail says how many iterations it took);
- `message_loop_end`: `tool_error` when a tool raised (its `tool_execute_after` never ran).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from agent_routing.host import _attribution as attribution
from agent_routing.host import _duel as duel
from agent_routing.host import _state as state
from agent_routing.host import call_scope
from agent_routing.host._messages import is_tool_request, looks_like_tool_error
from agent_routing.host._routed_model import RoutedChatModel
from agent_routing.host._runtime import get_runtime
from agent_routing.records import SignalKind

logger = logging.getLogger("agent_routing.host")

FINAL_TOOL = "response"


def _record(agent: Any, route: state.IterationRoute, kind: SignalKind, detail: str = "") -> None:
    """Store one signal for the route's decision and escalate the cascade with it."""
    state.add_signal(agent, kind)
    if not route.decision.applied:
        return  # shadow mode or router off: the answer came from the host's own model
    cascade = state.load_cascade(agent)
    escalated = route.router.record_signal(
        route.decision.decision_id, kind, cascade=cascade, detail=detail
    )
    state.save_cascade(agent, cascade)
    if escalated:
        logger.info(
            "agent-routing: %s escalates %s to %s", kind, agent.agent_name, cascade.floor_tier
        )


def observe_reply(agent: Any, call_data: dict[str, Any], response: str) -> None:
    """`chat_model_call_after`: signals of the main call's reply."""
    route = state.iteration_route(getattr(agent, "loop_data", None))
    model = call_data.get("model")
    if route is None or not isinstance(model, RoutedChatModel) or model is not route.main_model:
        return
    cascade = state.load_cascade(agent)
    kinds = cascade.note_reply(response)
    state.save_cascade(agent, cascade)
    if response.strip() and not is_tool_request(response):
        kinds.append("misformat")
    for kind in kinds:
        _record(agent, route, kind)
    duel.note_reply(agent, call_data, response)  # #13 duel mode (opt-in; never raises)


def tool_started(agent: Any, tool_name: str) -> None:
    """`tool_execute_before`: attribute the calls made inside the tool to it."""
    attribution.set_current_tool(agent, tool_name)
    call_scope.enter_agent(agent)
    task = state.task_state(agent)
    if tool_name not in task.tools:
        task.tools.append(tool_name)


def tool_finished(agent: Any, tool_name: str, response: Any) -> None:
    """`tool_execute_after`: end the attribution; a failing result is a `tool_error`."""
    attribution.set_current_tool(agent, None)
    call_scope.enter_agent(agent)
    route = state.iteration_route(getattr(agent, "loop_data", None))
    message = str(getattr(response, "message", "") or "")
    if tool_name == FINAL_TOOL and getattr(response, "break_loop", False):
        if route is not None:
            iterations = int(getattr(agent.loop_data, "iteration", 0)) + 1
            _record(agent, route, "success", f"iterations={iterations}")
        return
    if looks_like_tool_error(message):
        state.task_state(agent).tool_errors += 1
        if route is not None:
            _record(agent, route, "tool_error", f"{tool_name}: {message[:200]}")


async def iteration_ended(agent: Any, loop_data: Any) -> None:
    """`message_loop_end`: a tool still marked in progress raised instead of returning;
    the reservation of a main call that never ran is given back."""
    tool_name = attribution.own_tool(agent)
    route = state.iteration_route(loop_data)
    if tool_name is not None:
        attribution.set_current_tool(agent, None)
        call_scope.enter_agent(agent)
        state.task_state(agent).tool_errors += 1
        if route is not None:
            _record(agent, route, "tool_error", f"{tool_name}: raised an exception")
    duel.iteration_done(agent)  # #13 duel mode: start a pending duel in the background
    if route is not None and not route.main_used and route.decision.reservation_id:
        budgets = route.router.budgets
        if budgets is not None:
            await budgets.release(route.decision.reservation_id)


async def monologue_ended(agent: Any) -> None:
    """`monologue_end`: commit what this turn recorded (off the event loop)."""
    runtime = get_runtime(agent)
    await asyncio.to_thread(runtime.flush, 5.0)
