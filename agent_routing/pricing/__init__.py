"""Prices of models and costs of calls, from litellm's price maps (never written by hand).

The package's parts: `_core` (unit prices, context windows, call costs, the choice between
the installed litellm map and the shipped snapshot; see its docstring for the billing
rules), `_long_context` (litellm's long-prompt price bands, e.g. above 200k prompt tokens)
and `snapshot` (the newer litellm price map shipped in `pricing/data/`, read offline and
refreshed by `agent-routing prices --update-snapshot`). Callers import from here.
"""

from __future__ import annotations

from agent_routing.pricing._core import (
    PASS_THROUGH_ROUTERS,
    REASONING_OUTSIDE_COMPLETION,
    UPSTREAM_PROVIDERS,
    PriceChoice,
    clear_caches,
    context_window,
    cost_usd,
    estimate_cost_usd,
    installed_version,
    is_known_model,
    litellm_cost,
    litellm_usage,
    map_unit_prices,
    max_output_tokens,
    model_aliases,
    price_choice,
    price_map_size,
    price_thresholds,
    provider_of,
    same_model,
    unit_prices,
    upstream_names,
)

__all__ = [
    "PASS_THROUGH_ROUTERS",
    "REASONING_OUTSIDE_COMPLETION",
    "UPSTREAM_PROVIDERS",
    "PriceChoice",
    "clear_caches",
    "context_window",
    "cost_usd",
    "estimate_cost_usd",
    "installed_version",
    "is_known_model",
    "litellm_cost",
    "litellm_usage",
    "map_unit_prices",
    "max_output_tokens",
    "model_aliases",
    "price_choice",
    "price_map_size",
    "price_thresholds",
    "provider_of",
    "same_model",
    "unit_prices",
    "upstream_names",
]
