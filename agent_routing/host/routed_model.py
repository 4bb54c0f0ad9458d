"""The model object the plugin puts into `call_data["model"]`.

It has the host model's interface (`model_name`, `provider`, `kwargs`, `a0_model_conf`,
async `unified_call(...) -> (response, reasoning)`), and its `unified_call` runs the
routing decision: the fallback chain (budget re-checked at every hop), each hop through a
real host model object, and one ledger row per hop opened before the call with the exact
messages (and, on the first hop, the prompt compression's savings) and closed after it
with the response text; each row carries its hop number as `attempt`. This is what makes
the main call land in the ledger although litellm never reports it (the host stops
reading the stream at the first complete tool call, so litellm fires no success callback).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent_routing.config import CallKind, TierConfig
from agent_routing.errors import BudgetBlockedError, ConfigError
from agent_routing.host.messages import unified_call_messages
from agent_routing.host.tiers import CONFIGURED, HopModels

if TYPE_CHECKING:
    from agent_routing.router import HopCall, Router, RoutingDecision

logger = logging.getLogger("agent_routing.host")

_CALLBACKS = ("response_callback", "reasoning_callback", "tokens_callback")


class _StreamBrokenError(Exception):
    """A hop failed after part of its answer was streamed to the user: never fall back."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(slots=True)
class CallPlan:
    """Everything a routed call needs besides the host's call arguments."""

    router: Router | None  # None: the tiers cannot be routed; the host's model, recorded
    decision: RoutingDecision | None
    hops: HopModels
    kind: CallKind
    conversation_id: str | None
    agent_no: int | None
    tool: str | None
    on_blocked: Callable[[BudgetBlockedError], BaseException]
    on_wait: Callable[[float, str], Awaitable[None]] | None = None  # a long cooldown wait
    background: bool = False  # a budget block mid-call skips it quietly (empty answer)
    reservation_id: str | None = None  # the budget's hold when there is no decision
    tokens_saved: int | None = None
    usd_saved: float | None = None
    used: list[tuple[str, str]] = field(default_factory=list)  # (tier, model) per hop tried


class RoutedChatModel:
    """Stands in for the host's chat model for one call (see the module docstring)."""

    def __init__(self, configured: Any, plan: CallPlan) -> None:
        self.configured = configured
        self.plan = plan
        self.model_name = getattr(configured, "model_name", None)
        self.provider = getattr(configured, "provider", None)
        self.kwargs = getattr(configured, "kwargs", {})
        self.a0_model_conf = getattr(configured, "a0_model_conf", None)

    async def unified_call(self, **kwargs: Any) -> tuple[str, str]:
        """Run the call along the decision's fallback chain; returns (response, reasoning)."""
        plan = self.plan

        async def attempt(call: HopCall) -> tuple[str, str]:
            return await self._attempt(call, kwargs)

        try:
            if plan.router is None or plan.decision is None:
                return await attempt(self._direct_hop())
            return await plan.router.run_decision(plan.decision, attempt, on_wait=plan.on_wait)
        except _StreamBrokenError as broken:
            raise broken.error from None
        except BudgetBlockedError as blocked:
            if plan.background:
                logger.info("agent-routing: background call skipped: %s", blocked)
                return "", ""
            raise plan.on_blocked(blocked) from blocked

    def _direct_hop(self) -> HopCall:
        """The one hop of an unrouted call: the host's own model, still recorded."""
        from agent_routing.ids import new_id
        from agent_routing.router import HopCall

        tier = TierConfig(name=CONFIGURED, model=str(self.model_name or "unknown"))
        return HopCall(tier, 0, new_id(), self.plan.reservation_id, {})

    async def _attempt(self, call: HopCall, kwargs: dict[str, Any]) -> tuple[str, str]:
        from agent_routing.capture import begin_call, capture_metadata, end_call

        plan = self.plan
        model = plan.hops.for_tier(call.tier)
        model_name = str(getattr(model, "model_name", call.tier.model))
        tier = None if call.tier.name == CONFIGURED else call.tier.name
        attribution: dict[str, Any] = {
            "call_id": call.call_id,
            "conversation_id": plan.conversation_id,
            "agent_no": plan.agent_no,
            "kind": plan.kind.value,
            "tool": plan.tool,
            "decision_id": plan.decision.decision_id if plan.decision is not None else None,
            "tier": tier,
            "reservation_id": call.reservation_id,
            "attempt": call.number,  # 0 = first hop; a fallback hop counts as a retry
        }
        streamed = [False]
        hop_kwargs = dict(kwargs)
        for name in _CALLBACKS:
            if hop_kwargs.get(name) is not None:
                hop_kwargs[name] = _watch(hop_kwargs[name], streamed)
        own_metadata = getattr(model, "kwargs", {}).get("metadata")
        given = kwargs.get("metadata")
        hop_kwargs["metadata"] = {
            **(own_metadata if isinstance(own_metadata, dict) else {}),
            **(given if isinstance(given, dict) else {}),
            **capture_metadata(**attribution),
        }
        cap = call.kwargs.get("max_tokens")
        if isinstance(cap, int):
            hop_kwargs["max_tokens"] = min(cap, int(kwargs.get("max_tokens") or cap))
        if plan.decision is not None and len(plan.decision.fallback_chain) > 1:
            hop_kwargs.setdefault("a0_retry_attempts", 0)  # the chain is the retry policy
        opening: dict[str, Any] = {
            "model": model_name,
            "messages": unified_call_messages(kwargs),
            "stream": any(kwargs.get(name) is not None for name in _CALLBACKS),
            **attribution,
        }
        if call.number == 0 and plan.tokens_saved:  # savings go on the first hop's row only
            try:
                begin_call(**opening, tokens_saved=plan.tokens_saved, usd_saved=plan.usd_saved)
            except ConfigError as error:  # odd savings must not cost the call or its row
                logger.warning("agent-routing: compression savings not recorded: %s", error)
                begin_call(**opening)
        else:
            begin_call(**opening)
        plan.used.append((call.tier.name, model_name))
        try:
            response, reasoning = await model.unified_call(**hop_kwargs)
        except Exception as error:
            end_call(call.call_id, error=error)
            if streamed[0]:
                raise _StreamBrokenError(error) from error
            raise
        end_call(call.call_id, response_text=response or "", reasoning_text=reasoning or "")
        return response, reasoning


def _watch(
    callback: Callable[..., Awaitable[Any]], streamed: list[bool]
) -> Callable[..., Awaitable[Any]]:
    """Wrap a stream callback to note that the user has seen part of the answer."""

    async def watched(*args: Any, **kwargs: Any) -> Any:
        streamed[0] = True
        return await callback(*args, **kwargs)

    return watched
