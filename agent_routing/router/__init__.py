"""The model router: strategies, rules, budgets, context fit, fallback, cascade and learning.

Build one :class:`Router` and use it everywhere (plugin hooks, CLI, evaluation, bench):

    router = Router(settings, budgets=budgets, sink=sink)
    decision = await router.route(RouteRequest(prompt=text, call_kind=CallKind.CHAT))
    response = await router.acompletion(decision, messages)

Importing this package loads no heavy dependency: litellm, tiktoken and scikit-learn load
on first use. See docs/router.md for the behaviour and the configuration keys.

Callers import the names below from here. Public modules besides this one: `strategies`
(the strategy registry), `duel` (duel mode, driven by the host adapter). The modules named
`_*` are internal: `_controller` (:class:`Router`), `_decision`, `_candidates` and
`_policy` (which tier), `_tiers` (the tier table), `_cascade`, `_fallback` and
`_execution` (running a decision's hops), `_holds` (budget reservations), `_recording`,
`_continuation` (Responses API state) and `_calibration` (how the strategies' thresholds
were measured, `bench/bench_router.py --calibrate`).
"""

from __future__ import annotations

from agent_routing.provider_errors import ErrorClassification, FailureKind, classify_error
from agent_routing.records import FAILURE_SIGNALS, SIGNAL_KINDS
from agent_routing.router._cascade import CascadeState
from agent_routing.router._controller import DEFAULT_COMPRESSIBLE_RATIO, Router
from agent_routing.router._decision import RouteRequest, RoutingDecision
from agent_routing.router._execution import HopCall
from agent_routing.router._fallback import CooldownRegistry, Hop, run_with_fallback
from agent_routing.router._holds import refusal, release
from agent_routing.router.strategies import STRATEGIES, RoutingStrategy

__all__ = [
    "DEFAULT_COMPRESSIBLE_RATIO",
    "FAILURE_SIGNALS",
    "SIGNAL_KINDS",
    "STRATEGIES",
    "CascadeState",
    "CooldownRegistry",
    "ErrorClassification",
    "FailureKind",
    "Hop",
    "HopCall",
    "RouteRequest",
    "Router",
    "RoutingDecision",
    "RoutingStrategy",
    "classify_error",
    "refusal",
    "release",
    "run_with_fallback",
]
