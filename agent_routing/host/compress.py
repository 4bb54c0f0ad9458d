"""The compression hook: `message_loop_prompts_after` compresses the main call's prompt.

It compresses for the model this iteration's main call is routed to (dear models are worth
compressing, cheap ones rarely are) and to the router's `compress_to_tokens` when the
prompt would not otherwise fit. The lists assigned back are new objects: the history's
content objects are the stored ones and are never edited in place (§8.3). The tokens and
dollars saved go on the main call's ledger row.
"""

from __future__ import annotations

import json
from typing import Any

from agent_routing.host import state
from agent_routing.host.runtime import get_runtime
from agent_routing.host.tiers import model_name_of


def _extras_tokens(loop_data: Any) -> int:
    """Tokens of the extras the host appends after the history (a rough count)."""
    from agent_routing.tokens import count_text_tokens

    extras = {
        **dict(getattr(loop_data, "extras_persistent", {}) or {}),
        **dict(getattr(loop_data, "extras_temporary", {}) or {}),
    }
    return count_text_tokens(json.dumps(extras, default=str)) if extras else 0


async def compress_prompt(agent: Any, loop_data: Any) -> None:
    """Replace `loop_data.system` / `history_output` with compressed copies when it pays."""
    runtime = get_runtime(agent)
    if not runtime.settings.compression.enabled:
        return
    from agent_routing.compression import compress_loop_prompt

    route = state.iteration_route(loop_data)
    model = route.decision.model if route is not None else model_name_of(agent.get_chat_model())
    if model is None:
        return
    result = await compress_loop_prompt(
        list(loop_data.system),
        list(loop_data.history_output),
        model=model,
        settings=runtime.settings,
        target_tokens=route.decision.compress_to_tokens if route is not None else None,
        cache_state=agent.data.get(state.PROMPT_CACHE_KEY),
        extra_prompt_tokens=_extras_tokens(loop_data),
    )
    agent.data[state.PROMPT_CACHE_KEY] = result.cache_state
    if not result.changed:
        return
    loop_data.system = result.system
    loop_data.history_output = result.history
    if route is not None:
        route.tokens_saved = result.stats.tokens_saved
        route.usd_saved = result.stats.usd_saved
