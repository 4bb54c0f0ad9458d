"""The rules of a budget check that need no ledger: input validation, which budgets apply,
which spend window and alert period a budget has now, and how findings become a verdict.

Kept apart from :class:`agent_routing.budgets.Budgets` (which does the I/O) so each rule
reads on its own and is tested without a database.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from pydantic import ValidationError

from agent_routing.config import BudgetConfig
from agent_routing.errors import ConfigError
from agent_routing.ledger.base import SpendWindow
from agent_routing.ledger.periods import day_bounds, local_date, month_bounds
from agent_routing.pricing import model_aliases, same_model
from agent_routing.protocols import BudgetAction, BudgetVerdict

SEVERITY: dict[BudgetAction, int] = {"allow": 0, "warn": 1, "downgrade": 2, "block": 3}
"""Which verdict wins when several budgets apply: the most severe."""

USD_EPSILON = 1e-9
"""Spend comparisons tolerate float rounding of sums of many small costs."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One budget's objection to a call: what it asks for and why."""

    action: BudgetAction
    budget_key: str
    reason: str


def budget_from_mapping(data: Mapping[str, Any]) -> BudgetConfig:
    """Validate user input (CLI, API) into a BudgetConfig; ConfigError names each bad field."""
    try:
        return BudgetConfig.model_validate(dict(data))
    except ValidationError as error:
        problems = []
        for item in error.errors():
            field = ".".join(str(part) for part in item["loc"]) or "budget"
            message = item["msg"].removeprefix("Value error, ")
            if item["type"] != "missing":
                message += f" (got {item.get('input')!r})"
            problems.append((field, message))
        raise ConfigError(problems) from None


def check_tokens(input_tokens: int, max_output_tokens: int | None) -> None:
    """Refuse token counts that cannot be real, naming the argument."""
    if isinstance(input_tokens, bool) or not isinstance(input_tokens, int) or input_tokens < 0:
        raise ConfigError.single(
            "input_tokens", f"must be a non-negative integer (got {input_tokens!r})"
        )
    if max_output_tokens is not None and (
        isinstance(max_output_tokens, bool)
        or not isinstance(max_output_tokens, int)
        or max_output_tokens <= 0
    ):
        raise ConfigError.single(
            "max_output_tokens", f"must be a positive integer or None (got {max_output_tokens!r})"
        )


def applies(budget: BudgetConfig, model: str, conversation_id: str | None) -> bool:
    """Whether `budget` limits a call to `model` in this conversation (a conversation budget
    does not apply to calls without one)."""
    if budget.model is not None and not same_model(budget.model, model):
        return False
    return not (budget.scope == "conversation" and conversation_id is None)


def spend_window(
    budget: BudgetConfig, now: float, zone: tzinfo, conversation_id: str | None
) -> SpendWindow:
    """The spend a periodic budget counts at `now`: the conversation, or the local day or
    month in `zone`."""
    if budget.scope == "conversation":
        return SpendWindow(
            model=budget.model, conversation_id=conversation_id, model_aliases=_aliases(budget)
        )
    bounds = day_bounds if budget.scope == "daily" else month_bounds
    since, until = bounds(now, zone)
    return SpendWindow(since=since, until=until, model=budget.model, model_aliases=_aliases(budget))


def _aliases(budget: BudgetConfig) -> tuple[str, ...]:
    """The other names of the budget's model, whose calls it limits too."""
    return model_aliases(budget.model) if budget.model is not None else ()


def period_key(budget: BudgetConfig, now: float, zone: tzinfo, conversation_id: str | None) -> str:
    """The period an alert belongs to (`day:2026-03-10`, `month:2026-03`,
    `conversation:<id>`), so each threshold fires once per period."""
    if budget.scope == "conversation":
        return f"conversation:{conversation_id}"
    window = spend_window(budget, now, zone, None)
    assert window.since is not None
    day = local_date(window.since, zone).isoformat()
    return f"day:{day}" if budget.scope == "daily" else f"month:{day[:7]}"


def fraction_of(spent_usd: float, limit_usd: float) -> float:
    """How much of a limit is used; any spend against a $0 limit is infinitely over it."""
    return spent_usd / limit_usd if limit_usd > 0 else math.inf


def verdict(
    findings: Sequence[Finding],
    estimate: float,
    reservation_id: str | None,
    remaining: float | None,
    alerts: tuple[str, ...],
) -> BudgetVerdict:
    """The verdict of the most severe finding (allow when none); a block keeps no
    reservation."""
    if not findings:
        return BudgetVerdict(
            "allow",
            reservation_id=reservation_id,
            estimated_cost_usd=estimate,
            remaining_usd=remaining,
            alerts=alerts,
        )
    worst = max(findings, key=lambda finding: SEVERITY[finding.action])
    return BudgetVerdict(
        worst.action,
        reservation_id=None if worst.action == "block" else reservation_id,
        estimated_cost_usd=estimate,
        reason="; ".join(finding.reason for finding in findings),
        budget_key=worst.budget_key,
        remaining_usd=remaining,
        alerts=alerts,
    )


PRICE_HINT = (
    "add it under 'prices:' in the configuration (input_cost_per_token and "
    "output_cost_per_token, USD per token; `agent-routing prices MODEL` shows known ones)"
)


def unpriced_verdict(
    model: str, applicable: Sequence[BudgetConfig], policy: str = "budget"
) -> BudgetVerdict:
    """An unpriced model cannot be bounded: `pricing.unpriced` decides (`budget`: the most
    severe applicable budget's enforcement), and the reason says the price is unknown and
    how to add one, never "raise the limit"."""
    worst = max(applicable, key=lambda budget: SEVERITY[budget.enforcement])
    action: BudgetAction
    if policy == "budget":
        action = worst.enforcement
    elif policy in ("block", "warn"):
        action = "block" if policy == "block" else "warn"
    else:
        action = "allow"
    consequence = {
        "block": "the call is refused",
        "downgrade": "a priced tier is asked for",
        "warn": "the call goes ahead and its spend is not counted",
        "allow": "the call goes ahead and its spend is not counted",
    }[action]
    return BudgetVerdict(
        action,
        reason=(
            f"the price of model {model!r} is unknown (in neither litellm's price map nor the "
            f"package's price snapshot, and no override), so budget {worst.key} cannot count "
            f"its cost and {consequence} (pricing.unpriced: {policy}). To price it, "
            f"{PRICE_HINT}"
        ),
        budget_key=worst.key,
        unpriced_model=model,
    )


def format_usd(value: float) -> str:
    """Dollars with as many decimals as the amount needs (at least two; up to six from a
    cent up, eight below): `$1.00`, `$0.005`, `$0.0079`, never `$0.00` for a small amount."""
    sign = "-" if value < 0 else ""
    places = 6 if abs(value) >= 0.01 else 8
    whole, _, decimals = f"{abs(value):,.{places}f}".partition(".")
    if value and whole == "0" and not decimals.rstrip("0"):  # below 1e-8 dollars
        return f"{sign}${abs(value):.2g}"
    return f"{sign}${whole}.{decimals.rstrip('0').ljust(2, '0')}"


def ledger_failure_verdict(
    applicable: Sequence[BudgetConfig], estimate: float, error: Exception
) -> BudgetVerdict:
    """Fail closed for money: a ledger error refuses the call when a block budget applies."""
    worst = max(applicable, key=lambda budget: SEVERITY[budget.enforcement])
    return BudgetVerdict(
        worst.enforcement,
        estimated_cost_usd=estimate,
        reason=f"ledger error during the budget check ({error}); "
        + ("failing closed" if worst.enforcement == "block" else "spend unknown"),
        budget_key=worst.key,
    )
