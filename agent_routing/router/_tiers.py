"""The tier table: configured tiers checked once, with their context windows from litellm.

Everything about a tier list that can be wrong is found here, when the router is built, and
reported as a ConfigError naming the field: an empty list, a repeated name, a model that
litellm's local price map does not know (and no `prices:` override covers), a rule naming a
tier that does not exist. Costs are estimated through :mod:`agent_routing.pricing`, the one
place that reads prices.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from agent_routing.config import CallKind, PriceOverride, RuleConfig, TierConfig
from agent_routing.errors import ConfigError

CHEAPEST = "cheapest"
STRONGEST = "strongest"


@dataclass(frozen=True, slots=True)
class Tier:
    """One configured tier and what litellm knows about its model."""

    index: int  # 0 = cheapest
    config: TierConfig
    context_window: int | None  # max input tokens; None = unknown (assumed to fit)

    @property
    def name(self) -> str:
        """The tier's configured name."""
        return self.config.name

    @property
    def model(self) -> str:
        """The tier's litellm model id."""
        return self.config.model


@dataclass(frozen=True, slots=True)
class Rule:
    """A routing rule with its tier references resolved to indices."""

    kinds: frozenset[CallKind]
    tier: int | None
    max_tier: int | None


class TierTable:
    """Tiers, cheapest first, validated and looked up by name, model or `cheapest/strongest`."""

    def __init__(
        self,
        tiers: Sequence[TierConfig],
        prices: Mapping[str, PriceOverride] | None = None,
        *,
        field: str = "tiers",
    ) -> None:
        from agent_routing import pricing

        self._prices: dict[str, PriceOverride] = dict(prices or {})
        if not tiers:
            raise ConfigError.single(
                field,
                "empty tier list (got []): list at least one tier, cheapest first, "
                "or leave 'tiers' unset to use the defaults",
            )
        problems: list[tuple[str, str]] = []
        seen: set[str] = set()
        for index, tier in enumerate(tiers):
            if tier.name in seen:
                problems.append((f"{field}.{index}.name", f"repeated tier name {tier.name!r}"))
            seen.add(tier.name)
            if not pricing.is_known_model(tier.model, self._prices):
                problems.append(
                    (
                        f"{field}.{index}.model",
                        f"unknown model {tier.model!r}: not in litellm's local price map; "
                        "add it under 'prices:' to use a custom or local model",
                    )
                )
        if problems:
            raise ConfigError(problems)
        self._tiers = tuple(
            Tier(index, tier, pricing.context_window(tier.model, self._prices))
            for index, tier in enumerate(tiers)
        )

    def __len__(self) -> int:
        return len(self._tiers)

    def __iter__(self) -> Iterator[Tier]:
        return iter(self._tiers)

    def __getitem__(self, index: int) -> Tier:
        return self._tiers[index]

    @property
    def configs(self) -> tuple[TierConfig, ...]:
        """The tiers' configurations, cheapest first."""
        return tuple(tier.config for tier in self._tiers)

    def find(self, reference: str) -> Tier | None:
        """The tier called `reference` (name, model id, `cheapest` or `strongest`), or None."""
        if reference == CHEAPEST:
            return self._tiers[0]
        if reference == STRONGEST:
            return self._tiers[-1]
        for tier in self._tiers:
            if reference == tier.name:
                return tier
        return next((tier for tier in self._tiers if tier.model == reference), None)

    def index_of(self, reference: str, field: str) -> int:
        """Like :meth:`find` but a ConfigError naming `field` when nothing matches."""
        tier = self.find(reference)
        if tier is None:
            names = [CHEAPEST, STRONGEST, *(tier.name for tier in self._tiers)]
            raise ConfigError.single(field, f"unknown tier {reference!r}: choose one of {names}")
        return tier.index

    def resolve_rules(self, rules: Sequence[RuleConfig], field: str = "router.rules") -> list[Rule]:
        """Resolve every rule's tier references; all unknown names are reported at once."""
        resolved: list[Rule] = []
        problems: list[tuple[str, str]] = []
        for number, rule in enumerate(rules):
            indices: dict[str, int | None] = {"tier": None, "max_tier": None}
            for key, reference in (("tier", rule.tier), ("max_tier", rule.max_tier)):
                if reference is None:
                    continue
                try:
                    indices[key] = self.index_of(reference, f"{field}.{number}.{key}")
                except ConfigError as error:
                    problems.extend(error.problems)
            resolved.append(Rule(frozenset(rule.kinds), indices["tier"], indices["max_tier"]))
        if problems:
            raise ConfigError(problems)
        return resolved

    def estimate_cost(self, tier: Tier, input_tokens: int, output_tokens: int) -> float | None:
        """Estimated USD cost of a call on `tier` (None when the model is unpriced)."""
        from agent_routing.pricing import estimate_cost_usd

        return estimate_cost_usd(tier.model, input_tokens, output_tokens, self._prices)
