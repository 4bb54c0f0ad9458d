"""Small fakes for the router's unit tests (no tests here): analyzer, budget guard, sink.

Integration tests use the real ledger, budgets and analyzer; these fakes script exact
verdicts so that each routing rule can be shown on its own.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from agent_routing.config import Settings, TierConfig, settings_from_mapping
from agent_routing.protocols import Analysis, AnalysisRequest, BudgetAction, BudgetVerdict
from agent_routing.records import CallRecord, DecisionRecord, OutcomeSignal

THREE_TIERS = [
    TierConfig(name="small", model="gpt-4o-mini"),
    TierConfig(name="medium", model="gpt-4.1-mini"),
    TierConfig(name="large", model="gpt-4o"),
]


def settings_with(**router: object) -> Settings:
    """Settings with three known tiers and the given `router` section values."""
    return settings_from_mapping(
        {"tiers": [tier.model_dump() for tier in THREE_TIERS], "router": router}
    )


class FixedAnalyzer:
    """Scores every request with `score` (or `score_of(request)`), recording what it saw."""

    def __init__(
        self,
        score: float = 0.5,
        score_of: Callable[[AnalysisRequest], float] | None = None,
    ) -> None:
        self.score = score
        self.score_of = score_of
        self.requests: list[AnalysisRequest] = []

    def analyze(self, request: AnalysisRequest) -> Analysis:
        self.requests.append(request)
        score = self.score_of(request) if self.score_of else self.score
        return Analysis(
            score=score,
            features={"prompt_tokens_log": 3.0, "code_block": 1.0},
            top_features=(("code_block", 0.4), ("prompt_tokens_log", 0.1)),
            model_version="fake-1",
        )


class ExplodingAnalyzer:
    """An analyzer that always raises (to show fail-open)."""

    def analyze(self, request: AnalysisRequest) -> Analysis:
        raise RuntimeError("model file is corrupt")


@dataclass
class ScriptedBudgets:
    """A BudgetGuard whose verdict per model is scripted; tracks reservations like a ledger."""

    actions: Mapping[str, BudgetAction] = field(default_factory=dict)
    at_quota: set[str] = field(default_factory=set)
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
            estimated_cost_usd=0.01,
            reason=f"{action} for {model}",
            budget_key="daily:*",
        )

    async def release(self, reservation_id: str) -> None:
        self.open.discard(reservation_id)
        self.released.append(reservation_id)

    async def fire_alerts(self, *, model: str, conversation_id: str | None) -> tuple[str, ...]:
        self.alerted.append(model)
        return ()

    async def quota_available(self, model: str, *, input_tokens: int = 0) -> bool:
        return model not in self.at_quota


@dataclass
class RecordingSink:
    """A CallSink that keeps everything submitted, in order."""

    calls: list[CallRecord] = field(default_factory=list)
    decisions: list[DecisionRecord] = field(default_factory=list)
    signals: list[OutcomeSignal] = field(default_factory=list)

    def submit(self, record: CallRecord) -> None:
        self.calls.append(record)

    def submit_decision(self, decision: DecisionRecord) -> None:
        self.decisions.append(decision)

    def submit_signal(self, signal: OutcomeSignal) -> None:
        self.signals.append(signal)

    def flush(self, timeout: float | None = None) -> bool:
        return True
