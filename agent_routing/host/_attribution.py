"""Who makes a call and why, read from Agent Zero's objects.

Every ledger row carries the chat (context id), the agent number (0 = the main agent,
1.. = subordinates), the kind of call and the tool in progress. A subordinate runs inside
its superior's `call_subordinate` tool and a document query inside `document_query`, so
the tool of a call is the innermost tool in progress along the agent's superior chain.
A v2 `parallel` tool worker runs in a context of its own whose data names the parent chat
(`PARALLEL_PARENT_KEY`); its calls belong to that chat. A `call_subordinate` job is an
isolated child chat (`PARALLEL_KIND_KEY` = "subordinate") whose agent 0 has no superior and
no tool in progress: its calls are subordinate calls made in `call_subordinate`, the job's
tool.
"""

from __future__ import annotations

import re
from typing import Any

from agent_routing.config import CallKind

# Keys in host data. A leading "_" keeps a value out of the saved chat (§8.4).
TOOL_KEY = "_agent_routing_tool"
SUPERIOR_KEY = "_superior"
PARALLEL_PARENT_KEY = "_parallel_parent_context_id"  # v2 helpers/parallel_tools.py
PARALLEL_KIND_KEY = "_parallel_worker_kind"  # v2: "subordinate" for a call_subordinate job
SUBORDINATE_JOB_TOOL = "call_subordinate"

_TOOL_KINDS = {
    "document_query": CallKind.DOCUMENT_QUERY,
    "browser_agent": CallKind.BROWSER,
}
_UTILITY_PURPOSES: tuple[tuple[re.Pattern[str], CallKind], ...] = (
    (
        re.compile(r"\b(chat (name|title)|rename the chat|title for (this|the) (chat|conv))", re.I),
        CallKind.TITLE,
    ),
    (re.compile(r"\bsummar(y|ies|ise|ize|ising|izing)\b", re.I), CallKind.SUMMARIZATION),
    (re.compile(r"\b(memor(y|ies|ise|ize|ising|izing)|remember|recall)\b", re.I), CallKind.MEMORY),
)


def conversation_id(agent: Any) -> str | None:
    """The chat id (shared by an agent and its subordinates; a parallel worker's parent)."""
    context = getattr(agent, "context", None)
    data = getattr(context, "data", None)
    parent = data.get(PARALLEL_PARENT_KEY) if isinstance(data, dict) else None
    if isinstance(parent, str) and parent:
        return parent
    value = getattr(context, "id", None)
    return value if isinstance(value, str) and value else None


def tool_kind(agent: Any) -> CallKind | None:
    """The kind every call made inside the tool in progress has (browser, document query)."""
    return _TOOL_KINDS.get(current_tool(agent) or "")


def agent_no(agent: Any) -> int | None:
    """The agent's number: 0 for the main agent, 1.. for subordinates."""
    value = getattr(agent, "number", None)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _parallel_subordinate_job(agent: Any) -> bool:
    """True for an agent of a v2 `parallel` call_subordinate job's child chat."""
    data = getattr(getattr(agent, "context", None), "data", None)
    return isinstance(data, dict) and data.get(PARALLEL_KIND_KEY) == "subordinate"


def main_call_kind(agent: Any) -> CallKind:
    """The kind of an agent's main loop call: chat, subordinate or scheduled task."""
    if (agent_no(agent) or 0) > 0 or _parallel_subordinate_job(agent):
        return CallKind.SUBORDINATE
    context_type = getattr(getattr(getattr(agent, "context", None), "type", None), "value", None)
    return CallKind.SCHEDULED if context_type == "task" else CallKind.CHAT


def set_current_tool(agent: Any, tool_name: str | None) -> None:
    """Mark `tool_name` as in progress for `agent` (None clears it)."""
    data = getattr(agent, "data", None)
    if isinstance(data, dict):
        if tool_name:
            data[TOOL_KEY] = tool_name
        else:
            data.pop(TOOL_KEY, None)


def own_tool(agent: Any) -> str | None:
    """The tool `agent` itself has in progress, if any."""
    data = getattr(agent, "data", None)
    value = data.get(TOOL_KEY) if isinstance(data, dict) else None
    return value if isinstance(value, str) and value else None


def current_tool(agent: Any, max_depth: int = 32) -> str | None:
    """The innermost tool in progress for `agent` or, failing that, its superiors."""
    current = agent
    for _ in range(max_depth):
        if current is None:
            break
        tool = own_tool(current)
        if tool is not None:
            return tool
        data = getattr(current, "data", None)
        current = data.get(SUPERIOR_KEY) if isinstance(data, dict) else None
    return SUBORDINATE_JOB_TOOL if _parallel_subordinate_job(agent) else None


def chat_call_kind(agent: Any, *, main: bool) -> CallKind:
    """The kind of a chat-model call: the main step, or what the tool in progress does."""
    if main:
        return main_call_kind(agent)
    return _TOOL_KINDS.get(current_tool(agent) or "", CallKind.OTHER)


def utility_call_kind(agent: Any, system: str, message: str) -> CallKind:
    """The purpose of a utility call, inferred from its tool or its system prompt."""
    tool_kind = _TOOL_KINDS.get(current_tool(agent) or "")
    if tool_kind is not None:
        return tool_kind
    for pattern, kind in _UTILITY_PURPOSES:
        if pattern.search(system):
            return kind
    for pattern, kind in _UTILITY_PURPOSES:
        if pattern.search(message[:500]):
            return kind
    return CallKind.UTILITY
