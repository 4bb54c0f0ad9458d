"""Routing strategies: one small interface, the built-in variants in a registry.

A strategy maps the analyzer's score to a tier index. The three built-ins differ only in
where they put their thresholds, RouteLLM-style: each aims at a share of calls sent above
the cheapest tier (its `strong_share`, :data:`STRONG_SHARES`), and its thresholds are the
quantiles of the shipped analyzer's scores on agent calls that give that share
(:data:`SHIPPED_SCORE_QUANTILES`; both are measured, see
:mod:`agent_routing.router._calibration`). With more than two tiers, the strong share is
split evenly among the tiers above the cheapest: threshold `i` (of `n - 1`) sits at
quantile `1 - strong_share * (n - 1 - i) / (n - 1)`.

`router.thresholds` replaces a strategy's thresholds with explicit ones
(:class:`FixedThresholds`); the count must be one fewer than the tiers.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from agent_routing.analyzer.quantiles import (
    CALIBRATED_MODEL_VERSION,
    QUANTILE_LEVELS,
    SCORE_QUANTILES_KEY,
    SHIPPED_SCORE_QUANTILES,
    STRONG_SHARES,
    quantile_at,
    valid_table,
)
from agent_routing.config import RouterSettings
from agent_routing.errors import ConfigError
from agent_routing.protocols import CalibratedAnalyzer

# The shipped feature model's quantile table, the strategies' strong shares and quantile_at
# live with the analyzer (each analyzer carries its own table, see
# agent_routing/analyzer/quantiles.py); re-exported here for callers.
__all__ = [
    "CALIBRATED_MODEL_VERSION",
    "QUANTILE_LEVELS",
    "SCORE_QUANTILES_KEY",
    "SHIPPED_SCORE_QUANTILES",
    "STRATEGIES",
    "STRONG_SHARES",
    "FixedThresholds",
    "QuantileStrategy",
    "RoutingStrategy",
    "check_thresholds",
    "quantile_at",
    "quantiles_for",
    "strategy_for",
    "tier_for_score",
]


class RoutingStrategy(Protocol):
    """Maps a complexity score in [0, 1] to a tier index (0 = cheapest)."""

    @property
    def name(self) -> str:
        """The strategy's registry key (recorded on every decision)."""
        ...

    def thresholds(self, tier_count: int) -> list[float]:
        """Ascending score thresholds, one fewer than `tier_count`."""
        ...

    def choose(self, score: float, tier_count: int) -> int:
        """The tier index for `score`."""
        ...


def tier_for_score(score: float, thresholds: Sequence[float]) -> int:
    """Index of the tier for `score`: the number of thresholds at or below it."""
    return bisect.bisect_right(thresholds, score)


@dataclass(frozen=True, slots=True)
class QuantileStrategy:
    """Thresholds at score quantiles that send `strong_share` of calls above the cheapest tier."""

    name: str
    strong_share: float
    quantiles: tuple[float, ...] = SHIPPED_SCORE_QUANTILES

    def thresholds(self, tier_count: int) -> list[float]:
        """Thresholds for `tier_count` tiers (see the module docstring)."""
        steps = tier_count - 1
        return [
            quantile_at(1.0 - self.strong_share * (steps - i) / steps, self.quantiles)
            for i in range(steps)
        ]

    def choose(self, score: float, tier_count: int) -> int:
        """The tier index for `score`."""
        if tier_count <= 1:
            return 0
        return tier_for_score(score, self.thresholds(tier_count))


@dataclass(frozen=True, slots=True)
class FixedThresholds:
    """Explicit thresholds from `router.thresholds`, checked against the tier count."""

    values: tuple[float, ...]
    name: str = "thresholds"

    def thresholds(self, tier_count: int) -> list[float]:
        """The configured thresholds (ConfigError when their count does not fit)."""
        check_thresholds(self.values, tier_count)
        return list(self.values)

    def choose(self, score: float, tier_count: int) -> int:
        """The tier index for `score`."""
        return tier_for_score(score, self.thresholds(tier_count))


def check_thresholds(
    values: Sequence[float], tier_count: int, field: str = "router.thresholds"
) -> None:
    """ConfigError naming `field` unless `values` are in [0, 1], ascending, `tier_count - 1`."""
    if len(values) != tier_count - 1:
        raise ConfigError.single(
            field,
            f"{tier_count} tier(s) need {tier_count - 1} threshold(s), got {len(values)} "
            f"({list(values)!r})",
        )
    if any(not 0.0 <= value <= 1.0 for value in values):
        raise ConfigError.single(field, f"each threshold must be in [0, 1] (got {list(values)!r})")
    if any(b <= a for a, b in itertools.pairwise(values)):
        raise ConfigError.single(field, f"thresholds must be strictly ascending (got {values!r})")


STRATEGIES: dict[str, RoutingStrategy] = {
    name: QuantileStrategy(name, strong_share=share) for name, share in STRONG_SHARES.items()
}


def quantiles_for(analyzer: object) -> tuple[float, ...]:
    """The score quantile table that belongs to `analyzer`.

    An analyzer declaring its own table (:class:`~agent_routing.protocols.CalibratedAnalyzer`:
    every built-in one) is routed over that table. Only an analyzer that declares none, such
    as a test double with fixed scores, gets the shipped feature model's table.
    """
    if isinstance(analyzer, CalibratedAnalyzer):
        table = valid_table(analyzer.score_quantiles)
        if table is None:
            raise ConfigError.single(
                "router.analyzer",
                f"analyzer {analyzer.name!r} has no valid score quantile table "
                f"({len(QUANTILE_LEVELS)} ascending values in [0, 1] needed)",
            )
        return table
    return SHIPPED_SCORE_QUANTILES


def strategy_for(
    settings: RouterSettings,
    tier_count: int,
    quantiles: tuple[float, ...] = SHIPPED_SCORE_QUANTILES,
) -> RoutingStrategy:
    """The strategy `settings` ask for over `quantiles`, or explicit thresholds (checked)."""
    if settings.thresholds is not None:
        fixed = FixedThresholds(tuple(settings.thresholds), name=settings.strategy)
        fixed.thresholds(tier_count)  # validate now, not on the first call
        return fixed
    strategy = STRATEGIES.get(settings.strategy)
    if strategy is None:
        raise ConfigError.single(
            "router.strategy",
            f"unknown strategy {settings.strategy!r}: choose one of {sorted(STRATEGIES)}",
        )
    if isinstance(strategy, QuantileStrategy) and quantiles != strategy.quantiles:
        return dataclasses.replace(strategy, quantiles=quantiles)
    return strategy
