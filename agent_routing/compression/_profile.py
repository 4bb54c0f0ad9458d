"""What compression needs to know about a model: price, context window, prompt caching.

Prompt caching is derived from the price data: a model whose price map carries a
`cache_read_input_token_cost` below its input price caches prompt prefixes (Anthropic,
OpenAI, Gemini, DeepSeek, ...). How long a cached prefix stays *warm* is not in the
price data; it is the setting `compression.prompt_cache_ttl_s` (:func:`profile_for`),
by default :data:`DEFAULT_PROMPT_CACHE_TTL_S`, five minutes: the default lifetime of
Anthropic's ephemeral cache and the shortest OpenAI documents for automatic caching (a
cache hit refreshes it). Set it longer for a provider that keeps prefixes longer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from agent_routing.config import PriceOverride, Settings
from agent_routing.errors import UnknownModelError

DEFAULT_PROMPT_CACHE_TTL_S = 300.0


@dataclass(frozen=True, slots=True)
class ModelProfile:
    """Price, context window and prompt-cache behaviour of the model a prompt goes to."""

    model: str
    input_cost_per_token: float
    output_cost_per_token: float
    cache_read_cost_per_token: float | None = None
    cache_write_cost_per_token: float | None = None  # None: a cache write costs the input price
    context_window: int | None = None
    prompt_cache_ttl_s: float | None = None  # None: the provider does not cache prompts

    @property
    def input_cost_per_mtok(self) -> float:
        """Input price in USD per million tokens."""
        return self.input_cost_per_token * 1_000_000

    @property
    def caches_prompts(self) -> bool:
        """True when the provider bills repeated prompt prefixes at a cache-read price."""
        return self.prompt_cache_ttl_s is not None


def model_profile(
    model: str,
    overrides: Mapping[str, PriceOverride] | None = None,
    *,
    prompt_cache_ttl_s: float | None = None,
) -> ModelProfile:
    """The profile of `model` from a price override or litellm's local price map.

    Prices are what litellm bills (:func:`agent_routing.pricing.unit_prices`): a provider
    that bills cached tokens at the full input price has no cache-read price here, so it
    counts as not caching. Raises UnknownModelError (naming the model) when unpriced.
    """
    from agent_routing import pricing

    prices = pricing.unit_prices(model, overrides)
    if prices is None:
        raise UnknownModelError(model)
    caches = prices.cache_read is not None and prices.cache_read < prices.input
    return ModelProfile(
        model=model,
        input_cost_per_token=prices.input,
        output_cost_per_token=prices.output,
        cache_read_cost_per_token=prices.cache_read,
        cache_write_cost_per_token=prices.cache_creation,
        context_window=pricing.context_window(model, overrides),
        prompt_cache_ttl_s=(
            (DEFAULT_PROMPT_CACHE_TTL_S if prompt_cache_ttl_s is None else prompt_cache_ttl_s)
            if caches
            else None
        ),
    )


def profile_for(model: str, settings: Settings) -> ModelProfile:
    """:func:`model_profile` with the price overrides and prompt-cache TTL of `settings`."""
    return model_profile(
        model, settings.prices, prompt_cache_ttl_s=settings.compression.prompt_cache_ttl_s
    )
