"""Making a routed call: the fallback chain with a budget and quota check at every hop.

:func:`run_decision` wraps :func:`~agent_routing.router._fallback.run_with_fallback` with
what the router knows: the first hop uses the decision's reservation; every later hop is
admitted only if its model is not at quota, the budget allows it (`block` refuses the
whole call; `downgrade` skips a tier dearer than the one the decision chose), and, after a
context overflow, only if its context window is larger than the one that overflowed. A
failed hop's reservation is released (the provider refused the call, so nothing is spent);
a successful hop's reservation stays for the call's ledger record to settle.

Each hop hands the caller's `attempt` a :class:`HopCall`: the tier, the litellm keyword
arguments that apply it, and the capture metadata that ties the call's ledger row to the
decision, the tier, the reservation and the hop number (the row's `attempt`, so a
fallback hop counts in the reports' retry rate). Callers that use `HopCall.merged`
(`Router.acompletion`, the demo) carry it to litellm as is; a caller that builds its own
metadata passes `HopCall.number` as `attempt`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from agent_routing import events
from agent_routing.config import TierConfig
from agent_routing.errors import ConfigError
from agent_routing.ids import new_id
from agent_routing.provider_errors import ErrorClassification, FailureKind
from agent_routing.router._decision import RoutingDecision, tier_call_kwargs
from agent_routing.router._fallback import Hop, OnWait, run_with_fallback
from agent_routing.router._holds import fire_alerts, refusal, release

if TYPE_CHECKING:
    from agent_routing.config import RouterSettings
    from agent_routing.protocols import BudgetGuard
    from agent_routing.router._fallback import CooldownRegistry
    from agent_routing.router._tiers import TierTable

T = TypeVar("T")

logger = logging.getLogger("agent_routing.router")


@dataclass(frozen=True, slots=True)
class HopCall:
    """One attempt of a routed call: what to call and how to label it for the ledger."""

    tier: TierConfig
    number: int  # 0 = first attempt
    call_id: str
    reservation_id: str | None
    kwargs: Mapping[str, Any]  # model, api_base, custom_llm_provider, max_tokens
    metadata: Mapping[str, Any] = field(default_factory=dict)  # litellm `metadata`

    def merged(self, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """`kwargs` with this hop applied: model and endpoint replaced, `max_tokens` capped,
        the capture metadata merged into any `metadata` given."""
        merged = {**kwargs, **self.kwargs}
        own_cap = kwargs.get("max_tokens")
        if isinstance(own_cap, int) and "max_tokens" in self.kwargs:
            merged["max_tokens"] = min(own_cap, int(self.kwargs["max_tokens"]))
        given = kwargs.get("metadata")
        merged["metadata"] = {**(given if isinstance(given, Mapping) else {}), **self.metadata}
        return merged


async def run_decision(
    decision: RoutingDecision,
    attempt: Callable[[HopCall], Awaitable[T]],
    *,
    tiers: TierTable,
    budgets: BudgetGuard | None,
    settings: RouterSettings,
    cooldowns: CooldownRegistry,
    on_wait: OnWait | None = None,
) -> T:
    """Run `attempt` along the decision's fallback chain (see the module docstring).

    Takes what it needs, not the router: the tier table (ranks, context windows), the
    budget guard (re-checked per hop; None: no budgets), the router settings (fallback
    config, output caps) and the cooldown registry shared with the router."""
    chain = decision.fallback_chain
    start_rank = _rank(tiers, decision.tier)
    next_reservation: list[str | None] = [decision.reservation_id]
    used: dict[int, str | None] = {}
    next_cap: list[int | None] = [None]  # the output cap the next hop's block budget sets
    attempts = 0

    async def admit(hop: Hop) -> bool:
        if not _window_grows(tiers, hop):
            return False
        if budgets is None:
            next_reservation[0] = None
            return True
        model = hop.tier.model
        try:
            if not await budgets.quota_available(model, input_tokens=decision.input_tokens):
                logger.info("fallback: %s is at its quota", model)
                return False
        except Exception as error:
            logger.warning("quota check for %s failed, assuming available: %r", model, error)
        verdict = await budgets.check(
            model=model,
            conversation_id=decision.conversation_id,
            input_tokens=decision.input_tokens,
            max_output_tokens=_hop_max_tokens(settings, decision, hop.tier),
            call_kind=decision.call_kind.value,
            alerts=False,  # fired below, once the hop is admitted
        )
        if verdict.action == "block":
            await release(budgets, verdict.reservation_id)
            raise refusal(verdict, model)
        if verdict.action == "downgrade" and _rank(tiers, hop.tier) > start_rank:
            await release(budgets, verdict.reservation_id)
            logger.info("fallback: budget refuses the dearer %s", model)
            return False
        next_reservation[0] = verdict.reservation_id
        next_cap[0] = verdict.max_output_tokens
        await fire_alerts(budgets, model, decision.conversation_id)
        return True

    async def on_error(hop: Hop, classification: ErrorClassification, error: Exception) -> None:
        await release(budgets, used.get(hop.number))
        if classification.fallback and len(chain) > 1:
            what = f"{hop.tier.model} failed ({classification.kind.value}); trying the next model"
            events.publish(events.Event("fallback", what, decision.conversation_id, hop.tier.model))

    async def one(tier: TierConfig) -> T:
        nonlocal attempts
        number = attempts
        attempts += 1
        reservation_id = next_reservation[0]
        next_reservation[0] = None
        used[number] = reservation_id
        budget_cap = next_cap[0]
        next_cap[0] = None
        call = _hop_call(settings, decision, tier, number, reservation_id, budget_cap=budget_cap)
        return await attempt(call)

    return await run_with_fallback(
        chain,
        one,
        config=settings.fallback,
        cooldowns=cooldowns,
        admit=admit,
        on_error=on_error,
        on_wait=on_wait,
    )


def _hop_call(
    settings: RouterSettings,
    decision: RoutingDecision,
    tier: TierConfig,
    number: int,
    reservation_id: str | None,
    *,
    budget_cap: int | None = None,
) -> HopCall:
    from agent_routing.capture import capture_metadata

    caps = [cap for cap in (_hop_max_tokens(settings, decision, tier), budget_cap) if cap]
    kwargs = tier_call_kwargs(tier, min(caps) if caps else None)
    call_id = new_id()
    ours = functools.partial(
        capture_metadata,
        call_id=call_id,
        kind=decision.call_kind.value,
        decision_id=decision.decision_id,
        tier=tier.name if decision.tier is not None else None,  # None: a configured model
        reservation_id=reservation_id,
        attempt=number,  # the row's `attempt`: fallback hops count in the retry rate
    )
    try:
        metadata = ours(conversation_id=decision.conversation_id, agent_no=decision.agent_no)
    except ConfigError as error:  # the caller's attribution is bad; the call still runs
        logger.warning("call %s: attribution dropped: %s", call_id, error)
        metadata = ours()
    return HopCall(tier, number, call_id, reservation_id, kwargs, metadata)


def _hop_max_tokens(
    settings: RouterSettings, decision: RoutingDecision, tier: TierConfig
) -> int | None:
    if decision.tier is not None and tier.name == decision.tier.name:
        return decision.max_tokens
    caps = [settings.output_caps.get(decision.call_kind), tier.max_output_tokens]
    known = [cap for cap in caps if cap is not None]
    return min(known) if known else None


def _rank(tiers: TierTable, tier: TierConfig | None) -> int:
    found = tiers.find(tier.name) if tier is not None else None
    return found.index if found is not None else len(tiers)


def _window_grows(tiers: TierTable, hop: Hop) -> bool:
    """After a context overflow, only a model with a larger known window is worth a try."""
    error = hop.previous_error
    if error is None or error.kind is not FailureKind.CONTEXT_OVERFLOW or not hop.previous_tier:
        return True
    before = tiers.find(hop.previous_tier.name)
    after = tiers.find(hop.tier.name)
    if before is None or after is None or None in {before.context_window, after.context_window}:
        return True
    return (after.context_window or 0) > (before.context_window or 0)
