"""Tiers inside Agent Zero, and the host model object that serves each tier.

With no tiers configured, the host's own models are the tiers: its utility model is the
cheap tier (`utility`) and its chat model the strong one (`chat`), so installing the plugin
already sends simple steps to the utility model. Configured tiers replace this.

Every hop of a routed call runs through a real host model object (the host's own wrapper,
or one built with `models.get_chat_model(provider, name, model_config=..., **kwargs)`), so
the host's API keys, provider settings, rate limiter and stream handling all still apply.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from agent_routing.config import Settings, TierConfig
from agent_routing.host.layout import host_module

logger = logging.getLogger("agent_routing.host")

CHEAP_HOST_TIER = "utility"
STRONG_HOST_TIER = "chat"
CONFIGURED = "configured"  # the router's name for "the model the host would have used"

_HOST_USE_FOR = {
    CHEAP_HOST_TIER: "simple steps: lookups, short answers (Agent Zero's utility model)",
    STRONG_HOST_TIER: "hard steps: reasoning, code, long plans (Agent Zero's chat model)",
}


def model_name_of(model: Any) -> str | None:
    """The litellm model id of a host model object (`<provider>/<name>`)."""
    value = getattr(model, "model_name", None)
    return value if isinstance(value, str) and value else None


def host_tiers(chat_model: Any, utility_model: Any) -> list[TierConfig]:
    """The default tiers: utility (cheap) then chat (strong); one tier if they coincide."""
    tiers = []
    utility_name, chat_name = model_name_of(utility_model), model_name_of(chat_model)
    if utility_name and utility_name != chat_name:
        tiers.append(
            TierConfig(
                name=CHEAP_HOST_TIER, model=utility_name, use_for=_HOST_USE_FOR[CHEAP_HOST_TIER]
            )
        )
    if chat_name:
        tiers.append(
            TierConfig(
                name=STRONG_HOST_TIER, model=chat_name, use_for=_HOST_USE_FOR[STRONG_HOST_TIER]
            )
        )
    return tiers


def effective_tiers(settings: Settings, chat_model: Any, utility_model: Any) -> list[TierConfig]:
    """Configured tiers, else the host's utility and chat models."""
    return list(settings.tiers) if settings.tiers else host_tiers(chat_model, utility_model)


def split_model(tier: TierConfig) -> tuple[str, str]:
    """(Agent Zero provider id, model name as that provider knows it) for a tier."""
    if tier.provider:
        prefix = tier.provider + "/"
        name = tier.model[len(prefix) :] if tier.model.startswith(prefix) else tier.model
        return tier.provider, name
    from agent_routing._litellm import litellm_module

    litellm = litellm_module()
    first, slash, rest = tier.model.partition("/")
    if slash and first in litellm.provider_list:
        return first, rest
    _model, provider, _key, _base = litellm.get_llm_provider(tier.model)
    return str(provider), tier.model


def build_tier_model(tier: TierConfig) -> Any:
    """A host chat model object for a configured tier (the host's own factory)."""
    models = host_module("models")
    provider, name = split_model(tier)
    config = models.ModelConfig(
        type=models.ModelType.CHAT, provider=provider, name=name, api_base=tier.api_base or ""
    )
    return models.get_chat_model(provider, name, model_config=config, **config.build_kwargs())


def serves_tier(model: Any, tier: TierConfig) -> bool:
    """True when a host model object is the model `tier` names (same id, same endpoint).

    A tier with no `api_base` names the model wherever the host reaches it; with one, the
    host model must use that base. A tier's `provider`, when set, must be the host model's.
    """
    if model is None or model_name_of(model) != tier.model:
        return False
    kwargs = getattr(model, "kwargs", None)
    base = kwargs.get("api_base") if isinstance(kwargs, dict) else None
    if tier.api_base and str(base or "").rstrip("/") != tier.api_base.rstrip("/"):
        return False
    if tier.provider:
        conf = getattr(model, "a0_model_conf", None)
        providers = {getattr(model, "provider", None), getattr(conf, "provider", None)}
        return tier.provider in providers
    return True


def host_model_for_tier(tier: TierConfig, configured: Any, other: Callable[[], Any]) -> Any:
    """The host model object for a configured tier: the call's own model or the host's other
    model when the tier names it (their `kwargs` - API mode, temperature - apply), else one
    built for the tier."""
    if serves_tier(configured, tier):
        return configured
    try:
        other_model = other()
    except Exception as exc:  # the other model cannot be built: the tier gets its own
        logger.info("agent-routing: host model for tier %r unavailable: %s", tier.name, exc)
        other_model = None
    return other_model if serves_tier(other_model, tier) else build_tier_model(tier)


class HopModels:
    """Finds the host model object for each tier of a call's fallback chain.

    `own` maps tier names to functions returning a host model (the call's configured model
    for `configured` and for its own host tier; the other host model on demand).
    """

    def __init__(self, own: dict[str, Callable[[], Any]]) -> None:
        self._own = own
        self._built: dict[str, Any] = {}

    def for_tier(self, tier: TierConfig) -> Any:
        """The host model object that serves `tier` (built once per call)."""
        if tier.name not in self._built:
            factory = self._own.get(tier.name)
            self._built[tier.name] = factory() if factory is not None else build_tier_model(tier)
        return self._built[tier.name]
