"""Score quantile tables: where an analyzer's scores fall, so thresholds can aim at a share.

Each analyzer carries its own table (:class:`agent_routing.protocols.CalibratedAnalyzer`):
the strategies put a threshold at quantile `1 - share` of *that* analyzer's scores. A table
is 21 ascending values in [0, 1], the scores at levels 0, 0.05, ..., 1.

The shipped feature model's table was measured on real agent calls (the 462 assistant
steps of the recorded runs in `agent_transcripts/`; `bench/bench_router.py --calibrate`
reproduces it) and belongs to that model version only.

The routing strategies' strong shares (:data:`STRONG_SHARES`) and :func:`quantile_at` live
here too, below the router, so that a refit can say what a model would route
(`analyzer/learning.py`) without importing the router; `router/strategies.py` builds the
strategies from them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from agent_routing.errors import ConfigError

if TYPE_CHECKING:
    from agent_routing.config import Strategy

QUANTILE_LEVELS: tuple[float, ...] = tuple(round(i * 0.05, 2) for i in range(21))

# The shipped feature model's table (see the module docstring); tests fail when the shipped
# model's version differs from CALIBRATED_MODEL_VERSION.
CALIBRATED_MODEL_VERSION = "cm1-72982b51e4f2"
SHIPPED_SCORE_QUANTILES: tuple[float, ...] = (
    0.1877, 0.3247, 0.3606, 0.3873, 0.4599, 0.4913, 0.5173, 0.5460, 0.5768, 0.6000, 0.6236,
    0.6423, 0.6642, 0.6809, 0.7099, 0.7418, 0.7769, 0.8063, 0.8629, 0.9011, 0.9983,
)  # fmt: skip

# Key in a model file's `training` section holding the table measured for that model.
SCORE_QUANTILES_KEY = "score_quantiles"


# Share of calls each strategy sends above the cheapest tier: the share of strong calls that
# recovers 50 % / 80 % / 95 % of the cheap-to-strong quality gap (RouteLLM's CPT), averaged
# over the nine cheap/strong model pairs with recorded outcomes in the MMLU-Pro and EvalPerf
# sets, rounded to 0.05 (figures per pair in docs/router.md). Keys: config's `Strategy`.
STRONG_SHARES: dict[Strategy, float] = {
    "cost_optimized": 0.40,  # CPT(50 %) = 0.405
    "balanced": 0.65,  # CPT(80 %) = 0.659
    "quality_first": 0.80,  # CPT(95 %) = 0.820
}


def quantile_at(level: float, quantiles: Sequence[float] = SHIPPED_SCORE_QUANTILES) -> float:
    """The score at quantile `level` in [0, 1], linear between the tabulated levels."""
    if not 0.0 <= level <= 1.0:
        raise ConfigError.single("level", f"a quantile level must be in [0, 1] (got {level!r})")
    position = level * (len(quantiles) - 1)
    low = int(position)
    if low >= len(quantiles) - 1:
        return quantiles[-1]
    fraction = position - low
    return quantiles[low] + (quantiles[low + 1] - quantiles[low]) * fraction


def valid_table(table: Any) -> tuple[float, ...] | None:
    """`table` as a quantile table when it is one (21 ascending numbers in [0, 1]), else None."""
    if not isinstance(table, list | tuple) or len(table) != len(QUANTILE_LEVELS):
        return None
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in table):
        return None
    values = tuple(float(v) for v in table)
    if any(not 0.0 <= v <= 1.0 for v in values) or list(values) != sorted(values):
        return None
    return values


def table_from_training(training: Mapping[str, Any]) -> tuple[float, ...] | None:
    """The table a model file stores under `training.score_quantiles`, if valid."""
    return valid_table(training.get(SCORE_QUANTILES_KEY))


def quantile_table(scores: Iterable[float], *, digits: int = 6) -> tuple[float, ...]:
    """Scores at levels 0, 0.05, ..., 1 (linear interpolation, as numpy's default), rounded
    to `digits` places (the shipped table has 4: `bench/bench_router.py --calibrate`)."""
    values = sorted(float(s) for s in scores)
    if not values:
        raise ValueError("quantile_table needs at least one score")
    table: list[float] = []
    for level in QUANTILE_LEVELS:
        position = level * (len(values) - 1)
        low = int(position)
        high = min(low + 1, len(values) - 1)
        value = values[low] + (values[high] - values[low]) * (position - low)
        table.append(round(min(1.0, max(0.0, value)), digits))
    for index in range(1, len(table)):  # rounding must not break the order
        table[index] = max(table[index], table[index - 1])
    return tuple(table)
