"""Compression and router settings that depend on each other: coherent defaults, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from compress_support import chat_conversation, priced_settings
from router_support import settings_with

from agent_routing.compression import CompressionOutcome, compress_messages
from agent_routing.compression._profile import DEFAULT_PROMPT_CACHE_TTL_S
from agent_routing.config import (
    DEFAULT_COMPRESSIBLE_RATIO,
    CompressionSettings,
    RouterSettings,
    Settings,
    settings_from_mapping,
)
from agent_routing.errors import ConfigError
from agent_routing.router import DEFAULT_COMPRESSIBLE_RATIO as ROUTER_DEFAULT_RATIO
from agent_routing.router import Router, RouteRequest
from agent_routing.testing import FixedAnalyzer

ROOT = Path(__file__).resolve().parent.parent
MODEL = "test/dear"
T0 = 1_000_000.0


def problem_of(data: dict[str, object]) -> tuple[str, str]:
    """The single (field, message) a bad mapping is rejected with."""
    with pytest.raises(ConfigError) as info:
        settings_from_mapping(data)
    [problem] = info.value.problems
    return problem


def test_default_trigger_is_eight_thousand_tokens_for_a_two_dollar_model() -> None:
    """The default trigger fires on an 8k-token prompt at $2/M input, earlier for dearer ones."""
    defaults = CompressionSettings()
    assert (defaults.trigger_tokens, defaults.trigger_usd) == (4000, 0.016)
    assert defaults.min_context_fullness is None
    assert defaults.prompt_cache_ttl_s == DEFAULT_PROMPT_CACHE_TTL_S == 300.0
    assert RouterSettings().compressible_ratio == DEFAULT_COMPRESSIBLE_RATIO == ROUTER_DEFAULT_RATIO


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"compression": {"trigger_tokens": 0}}, "compression.trigger_tokens"),
        ({"compression": {"trigger_usd": -1}}, "compression.trigger_usd"),
        ({"compression": {"target_ratio": 1.5}}, "compression.target_ratio"),
        ({"compression": {"recompress_growth": 0}}, "compression.recompress_growth"),
        ({"compression": {"payback_steps": -1}}, "compression.payback_steps"),
        ({"compression": {"min_context_fullness": 2}}, "compression.min_context_fullness"),
    ],
)
def test_bad_policy_values_name_their_field(data: dict[str, object], field: str) -> None:
    """Each new policy key is range-checked and a bad value names the dotted field."""
    assert problem_of(data)[0] == field


def test_the_deprecated_fullness_keys_still_load_and_say_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An old config (0.3 trigger / 0.5 target, once refused) loads, with a deprecation line."""
    with caplog.at_level("WARNING", logger="agent_routing.config"):
        old = settings_from_mapping(
            {"compression": {"min_context_fullness": 0.3, "target_fullness": 0.5}}
        )
    assert (old.compression.min_context_fullness, old.compression.target_fullness) == (0.3, 0.5)
    assert "compression.min_context_fullness is deprecated" in caplog.text
    assert "trigger_tokens" in caplog.text


def test_the_deprecated_fullness_share_is_still_required() -> None:
    """A configured min_context_fullness keeps its meaning: below that share, no compression."""
    messages = chat_conversation(10, lines=20)
    size = compress_messages(messages, model=MODEL, settings=priced_settings()).stats.input_tokens
    new_trigger = {"trigger_tokens": 1000, "trigger_usd": 0}
    window = size * 4  # the prompt fills 25 % of the window
    fires = priced_settings(window=window, **new_trigger)
    assert compress_messages(messages, model=MODEL, settings=fires).changed
    held = priced_settings(window=window, min_context_fullness=0.5, **new_trigger)
    result = compress_messages(messages, model=MODEL, settings=held)
    assert result.stats.outcome is CompressionOutcome.BELOW_THRESHOLD
    assert "min_context_fullness" in result.stats.reason


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"compression": {"prompt_cache_ttl_s": 0}}, "compression.prompt_cache_ttl_s"),
        ({"router": {"compressible_ratio": 0}}, "router.compressible_ratio"),
        ({"router": {"compressible_ratio": 1.5}}, "router.compressible_ratio"),
    ],
)
def test_out_of_range_values_name_their_field(data: dict[str, object], field: str) -> None:
    """A TTL of zero, a ratio outside (0, 1]: rejected with the dotted field name."""
    assert problem_of(data)[0] == field


def test_the_plugin_defaults_file_loads_and_matches_the_package_defaults() -> None:
    """default_config.yaml (what Agent Zero shows first) is valid and says what the code does."""
    data = yaml.safe_load((ROOT / "default_config.yaml").read_text(encoding="utf-8"))
    loaded = settings_from_mapping(data)
    assert loaded.compression == CompressionSettings()
    assert loaded.router.compressible_ratio == DEFAULT_COMPRESSIBLE_RATIO
    for key in ("trigger_tokens", "trigger_usd", "target_ratio", "recompress_growth"):
        assert key in data["compression"]
    assert "compressible_ratio" in data["router"]


def test_prompt_cache_ttl_setting_decides_how_long_a_prefix_stays_warm() -> None:
    """Past 300 s a prefix is cold by default, but warm with a longer configured TTL."""
    messages = chat_conversation(10, lines=20)
    later = T0 + DEFAULT_PROMPT_CACHE_TTL_S + 60

    def second_call(settings: Settings) -> int:
        first = compress_messages(messages, model=MODEL, settings=settings, now=T0)
        assert first.stats.outcome is CompressionOutcome.COMPRESSED
        again = compress_messages(
            messages, model=MODEL, settings=settings, cache_state=first.cache_state, now=later
        )
        return again.stats.frozen_messages

    soft = {"trigger_tokens": 1000, "trigger_usd": 0}
    assert second_call(priced_settings(**soft)) == 0
    assert second_call(priced_settings(prompt_cache_ttl_s=900, **soft)) > 0


async def test_router_takes_compressible_ratio_from_the_settings() -> None:
    """With the default ratio a 200k prompt is compressed onto the 128k tier; at 0.8 it is not.

    At 0.8 the 200k prompt would still be 160k after compression, over the cheap tier's
    128k window, so the router moves it to the next tier with room instead.
    """
    request = RouteRequest("q", input_tokens=200_000)
    default = Router(settings_with(), analyzer=FixedAnalyzer(0.0))
    assert default.compressible_ratio == DEFAULT_COMPRESSIBLE_RATIO
    decision = await default.route(request)
    assert (decision.model, decision.compress_to_tokens is not None) == ("gpt-4o-mini", True)

    cautious = Router(settings_with(compressible_ratio=0.8), analyzer=FixedAnalyzer(0.0))
    assert cautious.compressible_ratio == 0.8
    decision = await cautious.route(request)
    assert (decision.model, decision.compress_to_tokens) == ("gpt-4.1-mini", None)

    explicit = Router(
        settings_with(compressible_ratio=0.8), analyzer=FixedAnalyzer(0.0), compressible_ratio=0.5
    )
    assert explicit.compressible_ratio == 0.5  # an explicit argument still wins
