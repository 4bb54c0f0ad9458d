"""Routing hooks: decide at `message_loop_start`, apply at the model-call hooks.

The main call of an iteration is routed once per iteration, before the prompt is built, so
that the compression hook knows the model (and any `compress_to_tokens`) it compresses for.
Other chat calls (document query, email plugin) and utility calls are routed where they
happen. In every case `call_data["model"]` is replaced by a :class:`RoutedChatModel` that
runs the decision and records each hop in the ledger.

The main call is told apart from other chat calls as the spec says (§5.4): it is the one
with a `response_callback`, made after `before_main_llm_call` set the flag. Its input
tokens come from the host's own counts when it has them (:mod:`.context_size`); when the
host has none (a chat's first step), the router counted only history and user message, so
at the call the whole prompt as sent (system prompt included) is counted and the budget
reservation enlarged to it (:func:`_reserve_whole_prompt`).

Budget stops and waits, as the user sees them: a block stops the turn with one message
(:mod:`.failures`); a *background* call (chat renaming, memorisation) that a budget refuses,
or any background call after a block stopped the turn, is skipped quietly: one log line,
an empty answer (its callers treat that as "nothing to do"), no error in the chat. A wait
for a cooling-down model longer than `fallback.NOTICE_AFTER_S` is logged in the chat.
"""

from __future__ import annotations

import functools
import json
import logging
from typing import TYPE_CHECKING, Any, NoReturn

from agent_routing.config import CallKind, TierConfig
from agent_routing.errors import BudgetBlockedError, ConfigError
from agent_routing.host import _attribution as attribution
from agent_routing.host import _provider_state as provider_state
from agent_routing.host import _state as state
from agent_routing.host._context_size import host_input_tokens
from agent_routing.host._messages import content_text, history_texts, to_litellm_messages
from agent_routing.host._routed_model import CallPlan, RoutedChatModel
from agent_routing.host._runtime import PluginRuntime, get_runtime
from agent_routing.host._tiers import (
    CHEAP_HOST_TIER,
    CONFIGURED,
    STRONG_HOST_TIER,
    HopModels,
    effective_tiers,
    host_model_for_tier,
    model_name_of,
)
from agent_routing.host.failures import blocked_this_turn, budget_block
from agent_routing.router import refusal, release

if TYPE_CHECKING:
    from agent_routing.router import Router, RoutingDecision

logger = logging.getLogger("agent_routing.host")
_UNROUTABLE_LOGGED: set[str] = set()  # each unroutable tier list is logged once per process


def _user_message_text(loop_data: Any) -> str:
    """The text of the user message that started this monologue."""
    message = getattr(loop_data, "user_message", None)
    content = getattr(message, "content", message)
    if isinstance(content, dict) and isinstance(content.get("user_message"), str):
        return str(content["user_message"])
    return content_text(content) if content is not None else ""


_RECOUNT_KEY = "_agent_routing_recount_prompt"  # params_temporary: count the real prompt


class _BackgroundSkip(Exception):
    """Internal: a budget refused a background call; it is skipped, not raised."""

    def __init__(self, blocked: BudgetBlockedError | None) -> None:
        super().__init__(str(blocked) if blocked else "budget stopped this turn")
        self.blocked = blocked


def _raise_blocked(agent: Any, blocked: BudgetBlockedError, background: bool = False) -> NoReturn:
    if background:
        raise _BackgroundSkip(blocked) from blocked
    raise budget_block(agent, blocked) from blocked


class SkippedCall:
    """Stands in for the host model of a background call a budget stopped: no provider
    call, an empty answer (Agent Zero's background callers treat "" as nothing to do)."""

    def __init__(self, configured: Any) -> None:
        self.configured = configured
        self.model_name = getattr(configured, "model_name", None)
        self.provider = getattr(configured, "provider", None)
        self.kwargs = getattr(configured, "kwargs", {})
        self.a0_model_conf = getattr(configured, "a0_model_conf", None)

    async def unified_call(self, **kwargs: Any) -> tuple[str, str]:
        """Answer nothing, call nothing."""
        return "", ""


def _skip_background(agent: Any, call_data: dict[str, Any], reason: str) -> None:
    """Replace the model of a background call with :class:`SkippedCall` (one log line)."""
    logger.info(
        "agent-routing: background %s call of %s skipped: %s",
        "chat" if "messages" in call_data else "utility",
        getattr(agent, "agent_name", "?"),
        reason,
    )
    call_data["model"] = SkippedCall(call_data.get("model"))


def _is_background(call_data: dict[str, Any]) -> bool:
    return bool(call_data.get("background"))


async def _announce_wait(agent: Any, seconds: float, model: str) -> None:
    """Tell the user in the chat why the agent pauses (a long cooldown wait)."""
    message = (
        f"Every model that may answer is cooling down after provider errors (rate limits); "
        f"waiting {seconds:.0f} s for {model}."
    )
    logger.warning("agent-routing: %s", message)
    try:
        agent.context.log.log(type="warning", heading="Waiting for a model", content=message)
    except Exception:
        logger.exception("agent-routing: could not show the wait in the chat")


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
    if input_tokens is None and isinstance(getattr(loop_data, "params_temporary", None), dict):
        loop_data.params_temporary[_RECOUNT_KEY] = True  # no system prompt in the count


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
        prompt=_user_message_text(loop_data),
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
        provider_state_model=provider_state.continuing_model(agent, chat_model),  # v2
        profile=str(getattr(getattr(agent, "config", None), "profile", "") or ""),  # #13
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
    for tier in settings_tiers:  # a tier naming a host model is served with its settings
        own[tier.name] = functools.partial(host_model_for_tier, tier, configured, other)
    return HopModels(own)


async def route_chat_call(agent: Any, call_data: dict[str, Any]) -> None:
    """`chat_model_call_before`: apply the route to this chat call (main or not)."""
    runtime = get_runtime(agent)
    configured = call_data["model"]
    is_main = _take_main_flag(agent, call_data)
    background = _is_background(call_data) and not is_main
    if _skipped_after_block(agent, call_data, background):
        return
    route = state.iteration_route(agent.loop_data) if is_main else None
    messages = to_litellm_messages(call_data.get("messages") or [])
    hops = _hop_models(
        list(runtime.settings.tiers), configured, STRONG_HOST_TIER, agent.get_utility_model
    )
    if route is not None:
        route.main_used = True
        kind = attribution.main_call_kind(agent)
        params = getattr(agent.loop_data, "params_temporary", None)
        if isinstance(params, dict) and params.pop(_RECOUNT_KEY, False):
            await _reserve_whole_prompt(agent, route.router, route.decision, messages)
        main = _plan(
            agent,
            runtime=runtime,
            router=route.router,
            decision=route.decision,
            kind=kind,
            hops=hops,
        )
        main.tokens_saved, main.usd_saved = route.tokens_saved, route.usd_saved
        plan: CallPlan | None = main
    else:
        kind = attribution.chat_call_kind(agent, main=is_main)
        tiers = effective_tiers(runtime.settings, configured, agent.get_utility_model())
        plan = await _plan_or_skip(
            agent,
            call_data,
            runtime=runtime,
            tiers=tiers,
            kind=kind,
            messages=messages,
            hops=hops,
            background=background,
        )
    if plan is None:
        return
    routed = RoutedChatModel(configured, plan)
    if route is not None:
        route.main_model = routed
    call_data["model"] = routed


async def route_utility_call(agent: Any, call_data: dict[str, Any]) -> None:
    """`util_model_call_before`: route a utility call (rules: usually the cheapest tier)."""
    runtime = get_runtime(agent)
    configured = call_data["model"]
    background = _is_background(call_data)
    if _skipped_after_block(agent, call_data, background):
        return
    system, message = str(call_data.get("system") or ""), str(call_data.get("message") or "")
    kind = attribution.utility_call_kind(agent, system, message)
    tiers = effective_tiers(runtime.settings, agent.get_chat_model(), configured)
    messages = [{"role": "system", "content": system}, {"role": "user", "content": message}]
    hops = _hop_models(
        list(runtime.settings.tiers), configured, CHEAP_HOST_TIER, agent.get_chat_model
    )
    plan = await _plan_or_skip(
        agent,
        call_data,
        runtime=runtime,
        tiers=tiers,
        kind=kind,
        messages=messages,
        hops=hops,
        background=background,
    )
    if plan is not None:
        call_data["model"] = RoutedChatModel(configured, plan)


def _skipped_after_block(agent: Any, call_data: dict[str, Any], background: bool) -> bool:
    """A background call in a turn a budget already stopped is skipped before any routing."""
    if background and blocked_this_turn(agent):
        _skip_background(agent, call_data, "a budget stopped this chat's turn")
        return True
    return False


async def _plan_or_skip(
    agent: Any,
    call_data: dict[str, Any],
    *,
    runtime: PluginRuntime,
    tiers: list[TierConfig],
    kind: CallKind,
    messages: list[dict[str, Any]],
    hops: HopModels,
    background: bool,
) -> CallPlan | None:
    """:func:`_plan_call` for `call_data`'s model; None when a budget refused a background
    call, which is then skipped (its model replaced by :class:`SkippedCall`)."""
    try:
        return await _plan_call(
            agent,
            runtime=runtime,
            tiers=tiers,
            kind=kind,
            messages=messages,
            configured=call_data["model"],
            hops=hops,
            background=background,
        )
    except _BackgroundSkip as skip:
        _skip_background(agent, call_data, str(skip))
        return None


async def _plan_call(
    agent: Any,
    *,
    runtime: PluginRuntime,
    tiers: list[TierConfig],
    kind: CallKind,
    messages: list[dict[str, Any]],
    configured: Any,
    hops: HopModels,
    background: bool = False,
) -> CallPlan:
    """Route one call where it happens; unroutable tiers keep the host model, budgeted.

    A budget block of a `background` call raises :class:`_BackgroundSkip` (skipped quietly).
    """
    router = _router(runtime, tiers)
    if router is not None:
        decision = await _route_call(
            agent, router, kind, messages, configured, background=background
        )
        plan = _plan(agent, runtime=runtime, router=router, decision=decision, kind=kind, hops=hops)
    else:
        plan = _plan(agent, runtime=runtime, router=None, decision=None, kind=kind, hops=hops)
        plan.reservation_id = await _direct_budget_check(
            agent, runtime, kind, messages, configured, background=background
        )
    plan.background = background
    return plan


async def _direct_budget_check(
    agent: Any,
    runtime: PluginRuntime,
    kind: CallKind,
    messages: list[dict[str, Any]],
    configured: Any,
    *,
    background: bool = False,
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
        _raise_blocked(agent, refusal(verdict, model), background)
    return verdict.reservation_id


async def _route_call(
    agent: Any,
    router: Router,
    kind: CallKind,
    messages: list[dict[str, Any]],
    configured: Any,
    *,
    background: bool = False,
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
        background=background,
    )
    try:
        return await router.route(request)
    except BudgetBlockedError as blocked:
        _raise_blocked(agent, blocked, background)


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
        tool=_calling_tool(agent),
        on_blocked=lambda blocked: budget_block(agent, blocked),
        on_wait=lambda seconds, model: _announce_wait(agent, seconds, model),
        stream_usage=runtime.settings.capture.stream_usage,
    )


def _calling_tool(agent: Any) -> str | None:
    """The tool a call is made in: the agent's tool in progress, else the calling context's.

    A background task (a subordinate's memorisation) outlives the tool it was started in;
    its context still names that tool, as it does for the embeddings the task makes.
    """
    from agent_routing.capture.scope import current_scope

    tool = attribution.current_tool(agent)
    scope = current_scope()
    if tool is not None or scope is None:
        return tool
    same_agent = (scope.conversation_id, scope.agent_no) == (
        attribution.conversation_id(agent),
        attribution.agent_no(agent),
    )
    return scope.tool if same_agent else None


async def _reserve_whole_prompt(
    agent: Any, router: Router, decision: RoutingDecision, messages: list[dict[str, Any]]
) -> None:
    """Enlarge the main call's reservation to the prompt as sent (system prompt included).

    Used when `message_loop_start` had no host count (a chat's first step) and the router
    counted only history and user message. The old reservation is released first (it must
    not count against its own replacement); a block stops the turn as at routing.
    """
    from agent_routing.tokens import count_message_tokens

    budgets = router.budgets
    if budgets is None or decision.reservation_id is None:
        return  # no budget holds money for this call
    try:
        sent = count_message_tokens(messages, decision.model)
    except Exception:
        logger.exception("agent-routing: cannot count the main prompt; reservation kept")
        return
    if sent <= decision.input_tokens:
        return
    await release(budgets, decision.reservation_id)
    decision.reservation_id = None
    verdict = await budgets.check(
        model=decision.model,
        conversation_id=decision.conversation_id,
        input_tokens=sent,
        max_output_tokens=decision.max_tokens,
        call_kind=decision.call_kind.value,
    )
    if verdict.action == "block":
        _raise_blocked(agent, refusal(verdict, decision.model))
    logger.info(
        "agent-routing: first-step reservation enlarged from %d to %d prompt tokens",
        decision.input_tokens,
        sent,
    )
    decision.reservation_id = verdict.reservation_id
    decision.input_tokens = sent
    decision.estimated_cost_usd = verdict.estimated_cost_usd
