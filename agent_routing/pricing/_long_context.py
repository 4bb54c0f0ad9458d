"""Long-prompt price tiers of litellm's map entries: which tier a prompt falls in, and the
map's own prices for it.

Some entries price long prompts higher (``input_cost_per_token_above_200k_tokens``,
``output_cost_per_token_above_200k_tokens``, ``cache_read_input_token_cost_above_200k_tokens``
...). litellm 1.79.3 (``_get_token_base_cost`` in its ``llm_cost_calc/utils.py``) picks
one tier per call: it walks the entry's keys in descending key order and applies the first
``input_cost_per_token_above_<N>[k]_tokens`` key with a value whose threshold the prompt
(``prompt_tokens``, cached tokens included) *exceeds*, to every token class; a class
without a tiered key keeps its base price. These are pure functions of a map entry;
:mod:`agent_routing.pricing` caches them per model and probes what litellm actually bills
for each tier.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

from agent_routing.records import UnitPrices

TIER_KEY_PREFIX = "input_cost_per_token_above_"
_THRESHOLD = re.compile(r"(\d+(?:\.\d+)?)(k?)")  # "<N>" tokens or "<N>k" thousand tokens
_PRICE_FIELDS = ("input", "output", "cache_read", "cache_creation", "reasoning")


class Tier(NamedTuple):
    """One price tier of an entry (a NamedTuple: it keys a cache on capture's per-row path,
    where hashing must be cheap)."""

    label: str  # as written in the keys: "200k", "128k"
    threshold: float  # the tier applies to prompts of more than this many tokens


def tiers_of(info: Mapping[str, Any]) -> tuple[Tier, ...]:
    """The entry's tiers in the order litellm 1.79.3 tries them (see the module doc).

    Only ``<N>`` and ``<N>k`` thresholds are read (1.79.3's map has 128k and 200k, never
    both in one entry).
    """
    tiers = []
    for key in sorted(info, reverse=True):
        if not key.startswith(TIER_KEY_PREFIX) or info[key] is None:
            continue
        label = key[len(TIER_KEY_PREFIX) :].split("_tokens")[0]
        match = _THRESHOLD.fullmatch(label)
        if match is not None:
            tiers.append(Tier(label, float(match[1]) * (1000 if match[2] else 1)))
    return tuple(tiers)


def tier_map_prices(
    info: Mapping[str, Any],
    tier: Tier,
    base: UnitPrices,
    number: Callable[[Any], float | None],
) -> UnitPrices:
    """The map's own prices for `tier` (`base` = the entry's base-tier map prices): a class
    with an ``<class>_above_<label>_tokens`` key takes it, any other keeps its base price,
    as in litellm. `number` reads a map value (None when it is not a usable price)."""

    def tiered(name: str) -> float | None:
        return number(info.get(f"{name}_above_{tier.label}_tokens"))

    input_price, output_price = tiered("input_cost_per_token"), tiered("output_cost_per_token")
    read, written = tiered("cache_read_input_token_cost"), tiered("cache_creation_input_token_cost")
    return dataclasses.replace(
        base,
        input=base.input if input_price is None else input_price,
        output=base.output if output_price is None else output_price,
        cache_read=base.cache_read if read is None else read,
        cache_creation=base.cache_creation if written is None else written,
    )


def snapped(prices: UnitPrices, references: Iterable[UnitPrices]) -> UnitPrices:
    """`prices` with each probed price replaced by the map price it equals up to float noise.

    A tier's output price is probed as a difference of two charges with a 200k-token prompt
    in both (1.5000000000000014e-05 for 1.5e-05); storing the map's exact number keeps the
    row readable and lets an untiered result compare equal to the base prices.
    """
    candidates = {
        value
        for reference in references
        for name in _PRICE_FIELDS
        if (value := getattr(reference, name)) is not None
    }

    def snap(value: float) -> float:
        near = [c for c in candidates if math.isclose(value, c, rel_tol=1e-9, abs_tol=1e-18)]
        return min(near, key=lambda c: abs(c - value)) if near else value

    def snap_optional(value: float | None) -> float | None:
        return None if value is None else snap(value)

    return dataclasses.replace(
        prices,
        input=snap(prices.input),
        output=snap(prices.output),
        cache_read=snap_optional(prices.cache_read),
        cache_creation=snap_optional(prices.cache_creation),
        reasoning=snap_optional(prices.reasoning),
    )
