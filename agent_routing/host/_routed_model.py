"""The model object the plugin puts into `call_data["model"]`.

It has the host model's interface (`model_name`, `provider`, `kwargs`, `a0_model_conf`),
async `unified_call(...) -> (response, reasoning)` for Agent Zero v1.7, utility calls and
v2's `call_chat_model`, and async `unified_turn(...) -> LLMResult` for v2's main turn.
Both run the routing decision: the fallback chain (budget re-checked at every hop), each
hop calling the *same* method on the hop's own host model object (so host hooks on that
method, such as v2's usage drain on `unified_turn`, still run) and returning the hop's
result unchanged, and one ledger row per hop opened before the call with the exact
messages (and, on the first hop, the prompt compression's savings) and closed after it
with the response text; each row carries its hop number as `attempt`. This is what makes
the main call land in the ledger although litellm may never report it (v1.7 and v2
without the drain stop reading the stream at the first complete tool call, so litellm
fires no success callback).

For `unified_turn`, the Responses-API continuation (`previous_response_id`,
`responses_input_items`, computed by the host for the configured model) reaches only a hop
that is the configured model; the other turn kwargs always pass. `LLMResult.usage` (with
`usage["cost"]`) closes the hop's row as the provider's own count and price. While a hop
runs, its attribution is the calling context's scope, so litellm's own callbacks for it
land on the same row even through a transport that drops `metadata`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent_routing.config import CallKind, TierConfig
from agent_routing.errors import BudgetBlockedError, ConfigError
from agent_routing.host._messages import unified_call_messages
from agent_routing.host._stream_usage import StreamDrain, with_stream_usage
from agent_routing.host._tiers import CONFIGURED, HopModels

if TYPE_CHECKING:
    from agent_routing.router import HopCall, Router, RoutingDecision

logger = logging.getLogger("agent_routing.host")

_CALLBACKS = ("response_callback", "reasoning_callback", "tokens_callback")
# v2 turn kwargs that continue the configured model's stored conversation at the provider.
CONTINUATION_KWARGS = ("previous_response_id", "responses_input_items")


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
    stream_usage: bool = True  # capture.stream_usage: ask streamed calls for provider usage


class RoutedChatModel:
    """Stands in for the host's chat model for one call (see the module docstring)."""

    def __init__(self, configured: Any, plan: CallPlan) -> None:
        self.configured = configured
        self.plan = plan
        self.model_name = getattr(configured, "model_name", None)
        self.provider = getattr(configured, "provider", None)
        self.kwargs = getattr(configured, "kwargs", {})
        self.a0_model_conf = getattr(configured, "a0_model_conf", None)

    def __getattr__(self, name: str) -> Any:
        """Anything else the host reads from its model (`_convert_messages`, ...) is the
        configured model's, so the stand-in never fails where the original would not."""
        if name.startswith("__") or name == "configured":
            raise AttributeError(name)
        return getattr(self.configured, name)

    async def unified_call(self, **kwargs: Any) -> tuple[str, str]:
        """Run the call along the decision's fallback chain; returns (response, reasoning)."""
        result: tuple[str, str] = await self._run("unified_call", kwargs)
        return result

    async def unified_turn(self, **kwargs: Any) -> Any:
        """v2's main turn along the fallback chain; returns the answering hop's `LLMResult`."""
        return await self._run("unified_turn", kwargs)

    async def _run(self, method: str, kwargs: dict[str, Any]) -> Any:
        plan = self.plan

        async def attempt(call: HopCall) -> Any:
            return await self._attempt(call, method, kwargs)

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

    def _same_as_configured(self, model: Any) -> bool:
        """True when `model` is the configured model (the provider's stored state is its)."""
        configured = self.configured
        if model is configured:
            return True
        return (
            getattr(model, "model_name", None) is not None
            and getattr(model, "model_name", None) == getattr(configured, "model_name", None)
            and getattr(model, "provider", None) == getattr(configured, "provider", None)
        )

    async def _attempt(self, call: HopCall, method: str, kwargs: dict[str, Any]) -> Any:
        from agent_routing.capture import capture_metadata, end_call
        from agent_routing.capture.scope import make_scope, reset_scope, set_scope

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
        if method == "unified_turn" and not self._same_as_configured(model):
            for name in CONTINUATION_KWARGS:  # another model cannot continue that conversation
                hop_kwargs.pop(name, None)
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
        # the provider's usage (cached tokens) instead of litellm's own count, when safe
        hop_kwargs, drain = _ask_stream_usage(model, method, hop_kwargs, plan.stream_usage)
        opening: dict[str, Any] = {
            "model": model_name,
            "messages": unified_call_messages(kwargs),
            "stream": any(kwargs.get(name) is not None for name in _CALLBACKS),
            **attribution,
        }
        _open_row(opening, plan if call.number == 0 else None)
        plan.used.append((call.tier.name, model_name))
        # Whatever litellm reports for this hop lands on this row, even through a transport
        # that drops `metadata` (v2's Responses calls): the scope travels with the context.
        token = set_scope(make_scope(**attribution))
        try:
            result = await getattr(model, method)(**hop_kwargs)
        except Exception as error:
            answered = drain.answer_after_break(method)
            if answered is not None:  # broke while read for its usage: the answer stands
                logger.warning(
                    "agent-routing: the stream of %s broke after the host took its answer "
                    "(%s); the answer stands and the call's usage is estimated",
                    model_name,
                    error,
                )
                _report_end(call.call_id, method, answered)
                return answered
            end_call(call.call_id, error=error)
            if streamed[0]:
                raise _StreamBrokenError(error) from error
            raise
        finally:
            reset_scope(token)
        result = drain.restore(method, result)  # the accepted answer, if it drained one
        _report_end(call.call_id, method, result)
        return result


def _open_row(opening: dict[str, Any], first_hop_of: CallPlan | None) -> None:
    """Open the hop's ledger row; the first hop's (`first_hop_of` its plan) also carries
    the prompt compression's savings."""
    from agent_routing.capture import begin_call

    plan = first_hop_of
    if plan is not None and plan.tokens_saved:  # savings go on the first hop's row only
        try:
            begin_call(**opening, tokens_saved=plan.tokens_saved, usd_saved=plan.usd_saved)
        except ConfigError as error:  # odd savings must not cost the call or its row
            logger.warning("agent-routing: compression savings not recorded: %s", error)
        else:
            return
    begin_call(**opening)


def _ask_stream_usage(
    model: Any, method: str, kwargs: dict[str, Any], enabled: bool
) -> tuple[dict[str, Any], StreamDrain]:
    """The hop's kwargs asking for stream usage when safe, with their callbacks wrapped by
    the drain that then reads the stream to its end; else `kwargs` unchanged and an idle
    drain."""
    drain = StreamDrain()
    asked = with_stream_usage(model, method, kwargs, enabled=enabled)
    return (kwargs, drain) if asked is kwargs else (drain.wrap(asked), drain)


def _report_end(call_id: str, method: str, result: Any) -> None:
    """Close the hop's row from its result: text, and for `unified_turn` the host's usage."""
    from agent_routing.capture import end_call
    from agent_routing.capture.usage import provider_cost, usage_from_litellm

    if method == "unified_turn":
        raw_usage = getattr(result, "usage", None)
        usage = usage_from_litellm(raw_usage) if isinstance(raw_usage, dict) else None
        cost = provider_cost(raw_usage) if usage is not None else None
        end_call(
            call_id,
            response_text=str(getattr(result, "response", "") or ""),
            reasoning_text=str(getattr(result, "reasoning", "") or ""),
            usage=usage,
            cost_usd=cost,
        )
        return
    response, reasoning = result
    end_call(call_id, response_text=response or "", reasoning_text=reasoning or "")


def _watch(
    callback: Callable[..., Awaitable[Any]], streamed: list[bool]
) -> Callable[..., Awaitable[Any]]:
    """Wrap a stream callback to note that the user has seen part of the answer."""

    async def watched(*args: Any, **kwargs: Any) -> Any:
        streamed[0] = True
        return await callback(*args, **kwargs)

    return watched
