"""Unit prices, limits and costs from litellm's local map, overrides, and bad input."""

from __future__ import annotations

import socket

import pytest

from agent_routing import pricing
from agent_routing._litellm import litellm_module
from agent_routing.config import PriceOverride
from agent_routing.errors import ConfigError
from agent_routing.records import UnitPrices, Usage


def test_prices_come_from_the_litellm_map() -> None:
    """gpt-4o's unit prices are exactly the map's, with the entry key recorded."""
    entry = litellm_module().model_cost["gpt-4o"]
    prices = pricing.unit_prices("gpt-4o")
    assert prices == UnitPrices(
        input=entry["input_cost_per_token"],
        output=entry["output_cost_per_token"],
        cache_read=entry["cache_read_input_token_cost"],
        source="litellm",
        model_key="gpt-4o",
    )


@pytest.mark.parametrize(
    ("model", "key"),
    [
        ("openai/gpt-4o-mini", "gpt-4o-mini"),
        ("anthropic/claude-sonnet-4-20250514", "claude-sonnet-4-20250514"),
        ("openrouter/anthropic/claude-sonnet-4", "openrouter/anthropic/claude-sonnet-4"),
        ("gemini/gemini-2.5-flash", "gemini/gemini-2.5-flash"),
    ],
)
def test_provider_prefixes_resolve_like_litellm(model: str, key: str) -> None:
    """A provider-qualified name finds the entry litellm itself would use."""
    prices = pricing.unit_prices(model)
    assert prices is not None
    assert prices.model_key == key
    assert prices.input == litellm_module().model_cost[key]["input_cost_per_token"]


def test_anthropic_cache_prices_are_kept() -> None:
    """A model with cache-read and cache-write prices keeps both (litellm bills them)."""
    prices = pricing.unit_prices("anthropic/claude-sonnet-4-20250514")
    entry = litellm_module().model_cost["claude-sonnet-4-20250514"]
    assert prices is not None
    assert prices.cache_read == entry["cache_read_input_token_cost"]
    assert prices.cache_creation == entry["cache_creation_input_token_cost"]


def test_openrouter_cache_prices_follow_litellm_billing() -> None:
    """litellm bills openrouter cached tokens at the input price, so none is stored."""
    prices = pricing.unit_prices("openrouter/anthropic/claude-sonnet-4")
    assert prices is not None
    assert "cache_read_input_token_cost" in litellm_module().model_cost[prices.model_key]
    assert prices.cache_read is None


def test_reasoning_price_is_kept_where_litellm_bills_it() -> None:
    """perplexity's deep-research reasoning price differs from output and is recorded."""
    entry = litellm_module().model_cost["perplexity/sonar-deep-research"]
    prices = pricing.unit_prices("perplexity/sonar-deep-research")
    assert prices is not None
    assert prices.reasoning == entry["output_cost_per_reasoning_token"] != prices.output


def test_unknown_model_is_unpriced_not_free() -> None:
    """A model in neither the map nor the overrides has no prices and no cost estimate."""
    assert pricing.unit_prices("acme/unknown-model-9") is None
    assert pricing.estimate_cost_usd("acme/unknown-model-9", 1_000, 100) is None
    assert not pricing.is_known_model("acme/unknown-model-9")


def test_unmapped_ollama_model_is_unknown_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """An Ollama model missing from the map is unknown; no socket is opened to find out."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("pricing tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    assert pricing.unit_prices("ollama/some-local-model:7b") is None


def test_free_local_model_is_priced_at_zero() -> None:
    """A model the map lists at $0 (ollama/llama3) is priced, at zero - not unpriced."""
    prices = pricing.unit_prices("ollama/llama3")
    assert prices is not None
    assert pricing.cost_usd(Usage(input_tokens=500, output_tokens=50), prices) == 0.0


def test_override_wins_over_the_map() -> None:
    """A user price override replaces litellm's prices for that exact model name."""
    overrides = {
        "gpt-4o": PriceOverride(
            input_cost_per_token=1e-6,
            output_cost_per_token=2e-6,
            cache_read_input_token_cost=5e-7,
            max_input_tokens=4_096,
        )
    }
    prices = pricing.unit_prices("gpt-4o", overrides)
    assert prices == UnitPrices(
        input=1e-6, output=2e-6, cache_read=5e-7, source="override", model_key="gpt-4o"
    )
    assert pricing.context_window("gpt-4o", overrides) == 4_096
    assert pricing.max_output_tokens("gpt-4o", overrides) == 16_384  # not overridden: map


def test_override_prices_a_custom_local_model() -> None:
    """A local model unknown to litellm becomes known and priced through an override."""
    overrides = {
        "openai/my-lab-model": PriceOverride(input_cost_per_token=0, output_cost_per_token=1e-7)
    }
    assert pricing.is_known_model("openai/my-lab-model", overrides)
    assert pricing.estimate_cost_usd("openai/my-lab-model", 10, 1_000, overrides) == pytest.approx(
        1e-4
    )
    assert pricing.context_window("openai/my-lab-model", overrides) is None


def test_cost_bills_each_token_class_at_its_price() -> None:
    """Uncached, cached, cache-write, visible output and reasoning each use their price."""
    prices = UnitPrices(
        input=10.0, output=100.0, cache_read=1.0, cache_creation=20.0, reasoning=50.0
    )
    usage = Usage(
        input_tokens=10,
        output_tokens=7,
        cached_read_tokens=3,
        cache_creation_tokens=2,
        reasoning_tokens=4,
    )
    assert pricing.cost_usd(usage, prices) == 5 * 10 + 3 * 1 + 2 * 20 + 3 * 100 + 4 * 50


def test_classes_without_a_price_use_the_base_price() -> None:
    """With no cache or reasoning price, those tokens cost the input or output price."""
    prices = UnitPrices(input=10.0, output=100.0)
    usage = Usage(
        input_tokens=10,
        output_tokens=7,
        cached_read_tokens=3,
        cache_creation_tokens=2,
        reasoning_tokens=4,
    )
    assert pricing.cost_usd(usage, prices) == 10 * 10 + 7 * 100


@pytest.mark.parametrize(
    ("usage", "field"),
    [
        (Usage(input_tokens=-1), "usage.input_tokens"),
        (
            Usage(input_tokens=5, cached_read_tokens=4, cache_creation_tokens=2),
            "usage.cached_read_tokens",
        ),
        (Usage(output_tokens=3, reasoning_tokens=4), "usage.reasoning_tokens"),
    ],
)
def test_impossible_usage_is_refused_naming_the_field(usage: Usage, field: str) -> None:
    """Usage that cannot be real raises ConfigError naming the offending field."""
    with pytest.raises(ConfigError) as raised:
        pricing.cost_usd(usage, UnitPrices(input=1.0, output=1.0))
    assert raised.value.problems[0][0] == field


@pytest.mark.parametrize("model", ["", "   ", None, 42])
def test_bad_model_name_is_refused(model: object) -> None:
    """An empty or non-string model name raises ConfigError naming `model`."""
    with pytest.raises(ConfigError) as raised:
        pricing.unit_prices(model)  # type: ignore[arg-type]
    assert raised.value.problems[0][0] == "model"


def test_estimate_matches_cost_of_plain_usage() -> None:
    """estimate_cost_usd is the cost of that many plain input and output tokens."""
    prices = pricing.unit_prices("gpt-4o-mini")
    assert prices is not None
    expected = 2_000 * prices.input + 300 * prices.output
    assert pricing.estimate_cost_usd("gpt-4o-mini", 2_000, 300) == pytest.approx(expected)


def test_limits_and_provider_come_from_the_map() -> None:
    """Context window, max output and provider are litellm's for the model."""
    entry = litellm_module().model_cost["claude-sonnet-4-20250514"]
    model = "anthropic/claude-sonnet-4-20250514"
    assert pricing.context_window(model) == entry["max_input_tokens"]
    assert pricing.max_output_tokens(model) == entry["max_output_tokens"]
    assert pricing.provider_of(model) == "anthropic"
    assert pricing.provider_of("openrouter/openai/gpt-4o") == "openrouter"
    assert pricing.context_window("acme/unknown-model-9") is None


def test_embedding_models_are_priced_for_input_only() -> None:
    """An embedding model is priced (output at $0) so embedding calls get a cost."""
    prices = pricing.unit_prices("text-embedding-3-small")
    assert prices is not None
    assert prices.output == 0.0
    assert prices.input > 0


def test_lookups_are_cached() -> None:
    """A second lookup of the same model is served from the cache (same object)."""
    pricing.clear_caches()
    first = pricing.unit_prices("gpt-4o")
    assert pricing.unit_prices("gpt-4o") is first


def test_price_map_size_counts_entries() -> None:
    """The offline map has on the order of a thousand and more entries."""
    assert pricing.price_map_size() == len(litellm_module().model_cost) - 1
    assert pricing.price_map_size() > 1_000


@pytest.mark.parametrize("bad", [-1, True, 2.5, "300000"])
def test_bad_prompt_size_is_refused_naming_the_field(bad: object) -> None:
    """unit_prices(input_tokens=...) takes a non-negative token count or None."""
    with pytest.raises(ConfigError) as raised:
        pricing.unit_prices("gpt-4o", input_tokens=bad)  # type: ignore[arg-type]
    assert raised.value.problems[0][0] == "input_tokens"


def test_the_tier_is_chosen_by_prompt_size_strictly_above_the_threshold() -> None:
    """200,000 prompt tokens is still the base tier; 200,001 is the >200k tier, as in
    litellm (`prompt_tokens > threshold`); a model without tiers ignores the size."""
    model = "anthropic/claude-sonnet-4-20250514"
    base = pricing.unit_prices(model)
    assert pricing.unit_prices(model, input_tokens=0) is base
    assert pricing.unit_prices(model, input_tokens=200_000) is base
    tier = pricing.unit_prices(model, input_tokens=200_001)
    assert base is not None
    assert tier is not None
    assert tier.model_key == f"{base.model_key}@>200k"
    assert (tier.input, tier.output) == (2 * base.input, 1.5 * base.output)
    assert pricing.unit_prices("gpt-4o", input_tokens=1_000_000) is pricing.unit_prices("gpt-4o")


def test_overrides_have_no_tiers() -> None:
    """A configured override prices every prompt size alike (PriceOverride has no tiers)."""
    override = PriceOverride(input_cost_per_token=1e-6, output_cost_per_token=2e-6)
    overrides = {"gemini/gemini-2.5-pro": override}
    small = pricing.unit_prices("gemini/gemini-2.5-pro", overrides)
    assert pricing.unit_prices("gemini/gemini-2.5-pro", overrides, input_tokens=900_000) == small


def test_estimates_use_the_tier_of_their_prompt_size() -> None:
    """A budget or routing estimate for a 300k-token prompt uses the >200k tier's prices."""
    tier = pricing.unit_prices("gemini/gemini-2.5-pro", input_tokens=300_000)
    assert tier is not None
    expected = 300_000 * tier.input + 1_000 * tier.output
    assert pricing.estimate_cost_usd("gemini/gemini-2.5-pro", 300_000, 1_000) == expected
    assert (
        tier.input
        == litellm_module().model_cost["gemini/gemini-2.5-pro"][
            "input_cost_per_token_above_200k_tokens"
        ]
    )


@pytest.mark.parametrize(
    ("model", "aliases"),
    [
        ("gpt-4o", ("gpt-4o", "openai/gpt-4o")),
        ("openai/gpt-4o", ("gpt-4o", "openai/gpt-4o")),
        (
            "claude-3-5-sonnet-20241022",
            ("anthropic/claude-3-5-sonnet-20241022", "claude-3-5-sonnet-20241022"),
        ),
        ("groq/llama3-8b-8192", ("groq/llama3-8b-8192",)),  # bare name goes elsewhere
        ("my-local-model", ("my-local-model",)),  # unknown to litellm: only itself
    ],
)
def test_model_aliases_are_the_names_litellm_sends_to_the_same_place(
    model: str, aliases: tuple[str, ...]
) -> None:
    """Budgets and quotas match a model under each of these names, and no others."""
    from agent_routing.pricing import model_aliases, same_model

    assert model_aliases(model) == aliases
    assert all(same_model(model, alias) for alias in aliases)
    assert not same_model(model, "azure/gpt-4o")
