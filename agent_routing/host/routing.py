"""Routing hooks: decide at `message_loop_start`, apply at the model-call hooks.

The main call of an iteration is routed once per iteration, before the prompt is built, so
that the compression hook knows the model (and any `compress_to_tokens`) it compresses for.
Other chat calls (document query, email plugin) and utility calls are routed where they
happen. In every case `call_data["model"]` is replaced by a :class:`RoutedChatModel` that
runs the decision and records each hop in the ledger.

The main call is told apart from other chat calls as the spec says (§5.4): it is the one
with a `response_callback`, made after `before_main_llm_call` set the flag. Its input
tokens come from the host's own counts when it has them (:mod:`.context_size`).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any, NoReturn

from agent_routing.config import CallKind, TierConfig
from agent_routing.errors import BudgetBlockedError, ConfigError
from agent_routing.host import attribution, state
from agent_routing.host.context_size import host_input_tokens
from agent_routing.host.failures import budget_block
from agent_routing.host.messages import content_text, history_texts, to_litellm_messages
from agent_routing.host.routed_model import CallPlan, RoutedChatModel
from agent_routing.host.runtime import PluginRuntime, get_runtime
from agent_routing.host.tiers import (
    CHEAP_HOST_TIER,
    CONFIGURED,
    STRONG_HOST_TIER,
    HopModels,
    effective_tiers,
    model_name_of,
)
from agent_routing.router.holds import refusal

if TYPE_CHECKING:
    from agent_routing.router import Router, RoutingDecision

logger = logging.getLogger("agent_routing.host")
_UNROUTABLE_LOGGED: set[str] = set()  # each unroutable tier list is logged once per process


def user_message_text(loop_data: Any) -> str:
    """The text of the user message that started this monologue."""
    message = getattr(loop_data, "user_message", None)
    content = getattr(message, "content", message)
    if isinstance(content, dict) and isinstance(content.get("user_message"), str):
        return str(content["user_message"])
    return content_text(content) if content is not None else ""


def _raise_blocked(agent: Any, blocked: BudgetBlockedError) -> NoReturn:
    raise budget_block(agent, blocked) from blocked


def _router(runtime: PluginRuntime, tiers: list[TierConfig]) -> Router | None:
    """The router for these tiers, or None when they cannot be routed (logged once)."""
    try:
        return runtime.router_for(tiers)
    except ConfigError as error:
        key = str(error)
        if key not in _UNROUTABLE_LOGGED:
            _UNROUTABLE_LOGGED.add(key)
            logger.warning("agent-routing: routing is off for these tiers: %s", error)
        return None


async def route_iteration(agent: Any, loop_data: Any) -> None:
    """`message_loop_start`: analyze this step and decide the main call's tier."""
    input_tokens = host_input_tokens(agent)  # first: it also marks this step for the next
    runtime = get_runtime(agent)
    chat_model = agent.get_chat_model()
    tiers = effective_tiers(runtime.settings, chat_model, agent.get_utility_model())
    router = _router(runtime, tiers)
    if router is None:
        return
    cascade = state.load_cascade(agent)
    task = state.task_state(agent, reset=loop_data.iteration == 0)
    if loop_data.iteration == 0:
        cascade.reset()
    override = state.override_of(agent)
    request = _route_request(
        agent,
        loop_data=loop_data,
        task=task,
        cascade=cascade,
        override=override,
        chat_model=chat_model,
        input_tokens=input_tokens,
    )
    try:
        decision = await router.route(request)
    except BudgetBlockedError as blocked:
        _raise_blocked(agent, blocked)
    finally:
        state.save_cascade(agent, cascade)
    state.set_iteration_route(loop_data, state.IterationRoute(router, decision, tiers))


def _route_request(
    agent: Any,
    *,
    loop_data: Any,
    task: state.TaskState,
    cascade: Any,
    override: dict[str, Any] | None,
    chat_model: Any,
    input_tokens: int | None,
) -> Any:
    from agent_routing.router import RouteRequest

    history = history_texts(agent.history.output())
    return RouteRequest(
        prompt=user_message_text(loop_data),
        call_kind=attribution.main_call_kind(agent),
        history=history,
        tools=tuple(task.tools),
        attachments=_attachment_count(loop_data),
        iteration=max(0, int(loop_data.iteration)),
        tool_errors=task.tool_errors,
        signals=state.take_signals(agent),
        conversation_id=attribution.conversation_id(agent),
        agent_no=attribution.agent_no(agent),
        configured_model=model_name_of(chat_model),
        forced=override["tier"] if override else None,
        cascade=cascade,
        input_tokens=input_tokens,  # None: the router counts prompt and history itself
    )


def _attachment_count(loop_data: Any) -> int:
    content = getattr(getattr(loop_data, "user_message", None), "content", None)
    attachments = content.get("attachments") if isinstance(content, dict) else None
    return len(attachments) if isinstance(attachments, list) else 0


def mark_main_call(loop_data: Any) -> None:
    """`before_main_llm_call`: the next chat call with a response callback is the main one."""
    loop_data.params_temporary[state.MAIN_FLAG_KEY] = True


def _take_main_flag(agent: Any, call_data: dict[str, Any]) -> bool:
    """True (once) for the main call: flagged this iteration and given a response callback."""
    params = getattr(getattr(agent, "loop_data", None), "params_temporary", None)
    if not isinstance(params, dict) or call_data.get("response_callback") is None:
        return False
    return bool(params.pop(state.MAIN_FLAG_KEY, False))


def _hop_models(
    settings_tiers: list[TierConfig], configured: Any, own_tier: str, other: Any
) -> HopModels:
    own = {CONFIGURED: lambda: configured}
    if not settings_tiers:  # host tiers: reuse the host's own model objects
        other_tier = STRONG_HOST_TIER if own_tier == CHEAP_HOST_TIER else CHEAP_HOST_TIER
        own[own_tier] = lambda: configured
        own[other_tier] = other
    return HopModels(own)


async def route_chat_call(agent: Any, call_data: dict[str, Any]) -> None:
    """`chat_model_call_before`: apply the route to this chat call (main or not)."""
    runtime = get_runtime(agent)
    configured = call_data["model"]
    is_main = _take_main_flag(agent, call_data)
    route = state.iteration_route(agent.loop_data) if is_main else None
    messages = to_litellm_messages(call_data.get("messages") or [])
    hops = _hop_models(
        list(runtime.settings.tiers), configured, STRONG_HOST_TIER, agent.get_utility_model
    )
    if route is not None:
        route.main_used = True
        kind = attribution.main_call_kind(agent)
        plan = _plan(
            agent,
            runtime=runtime,
            router=route.router,
            decision=route.decision,
            kind=kind,
            hops=hops,
        )
        plan.tokens_saved, plan.usd_saved = route.tokens_saved, route.usd_saved
    else:
        kind = attribution.chat_call_kind(agent, main=is_main)
        tiers = effective_tiers(runtime.settings, configured, agent.get_utility_model())
        plan = await _plan_call(
            agent,
            runtime=runtime,
            tiers=tiers,
            kind=kind,
            messages=messages,
            configured=configured,
            hops=hops,
        )
    routed = RoutedChatModel(configured, plan)
    if route is not None:
        route.main_model = routed
    call_data["model"] = routed


async def route_utility_call(agent: Any, call_data: dict[str, Any]) -> None:
    """`util_model_call_before`: route a utility call (rules: usually the cheapest tier)."""
    runtime = get_runtime(agent)
    configured = call_data["model"]
    system, message = str(call_data.get("system") or ""), str(call_data.get("message") or "")
    kind = attribution.utility_call_kind(agent, system, message)
    tiers = effective_tiers(runtime.settings, agent.get_chat_model(), configured)
    messages = [{"role": "system", "content": system}, {"role": "user", "content": message}]
    hops = _hop_models(
        list(runtime.settings.tiers), configured, CHEAP_HOST_TIER, agent.get_chat_model
    )
    plan = await _plan_call(
        agent,
        runtime=runtime,
        tiers=tiers,
        kind=kind,
        messages=messages,
        configured=configured,
        hops=hops,
    )
    call_data["model"] = RoutedChatModel(configured, plan)


async def _plan_call(
    agent: Any,
    *,
    runtime: PluginRuntime,
    tiers: list[TierConfig],
    kind: CallKind,
    messages: list[dict[str, Any]],
    configured: Any,
    hops: HopModels,
) -> CallPlan:
    """Route one call where it happens; unroutable tiers keep the host model, budgeted."""
    router = _router(runtime, tiers)
    if router is not None:
        decision = await _route_call(agent, router, kind, messages, configured)
        return _plan(agent, runtime=runtime, router=router, decision=decision, kind=kind, hops=hops)
    plan = _plan(agent, runtime=runtime, router=None, decision=None, kind=kind, hops=hops)
    plan.reservation_id = await _direct_budget_check(agent, runtime, kind, messages, configured)
    return plan


async def _direct_budget_check(
    agent: Any,
    runtime: PluginRuntime,
    kind: CallKind,
    messages: list[dict[str, Any]],
    configured: Any,
) -> str | None:
    """The budget check of an unrouted call (a block stops the turn); its reservation id."""
    from agent_routing.tokens import count_message_tokens

    model = model_name_of(configured) or "unknown"
    verdict = await runtime.budgets.check(
        model=model,
        conversation_id=attribution.conversation_id(agent),
        input_tokens=count_message_tokens(messages, model),
        max_output_tokens=runtime.settings.router.output_caps.get(kind),
        call_kind=kind.value,
    )
    if verdict.action == "block":
        _raise_blocked(agent, refusal(verdict, model))
    return verdict.reservation_id


async def _route_call(
    agent: Any,
    router: Router,
    kind: CallKind,
    messages: list[dict[str, Any]],
    configured: Any,
) -> RoutingDecision:
    from agent_routing.router import RouteRequest

    prompt = next(
        (m["content"] for m in reversed(messages) if m["role"] == "user"),
        json.dumps(messages[-1:]) if messages else "",
    )
    request = RouteRequest(
        prompt=str(prompt),
        call_kind=kind,
        messages=tuple(messages),
        conversation_id=attribution.conversation_id(agent),
        agent_no=attribution.agent_no(agent),
        configured_model=model_name_of(configured),
        forced=None,
    )
    try:
        return await router.route(request)
    except BudgetBlockedError as blocked:
        _raise_blocked(agent, blocked)


def _plan(
    agent: Any,
    *,
    runtime: PluginRuntime,
    router: Router | None,
    decision: RoutingDecision | None,
    kind: CallKind,
    hops: HopModels,
) -> CallPlan:
    return CallPlan(
        router=router,
        decision=decision,
        hops=hops,
        kind=kind,
        conversation_id=attribution.conversation_id(agent),
        agent_no=attribution.agent_no(agent),
        tool=attribution.current_tool(agent),
        on_blocked=lambda blocked: budget_block(agent, blocked),
    )
