"""The calling context of every LLM call: which chat, agent and tool, set where it changes.

Hooks put the agent's scope in force (:mod:`agent_routing.capture.scope`) when a
monologue starts (before the host's own `monologue_start` work: Agent Zero's memory plugin
embeds there), when each loop iteration starts, and when a tool starts or ends. Every
litellm call made from that task afterwards - embeddings through the memory plugin's own
embedder, the v1.7 browser model, anything no hook sees - is attributed from it, and so
is a background task started from it (its context is a copy). Nothing is written on model
objects, which the host may share between chats.

Capture is started at the first of these hooks (`agent_init`, fired when a chat's first
agent is built, then `monologue_start`), before the host's first LLM call of the process.
"""

from __future__ import annotations

from typing import Any

from agent_routing.host import _attribution as attribution


def enter_agent(agent: Any) -> None:
    """Put `agent`'s scope (chat, agent number, tool in progress) in force in this context."""
    from agent_routing.capture.scope import make_scope, set_scope

    kind = attribution.tool_kind(agent)
    set_scope(
        make_scope(
            conversation_id=attribution.conversation_id(agent),
            agent_no=attribution.agent_no(agent),
            kind=kind.value if kind is not None else None,
            tool=attribution.current_tool(agent),
        )
    )


def start_capture(agent: Any) -> None:
    """Make sure capture runs (idempotent: the runtime and its logger exist once a process)."""
    from agent_routing.host._runtime import get_runtime

    get_runtime(agent)


def monologue_started(agent: Any) -> None:
    """`monologue_start` (first of all): capture on, this agent's scope in force."""
    start_capture(agent)
    enter_agent(agent)
