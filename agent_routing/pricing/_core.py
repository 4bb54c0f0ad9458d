"""Unit prices, context windows and call costs, all from litellm price maps.

No price is ever written by hand here. Per model, the price comes from (first match):

1. a user override (`Settings.prices`);
2. the newer of two offline maps that prices the model: the map in the installed litellm
   wheel (:mod:`agent_routing._litellm`) and the snapshot of a newer litellm map shipped in
   this package (:mod:`agent_routing.pricing.snapshot`). When both price it alike, the
   installed map is used (its prices are probed from litellm's own billing, below); a
   snapshot entry is priced from its own per-token prices and tiers;
3. the same, for the upstream model of a router that passes list prices through
   (`openrouter/anthropic/claude-sonnet-4.6` -> Anthropic's `claude-sonnet-4-6`; dots and
   dashes in version numbers are both tried, see :func:`upstream_names`).

Each price records its source (`litellm`, `snapshot`, `override`), map entry and litellm
release (`UnitPrices.version`), stored with every call in the ledger.

**Billing semantics mirror litellm.** litellm 1.79.3 does not bill every provider the same
way: for some it applies the map's cache prices, for others (openrouter, groq, deepinfra,
...) it bills cached tokens at the full input price; for together_ai it uses a model-size
bucket price rather than the model's own entry. Rather than re-implement those branches,
:func:`unit_prices` asks litellm's own ``completion_cost`` what it charges for a small probe
of each token class (input, output, cache read, cache write, reasoning) and records those
per-token prices. A call's cost is then linear in its usage, and equals
``litellm.completion_cost`` for the same usage (tests check it on every priced chat entry).

Deliberate differences, documented in docs/capture.md and pinned by tests:

- a token class the map has *no* price for is billed at the base price (cached and
  cache-write tokens at the input price, reasoning at the output price), never at $0;
  litellm 1.79.3 bills such cached tokens at $0 in its generic calculator, and such
  reasoning tokens at $0 for perplexity (deepseek's legacy `input_cost_per_token_cache_hit`
  key, which litellm ignores, is used as the cache-read price);
- models litellm prices per character (legacy PaLM / gemini-1.0 on Vertex) and entries
  litellm cannot price at all use the map's per-token prices directly.

**Tiered prices.** Some entries price long prompts higher
(``input_cost_per_token_above_200k_tokens`` ...); litellm 1.79.3 picks one tier per call
from the prompt size (rules in :mod:`agent_routing.pricing._long_context`). Given ``input_tokens``,
:func:`unit_prices` selects the tier by the same rule and returns that tier's effective
prices, probed from ``completion_cost`` just above the threshold like the base
ones (so provider quirks carry over: openrouter, which litellm bills flat, gets no tier);
their ``model_key`` names the tier (``gemini/gemini-2.5-pro@>200k``). Within a tier the
cost stays linear in the usage, so :func:`cost_usd` is unchanged.

A model with no known price gives ``None`` and its calls are recorded *unpriced*
(``cost_usd=None``), never as free.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from collections.abc import Mapping
from typing import Any

from agent_routing._litellm import litellm_module, litellm_version
from agent_routing.config import PriceOverride
from agent_routing.errors import ConfigError
from agent_routing.pricing import snapshot as price_snapshot
from agent_routing.pricing._long_context import Tier, snapped, tier_map_prices, tiers_of
from agent_routing.records import UnitPrices, Usage

# Providers whose map lookups litellm may turn into a network request (a local Ollama
# server, the Hugging Face hub) when the name is not in the map: only exact map keys there.
_NETWORK_LOOKUP_PROVIDERS = frozenset({"ollama", "ollama_chat", "huggingface"})

# litellm 1.79.3 bills these providers' reasoning tokens *on top of* completion_tokens
# (llms/xai/cost_calculator.py, llms/perplexity/cost_calculator.py): their
# completion_tokens exclude reasoning. Usage here always counts reasoning inside output.
REASONING_OUTSIDE_COMPLETION = frozenset({"xai", "perplexity"})

# Map modes whose entries bill input only; a missing output price there means $0.
_INPUT_ONLY_MODES = frozenset({"embedding", "moderation", "rerank"})

_PROBE_TOKENS = 1000  # small enough to stay below every tiered-price threshold


def _check_model(model: object) -> str:
    if not isinstance(model, str) or not model.strip():
        raise ConfigError.single("model", f"must be a non-empty model name, not {model!r}")
    return model


# --- map lookup -------------------------------------------------------------------------


@functools.lru_cache(maxsize=2048)
def provider_of(model: str) -> str | None:
    """The litellm provider name of `model` (``openai``, ``openrouter``, ...), or None."""
    _check_model(model)
    litellm = litellm_module()
    try:
        provider = litellm.get_llm_provider(model=model)[1]
    except Exception:
        entry = _map_entry(model)
        provider = entry[1].get("litellm_provider") if entry else None
    return provider if isinstance(provider, str) and provider else None


@functools.lru_cache(maxsize=2048)
def model_aliases(model: str) -> tuple[str, ...]:
    """Every name of `model` that litellm sends to the same provider and model, sorted.

    Callers name one model several ways: `gpt-4o` in a budget, `openai/gpt-4o` in Agent
    Zero's calls (`<provider>/<name>`). A budget or quota on a model must count all of them,
    or money spent under one name escapes a limit set under the other. The aliases are the
    name itself, `<provider>/<name>`, and the bare name when litellm resolves it to the same
    provider (so `groq/llama3-8b` does not absorb a bare `llama3-8b` that litellm would send
    elsewhere).
    """
    _check_model(model)
    litellm = litellm_module()
    names = {model}
    try:
        stripped, provider, _, _ = litellm.get_llm_provider(model=model)
    except Exception:
        return (model,)
    if not isinstance(provider, str) or not provider or not isinstance(stripped, str):
        return (model,)
    names.add(f"{provider}/{stripped}")
    try:
        bare_provider = litellm.get_llm_provider(model=stripped)[1]
    except Exception:
        bare_provider = None
    if bare_provider == provider:
        names.add(stripped)
    return tuple(sorted(names))


def same_model(first: str, second: str) -> bool:
    """Whether two names denote the same model at the same provider (see model_aliases)."""
    return first == second or bool(set(model_aliases(first)) & set(model_aliases(second)))


@functools.lru_cache(maxsize=2048)
def _map_entry(model: str) -> tuple[str, Mapping[str, Any]] | None:
    """The (key, entry) litellm would use for `model`, resolving provider prefixes."""
    litellm = litellm_module()
    cost_map: Mapping[str, Any] = litellm.model_cost
    try:
        stripped, provider, _, _ = litellm.get_llm_provider(model=model)
    except Exception:
        stripped, provider = model, None
    if provider in _NETWORK_LOOKUP_PROVIDERS:
        for key in (model, f"{provider}/{stripped}"):
            if key in cost_map:
                return key, cost_map[key]
        return None
    try:
        info = litellm.get_model_info(model=model)
    except Exception:  # some exact keys trip litellm's resolver (e.g. azure/command-r-plus)
        info = None
    entry_key = info.get("key") if isinstance(info, Mapping) else None
    if isinstance(entry_key, str) and entry_key in cost_map:
        return entry_key, cost_map[entry_key]
    return (model, cost_map[model]) if model in cost_map else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


# --- prices -----------------------------------------------------------------------------


def unit_prices(
    model: str,
    overrides: Mapping[str, PriceOverride] | None = None,
    *,
    input_tokens: int | None = None,
) -> UnitPrices | None:
    """Per-token USD prices for `model`: an override if one names it, else litellm's map.

    With `input_tokens` (the whole prompt, cached tokens included) the prices are those of
    the tier a prompt of that size is billed at (see the module doc); without it, the
    base tier's. None when neither knows the model (its calls are then recorded unpriced).
    """
    _check_model(model)
    if input_tokens is not None and (
        isinstance(input_tokens, bool) or not isinstance(input_tokens, int) or input_tokens < 0
    ):
        raise ConfigError.single(
            "input_tokens", f"must be a non-negative integer or None, not {input_tokens!r}"
        )
    if overrides:
        override = overrides.get(model)
        if override is not None:
            return UnitPrices(
                input=override.input_cost_per_token,
                output=override.output_cost_per_token,
                cache_read=override.cache_read_input_token_cost,
                cache_creation=override.cache_creation_input_token_cost,
                reasoning=override.output_cost_per_reasoning_token,
                source="override",
                model_key=model,
            )
    base = _chosen_prices(model)
    if base is None or not input_tokens:
        return base
    for tier in _chosen_tiers(model):  # in litellm's order; usually none (a cached ())
        if input_tokens > tier.threshold:
            return _chosen_tier_prices(model, tier)
    return base


def map_unit_prices(model: str, *, input_tokens: int | None = None) -> UnitPrices | None:
    """Prices from the installed litellm map alone, as litellm's `completion_cost` bills
    them (no snapshot, no override, no upstream resolution): what the parity test checks."""
    _check_model(model)
    base = _litellm_prices(model)
    if base is None or not input_tokens:
        return base
    for tier in _tiers(model):
        if input_tokens > tier.threshold:
            return _tier_prices(model, tier)
    return base


# --- choosing the source: installed map, shipped snapshot, upstream of a router ------------

# Routers that bill the upstream provider's list price: `<router>/<org>/<model>` with no
# map entry of its own is priced as the upstream model (OpenRouter passes prices through).
PASS_THROUGH_ROUTERS = frozenset({"openrouter"})

# A router's organisation prefix -> the litellm provider whose map entries price it.
UPSTREAM_PROVIDERS: Mapping[str, str] = {
    "anthropic": "anthropic",
    "openai": "openai",
    "google": "gemini",
    "mistralai": "mistral",
    "deepseek": "deepseek",
    "x-ai": "xai",
    "moonshotai": "moonshot",
    "qwen": "dashscope",
    "cohere": "cohere_chat",
    "perplexity": "perplexity",
}

_DIGIT_DOT_DIGIT = re.compile(r"(?<=\d)\.(?=\d)")
_DIGIT_DASH_DIGIT = re.compile(r"(?<=\d)-(?=\d)")


@dataclasses.dataclass(frozen=True, slots=True)
class PriceChoice:
    """Which map entry prices a model: its source, the name it was found under, the entry."""

    source: str  # "litellm" (the installed map) or "snapshot" (the shipped one)
    name: str  # the model name the entry was found for (upstream name when resolved)
    key: str
    entry: Mapping[str, Any]
    version: str  # the litellm release of that map
    upstream: bool = False  # True: resolved from a pass-through router's name


@functools.cache
def installed_version() -> str:
    """The installed litellm's version (cached)."""
    return litellm_version()


def _snapshot_is_newer() -> bool:
    snapshot = price_snapshot.info()
    if snapshot is None:
        return False
    return price_snapshot.version_key(snapshot.litellm_version) > price_snapshot.version_key(
        installed_version()
    )


def _split_provider(model: str) -> tuple[str | None, str]:
    litellm = litellm_module()
    try:
        stripped, provider, _, _ = litellm.get_llm_provider(model=model)
    except Exception:
        head, _, tail = model.partition("/")
        return (head, tail) if tail else (None, model)
    if isinstance(provider, str) and provider and isinstance(stripped, str):
        return provider, stripped
    return None, model


def _provider_matches(entry_provider: object, provider: str) -> bool:
    return isinstance(entry_provider, str) and (
        entry_provider == provider or entry_provider.startswith(f"{provider}-")
    )


@functools.lru_cache(maxsize=2048)
def _snapshot_entry(model: str) -> tuple[str, Mapping[str, Any]] | None:
    """The snapshot entry for `model` by litellm's naming rules (exact key, then
    `<provider>/<name>`, then a bare key of the same provider)."""
    entries = price_snapshot.price_map()
    if not entries:
        return None
    if model in entries:
        return model, _flat_tiers(entries[model])
    provider, stripped = _split_provider(model)
    if provider is None:
        return None
    prefixed = f"{provider}/{stripped}"
    if prefixed in entries:
        return prefixed, _flat_tiers(entries[prefixed])
    bare = entries.get(stripped)
    if bare is not None and _provider_matches(bare.get("litellm_provider"), provider):
        return stripped, _flat_tiers(bare)
    return None


_RANGE_FIELDS = (
    "input_cost_per_token",
    "output_cost_per_token",
    "cache_read_input_token_cost",
    "cache_creation_input_token_cost",
)


def _flat_tiers(entry: Mapping[str, Any]) -> Mapping[str, Any]:
    """An entry priced only by a `tiered_pricing` list of prompt-size ranges (newer maps:
    Qwen on dashscope, ...) as the flat keys the rest reads: the range from 0 gives the base
    prices, each later range `<class>_above_<start>_tokens` keys (a prompt above the start
    is billed at that range's prices)."""
    ranges = entry.get("tiered_pricing")
    if "input_cost_per_token" in entry or not isinstance(ranges, list):
        return entry
    flat = dict(entry)
    for item in ranges:
        bounds = item.get("range") if isinstance(item, Mapping) else None
        if not isinstance(bounds, list) or not bounds or not isinstance(bounds[0], int | float):
            return entry
        start = int(bounds[0])
        for name in (*_RANGE_FIELDS, "output_cost_per_reasoning_token"):
            if name not in item:
                continue
            if start == 0:
                flat[name] = item[name]
            elif name in _RANGE_FIELDS:
                flat[f"{name}_above_{start}_tokens"] = item[name]
    return flat


def _price_fields(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if "cost_per" in k or "token_cost" in k}


def _pick(name: str) -> PriceChoice | None:
    """The newer of the installed map and the snapshot that knows `name`.

    When both know it with the same prices, the installed map is used: its prices are
    probed from litellm's own billing (provider quirks included, see the module doc).
    """
    installed = _map_entry(name) if _priced(_map_entry(name)) else None
    snapshot = _snapshot_entry(name)
    if not _priced(snapshot):
        snapshot = None
    if snapshot is not None and (
        installed is None
        or (_snapshot_is_newer() and _price_fields(installed[1]) != _price_fields(snapshot[1]))
    ):
        info = price_snapshot.info()
        version = info.litellm_version if info is not None else ""
        return PriceChoice("snapshot", name, snapshot[0], snapshot[1], version)
    if installed is not None:
        return PriceChoice("litellm", name, installed[0], installed[1], installed_version())
    return None


def _priced(found: tuple[str, Mapping[str, Any]] | None) -> bool:
    return found is not None and _base_map_prices(*found) is not None


def upstream_names(model: str) -> tuple[str, ...]:
    """The upstream names a pass-through router's model name may be priced under.

    `openrouter/anthropic/claude-sonnet-4.6` -> `anthropic/claude-sonnet-4.6`,
    `anthropic/claude-sonnet-4-6` (version dots and dashes both tried). Variants after a
    colon (`:free`, `:nitro`) are priced differently by the router: none.
    """
    router, _, rest = model.partition("/")
    organisation, _, name = rest.partition("/")
    if router not in PASS_THROUGH_ROUTERS or not name or ":" in name:
        return ()
    provider = UPSTREAM_PROVIDERS.get(organisation)
    if provider is None:
        return ()
    variants = dict.fromkeys(
        (name, _DIGIT_DOT_DIGIT.sub("-", name), _DIGIT_DASH_DIGIT.sub(".", name))
    )
    return tuple(f"{provider}/{variant}" for variant in variants)


@functools.lru_cache(maxsize=2048)
def price_choice(model: str) -> PriceChoice | None:
    """Which entry prices `model` (no override considered), or None when none does."""
    _check_model(model)
    found = _pick(model)
    if found is not None:
        return found
    for name in upstream_names(model):
        found = _pick(name)
        if found is not None:
            return dataclasses.replace(found, upstream=True)
    return None


@functools.lru_cache(maxsize=1)
def price_thresholds() -> tuple[int, ...]:
    """Every prompt size above which some model's price tier changes, in whole tokens,
    ascending: the tiers of the installed litellm map and of the shipped snapshot.

    A prompt of `n` tokens exceeds a threshold `t` exactly when `n > floor(t)`, so two
    prompts exceeding the same of these thresholds are billed at the same tier on every
    model (overrides have no tiers): the ledger can sum calls per band of prompt sizes
    and price each band once (:meth:`~agent_routing.ledger.base.Ledger.routing_summary`).
    """
    found: set[int] = set()
    cost_map: Mapping[str, Any] = litellm_module().model_cost
    entries = [*cost_map.values(), *map(_flat_tiers, price_snapshot.price_map().values())]
    for entry in entries:
        if isinstance(entry, Mapping):
            found.update(math.floor(tier.threshold) for tier in tiers_of(entry))
    return tuple(sorted(t for t in found if t > 0))  # band 0 means "above none"


@functools.lru_cache(maxsize=2048)
def _chosen_prices(model: str) -> UnitPrices | None:
    choice = price_choice(model)
    if choice is None:
        return None
    if choice.source == "litellm":
        prices = _litellm_prices(choice.name)
    else:
        prices = _base_map_prices(choice.key, choice.entry, source="snapshot")
        prices = None if prices is None else _separate_prices(prices)
    return None if prices is None else dataclasses.replace(prices, version=choice.version)


@functools.lru_cache(maxsize=2048)
def _chosen_tiers(model: str) -> tuple[Tier, ...]:
    choice = price_choice(model)
    if choice is None:
        return ()
    if choice.source == "litellm":
        return _tiers(choice.name)
    # A snapshot entry: the highest threshold a prompt exceeds applies (ranges of
    # `tiered_pricing` can give several thresholds, which a string sort would misorder).
    return tuple(sorted(tiers_of(choice.entry), key=lambda tier: -tier.threshold))


@functools.lru_cache(maxsize=512)
def _chosen_tier_prices(model: str, tier: Tier) -> UnitPrices | None:
    choice = price_choice(model)
    base = _chosen_prices(model)
    if choice is None or base is None:
        return base
    if choice.source == "litellm":
        prices = _tier_prices(choice.name, tier)
        return None if prices is None else dataclasses.replace(prices, version=choice.version)
    tiered = _separate_prices(tier_map_prices(choice.entry, tier, base, _number))
    if tiered == base:
        return base
    return dataclasses.replace(tiered, model_key=f"{choice.key}@>{tier.label}")


@functools.lru_cache(maxsize=2048)
def _litellm_prices(model: str) -> UnitPrices | None:
    entry = _map_entry(model)
    if entry is None:
        return None
    map_prices = _base_map_prices(*entry)
    if map_prices is None:
        return None
    billed = _billed_prices(model, map_prices)
    return _separate_prices(billed if billed is not None else map_prices)


def _base_map_prices(
    key: str, info: Mapping[str, Any], source: str = "litellm"
) -> UnitPrices | None:
    """The entry's own base-tier prices (None when it has no per-token input/output price)."""
    map_input = _number(info.get("input_cost_per_token"))
    map_output = _number(info.get("output_cost_per_token"))
    if map_output is None and info.get("mode") in _INPUT_ONLY_MODES:
        map_output = 0.0
    if map_input is None or map_output is None:
        return None
    return UnitPrices(
        input=map_input,
        output=map_output,
        cache_read=_number(info.get("cache_read_input_token_cost"))
        if "cache_read_input_token_cost" in info
        else _number(info.get("input_cost_per_token_cache_hit")),
        cache_creation=_number(info.get("cache_creation_input_token_cost")),
        reasoning=_number(info.get("output_cost_per_reasoning_token")),
        source=source,
        model_key=key,
    )


def _billed_prices(model: str, map_prices: UnitPrices, prompt: int = 0) -> UnitPrices | None:
    """Per-token prices as litellm's `completion_cost` bills them, probed class by class.

    `prompt` > 0 probes a tier: every probe then carries a prompt of that many tokens (just
    above the tier's threshold) and the class is priced from the difference it makes.
    None when litellm cannot price the model or its probe contradicts the map (a model
    billed per character comes back as $0 per token): the map's own prices are used then.
    """
    provider = provider_of(model)
    n = _PROBE_TOKENS
    lead = prompt or n  # input-class probes: a prompt made wholly of that class

    def charge(usage: Usage) -> float:
        return litellm_cost(model, usage, provider)

    # A class the map has no price for is billed at the base price whatever litellm does
    # (see the module doc), so only classes with a map price need a probe.
    try:
        base_input = charge(Usage(input_tokens=lead)) / lead
        prompt_cost = charge(Usage(input_tokens=prompt)) if prompt else 0.0
        base_output = (charge(Usage(input_tokens=prompt, output_tokens=n)) - prompt_cost) / n
        cache_read = cache_creation = reasoning = None
        if map_prices.cache_read is not None:
            cache_read = charge(Usage(input_tokens=lead, cached_read_tokens=lead)) / lead
        if map_prices.cache_creation is not None:
            cache_creation = charge(Usage(input_tokens=lead, cache_creation_tokens=lead)) / lead
        if map_prices.reasoning is not None:
            both = charge(Usage(input_tokens=prompt, output_tokens=2 * n, reasoning_tokens=n))
            reasoning = (both - prompt_cost) / n - base_output
    except Exception:
        return None
    if (base_input == 0 and map_prices.input > 0) or (base_output == 0 and map_prices.output > 0):
        return None
    return UnitPrices(
        input=base_input,
        output=base_output,
        cache_read=_unless_free_by_omission(cache_read, map_prices.cache_read, base_input),
        cache_creation=_unless_free_by_omission(
            cache_creation, map_prices.cache_creation, base_input
        ),
        reasoning=reasoning,
        source=map_prices.source,
        model_key=map_prices.model_key,
    )


# --- long-prompt prices (rules in agent_routing.pricing._long_context) -----------------


@functools.lru_cache(maxsize=2048)
def _tiers(model: str) -> tuple[Tier, ...]:
    """The model's price tiers, in the order litellm 1.79.3 tries them."""
    entry = _map_entry(model)
    return tiers_of(entry[1]) if entry is not None else ()


@functools.lru_cache(maxsize=512)
def _tier_prices(model: str, tier: Tier) -> UnitPrices | None:
    """Effective prices of `tier` (model_key `<entry>@><label>`), probed from litellm just
    above its threshold; the base prices when litellm bills prompts above the threshold no
    differently (openrouter)."""
    base = _litellm_prices(model)
    entry = _map_entry(model)
    if base is None or entry is None:
        return base
    key, info = entry
    map_base = _base_map_prices(key, info)
    if map_base is None:
        return base
    map_prices = tier_map_prices(info, tier, map_base, _number)  # where litellm cannot probe
    billed = _billed_prices(model, map_prices, math.floor(tier.threshold) + _PROBE_TOKENS)
    prices = _separate_prices(billed if billed is not None else map_prices)
    prices = snapped(prices, (map_prices, map_base, base))
    same = dataclasses.replace(prices, model_key=base.model_key) == base
    return base if same else dataclasses.replace(prices, model_key=f"{key}@>{tier.label}")


def _unless_free_by_omission(
    billed: float | None, map_price: float | None, billed_input: float
) -> float | None:
    """litellm bills a token class it reads no price for at $0 (deepseek's legacy
    `input_cost_per_token_cache_hit` key): bill it at the map's own price then. A price
    of 0 in the map stays free, and so does a cache class of a prompt litellm bills at $0
    as a whole (a free tier: Vertex gemini-2.0-flash-exp above 128k); no probe (None)
    means the base price."""
    if billed == 0 and map_price and billed_input > 0:
        return map_price
    return billed


def _separate_prices(prices: UnitPrices) -> UnitPrices:
    """Store None for a class billed at its base price (UnitPrices' 'no separate price')."""

    def separate(price: float | None, base: float) -> float | None:
        return None if price is None or math.isclose(price, base, rel_tol=1e-9) else price

    return UnitPrices(
        input=prices.input,
        output=prices.output,
        cache_read=separate(prices.cache_read, prices.input),
        cache_creation=separate(prices.cache_creation, prices.input),
        reasoning=separate(prices.reasoning, prices.output),
        source=prices.source,
        model_key=prices.model_key,
        version=prices.version,
    )


def litellm_cost(model: str, usage: Usage, provider: str | None = None) -> float:
    """What `litellm.completion_cost` charges for `usage` on `model` (raises if it cannot)."""
    litellm = litellm_module()
    response = litellm.ModelResponse(usage=litellm_usage(usage, provider))
    return float(litellm.completion_cost(completion_response=response, model=model))


def litellm_usage(usage: Usage, provider: str | None) -> Any:
    """`usage` as the `litellm.Usage` a provider would report it (inverse of
    :func:`agent_routing.capture.usage.usage_from_litellm`)."""
    litellm = litellm_module()
    completion = usage.output_tokens
    if provider in REASONING_OUTSIDE_COMPLETION:
        completion -= usage.reasoning_tokens
    details = None
    if usage.cached_read_tokens or usage.cache_creation_tokens:
        details = {
            "cached_tokens": usage.cached_read_tokens,
            "cache_creation_tokens": usage.cache_creation_tokens,
        }
    return litellm.Usage(
        prompt_tokens=usage.input_tokens,
        completion_tokens=completion,
        total_tokens=usage.input_tokens + completion,
        reasoning_tokens=usage.reasoning_tokens or None,
        prompt_tokens_details=details,
    )


# --- costs ------------------------------------------------------------------------------


def cost_usd(usage: Usage, prices: UnitPrices) -> float:
    """USD cost of a call with this usage at these unit prices.

    Uncached input, cache reads, cache writes, visible output and reasoning are each
    billed at their own price; a class with no separate price (None) at the input or
    output price. Raises ConfigError for usage that cannot be real (negative counts,
    more cached than input tokens, more reasoning than output tokens).
    """
    _check_usage(usage)
    uncached = usage.input_tokens - usage.cached_read_tokens - usage.cache_creation_tokens
    visible = usage.output_tokens - usage.reasoning_tokens

    def price(specific: float | None, base: float) -> float:
        return base if specific is None else specific

    return (
        uncached * prices.input
        + usage.cached_read_tokens * price(prices.cache_read, prices.input)
        + usage.cache_creation_tokens * price(prices.cache_creation, prices.input)
        + visible * prices.output
        + usage.reasoning_tokens * price(prices.reasoning, prices.output)
    )


def _check_usage(usage: Usage) -> None:
    for name in (
        "input_tokens",
        "output_tokens",
        "cached_read_tokens",
        "cache_creation_tokens",
        "reasoning_tokens",
    ):
        value = getattr(usage, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError.single(
                f"usage.{name}", f"must be a non-negative integer, not {value!r}"
            )
    if usage.cached_read_tokens + usage.cache_creation_tokens > usage.input_tokens:
        raise ConfigError.single(
            "usage.cached_read_tokens",
            f"cached ({usage.cached_read_tokens}) plus cache-write "
            f"({usage.cache_creation_tokens}) tokens exceed input_tokens ({usage.input_tokens})",
        )
    if usage.reasoning_tokens > usage.output_tokens:
        raise ConfigError.single(
            "usage.reasoning_tokens",
            f"{usage.reasoning_tokens} reasoning tokens exceed output_tokens "
            f"({usage.output_tokens}); output includes reasoning",
        )


def estimate_cost_usd(
    model: str,
    input_tokens: int,
    output_tokens: int,
    overrides: Mapping[str, PriceOverride] | None = None,
) -> float | None:
    """USD cost of `input_tokens` in and `output_tokens` out on `model`; None if unpriced.

    Priced at the tier a prompt of `input_tokens` falls in, as the call will be.
    """
    prices = unit_prices(model, overrides, input_tokens=input_tokens)
    if prices is None:
        return None
    return cost_usd(Usage(input_tokens=input_tokens, output_tokens=output_tokens), prices)


# --- limits and identity ----------------------------------------------------------------


def context_window(model: str, overrides: Mapping[str, PriceOverride] | None = None) -> int | None:
    """Maximum input tokens of `model` (override first, then the map), or None if unknown."""
    return _limit(model, overrides, "max_input_tokens")


def max_output_tokens(
    model: str, overrides: Mapping[str, PriceOverride] | None = None
) -> int | None:
    """Maximum output tokens of `model` (override first, then the map), or None if unknown."""
    return _limit(model, overrides, "max_output_tokens")


def _limit(model: str, overrides: Mapping[str, PriceOverride] | None, field: str) -> int | None:
    _check_model(model)
    override = overrides.get(model) if overrides else None
    if override is not None and getattr(override, field) is not None:
        return int(getattr(override, field))
    choice = price_choice(model)
    value = choice.entry.get(field) if choice is not None else None
    if value is None:  # a map entry priced elsewhere may still know its limits
        entry = _map_entry(model)
        value = entry[1].get(field) if entry else None
    return int(value) if isinstance(value, int | float) and value > 0 else None


def is_known_model(model: str, overrides: Mapping[str, PriceOverride] | None = None) -> bool:
    """True when `model` can be priced: an override, the installed map or the snapshot."""
    return unit_prices(model, overrides) is not None


def price_map_size() -> int:
    """Number of entries in litellm's loaded price map (`doctor` reports it)."""
    return sum(1 for key in litellm_module().model_cost if key != "sample_spec")


def clear_caches() -> None:
    """Forget cached lookups (after `litellm.register_model` changed the map)."""
    price_snapshot.clear_caches()
    provider_of.cache_clear()
    _map_entry.cache_clear()
    _snapshot_entry.cache_clear()
    price_choice.cache_clear()
    _chosen_prices.cache_clear()
    _chosen_tiers.cache_clear()
    _chosen_tier_prices.cache_clear()
    price_thresholds.cache_clear()
    _litellm_prices.cache_clear()
    _tiers.cache_clear()
    _tier_prices.cache_clear()
