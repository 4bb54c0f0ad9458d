"""Compression and router settings that depend on each other: coherent defaults, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from test_compress_support import chat_conversation, priced_settings
from test_router_fakes import FixedAnalyzer, settings_with

from agent_routing.compression import CompressionOutcome, compress_messages
from agent_routing.compression.profile import DEFAULT_PROMPT_CACHE_TTL_S
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

ROOT = Path(__file__).resolve().parent.parent
MODEL = "test/dear"
T0 = 1_000_000.0


def problem_of(data: dict[str, object]) -> tuple[str, str]:
    """The single (field, message) a bad mapping is rejected with."""
    with pytest.raises(ConfigError) as info:
        settings_from_mapping(data)
    [problem] = info.value.problems
    return problem


def test_default_trigger_and_target_are_coherent() -> None:
    """By default compression starts no earlier than the size it compresses down to."""
    defaults = CompressionSettings()
    assert defaults.target_fullness <= defaults.min_context_fullness
    assert defaults.prompt_cache_ttl_s == DEFAULT_PROMPT_CACHE_TTL_S == 300.0
    assert RouterSettings().compressible_ratio == DEFAULT_COMPRESSIBLE_RATIO == ROUTER_DEFAULT_RATIO


@pytest.mark.parametrize(
    ("compression", "bad"),
    [
        ({"target_fullness": 0.6}, "0.6"),  # above the default trigger
        ({"min_context_fullness": 0.3}, "0.5"),  # the old default pair: 0.3 / 0.5
        ({"min_context_fullness": 0.2, "target_fullness": 0.4}, "0.4"),
    ],
)
def test_a_target_above_the_trigger_is_rejected_naming_field_and_value(
    compression: dict[str, object], bad: str
) -> None:
    """target_fullness > min_context_fullness is an error on target_fullness, with both values."""
    field, message = problem_of({"compression": compression})
    assert field == "compression.target_fullness"
    assert "must not exceed compression.min_context_fullness" in message
    assert message.endswith(f"(got {bad})")


def test_a_target_at_or_below_the_trigger_is_accepted() -> None:
    """Equal values (compress to where it starts) and hysteresis (lower target) both load."""
    equal = settings_from_mapping({"compression": {"min_context_fullness": 0.7}})
    assert equal.compression.target_fullness == 0.5
    lower = settings_from_mapping(
        {"compression": {"min_context_fullness": 0.6, "target_fullness": 0.4}}
    )
    assert (lower.compression.min_context_fullness, lower.compression.target_fullness) == (
        0.6,
        0.4,
    )


def test_assigning_a_trigger_below_the_target_is_rejected() -> None:
    """Settings are validated on assignment too: the API cannot create the contradiction."""
    settings = Settings()
    with pytest.raises(ValueError, match=r"must be at least compression\.target_fullness"):
        settings.compression.min_context_fullness = 0.2
    assert settings.compression.min_context_fullness == 0.5


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
    for key in ("min_context_fullness", "target_fullness", "prompt_cache_ttl_s", "summarizer"):
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

    assert second_call(priced_settings(window=8000)) == 0
    assert second_call(priced_settings(window=8000, prompt_cache_ttl_s=900)) > 0


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
