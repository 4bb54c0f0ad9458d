"""Attribution for calls the host makes outside the chat/utility hooks.

Embeddings (memory) and the browser agent's model calls never pass through
`chat_model_call_before` / `util_model_call_before`. The host builds those model objects
through `@extensible` accessors, so an `end` extension on `Agent.get_embedding_model` /
`Agent.get_browser_model` tags the returned object: capture metadata in its `kwargs` (which
the host passes to litellm on every call) names the chat, the agent, the kind and the tool.
No call id is fixed here, so each litellm call still becomes its own ledger row.
"""

from __future__ import annotations

from typing import Any

from agent_routing.config import CallKind
from agent_routing.host import attribution


def tag_model(agent: Any, data: dict[str, Any], kind: CallKind) -> None:
    """Merge capture metadata for `kind` into the `kwargs` of the accessor's result."""
    from agent_routing.capture import METADATA_KEY, capture_metadata

    model = data.get("result")
    kwargs = getattr(model, "kwargs", None)
    if not isinstance(kwargs, dict):
        return
    metadata = capture_metadata(
        conversation_id=attribution.conversation_id(agent),
        agent_no=attribution.agent_no(agent),
        kind=kind.value,
        tool=attribution.current_tool(agent),
    )
    metadata[METADATA_KEY].pop("call_id", None)
    existing = kwargs.get("metadata")
    kwargs["metadata"] = {**(existing if isinstance(existing, dict) else {}), **metadata}
