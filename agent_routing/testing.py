"""Fakes for testing a setup of agent-routing without a provider, a model file or a ledger file.

The package's own tests use these; so can yours. Each fake implements one of the protocols in
:mod:`agent_routing.protocols` and records what it was asked, so a test can state exactly
which tier a rule picks, what a budget verdict does, and what would have been written::

    from agent_routing.config import settings_from_mapping
    from agent_routing.router import Router, RouteRequest
    from agent_routing.testing import FixedAnalyzer, RecordingSink, ScriptedBudgets

    settings = settings_from_mapping({"tiers": [
        {"name": "cheap", "model": "gpt-4o-mini"}, {"name": "strong", "model": "gpt-4o"}]})
    budgets, sink = ScriptedBudgets(actions={"gpt-4o": "downgrade"}), RecordingSink()
    router = Router(settings, analyzer=FixedAnalyzer(0.9), budgets=budgets, sink=sink)
    decision = await router.route(RouteRequest("Prove it.", input_tokens=100))
    assert decision.model == "gpt-4o-mini"  # hard, but the strong tier's budget says downgrade
    assert len(sink.decisions) == 1

- :class:`FixedAnalyzer` scores every prompt with one number (or your function of it);
  :class:`FailingAnalyzer` always raises, to show that routing fails open.
- :class:`ScriptedBudgets` returns the verdict you script per model (allow, downgrade,
  block) and keeps reservations like a ledger would; `at_quota` models are out of quota.
- :class:`RecordingSink` keeps every call record, decision and outcome signal in order.
- :func:`memory_ledger` is the real SQLite ledger on a private in-memory database: the same
  queries, budgets and migrations as a file, nothing on disk.

Nothing here touches the network or the user's data directory.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agent_routing.protocols import Analysis, AnalysisRequest, BudgetAction, BudgetVerdict
from agent_routing.records import CallRecord, DecisionRecord, OutcomeSignal

if TYPE_CHECKING:
    from agent_routing.ledger import SQLiteLedger

__all__ = [
    "FailingAnalyzer",
    "FixedAnalyzer",
    "RecordingSink",
    "ScriptedBudgets",
    "memory_ledger",
]


class FixedAnalyzer:
    """An :class:`~agent_routing.protocols.Analyzer` that scores every request with `score`
    (or `score_of(request)`), and keeps the requests it saw in `requests`."""

    def __init__(
        self,
        score: float = 0.5,
        score_of: Callable[[AnalysisRequest], float] | None = None,
        *,
        model_version: str = "fixed-1",
    ) -> None:
        self.score = score
        self.score_of = score_of
        self.model_version = model_version
        self.requests: list[AnalysisRequest] = []

    def analyze(self, request: AnalysisRequest) -> Analysis:
        """Record `request` and return the fixed (or computed) score."""
        self.requests.append(request)
        score = self.score_of(request) if self.score_of else self.score
        return Analysis(
            score=score,
            features={"prompt_tokens_log": 3.0, "code_block": 1.0},
            top_features=(("code_block", 0.4), ("prompt_tokens_log", 0.1)),
            model_version=self.model_version,
        )


class FailingAnalyzer:
    """An analyzer that always raises `error` (routing must fail open: keep the model)."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error or RuntimeError("model file is corrupt")

    def analyze(self, request: AnalysisRequest) -> Analysis:
        """Raise the configured error."""
        raise self.error


@dataclass
class ScriptedBudgets:
    """A :class:`~agent_routing.protocols.BudgetGuard` whose verdict per model is scripted.

    `actions` maps a model to `allow` (the default), `downgrade` or `block`; models in
    `at_quota` report no quota left. Every check is appended to `checks`; every reservation
    it grants stays in `open` until released (then it is in `released`), so a test can show
    that no money stays reserved; `alerted` lists the models whose calls were made (the router
    fires alerts only for those).
    """

    actions: Mapping[str, BudgetAction] = field(default_factory=dict)
    at_quota: set[str] = field(default_factory=set)
    estimated_cost_usd: float = 0.01
    checks: list[str] = field(default_factory=list)
    open: set[str] = field(default_factory=set)
    released: list[str] = field(default_factory=list)
    alerted: list[str] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

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
        """The scripted verdict for `model`; a non-blocking one reserves money."""
        self.checks.append(model)
        action = self.actions.get(model, "allow")
        if action == "block":
            return BudgetVerdict(
                "block",
                reason=f"daily budget spent ({model})",
                budget_key="daily:*",
                remaining_usd=0.0,
            )
        reservation = f"res-{next(self._ids)}-{model}"
        self.open.add(reservation)
        return BudgetVerdict(
            action,
            reservation_id=reservation,
            estimated_cost_usd=self.estimated_cost_usd,
            reason=f"{action} for {model}",
            budget_key="daily:*",
        )

    async def release(self, reservation_id: str) -> None:
        """Drop a reservation (the call ended without settling it)."""
        self.open.discard(reservation_id)
        self.released.append(reservation_id)

    async def fire_alerts(self, *, model: str, conversation_id: str | None) -> tuple[str, ...]:
        """Record that alerts were asked for `model` (the call was actually made); none fire."""
        self.alerted.append(model)
        return ()

    async def quota_available(self, model: str, *, input_tokens: int = 0) -> bool:
        """False for the models in `at_quota`."""
        return model not in self.at_quota


@dataclass
class RecordingSink:
    """A :class:`~agent_routing.protocols.CallSink` that keeps everything submitted, in order."""

    calls: list[CallRecord] = field(default_factory=list)
    decisions: list[DecisionRecord] = field(default_factory=list)
    signals: list[OutcomeSignal] = field(default_factory=list)

    def submit(self, record: CallRecord) -> None:
        """Keep a call record."""
        self.calls.append(record)

    def submit_decision(self, decision: DecisionRecord) -> None:
        """Keep a routing decision."""
        self.decisions.append(decision)

    def submit_signal(self, signal: OutcomeSignal) -> None:
        """Keep an outcome signal."""
        self.signals.append(signal)

    def flush(self, timeout: float | None = None) -> bool:
        """Nothing is pending: always True."""
        return True


def memory_ledger() -> SQLiteLedger:
    """The SQLite ledger on a private in-memory database (migrated when opened).

    Use it as ``async with memory_ledger() as ledger: ...``; it is gone when closed.
    """
    from agent_routing.ledger import SQLiteLedger

    return SQLiteLedger(":memory:")
