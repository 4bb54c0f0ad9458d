"""Call costs equal `litellm.completion_cost` for the same usage, across litellm's whole map.

Every chat entry of litellm's local price map with per-token prices is priced for three
realistic usages (plain; cache reads and writes; all classes at once) and compared
with what litellm itself charges for the usage as the provider would report it. Entries
and usages where we differ on purpose are named by explicit predicates below, each with
its reason, and checked against their own documented rule instead of being skipped.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest

from agent_routing import pricing
from agent_routing._litellm import litellm_module
from agent_routing.capture.usage import usage_from_litellm
from agent_routing.records import Usage

SHAPES = {
    "plain": Usage(input_tokens=1_000, output_tokens=500),
    "cache_read_and_write": Usage(
        input_tokens=6_000, output_tokens=700, cached_read_tokens=2_000, cache_creation_tokens=3_000
    ),
    "everything": Usage(
        input_tokens=50_000,
        output_tokens=4_000,
        cached_read_tokens=30_000,
        cache_creation_tokens=5_000,
        reasoning_tokens=1_000,
    ),
}
# All shapes stay below 128k input tokens: tiered prices are checked separately.
# Reasoning is always below output: litellm bills all-reasoning output at the output price.


# litellm bills these providers' reasoning on top of completion_tokens (see pricing.py).
def litellm_charge(key: str, usage: Usage) -> float:
    litellm = litellm_module()
    response = litellm.ModelResponse(usage=pricing.litellm_usage(usage, pricing.provider_of(key)))
    return float(litellm.completion_cost(completion_response=response, model=key))


def fold_unpriced_classes(usage: Usage, entry: dict[str, Any]) -> Usage:
    """Tokens of a class the map has no price for, as base-class tokens: our documented
    rule. litellm bills them at $0 instead in two places - cached / cache-write tokens in
    its generic calculator, and reasoning tokens in its perplexity calculator."""
    cached = usage.cached_read_tokens if "cache_read_input_token_cost" in entry else 0
    written = usage.cache_creation_tokens if "cache_creation_input_token_cost" in entry else 0
    reasoning = usage.reasoning_tokens if "output_cost_per_reasoning_token" in entry else 0
    return Usage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cached_read_tokens=cached,
        cache_creation_tokens=written,
        reasoning_tokens=reasoning,
    )


def priced_chat_entries() -> Iterator[tuple[str, dict[str, Any]]]:
    for key, entry in sorted(litellm_module().model_cost.items()):
        if entry.get("mode") != "chat":
            continue
        if not all(
            isinstance(entry.get(f), int | float)
            for f in ("input_cost_per_token", "output_cost_per_token")
        ):
            continue
        yield key, entry


def map_cost(usage: Usage, entry: dict[str, Any]) -> float:
    """The map's own per-token prices applied class by class (for entries litellm cannot
    price per token): missing cache prices fall back to the input price."""
    base_in, base_out = entry["input_cost_per_token"], entry["output_cost_per_token"]
    cache_read = entry.get(
        "cache_read_input_token_cost", entry.get("input_cost_per_token_cache_hit")
    )
    cache_write = entry.get("cache_creation_input_token_cost")
    reasoning = entry.get("output_cost_per_reasoning_token")
    return (
        (usage.input_tokens - usage.cached_read_tokens - usage.cache_creation_tokens) * base_in
        + usage.cached_read_tokens * (base_in if cache_read is None else cache_read)
        + usage.cache_creation_tokens * (base_in if cache_write is None else cache_write)
        + (usage.output_tokens - usage.reasoning_tokens) * base_out
        + usage.reasoning_tokens * (base_out if reasoning is None else reasoning)
    )


@pytest.fixture(scope="module")
def comparison() -> dict[str, list[str]]:
    """Price every entry and shape; return the keys in each category (and mismatches)."""
    found: dict[str, list[str]] = {
        "compared": [],
        "litellm_cannot_price": [],
        "per_character": [],
        "legacy_cache_hit_key": [],
        "mismatch": [],
    }
    for key, entry in priced_chat_entries():
        prices = pricing.unit_prices(key)
        assert prices is not None, key
        try:
            {name: litellm_charge(key, usage) for name, usage in SHAPES.items()}
        except Exception:
            # litellm cannot resolve a provider for this bare key: we use the map's prices.
            found["litellm_cannot_price"].append(key)
            for usage in SHAPES.values():
                assert math.isclose(pricing.cost_usd(usage, prices), map_cost(usage, entry)), key
            continue
        output_only = litellm_charge(key, Usage(output_tokens=1_000))
        if output_only == 0 and entry["output_cost_per_token"] > 0:
            # litellm bills this model's output per character, so per token it charges $0
            # for output (legacy PaLM / gemini-1.x on Vertex): we use the map's prices.
            found["per_character"].append(key)
            for usage in SHAPES.values():
                assert math.isclose(pricing.cost_usd(usage, prices), map_cost(usage, entry)), key
            continue
        legacy_cache_hit = "input_cost_per_token_cache_hit" in entry and (
            litellm_charge(key, Usage(input_tokens=1_000, cached_read_tokens=1_000)) == 0
        )
        for name, usage in SHAPES.items():
            ours = pricing.cost_usd(usage, prices)
            if legacy_cache_hit and usage.cached_read_tokens:
                # litellm reads no price from deepseek's legacy cache-hit key and bills those
                # cached tokens at $0; we bill them at that key's price.
                found["legacy_cache_hit_key"].append(key)
                cached_at = prices.cache_read if prices.cache_read is not None else prices.input
                assert cached_at == entry["input_cost_per_token_cache_hit"], key
                continue
            expected = litellm_charge(key, fold_unpriced_classes(usage, entry))
            if not math.isclose(ours, expected, rel_tol=1e-9, abs_tol=1e-15):
                found["mismatch"].append(f"{key} [{name}]: ours {ours!r} litellm {expected!r}")
        found["compared"].append(key)
    return found


def test_every_compared_entry_costs_what_litellm_charges(comparison: dict[str, list[str]]) -> None:
    """For every priced chat entry litellm can price per token, every usage shape costs
    exactly what litellm.completion_cost charges (classes without a price at base price)."""
    assert comparison["mismatch"] == []


def test_the_comparison_covers_nearly_the_whole_map(comparison: dict[str, list[str]]) -> None:
    """Exclusions stay a small, explained minority: over 90% of priced chat entries compared."""
    total = sum(len(set(keys)) for name, keys in comparison.items() if name != "mismatch")
    excluded = set(comparison["litellm_cannot_price"]) | set(comparison["per_character"])
    assert len(comparison["compared"]) >= 1_000
    assert len(excluded) / total < 0.1


def test_compared_entries_include_cache_and_reasoning_prices(
    comparison: dict[str, list[str]],
) -> None:
    """The compared set exercises every price class: cache reads, cache writes, reasoning."""
    cost_map = litellm_module().model_cost
    compared = [cost_map[key] for key in comparison["compared"]]
    assert sum("cache_read_input_token_cost" in e for e in compared) >= 200
    assert sum("cache_creation_input_token_cost" in e for e in compared) >= 50
    assert sum("output_cost_per_reasoning_token" in e for e in compared) >= 10


def test_provider_usage_reads_back_to_the_same_usage() -> None:
    """Capture's reading of provider usage inverts the provider convention used above."""
    for provider in ("openai", "anthropic", "xai", "perplexity", "gemini"):
        for usage in SHAPES.values():
            assert usage_from_litellm(pricing.litellm_usage(usage, provider), provider) == usage


def test_cache_tokens_without_a_price_are_billed_at_input_not_free() -> None:
    """Where litellm bills cached tokens of a model without a cache price at $0, we bill
    them at the input price (the one deliberate difference, pinned here)."""
    key = "gpt-3.5-turbo"
    assert "cache_read_input_token_cost" not in litellm_module().model_cost[key]
    usage = Usage(input_tokens=1_000, output_tokens=0, cached_read_tokens=1_000)
    prices = pricing.unit_prices(key)
    assert prices is not None
    assert prices.cache_read is None
    assert litellm_charge(key, usage) == 0.0
    assert pricing.cost_usd(usage, prices) == pytest.approx(1_000 * prices.input)


def test_tiered_prices_are_billed_at_the_base_tier() -> None:
    """Above a tiered threshold we keep the base price (documented limitation): a 300k-token
    gemini-2.5-pro prompt costs less here than litellm's tiered charge."""
    key = "gemini/gemini-2.5-pro"
    usage = Usage(input_tokens=300_000, output_tokens=1_000)
    prices = pricing.unit_prices(key)
    assert prices is not None
    ours = pricing.cost_usd(usage, prices)
    assert ours == pytest.approx(300_000 * 1.25e-06 + 1_000 * 1e-05)
    assert litellm_charge(key, usage) > ours


def test_reasoning_without_a_price_is_billed_at_output_not_free() -> None:
    """litellm's perplexity calculator bills reasoning tokens at $0 when the model has no
    reasoning price; we bill them at the output price (same rule as cached tokens)."""
    key = "perplexity/codellama-34b-instruct"
    assert "output_cost_per_reasoning_token" not in litellm_module().model_cost[key]
    usage = Usage(input_tokens=0, output_tokens=1_000, reasoning_tokens=400)
    prices = pricing.unit_prices(key)
    assert prices is not None
    assert litellm_charge(key, usage) == pytest.approx(600 * prices.output)
    assert pricing.cost_usd(usage, prices) == pytest.approx(1_000 * prices.output)
