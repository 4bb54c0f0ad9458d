"""Quotas: whether a model (or its provider) has room for one more call right now.

A quota (`QuotaConfig`) counts the requests, or the tokens (input + output), of calls for
one model or one provider over the last 60 s (`minute`) or the local calendar day (`day`),
from what the ledger has committed (blocked calls excluded). A model at its quota is
unavailable, so the router moves on before the provider refuses. A quota check that cannot
read the ledger answers "unavailable".

Atomic like budgets: on SQLite a check that finds room also *holds* it (a row in
`quota_holds`) in the same `BEGIN IMMEDIATE` transaction, and usage is the larger of the
committed calls and the holds in the window. So concurrent calls cannot all see the same
room: 40 concurrent calls against 10 requests/minute admit exactly 10. A hold taken for a
model the router then does not use (a budget downgrade moves on) counts until its window
ends; that errs on the side of the provider's limit.

:class:`agent_routing.budgets.Budgets` exposes this as `quota_available` / `quota_status`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import tzinfo

from agent_routing.budgets.rules import check_tokens
from agent_routing.config import QuotaConfig, Settings
from agent_routing.ledger.base import Ledger, QuotaHold, QuotaHolder
from agent_routing.ledger.periods import day_bounds
from agent_routing.pricing import model_aliases, same_model

logger = logging.getLogger("agent_routing.budgets")

ProviderFunction = Callable[[str], str | None]
"""model -> litellm provider name, or None."""

_MINUTE_S = 60.0


@dataclass(frozen=True, slots=True)
class QuotaStatus:
    """Usage of one quota in its current window."""

    key: str
    unit: str
    period: str
    limit: int
    used: int
    remaining: int
    window_start: float
    window_end: float


def default_provider_of(model: str) -> str | None:
    """The provider litellm resolves for `model` (imported lazily: pricing loads litellm)."""
    from agent_routing.pricing import provider_of

    return provider_of(model)


class Quotas:
    """The configured quotas (`settings.quotas`) measured against a ledger."""

    def __init__(
        self,
        ledger: Ledger,
        settings: Settings,
        zone: tzinfo,
        *,
        provider_of: ProviderFunction,
        clock: Callable[[], float],
    ) -> None:
        self.ledger = ledger
        self.settings = settings
        self.zone = zone
        self._provider_of = provider_of
        self._clock = clock

    async def available(self, model: str, *, input_tokens: int = 0) -> bool:
        """False when a quota for this model or its provider has no room for this call.

        On a ledger that can hold quotas (:class:`~agent_routing.ledger.base.QuotaHolder`,
        SQLite), True also holds the room, atomically with the check, so concurrent calls
        cannot all pass: each admitted call counts at once, before its record is written.
        """
        check_tokens(input_tokens, None)
        if isinstance(self.ledger, QuotaHolder):
            try:
                return await self._hold(self.ledger, model, input_tokens)
            except Exception:
                logger.exception(
                    "quota check for %r failed; treating the model as unavailable", model
                )
                return False
        try:
            for quota, status in await self.statuses_for(model):
                needed = 1 if quota.unit == "requests" else input_tokens
                if status.used + needed > quota.limit:
                    return False
        except Exception:
            logger.exception("quota check for %r failed; treating the model as unavailable", model)
            return False
        return True

    async def _hold(self, ledger: QuotaHolder, model: str, input_tokens: int) -> bool:
        now = self._clock()
        holds = [
            QuotaHold(
                key=quota.key,
                since=since,
                until=until,
                unit=quota.unit,
                limit=quota.limit,
                needed=1 if quota.unit == "requests" else input_tokens,
                model=quota.model,
                provider=quota.provider,
                model_aliases=model_aliases(quota.model) if quota.model is not None else (),
            )
            for quota, since, until in self._applicable(model, now)
        ]
        refused = await ledger.hold_quotas(holds, now=now)
        if refused is not None:
            logger.info("quota %s has no room for a call to %r", refused, model)
        return refused is None

    def _applicable(self, model: str | None, now: float) -> list[tuple[QuotaConfig, float, float]]:
        """The quotas that apply to `model` (all when None) with their current window."""
        provider = self._provider(model) if model is not None else None
        out = []
        for quota in self.settings.quotas:
            if model is not None and quota.model is not None and not same_model(quota.model, model):
                continue
            if model is not None and quota.provider is not None and quota.provider != provider:
                continue
            if quota.period == "minute":
                since, until = now - _MINUTE_S, now + _MINUTE_S
            else:
                since, until = day_bounds(now, self.zone)
            out.append((quota, since, until))
        return out

    async def statuses_for(self, model: str | None) -> list[tuple[QuotaConfig, QuotaStatus]]:
        """Quotas that apply to `model` (all of them when None) with their usage."""
        now = self._clock()
        out = []
        for quota, since, until in self._applicable(model, now):
            totals = await self.ledger.usage_totals(
                since=since,
                until=until,
                model=quota.model,
                provider=quota.provider,
                model_aliases=model_aliases(quota.model) if quota.model is not None else (),
            )
            used = totals.requests if quota.unit == "requests" else totals.tokens
            out.append(
                (
                    quota,
                    QuotaStatus(
                        key=quota.key,
                        unit=quota.unit,
                        period=quota.period,
                        limit=quota.limit,
                        used=used,
                        remaining=max(0, quota.limit - used),
                        window_start=since,
                        window_end=until if quota.period == "day" else now,
                    ),
                )
            )
        return out

    def _provider(self, model: str) -> str | None:
        try:
            return self._provider_of(model)
        except Exception:
            logger.exception("cannot tell the provider of %r", model)
            return None
