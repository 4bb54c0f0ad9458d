"""The preferred tier for one call, before availability, context window and budget.

Precedence, lowest first (each step can override the ones before it):

1. the strategy maps the analyzer's score to a tier (thresholds);
2. the cascade floor lifts it after a failed answer in this conversation;
3. a sticky override (the `switch_model` tool) replaces it;
4. a rule with a fixed `tier` for this call kind replaces it (operator policy wins over
   the agent's own choice: utility and memory calls stay on the cheapest tier);
5. every matching rule's `max_tier` caps it ("scheduled tasks never above tier N").

The result also carries the cap, because fallback and cascade must respect it too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from agent_routing.config import CallKind
from agent_routing.router._tiers import Rule, TierTable
from agent_routing.router.strategies import RoutingStrategy


@dataclass(slots=True)
class Preference:
    """The preferred tier index, the highest allowed index, and why."""

    index: int
    cap: int
    score_index: int | None
    floor_index: int | None = None
    steps: list[str] = field(default_factory=list)
    pinned: bool = False  # a rule fixed the tier: the call never moves up for a cooldown


def preferred_tier(
    *,
    score: float,
    call_kind: CallKind,
    tiers: TierTable,
    strategy: RoutingStrategy,
    rules: Sequence[Rule],
    forced: str | None = None,
    floor_tier: str | None = None,
) -> Preference:
    """Apply the precedence in the module docstring and explain each step."""
    count = len(tiers)
    thresholds = strategy.thresholds(count) if count > 1 else []
    index = strategy.choose(score, count)
    steps = [_score_step(score, index, thresholds, tiers, strategy.name)]
    preference = Preference(index=index, cap=count - 1, score_index=index, steps=steps)

    floor = tiers.find(floor_tier) if floor_tier else None
    if floor is not None and floor.index > preference.index:
        preference.index = preference.floor_index = floor.index
        steps.append(f"cascade: escalated to {floor.name} after a failed answer")

    if forced:
        target = tiers.find(forced)
        if target is None:
            steps.append(f"override {forced!r} ignored: not a tier name or tier model")
        else:
            preference.index = target.index
            steps.append(f"sticky override: {target.name}")

    matching = [rule for rule in rules if call_kind in rule.kinds]
    fixed = next((rule.tier for rule in matching if rule.tier is not None), None)
    if fixed is not None:
        preference.index = fixed
        preference.pinned = True
        steps.append(f"rule: {call_kind.value} calls go to {tiers[fixed].name}")
    caps = [rule.max_tier for rule in matching if rule.max_tier is not None]
    if caps:
        preference.cap = min(caps)
        if preference.index > preference.cap:
            preference.index = preference.cap
            steps.append(f"rule: {call_kind.value} calls never above {tiers[preference.cap].name}")
    return preference


def _score_step(
    score: float, index: int, thresholds: Sequence[float], tiers: TierTable, strategy: str
) -> str:
    if not thresholds:
        return f"score {score:.3f}; a single tier ({tiers[0].name})"
    if index == 0:
        return f"{strategy}: score {score:.3f} < {thresholds[0]:.3f} -> {tiers[0].name}"
    return f"{strategy}: score {score:.3f} >= {thresholds[index - 1]:.3f} -> {tiers[index].name}"
