"""Where the plugin keeps its state on Agent Zero's objects, and in which form.

- Per iteration (`loop_data.params_temporary`, reset by the host every iteration): the
  :class:`IterationRoute` - the decision made at `message_loop_start` and whether the main
  call has used it yet.
- Per agent, transient (`agent.data["_agent_routing_*"]`, never saved): the tool in
  progress, the signals of the previous iteration, the tools used in this task, the prompt
  cache state of the compressor.
- Per chat, persistent (`context.data["agent_routing_*"]`, plain JSON, saved with the chat):
  the cascade position of each agent and the sticky `switch_model` override.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent_routing.config import TierConfig
from agent_routing.router import CascadeState

if TYPE_CHECKING:
    from agent_routing.router import Router, RoutingDecision

ROUTE_KEY = "agent_routing"
MAIN_FLAG_KEY = "agent_routing_main_pending"  # set at before_main_llm_call
CASCADE_KEY = "agent_routing_cascade"
OVERRIDE_KEY = "agent_routing_override"
SIGNALS_KEY = "_agent_routing_signals"
TASK_KEY = "_agent_routing_task"
PROMPT_CACHE_KEY = "_agent_routing_prompt_cache"


@dataclass(slots=True)
class IterationRoute:
    """The routing of one loop iteration of one agent."""

    router: Router
    decision: RoutingDecision
    tiers: list[TierConfig]
    main_used: bool = False
    main_model: Any = None  # the RoutedChatModel given to the main call
    tokens_saved: int | None = None
    usd_saved: float | None = None


@dataclass(slots=True)
class TaskState:
    """What the analyzer learns about the current task as it goes (transient)."""

    tools: list[str] = field(default_factory=list)
    tool_errors: int = 0


def iteration_route(loop_data: Any) -> IterationRoute | None:
    """This iteration's route, if `message_loop_start` made one."""
    params = getattr(loop_data, "params_temporary", None)
    route = params.get(ROUTE_KEY) if isinstance(params, dict) else None
    return route if isinstance(route, IterationRoute) else None


def set_iteration_route(loop_data: Any, route: IterationRoute) -> None:
    """Keep `route` for the rest of this iteration."""
    loop_data.params_temporary[ROUTE_KEY] = route


def task_state(agent: Any, *, reset: bool = False) -> TaskState:
    """The agent's current task state (a fresh one with `reset`)."""
    found = agent.data.get(TASK_KEY)
    if reset or not isinstance(found, TaskState):
        found = TaskState()
        agent.data[TASK_KEY] = found
    return found


def _agent_key(agent: Any) -> str:
    return str(getattr(agent, "number", 0))


def load_cascade(agent: Any) -> CascadeState:
    """The agent's cascade state from the chat's data (fresh when absent or unreadable)."""
    saved = agent.context.data.get(CASCADE_KEY)
    entry = saved.get(_agent_key(agent)) if isinstance(saved, dict) else None
    try:
        return CascadeState.from_dict(entry if isinstance(entry, dict) else None)
    except ValueError:
        return CascadeState()


def save_cascade(agent: Any, state: CascadeState) -> None:
    """Store the agent's cascade state in the chat's data (saved with the chat)."""
    saved = agent.context.data.get(CASCADE_KEY)
    table = dict(saved) if isinstance(saved, dict) else {}
    table[_agent_key(agent)] = state.to_dict()
    agent.context.data[CASCADE_KEY] = table


def take_signals(agent: Any) -> tuple[str, ...]:
    """The signals of the agent's previous iteration (consumed)."""
    signals = agent.data.pop(SIGNALS_KEY, None)
    return tuple(signals) if isinstance(signals, list) else ()


def add_signal(agent: Any, kind: str) -> None:
    """Remember a signal for the next iteration's analysis."""
    signals = agent.data.setdefault(SIGNALS_KEY, [])
    if isinstance(signals, list) and kind not in signals:
        signals.append(kind)


def override_of(agent: Any) -> dict[str, Any] | None:
    """The chat's sticky `switch_model` override, if any."""
    value = agent.context.data.get(OVERRIDE_KEY)
    return value if isinstance(value, dict) and isinstance(value.get("tier"), str) else None
