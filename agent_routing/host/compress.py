"""The compression hook: `message_loop_prompts_after` compresses the main call's prompt.

It compresses for the model this iteration's main call is routed to (dear models are worth
compressing, cheap ones rarely are) and to the router's `compress_to_tokens` when the
prompt would not otherwise fit. The lists assigned back are new objects: the history's
content objects are the stored ones and are never edited in place (§8.3). The tokens and
dollars saved go on the main call's ledger row. A v2 step that continues a conversation
stored at the provider (Responses API) is not compressed: the provider bills what it
stored, whatever the local prompt says.

With `compression.summarizer: utility`, folded turns are summarized by the host's own
utility model through `agent.call_utility_model` (§5.4), the way the host's memory recall
calls it from this same hook (§3.1). Going through the host rather than litellm directly
keeps the host's API keys, rate limiter and secret masking, and makes the call pass our
own `util_model_call_before` extension: it is routed, budgeted and recorded in the ledger
like any utility call, with kind `summarization`. The summaries are cached in the ledger
by content hash and bought only when they pay (:mod:`agent_routing.compression._utility`).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from agent_routing.config import CallKind, Settings, TierConfig
from agent_routing.host import _provider_state as provider_state
from agent_routing.host import _state as state
from agent_routing.host._runtime import PluginRuntime, get_runtime
from agent_routing.host._tiers import effective_tiers, model_name_of

if TYPE_CHECKING:
    from agent_routing.compression import Completer, SummaryCache, UtilitySummarizer

logger = logging.getLogger("agent_routing.host")
_UNPRICED_LOGGED: set[str] = set()  # each unpriced summary model is logged once per process


def _extras_tokens(loop_data: Any) -> int:
    """Tokens of the extras the host appends after the history (a rough count)."""
    from agent_routing.tokens import count_text_tokens

    extras = {
        **dict(getattr(loop_data, "extras_persistent", {}) or {}),
        **dict(getattr(loop_data, "extras_temporary", {}) or {}),
    }
    return count_text_tokens(json.dumps(extras, default=str)) if extras else 0


def _host_completer(agent: Any) -> Completer:
    """A summary :data:`Completer` that asks the host's utility model (`call_utility_model`)."""

    async def complete(messages: list[dict[str, str]]) -> str:
        system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
        message = "\n\n".join(m["content"] for m in messages if m["role"] != "system")
        reply = await agent.call_utility_model(system=system, message=message)
        return reply if isinstance(reply, str) else ""

    return complete


def _tier_named(tiers: list[TierConfig], reference: str) -> TierConfig | None:
    """The tier a rule names (`cheapest`, `strongest`, a tier name or a model id)."""
    if not tiers:
        return None
    if reference == "cheapest":
        return tiers[0]
    if reference == "strongest":
        return tiers[-1]
    return next((t for t in tiers if reference in (t.name, t.model)), None)


def summary_model(agent: Any, settings: Settings) -> str | None:
    """The model that will answer a summarization utility call, for its price estimate.

    The call is routed by our `util_model_call_before` extension: a rule with a fixed
    `tier` for `summarization` decides it (the default rule sends it to the cheapest tier);
    otherwise, or with the router off or in shadow mode, the host's utility model serves
    it. Only the cost check uses this; the call itself is routed as usual.
    """
    utility = agent.get_utility_model()
    router = settings.router
    if router.enabled and not router.shadow:
        tiers = effective_tiers(settings, agent.get_chat_model(), utility)
        for rule in router.rules:
            if CallKind.SUMMARIZATION in rule.kinds and rule.tier is not None:
                tier = _tier_named(tiers, rule.tier)
                if tier is not None:
                    return tier.model
                break
    return model_name_of(utility)


async def _summary_cache(runtime: PluginRuntime) -> SummaryCache | None:
    """The ledger of this event loop (its `kv_cache`), or None when it cannot be opened."""
    try:
        return (await runtime.budgets.instance()).ledger
    except Exception:
        logger.warning("agent-routing: no summary cache, the ledger did not open", exc_info=True)
        return None


async def _utility_summarizer_for(agent: Any, runtime: PluginRuntime) -> UtilitySummarizer | None:
    """The summarizer for folded turns when `compression.summarizer` is `utility`, else None.

    None also when the model serving the call has no price (the check whether a summary
    pays needs it): folded turns then keep their extractive lines.
    """
    settings = runtime.settings
    if settings.compression.summarizer != "utility":
        return None
    from agent_routing.compression import UtilitySummarizer, profile_for
    from agent_routing.errors import UnknownModelError

    model = summary_model(agent, settings)
    if model is None:
        return None
    try:
        profile = profile_for(model, settings)
    except UnknownModelError:
        if model not in _UNPRICED_LOGGED:
            _UNPRICED_LOGGED.add(model)
            logger.warning(
                "agent-routing: utility summaries off: no price for %r (add it under prices:)",
                model,
            )
        return None
    return UtilitySummarizer(
        complete=_host_completer(agent), profile=profile, cache=await _summary_cache(runtime)
    )


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
    if provider_state.continuing_model(agent, agent.get_chat_model()) == model:
        return  # v2 Responses: the provider bills its stored context, not this local prompt
    result = await compress_loop_prompt(
        list(loop_data.system),
        list(loop_data.history_output),
        model=model,
        settings=runtime.settings,
        target_tokens=route.decision.compress_to_tokens if route is not None else None,
        cache_state=agent.data.get(state.PROMPT_CACHE_KEY),
        extra_prompt_tokens=_extras_tokens(loop_data),
        summarizer=await _utility_summarizer_for(agent, runtime),
    )
    agent.data[state.PROMPT_CACHE_KEY] = result.cache_state
    if not result.changed:
        return
    loop_data.system = result.system
    loop_data.history_output = result.history
    if route is not None:
        route.tokens_saved = result.stats.tokens_saved
        route.usd_saved = result.stats.usd_saved
