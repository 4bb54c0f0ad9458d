"""Call costs equal `litellm.completion_cost` for the same usage, across litellm's whole map.

Every chat entry of litellm's local price map with per-token prices is priced for three
realistic usages (plain; cache reads and writes; all classes at once) and compared
with what litellm itself charges for the usage as the provider would report it. Entries
with tiered prices are also compared below, at and above each threshold. Entries and
usages where we differ on purpose are named by explicit predicates below, each with its
reason, and checked against their own documented rule instead of being skipped.

The prices checked are the installed map's (`pricing.map_unit_prices`): `unit_prices`
takes the shipped snapshot instead where it is newer and prices a model differently
(tests/test_pricing_sources.py), and litellm cannot bill those entries at all.
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


# litellm bills these providers' reasoning on top of completion_tokens (see pricing/_core.py).
def litellm_charge(key: str, usage: Usage) -> float:
    litellm = litellm_module()
    response = litellm.ModelResponse(usage=pricing.litellm_usage(usage, pricing.provider_of(key)))
    return float(litellm.completion_cost(completion_response=response, model=key))


def fold_unpriced_classes(usage: Usage, entry: dict[str, Any], tier: str | None = None) -> Usage:
    """Tokens of a class the map has no price for, as base-class tokens: our documented
    rule. litellm bills them at $0 instead in two places - cached / cache-write tokens in
    its generic calculator, and reasoning tokens in its perplexity calculator. Above a
    threshold (`tier`, e.g. "200k") a cache class is priced by its tiered key too."""

    def priced(name: str) -> bool:
        return name in entry or (tier is not None and f"{name}_above_{tier}_tokens" in entry)

    cached = usage.cached_read_tokens if priced("cache_read_input_token_cost") else 0
    written = usage.cache_creation_tokens if priced("cache_creation_input_token_cost") else 0
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
        prices = pricing.map_unit_prices(key)
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
    prices = pricing.map_unit_prices(key)
    assert prices is not None
    assert prices.cache_read is None
    assert litellm_charge(key, usage) == 0.0
    assert pricing.cost_usd(usage, prices) == pytest.approx(1_000 * prices.input)


def test_reasoning_without_a_price_is_billed_at_output_not_free() -> None:
    """litellm's perplexity calculator bills reasoning tokens at $0 when the model has no
    reasoning price; we bill them at the output price (same rule as cached tokens)."""
    key = "perplexity/codellama-34b-instruct"
    assert "output_cost_per_reasoning_token" not in litellm_module().model_cost[key]
    usage = Usage(input_tokens=0, output_tokens=1_000, reasoning_tokens=400)
    prices = pricing.map_unit_prices(key)
    assert prices is not None
    assert litellm_charge(key, usage) == pytest.approx(600 * prices.output)
    assert pricing.cost_usd(usage, prices) == pytest.approx(1_000 * prices.output)


# --- tiered prices --------------------------------------------------------------------


def tier_thresholds(entry: dict[str, Any]) -> list[int]:
    """The prompt sizes above which the entry has a tiered input price (`..._above_200k_tokens`)."""
    found = []
    for key, value in entry.items():
        if key.startswith("input_cost_per_token_above_") and value is not None:
            label = key.removeprefix("input_cost_per_token_above_").split("_tokens")[0]
            found.append(int(label.removesuffix("k")) * (1000 if label.endswith("k") else 1))
    return sorted(found)


def tiered_shapes(threshold: int) -> dict[str, Usage]:
    """Usages whose prompt is below, exactly at (not above: the base tier), just above and
    far above `threshold`, plain and with every token class (cached, written, reasoning)."""
    shapes = {}
    for where, prompt in (
        ("below", threshold - 1_000),
        ("at", threshold),
        ("just_above", threshold + 1),
        ("far_above", 2 * threshold + 7),
    ):
        shapes[f"{where}/plain"] = Usage(input_tokens=prompt, output_tokens=2_000)
        shapes[f"{where}/everything"] = Usage(
            input_tokens=prompt,
            output_tokens=3_000,
            cached_read_tokens=prompt // 2,
            cache_creation_tokens=prompt // 10,
            reasoning_tokens=1_000,
        )
    return shapes


def tier_label(threshold: int) -> str:
    """The threshold as written in the map's keys: 200000 -> "200k"."""
    return f"{threshold // 1000}k" if threshold % 1000 == 0 else str(threshold)


def tiered_map_cost(usage: Usage, entry: dict[str, Any], threshold: int | None) -> float:
    """map_cost with the tier's own keys where present (entries litellm cannot probe)."""
    if threshold is None:
        return map_cost(usage, entry)
    label = tier_label(threshold)
    tiered = dict(entry)
    for name in (
        "input_cost_per_token",
        "output_cost_per_token",
        "cache_read_input_token_cost",
        "cache_creation_input_token_cost",
    ):
        value = entry.get(f"{name}_above_{label}_tokens")
        if value is not None:
            tiered[name] = value
    return map_cost(usage, tiered)


@pytest.fixture(scope="module")
def tiered_comparison() -> dict[str, list[str]]:
    """Price every tiered chat entry at usages around each threshold, prices re-selected
    from the prompt size; return the keys in each category (and mismatches)."""
    found: dict[str, list[str]] = {
        "compared": [],
        "not_probed": [],
        "tier_applied": [],
        "mismatch": [],
    }
    for key, entry in priced_chat_entries():
        thresholds = tier_thresholds(entry)
        if not thresholds:
            continue
        try:
            litellm_charge(key, Usage(input_tokens=1_000, output_tokens=1_000))
            probed = (
                litellm_charge(key, Usage(output_tokens=1_000)) > 0
                or not entry["output_cost_per_token"]
            )
        except Exception:
            probed = False
        for threshold in thresholds:
            for name, usage in tiered_shapes(threshold).items():
                prices = pricing.map_unit_prices(key, input_tokens=usage.input_tokens)
                assert prices is not None, key
                ours = pricing.cost_usd(usage, prices)
                above = usage.input_tokens > threshold
                if "@>" in prices.model_key:
                    assert above, f"{key} [{name}] tier {prices.model_key} below its threshold"
                    found["tier_applied"].append(key)
                if not probed:
                    # litellm bills this entry per character or cannot price it at all: the
                    # map's own prices, the tier's keys above its threshold.
                    expected = tiered_map_cost(usage, entry, threshold if above else None)
                else:
                    tier = tier_label(threshold) if above else None
                    expected = litellm_charge(key, fold_unpriced_classes(usage, entry, tier))
                if not math.isclose(ours, expected, rel_tol=1e-9, abs_tol=1e-15):
                    found["mismatch"].append(f"{key} [{name}]: ours {ours!r} litellm {expected!r}")
        found["compared" if probed else "not_probed"].append(key)
    return found


def test_tiered_entries_cost_what_litellm_charges_around_each_threshold(
    tiered_comparison: dict[str, list[str]],
) -> None:
    """Every chat entry with tiered prices costs exactly what litellm.completion_cost charges
    below, at, just above and far above each threshold, with and without cached tokens."""
    assert tiered_comparison["mismatch"] == []
    assert len(tiered_comparison["compared"]) >= 50
    assert len(set(tiered_comparison["tier_applied"])) >= 50


def test_tiered_comparison_covers_every_tiered_provider(
    tiered_comparison: dict[str, list[str]],
) -> None:
    """The tiered entries compared span Gemini, Vertex, Anthropic, Bedrock and xAI."""
    cost_map = litellm_module().model_cost
    providers = {cost_map[key]["litellm_provider"] for key in tiered_comparison["compared"]}
    assert {
        "gemini",
        "vertex_ai-language-models",
        "vertex_ai-anthropic_models",
        "anthropic",
        "bedrock_converse",
        "xai",
        "openrouter",
    } <= providers


def test_a_long_gemini_prompt_is_billed_at_its_tier() -> None:
    """A 300k-token gemini-2.5-pro prompt is priced at the >200k tier litellm applies, and the
    stored prices say so; a 200k-token one is still the base tier."""
    key = "gemini/gemini-2.5-pro"
    entry = litellm_module().model_cost[key]
    usage = Usage(input_tokens=300_000, output_tokens=1_000)
    prices = pricing.map_unit_prices(key, input_tokens=usage.input_tokens)
    assert prices is not None
    assert prices.model_key == "gemini/gemini-2.5-pro@>200k"
    assert (prices.input, prices.output) == (
        entry["input_cost_per_token_above_200k_tokens"],
        entry["output_cost_per_token_above_200k_tokens"],
    )
    assert pricing.cost_usd(usage, prices) == pytest.approx(litellm_charge(key, usage), rel=1e-12)
    assert pricing.cost_usd(usage, prices) == pytest.approx(300_000 * 2.5e-06 + 1_000 * 1.5e-05)
    at_threshold = pricing.map_unit_prices(key, input_tokens=200_000)
    assert at_threshold == pricing.map_unit_prices(key)
    assert at_threshold is not None
    assert at_threshold.model_key == key


def test_openrouter_long_prompts_stay_at_the_base_price_like_litellm() -> None:
    """litellm bills openrouter flat even where the map lists tiers: no tier is applied."""
    key = "openrouter/anthropic/claude-sonnet-4"
    assert "input_cost_per_token_above_200k_tokens" in litellm_module().model_cost[key]
    assert pricing.map_unit_prices(key, input_tokens=500_000) == pricing.map_unit_prices(key)


def test_anthropic_cached_tokens_take_the_tier_cache_prices() -> None:
    """Above 200k, Claude Sonnet 4's cache reads and writes move to their tiered prices."""
    key = "anthropic/claude-sonnet-4-20250514"
    entry = litellm_module().model_cost["claude-sonnet-4-20250514"]
    prices = pricing.map_unit_prices(key, input_tokens=250_000)
    assert prices is not None
    assert prices.model_key == "claude-sonnet-4-20250514@>200k"
    assert prices.cache_read == entry["cache_read_input_token_cost_above_200k_tokens"]
    assert prices.cache_creation == entry["cache_creation_input_token_cost_above_200k_tokens"]
