"""Budgets and quotas: checked before every LLM call, enforced across processes.

A check estimates the call's cost (input tokens x input price + a bounded output estimate x
output price) and, inside one ledger transaction (`BEGIN IMMEDIATE` on SQLite), measures the
spend under every applicable budget and reserves the estimate. Spend is the cost of settled
calls in the period plus open, unexpired reservations, so concurrent calls see each other's
money before any of them finishes: 100 concurrent checks against a $1 cap reserve at most
$1. The call's record, carrying the reservation id, settles it when it is written.

Scopes: `call` (one call's estimate), `conversation` (all calls with that conversation id),
`daily` and `monthly` (calendar periods in `ledger.timezone`), each optionally limited to
one model (under any of its names: `gpt-4o` = `openai/gpt-4o`, see
`pricing.model_aliases`). Verdicts by enforcement: `warn` allows with a message,
`downgrade` asks the router for a cheaper tier (the money is still reserved for the
requested model; a router that re-checks another model should release it), `block`
refuses. The most severe applicable verdict wins.

Fail closed for money:

* a ledger error while checking refuses the call when any applicable budget blocks
  (otherwise: downgrade if one downgrades, else warn);
* an unpriced model (no price in the installed litellm map, the shipped snapshot or a
  `prices:` override) cannot be bounded: `pricing.unpriced` decides (default `budget`: a
  block budget refuses it, a downgrade budget downgrades it, a warn budget warns), and the
  message says the price is unknown and how to add one;
* budgets stored in the ledger that cannot be read refuse every call.

Under a `block` budget the verdict also carries `max_output_tokens`, the output tokens
the reservation covers; the router caps the call's `max_tokens` to it, so a block budget
holds even when a provider writes more than the estimate.

Counting is exact and current: before measuring, a check waits for the records this
process has already handed to its ledger writer (`pending_writes`), so spend committed
milliseconds earlier is seen. Alerts fire at each budget's `alert_thresholds` (fractions
of the limit) and count settled spend plus the live reservations of calls actually made:
the router checks candidates with `alerts=False` and calls :meth:`Budgets.fire_alerts`
once it has taken one, so a refused or downgraded candidate's reservation never fires an
alert. Each fires once per budget, period and threshold (a unique row in `alerts`).
Per-call budgets do not alert. Money in messages is printed with as many decimals as it
needs (`budgets.rules.format_usd`). Quotas (`QuotaConfig`) count requests or tokens
(input + output) of calls for a model or provider over the last 60 s (`minute`) or the
local calendar day (`day`); a model at its quota is unavailable. A quota check that cannot
read the ledger also answers "unavailable".

The rules that need no ledger (validation, applicability, windows, verdicts) are in
:mod:`agent_routing.budgets.rules`, quotas in :mod:`agent_routing.budgets.quotas`; the names
callers import (`QuotaStatus`, `budget_from_mapping`, ...) are re-exported by the
package (`agent_routing.budgets`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from agent_routing import events
from agent_routing.budgets.quotas import (
    ProviderFunction,
    Quotas,
    QuotaStatus,
    default_provider_of,
)
from agent_routing.budgets.rules import (
    USD_EPSILON,
    Finding,
    applies,
    budget_from_mapping,
    check_tokens,
    format_usd,
    fraction_of,
    ledger_failure_verdict,
    period_key,
    spend_window,
    unpriced_verdict,
    verdict,
)
from agent_routing.config import BudgetConfig, Settings
from agent_routing.ids import new_id
from agent_routing.ledger.base import (
    BudgetAlert,
    Ledger,
    Reservation,
    SpendLimit,
    SpendWindow,
)
from agent_routing.ledger.periods import resolve_timezone
from agent_routing.protocols import BudgetVerdict

__all__ = [
    "BudgetStatus",
    "Budgets",
    "PriceFunction",
    "ProviderFunction",
    "QuotaStatus",
    "budget_from_mapping",
]

logger = logging.getLogger("agent_routing.budgets")

PendingWrites = Callable[[], Awaitable[object]]
"""Waits until records this process already submitted are committed (the ledger writer's
`aflush`)."""

_PENDING_WRITES_TIMEOUT_S = 2.0

PriceFunction = Callable[[str, int, int], float | None]
"""(model, input_tokens, output_tokens) -> estimated USD, or None when the model is unpriced."""


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """Where one effective budget stands now.

    `spent_usd` (settled calls + open reservations), `remaining_usd` and `fraction` are None
    for per-call budgets, and for conversation budgets when no conversation was given.
    """

    key: str
    scope: str
    model: str | None
    enforcement: str
    limit_usd: float
    spent_usd: float | None
    remaining_usd: float | None
    fraction: float | None
    period_start: float | None
    period_end: float | None
    conversation_id: str | None
    source: Literal["config", "stored"]
    alert_thresholds: tuple[float, ...]


def _default_estimate(settings: Settings) -> PriceFunction:
    def estimate(model: str, input_tokens: int, output_tokens: int) -> float | None:
        from agent_routing.pricing import estimate_cost_usd

        return estimate_cost_usd(model, input_tokens, output_tokens, settings.prices)

    return estimate


class Budgets:
    """The :class:`~agent_routing.protocols.BudgetGuard` over a ledger (see module doc).

    `estimate_cost` and `provider_of` default to `agent_routing.pricing`; `clock` returns
    Unix seconds (injectable for period tests).
    """

    def __init__(
        self,
        ledger: Ledger,
        settings: Settings | None = None,
        *,
        estimate_cost: PriceFunction | None = None,
        provider_of: ProviderFunction | None = None,
        clock: Callable[[], float] = time.time,
        pending_writes: PendingWrites | None = None,
    ) -> None:
        self.ledger = ledger
        self._pending_writes = pending_writes
        self.settings = settings or Settings()
        self.zone = resolve_timezone(self.settings.ledger.timezone, "ledger.timezone")
        self._estimate_cost = estimate_cost or _default_estimate(self.settings)
        self._clock = clock
        self._fired: set[tuple[str, str, float]] = set()
        self._unpriced_logged: set[str] = set()
        self._quotas = Quotas(
            ledger,
            self.settings,
            self.zone,
            provider_of=provider_of or default_provider_of,
            clock=clock,
        )

    # --- configuration -----------------------------------------------------------------

    async def effective_budgets(self) -> list[tuple[BudgetConfig, Literal["config", "stored"]]]:
        """Config budgets, each replaced by a stored one with the same key, then the other
        stored ones; with where each came from."""
        merged: dict[str, tuple[BudgetConfig, Literal["config", "stored"]]] = {}
        for budget in self.settings.budgets:
            merged[budget.key] = (budget, "config")
        for budget in await self.ledger.stored_budgets():
            merged[budget.key] = (budget, "stored")
        return list(merged.values())

    async def set_budget(self, budget: BudgetConfig) -> None:
        """Store a budget in the ledger; it overrides a config budget with the same key."""
        await self.ledger.save_budget(budget)

    async def remove_budget(self, key: str) -> bool:
        """Remove a stored budget (a config budget with that key applies again)."""
        return await self.ledger.delete_budget(key)

    # --- the check ---------------------------------------------------------------------

    async def check(
        self,
        *,
        model: str,
        conversation_id: str | None,
        input_tokens: int,
        max_output_tokens: int | None = None,
        call_kind: str = "chat",
        alerts: bool = True,
    ) -> BudgetVerdict:
        """Check every applicable budget and reserve the call's estimated cost.

        With `alerts=False` no alert fires (a candidate the router may still refuse);
        the caller fires them with :meth:`fire_alerts` once the call is really made.
        """
        check_tokens(input_tokens, max_output_tokens)
        try:
            budgets = [budget for budget, _ in await self.effective_budgets()]
        except Exception as error:
            logger.exception("budget check: cannot read stored budgets")
            return BudgetVerdict("block", reason=f"budgets unreadable, call refused: {error}")
        applicable = [b for b in budgets if applies(b, model, conversation_id)]
        output_tokens = max_output_tokens or self.settings.reservation.output_estimate_tokens
        estimate = self._estimate(model, input_tokens, output_tokens)
        if not applicable:
            return BudgetVerdict("allow", estimated_cost_usd=estimate)
        if estimate is None:
            found = unpriced_verdict(model, applicable, self.settings.pricing.unpriced)
            if model not in self._unpriced_logged:  # once per model, not once per call
                self._unpriced_logged.add(model)
                logger.warning("budget check: %s", found.reason)
            return found
        await self._wait_for_pending_writes()
        now = self._clock()

        findings = [
            Finding(
                b.enforcement,
                b.key,
                f"budget {b.key} ({format_usd(b.limit_usd)} per call): this call's estimate "
                f"{format_usd(estimate)} exceeds it",
            )
            for b in applicable
            if b.scope == "call" and estimate > b.limit_usd + USD_EPSILON
        ]
        if any(finding.action == "block" for finding in findings):
            return verdict(findings, estimate, reservation_id=None, remaining=None, alerts=())

        periodic = [b for b in applicable if b.scope != "call"]
        reservation = Reservation(
            id=new_id(),
            created_at=now,
            expires_at=now + self.settings.reservation.ttl_s,
            model=model,
            amount_usd=estimate,
            conversation_id=conversation_id,
            call_kind=call_kind,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
        )
        limits = [
            SpendLimit(
                key=b.key,
                window=spend_window(b, now, self.zone, conversation_id),
                limit_usd=b.limit_usd,
                hard=b.enforcement == "block",
            )
            for b in periodic
        ]
        try:
            result = await self.ledger.reserve(reservation, limits)
        except Exception as error:
            logger.exception("budget check: ledger error while reserving")
            return ledger_failure_verdict(applicable, estimate, error)

        reserved = estimate if result.reservation_id is not None else 0.0
        remaining: float | None = None
        for budget in periodic:
            spent = result.spent_usd[budget.key]
            left = budget.limit_usd - spent - reserved
            remaining = left if remaining is None else min(remaining, left)
            if result.refused_by == budget.key or (
                budget.enforcement != "block" and spent + estimate > budget.limit_usd + USD_EPSILON
            ):
                findings.append(
                    Finding(
                        budget.enforcement,
                        budget.key,
                        f"budget {budget.key} ({format_usd(budget.limit_usd)}): spent "
                        f"{format_usd(spent)} + this call's estimate {format_usd(estimate)} "
                        "exceeds it",
                    )
                )
        fired: tuple[str, ...] = ()
        if alerts:
            fired = await self._fire_alerts(
                periodic, result.spent_usd, reserved, now, conversation_id
            )
        answer = verdict(findings, estimate, result.reservation_id, remaining, fired)
        if answer.action != "block" and any(b.enforcement == "block" for b in applicable):
            # the money held covers `output_tokens`: the call must not write more
            answer = dataclasses.replace(answer, max_output_tokens=output_tokens)
        return answer

    async def fire_alerts(self, *, model: str, conversation_id: str | None) -> tuple[str, ...]:
        """Fire the alerts a call to `model` now reaches: settled spend plus live
        reservations (the call's own included) against each applicable periodic budget.
        Never raises: an alert that cannot be measured is logged and skipped."""
        try:
            budgets = [budget for budget, _ in await self.effective_budgets()]
            periodic = [
                b for b in budgets if b.scope != "call" and applies(b, model, conversation_id)
            ]
            if not periodic:
                return ()
            now = self._clock()
            spent = {
                b.key: await self.ledger.spent_usd(
                    spend_window(b, now, self.zone, conversation_id), now=now
                )
                for b in periodic
            }
        except Exception:
            logger.exception("budget alerts for %r not measured", model)
            return ()
        return await self._fire_alerts(periodic, spent, 0.0, now, conversation_id)

    async def _wait_for_pending_writes(self) -> None:
        """Let records already submitted in this process reach the ledger (see module doc)."""
        if self._pending_writes is None:
            return
        try:
            async with asyncio.timeout(_PENDING_WRITES_TIMEOUT_S):
                await self._pending_writes()
        except Exception as error:  # a slow or broken writer: measure what is committed
            logger.warning("budget check: pending ledger writes not waited for: %r", error)

    async def release(self, reservation_id: str) -> None:
        """Drop a reservation whose call never happened (a no-op if already settled)."""
        await self.ledger.release_reservation(reservation_id)

    def _estimate(self, model: str, input_tokens: int, output_tokens: int) -> float | None:
        try:
            return self._estimate_cost(model, input_tokens, output_tokens)
        except Exception:
            logger.exception("budget check: cannot price %r; treating it as unpriced", model)
            return None

    async def _fire_alerts(
        self,
        periodic: Sequence[BudgetConfig],
        spent_usd: Mapping[str, float],
        reserved: float,
        now: float,
        conversation_id: str | None,
    ) -> tuple[str, ...]:
        messages: list[str] = []
        for budget in periodic:
            spent = spent_usd[budget.key] + reserved
            if spent <= 0:
                continue
            fraction = fraction_of(spent, budget.limit_usd)
            period = period_key(budget, now, self.zone, conversation_id)
            for threshold in budget.alert_thresholds:
                identity = (budget.key, period, threshold)
                if fraction + USD_EPSILON < threshold or identity in self._fired:
                    continue
                message = (
                    f"budget {budget.key} reached {threshold:.0%} of "
                    f"{format_usd(budget.limit_usd)} ({period}): {format_usd(spent)} spent "
                    "or reserved by calls in flight"
                )
                alert = BudgetAlert(
                    budget.key, period, threshold, now, spent, budget.limit_usd, message
                )
                try:
                    fired_now = await self.ledger.insert_alert(alert)
                except Exception:
                    logger.exception("budget alert not stored: %s", message)
                    continue
                self._fired.add(identity)
                if fired_now:
                    logger.warning("%s", message)
                    messages.append(message)
                    key = f"{budget.key}|{period}|{threshold}"
                    events.publish(events.Event("budget_alert", message, conversation_id, key=key))
        return tuple(messages)

    # --- status and quotas -------------------------------------------------------------

    async def status(self, conversation_id: str | None = None) -> list[BudgetStatus]:
        """Every effective budget with its spend in the current period."""
        now = self._clock()
        statuses = []
        for budget, source in await self.effective_budgets():
            spent: float | None = None
            window: SpendWindow | None = None
            if budget.scope in ("daily", "monthly") or (
                budget.scope == "conversation" and conversation_id is not None
            ):
                window = spend_window(budget, now, self.zone, conversation_id)
                spent = await self.ledger.spent_usd(window, now=now)
            remaining = None if spent is None else budget.limit_usd - spent
            fraction = None
            if spent is not None:
                fraction = fraction_of(spent, budget.limit_usd)
            statuses.append(
                BudgetStatus(
                    key=budget.key,
                    scope=budget.scope,
                    model=budget.model,
                    enforcement=budget.enforcement,
                    limit_usd=budget.limit_usd,
                    spent_usd=spent,
                    remaining_usd=remaining,
                    fraction=fraction,
                    period_start=None if window is None else window.since,
                    period_end=None if window is None else window.until,
                    conversation_id=conversation_id if budget.scope == "conversation" else None,
                    source=source,
                    alert_thresholds=tuple(budget.alert_thresholds),
                )
            )
        return statuses

    async def quota_available(self, model: str, *, input_tokens: int = 0) -> bool:
        """False when a quota for this model or its provider has no room for this call."""
        return await self._quotas.available(model, input_tokens=input_tokens)

    async def quota_status(self) -> list[QuotaStatus]:
        """Usage of every configured quota in its current window."""
        return [status for _, status in await self._quotas.statuses_for(None)]
