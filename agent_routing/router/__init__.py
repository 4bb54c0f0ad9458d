"""The model router: strategies, rules, budgets, context fit, fallback, cascade and learning.

Build one :class:`Router` and use it everywhere (plugin hooks, CLI, evaluation, bench):

    router = Router(settings, budgets=budgets, sink=sink)
    decision = await router.route(RouteRequest(prompt=text, call_kind=CallKind.CHAT))
    response = await router.acompletion(decision, messages)

Importing this package loads no heavy dependency: litellm, tiktoken and scikit-learn load
on first use. See docs/router.md for the behaviour and the configuration keys.
"""

from __future__ import annotations

from agent_routing.provider_errors import ErrorClassification, FailureKind, classify_error
from agent_routing.records import FAILURE_SIGNALS, SIGNAL_KINDS
from agent_routing.router.cascade import CascadeState
from agent_routing.router.controller import DEFAULT_COMPRESSIBLE_RATIO, Router
from agent_routing.router.decision import RouteRequest, RoutingDecision
from agent_routing.router.execution import HopCall
from agent_routing.router.fallback import CooldownRegistry, Hop, run_with_fallback
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
    "run_with_fallback",
]
