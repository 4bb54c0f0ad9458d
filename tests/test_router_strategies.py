"""Strategies, thresholds, rules and the tier table: each choice and each bad input."""

from __future__ import annotations

import re
from typing import get_args

import pytest
from router_support import THREE_TIERS, settings_with

from agent_routing.analyzer.quantiles import quantile_table
from agent_routing.config import CallKind, RuleConfig, Settings, Strategy, TierConfig
from agent_routing.errors import ConfigError
from agent_routing.router import Router, RouteRequest
from agent_routing.router._calibration import agent_step_requests, strong_share_to_recover
from agent_routing.router._policy import preferred_tier
from agent_routing.router._tiers import TierTable
from agent_routing.router.strategies import (
    CALIBRATED_MODEL_VERSION,
    QUANTILE_LEVELS,
    SHIPPED_SCORE_QUANTILES,
    STRATEGIES,
    FixedThresholds,
    QuantileStrategy,
    check_thresholds,
    quantile_at,
    strategy_for,
    tier_for_score,
)
from agent_routing.testing import FixedAnalyzer

UNIFORM = tuple(i / 20 for i in range(21))  # score quantiles of a uniform distribution


def test_score_maps_to_tier_by_ascending_thresholds() -> None:
    """A score at or above a threshold moves up one tier; below the first stays cheapest."""
    thresholds = [0.3, 0.7]
    assert [tier_for_score(s, thresholds) for s in (0.0, 0.29, 0.3, 0.69, 0.7, 1.0)] == [
        0,
        0,
        1,
        1,
        2,
        2,
    ]


def test_quantile_strategy_sends_its_strong_share_above_the_cheapest_tier() -> None:
    """On a uniform score distribution, thresholds sit at 1 - share, split evenly above."""
    strategy = QuantileStrategy("test", strong_share=0.4, quantiles=UNIFORM)
    assert strategy.thresholds(2) == pytest.approx([0.6])
    assert strategy.thresholds(3) == pytest.approx([0.6, 0.8])
    scores = [i / 1000 for i in range(1000)]
    above = sum(strategy.choose(score, 2) > 0 for score in scores) / len(scores)
    assert above == pytest.approx(0.4, abs=0.002)


def test_builtin_strategies_order_from_cheap_to_quality() -> None:
    """cost_optimized routes fewer calls up than balanced, balanced fewer than quality_first."""
    assert set(STRATEGIES) == {"cost_optimized", "balanced", "quality_first"}
    firsts = [
        STRATEGIES[name].thresholds(2)[0]
        for name in ("cost_optimized", "balanced", "quality_first")
    ]
    assert firsts[0] > firsts[1] > firsts[2]
    for name, strategy in STRATEGIES.items():
        assert strategy.name == name
        values = strategy.thresholds(4)
        check_thresholds(values, 4)  # ascending, in [0, 1], three of them


@pytest.mark.parametrize("strategy", ["cost_optimized", "balanced", "quality_first"])
async def test_each_strategy_routes_by_its_own_thresholds(strategy: str) -> None:
    """A score just below a strategy's threshold stays cheap; just above goes strong."""
    settings = settings_with(strategy=strategy, rules=[])
    threshold = STRATEGIES[strategy].thresholds(3)[0]
    chosen = []
    for score in (threshold - 0.01, threshold + 0.001):
        router = Router(settings, analyzer=FixedAnalyzer(score))
        decision = await router.route(RouteRequest("q", input_tokens=100), dry_run=True)
        chosen.append(decision.tier.name if decision.tier else None)
        assert decision.record is not None
        assert decision.record.strategy == strategy
    assert chosen == ["small", "medium"]


def test_quantile_interpolation_and_bounds() -> None:
    """Quantiles interpolate linearly between tabulated levels; a level outside [0, 1] is bad."""
    assert quantile_at(0.525, UNIFORM) == pytest.approx(0.525)
    assert quantile_at(1.0, UNIFORM) == 1.0
    with pytest.raises(ConfigError, match="level"):
        quantile_at(1.5, UNIFORM)


def test_explicit_thresholds_override_the_strategy() -> None:
    """`router.thresholds` replaces the strategy's thresholds when their count fits."""
    settings = settings_with(strategy="cost_optimized", thresholds=[0.1, 0.2])
    strategy = strategy_for(settings.router, 3)
    assert isinstance(strategy, FixedThresholds)
    assert strategy.choose(0.15, 3) == 1


@pytest.mark.parametrize(
    ("thresholds", "message"),
    [
        ([0.5], "3 tier\\(s\\) need 2 threshold\\(s\\), got 1"),
        ([0.2, 0.4, 0.6], "need 2 threshold\\(s\\), got 3"),
    ],
)
def test_threshold_count_must_match_the_tiers(thresholds: list[float], message: str) -> None:
    """A wrong number of thresholds is a ConfigError naming `router.thresholds` and the values."""
    with pytest.raises(ConfigError, match=message) as caught:
        Router(settings_with(thresholds=thresholds), analyzer=FixedAnalyzer())
    assert caught.value.problems[0][0] == "router.thresholds"


def test_thresholds_out_of_order_are_rejected_at_both_layers() -> None:
    """Unordered thresholds fail in the config file and in a FixedThresholds built in code."""
    with pytest.raises(
        ConfigError, match=re.escape("router.thresholds: thresholds must be strictly")
    ):
        settings_with(thresholds=[0.7, 0.3])
    with pytest.raises(
        ConfigError, match=re.escape("router.thresholds: thresholds must be strictly")
    ):
        FixedThresholds((0.7, 0.3)).thresholds(3)


def test_empty_tier_list_is_rejected() -> None:
    """Passing an empty tier list is a ConfigError naming `tiers`."""
    with pytest.raises(ConfigError, match="tiers: empty tier list") as caught:
        Router(Settings(), analyzer=FixedAnalyzer(), tiers=[])
    assert caught.value.problems[0][0] == "tiers"


def test_unknown_model_and_repeated_name_are_reported_together() -> None:
    """Every bad tier is named at once: the unknown model and the repeated name."""
    tiers = [
        TierConfig(name="cheap", model="gpt-4o-mini"),
        TierConfig(name="cheap", model="no-such-model-xyz"),
    ]
    with pytest.raises(ConfigError) as caught:
        Router(Settings(), analyzer=FixedAnalyzer(), tiers=tiers)
    fields = [field for field, _ in caught.value.problems]
    assert fields == ["tiers.1.name", "tiers.1.model"]
    assert "no-such-model-xyz" in str(caught.value)


def test_custom_model_is_accepted_once_priced() -> None:
    """A model litellm does not know is fine when `prices:` covers it; its window is read too."""
    settings = Settings.model_validate(
        {
            "tiers": [{"name": "local", "model": "ollama/my-model"}],
            "prices": {
                "ollama/my-model": {
                    "input_cost_per_token": 0.0,
                    "output_cost_per_token": 0.0,
                    "max_input_tokens": 8192,
                }
            },
        }
    )
    table = TierTable(settings.tiers, settings.prices)
    assert table[0].context_window == 8192


def test_rule_naming_an_unknown_tier_is_rejected() -> None:
    """A rule pointing at a tier that does not exist names `router.rules.N.max_tier`."""
    rules = [{"kinds": ["scheduled"], "max_tier": "huge"}]
    with pytest.raises(
        ConfigError, match=re.escape("router.rules.0.max_tier: unknown tier 'huge'")
    ):
        Router(settings_with(rules=rules), analyzer=FixedAnalyzer())


def test_unknown_strategy_in_a_settings_copy_is_rejected() -> None:
    """A strategy name that bypassed validation still fails when the router is built."""
    settings = settings_with()
    broken = settings.router.model_construct(**{**settings.router.__dict__, "strategy": "fast"})
    with pytest.raises(ConfigError, match=re.escape("router.strategy: unknown strategy 'fast'")):
        strategy_for(broken, 3)


def _preference(
    kind: CallKind,
    *,
    score: float = 0.95,
    forced: str | None = None,
    floor: str | None = None,
    rules: list[RuleConfig] | None = None,
) -> int:
    table = TierTable(THREE_TIERS)
    resolved = table.resolve_rules(rules if rules is not None else [])
    return preferred_tier(
        score=score,
        call_kind=kind,
        tiers=table,
        strategy=FixedThresholds((0.3, 0.7)),
        rules=resolved,
        forced=forced,
        floor_tier=floor,
    ).index


def test_rule_sends_utility_and_memory_to_the_cheapest_tier() -> None:
    """The default rule keeps utility, memory, summaries and titles on the cheapest tier."""
    rules = Settings().router.rules
    for kind in (CallKind.UTILITY, CallKind.MEMORY, CallKind.SUMMARIZATION, CallKind.TITLE):
        assert _preference(kind, rules=rules) == 0
    assert _preference(CallKind.CHAT, rules=rules) == 2


def test_rule_caps_scheduled_tasks_even_against_override_and_cascade() -> None:
    """`max_tier` caps a kind: neither the score, a sticky override nor the cascade exceed it."""
    rules = [RuleConfig(kinds=[CallKind.SCHEDULED], max_tier="medium")]
    assert _preference(CallKind.SCHEDULED, rules=rules) == 1
    assert _preference(CallKind.SCHEDULED, rules=rules, forced="large") == 1
    assert _preference(CallKind.SCHEDULED, rules=rules, score=0.1, floor="large") == 1
    assert _preference(CallKind.CHAT, rules=rules) == 2


def test_override_and_cascade_floor_precedence() -> None:
    """A cascade floor lifts a low score; a sticky override replaces both; unknown is ignored."""
    assert _preference(CallKind.CHAT, score=0.1) == 0
    assert _preference(CallKind.CHAT, score=0.1, floor="medium") == 1
    assert _preference(CallKind.CHAT, score=0.1, floor="medium", forced="small") == 0
    assert _preference(CallKind.CHAT, score=0.1, forced="gpt-4o") == 2  # by model id
    assert _preference(CallKind.CHAT, score=0.1, forced="nonsense") == 0


def test_shipped_quantiles_belong_to_the_shipped_analyzer_model() -> None:
    """The quantile table was measured with the model that ships; re-measure when it changes."""
    from agent_routing.analyzer import load_default_model

    assert load_default_model().model_version == CALIBRATED_MODEL_VERSION
    assert len(SHIPPED_SCORE_QUANTILES) == len(QUANTILE_LEVELS) == 21
    assert list(SHIPPED_SCORE_QUANTILES) == sorted(SHIPPED_SCORE_QUANTILES)
    assert SHIPPED_SCORE_QUANTILES[0] >= 0.0
    assert SHIPPED_SCORE_QUANTILES[-1] <= 1.0


def test_quantile_table_of_known_values() -> None:
    """quantile_table interpolates like numpy's default quantile and rounds to `digits`."""
    import numpy as np

    scores = [0.91, 0.12, 0.5, 0.33333, 0.77, 0.05, 0.6]
    expected = tuple(round(float(q), 4) for q in np.quantile(scores, QUANTILE_LEVELS))
    assert quantile_table(scores, digits=4) == expected
    assert quantile_table([0.0, 1.0]) == QUANTILE_LEVELS
    with pytest.raises(ValueError, match="at least one score"):
        quantile_table([])


def test_every_configurable_strategy_has_a_strong_share() -> None:
    """The strategies the config accepts are exactly those with a measured strong share."""
    assert set(STRATEGIES) == set(get_args(Strategy))


def test_agent_steps_become_the_requests_the_plugin_would_route() -> None:
    """Each assistant step is routed on the message before it, with history, tools, iteration."""
    messages = [
        {"role": "system", "content": "You are an agent."},
        {"role": "user", "content": "Find the bug."},
        {
            "role": "assistant",
            "content": "Looking.",
            "tool_calls": [{"function": {"name": "search", "arguments": '{"q": "bug"}'}}],
        },
        {"role": "tool", "content": "found in parser.py"},
        {"role": "assistant", "content": "Fixed."},
    ]
    first, second = agent_step_requests(messages)
    assert (first.prompt, first.iteration, first.tools) == ("Find the bug.", 0, ())
    assert first.history == ("You are an agent.",)
    assert (second.prompt, second.iteration, second.tools) == ("found in parser.py", 1, ("search",))
    assert second.history[-1] == 'Looking.\nsearch({"q": "bug"})'


def test_strong_share_to_recover_matches_a_perfect_router() -> None:
    """A score that ranks exactly the prompts the strong model wins recovers the gap with them."""
    weak = [0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
    strong = [1, 1, 0, 0, 1, 1, 1, 1, 1, 1]
    perfect = [0.9, 0.8, 0.1, 0.1, 0.2, 0.2, 0.3, 0.3, 0.2, 0.1]
    assert strong_share_to_recover(perfect, weak, strong, 1.0) == pytest.approx(0.2)
    assert strong_share_to_recover(perfect, weak, strong, 0.5) == pytest.approx(0.1)
