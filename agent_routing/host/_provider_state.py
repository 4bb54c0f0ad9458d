"""Agent Zero v2's Responses-API state: which model holds this agent's conversation.

v2 keeps, per agent, the last Responses turn (`agent.data["responses_state"]`: response
id and the model it came from) and continues it (`previous_response_id`) only when the
configured chat model is that model. The router is told so, because moving such a chat to
another model makes the next step resend the whole prompt
(`agent_routing/router/_continuation.py`).
"""

from __future__ import annotations

from typing import Any

from agent_routing.host._tiers import model_name_of

RESPONSES_STATE_KEY = "responses_state"  # v2 Agent.DATA_NAME_RESPONSES_STATE


def continuing_model(agent: Any, chat_model: Any) -> str | None:
    """The model whose stored conversation this agent's next main step would continue."""
    data = getattr(agent, "data", None)
    state = data.get(RESPONSES_STATE_KEY) if isinstance(data, dict) else None
    if not isinstance(state, dict) or not state.get("response_id"):
        return None
    key = state.get("provider_model_key")
    configured = model_name_of(chat_model)
    return key if isinstance(key, str) and key and key == configured else None
