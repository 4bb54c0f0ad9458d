"""The `switch_model` tool's logic: the agent picks a tier for the rest of the chat.

The choice is sticky: it is stored in the chat's data (`agent_routing_override`, saved with
the chat) and the router treats it as a forced tier until the agent switches again or
hands control back with `auto`. Rules and budgets still apply at every call. Switching *up*
is refused when the budget would not allow the stronger tier (a `block` or `downgrade`
verdict for it). Every switch is a decision row in the ledger (strategy `switch_model`).
Bad arguments never raise: the agent gets a message listing the valid choices.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from agent_routing.config import TierConfig
from agent_routing.errors import ConfigError
from agent_routing.host import _attribution as attribution
from agent_routing.host import _state as state
from agent_routing.host._runtime import PluginRuntime, get_runtime
from agent_routing.host._tiers import effective_tiers
from agent_routing.ids import new_id
from agent_routing.records import DecisionRecord

logger = logging.getLogger("agent_routing.host")

AUTO = "auto"
STRATEGY = "switch_model"
_KNOWN_ARGS = frozenset({"tier", "model", "auto", "reason"})
_TRUE = {"true", "yes", "1", "on"}


@dataclass(frozen=True, slots=True)
class SwitchRequest:
    """Parsed arguments: a target tier, or None for `auto`; and the agent's reason."""

    target: TierConfig | None
    reason: str


def _choices(tiers: list[TierConfig]) -> str:
    names = ", ".join(f'"{t.name}" ({t.model})' for t in tiers)
    return f'Valid tiers: {names}; or "auto" to let the router choose again.'


def _find(tiers: list[TierConfig], reference: str) -> TierConfig | None:
    wanted = reference.strip().lower()
    for tier in tiers:
        if wanted in {tier.name.lower(), tier.model.lower()}:
            return tier
    return next((t for t in tiers if t.model.lower().endswith("/" + wanted)), None)


def parse_switch_args(args: dict[str, Any], tiers: list[TierConfig]) -> SwitchRequest | str:
    """The request, or an error message for the agent naming the argument and the choices."""
    unknown = sorted(set(args) - _KNOWN_ARGS)
    if unknown:
        return f"switch_model: unknown argument(s) {unknown}. Use tier, reason. " + _choices(tiers)
    reason = str(args.get("reason") or "").strip()
    auto = str(args.get("auto", "")).strip().lower() in _TRUE
    references = [str(args[k]).strip() for k in ("tier", "model") if args.get(k) not in (None, "")]
    if auto or any(r.lower() == AUTO for r in references):
        return SwitchRequest(None, reason)
    if not references:
        return "switch_model: give 'tier' (or 'model'). " + _choices(tiers)
    found = [_find(tiers, r) for r in references]
    if any(tier is None for tier in found):
        bad = next(r for r, t in zip(references, found, strict=True) if t is None)
        return f"switch_model: unknown tier or model {bad!r}. " + _choices(tiers)
    if len({tier.name for tier in found if tier is not None}) > 1:
        return "switch_model: 'tier' and 'model' name different tiers. " + _choices(tiers)
    return SwitchRequest(found[0], reason)


async def _upgrade_refusal(
    agent: Any, runtime: PluginRuntime, tiers: list[TierConfig], target: TierConfig
) -> str | None:
    """Why switching up to `target` is refused by the budget, or None when it is allowed."""
    names = [t.name for t in tiers]
    current = state.override_of(agent)
    route = state.iteration_route(getattr(agent, "loop_data", None))
    now_tier = (
        current["tier"]
        if current
        else (route.decision.tier.name if route and route.decision.tier else None)
    )
    now_index = names.index(now_tier) if now_tier in names else 0
    if names.index(target.name) <= now_index:
        return None
    window = agent.data.get("ctx_window")
    tokens = window.get("tokens") if isinstance(window, dict) else 0
    verdict = await runtime.budgets.check(
        model=target.model,
        conversation_id=attribution.conversation_id(agent),
        input_tokens=int(tokens or 0),
        call_kind=attribution.main_call_kind(agent).value,
    )
    if verdict.reservation_id is not None:
        await runtime.budgets.release(verdict.reservation_id)
    if verdict.action in ("block", "downgrade"):
        return verdict.reason or f"the budget does not allow {target.name}"
    return None


def _record(agent: Any, runtime: PluginRuntime, target: TierConfig | None, reason: str) -> None:
    sink = runtime.sink
    if sink is None:
        return
    decision = DecisionRecord(
        id=new_id(),
        created_at=time.time(),
        conversation_id=attribution.conversation_id(agent),
        agent_no=attribution.agent_no(agent),
        call_kind=attribution.main_call_kind(agent).value,
        strategy=STRATEGY,
        chosen_tier=target.name if target is not None else None,
        chosen_model=target.model if target is not None else AUTO,
        configured_model=None,
        score=None,
        reason=f"switch_model: {reason or 'no reason given'}",
        extra={"source": STRATEGY, "sticky": target is not None},
    )
    sink.submit_decision(decision)


def _routing_off(runtime: PluginRuntime, tiers: list[TierConfig]) -> str | None:
    """Why no tier choice can apply now (router off, shadow, unroutable tiers), or None."""
    options = runtime.settings.router
    if not options.enabled:
        return "router.enabled is false"
    if options.shadow:
        return "router.shadow is true: decisions are recorded, not applied"
    try:
        runtime.router_for(tiers)
    except ConfigError as error:
        return f"the tier configuration is invalid ({error})"
    return None


async def switch_model(agent: Any, args: dict[str, Any]) -> str:
    """Apply the agent's `switch_model` call; returns the tool's reply text."""
    runtime = get_runtime(agent)
    tiers = effective_tiers(runtime.settings, agent.get_chat_model(), agent.get_utility_model())
    parsed = parse_switch_args(args, tiers)
    if isinstance(parsed, str):
        return parsed
    off = _routing_off(runtime, tiers) if parsed.target is not None else None
    if off is not None:
        return (
            f"switch_model: routing is off ({off}), so every call stays on Agent Zero's "
            "configured model; nothing was switched. Continue with the current model."
        )
    if parsed.target is None:
        agent.context.data.pop(state.OVERRIDE_KEY, None)
        _record(agent, runtime, None, parsed.reason)
        return "Model choice handed back to the router: it picks a tier for each step again."
    refusal = await _upgrade_refusal(agent, runtime, tiers, parsed.target)
    if refusal is not None:
        return (
            f"switch_model refused: {refusal}. Staying on the current tier; continue with it "
            "or ask the user to raise the budget."
        )
    agent.context.data[state.OVERRIDE_KEY] = {
        "tier": parsed.target.name,
        "model": parsed.target.model,
        "reason": parsed.reason,
        "set_at": time.time(),
        "agent_no": attribution.agent_no(agent),
    }
    _record(agent, runtime, parsed.target, parsed.reason)
    return (
        f'Switched to tier "{parsed.target.name}" ({parsed.target.model}) for the rest of this '
        'chat. Call switch_model with tier "auto" to let the router choose again.'
    )
