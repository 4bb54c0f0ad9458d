"""The small interfaces that connect the core's parts.

Each part depends on these, never on another part's concrete class, so a PostgreSQL
ledger, another analyzer or a test double slots in without touching callers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from agent_routing.config import CallKind
from agent_routing.records import CallRecord, DecisionRecord, OutcomeSignal

# --- recording ------------------------------------------------------------------------------


@runtime_checkable
class CallSink(Protocol):
    """Where captured records go. `submit*` must return in microseconds and never block on I/O.

    Records are upserted by id (see CallRecord); `flush` waits until everything submitted
    so far is committed, and returns False if `timeout` elapsed first.
    """

    def submit(self, record: CallRecord) -> None: ...

    def submit_decision(self, decision: DecisionRecord) -> None: ...

    def submit_signal(self, signal: OutcomeSignal) -> None: ...

    def flush(self, timeout: float | None = None) -> bool: ...


# --- money ----------------------------------------------------------------------------------

BudgetAction = Literal["allow", "warn", "downgrade", "block"]


@dataclass(slots=True, frozen=True)
class BudgetVerdict:
    """The answer of a budget check made before a call.

    When `action` is not `block`, `reservation_id` holds the call's estimated cost until the
    call's record (carrying that reservation id) is written, which settles it atomically.
    """

    action: BudgetAction
    reservation_id: str | None = None
    estimated_cost_usd: float | None = None
    reason: str = ""
    budget_key: str | None = None
    remaining_usd: float | None = None
    alerts: tuple[str, ...] = ()
    unpriced_model: str | None = None  # set when the model has no known price
    # Set when a `block` budget applies: the output tokens the reservation covers. The
    # caller caps the call's `max_tokens` to it, so a provider that writes more than
    # estimated cannot take the budget over its limit (issue #10).
    max_output_tokens: int | None = None


class BudgetGuard(Protocol):
    """Budgets and quotas, consulted by the router and adapters before every call."""

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
        """Check every applicable budget for this call and reserve its estimated cost.

        `alerts=False`: fire no alert yet (a candidate that may still be refused or
        downgraded); the caller calls :meth:`fire_alerts` for the call it makes.
        """
        ...

    async def fire_alerts(self, *, model: str, conversation_id: str | None) -> tuple[str, ...]:
        """Fire the alerts reached now by settled spend plus live reservations (never raises)."""
        ...

    async def release(self, reservation_id: str) -> None:
        """Drop a reservation whose call never happened."""
        ...

    async def quota_available(self, model: str, *, input_tokens: int = 0) -> bool:
        """False when the model (or its provider) is at a configured token/request quota."""
        ...


# --- analysis -------------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class AnalysisRequest:
    """What the analyzer sees of one LLM call: the request and its context."""

    prompt: str
    history: tuple[str, ...] = ()  # recent history message texts, oldest first
    call_kind: CallKind = CallKind.CHAT
    tools: tuple[str, ...] = ()  # tools used so far in this task
    attachments: int = 0
    iteration: int = 0
    tool_errors: int = 0
    signals: tuple[str, ...] = ()  # outcome signals from the previous iteration
    # --- learnable analyzer inputs (#13): per-category rates are learned over these ---
    profile: str = ""  # the (sub-)agent's profile, e.g. "researcher"; "" = main agent/unknown
    category: str = ""  # a caller-defined task category (training files' `category` column)


@dataclass(slots=True, frozen=True)
class Analysis:
    """A complexity score in [0, 1]: the predicted benefit of a stronger model, with reasons."""

    score: float
    features: Mapping[str, float] = field(default_factory=dict)
    top_features: tuple[tuple[str, float], ...] = ()  # (feature, signed contribution)
    model_version: str = ""


class Analyzer(Protocol):
    """Scores requests. Must be offline and sub-millisecond for a 2,000-token prompt."""

    def analyze(self, request: AnalysisRequest) -> Analysis: ...


@runtime_checkable
class CalibratedAnalyzer(Analyzer, Protocol):
    """An analyzer that carries the score quantiles of its own model.

    `score_quantiles` holds its scores at quantile levels 0, 0.05, ..., 1 (21 ascending values
    in [0, 1]); the router's strategies put their thresholds there. Every built-in analyzer
    declares it, so no analyzer is ever routed with another model's table.
    """

    @property
    def name(self) -> str:
        """The analyzer's registry name (`router.analyzer`)."""
        ...

    @property
    def score_quantiles(self) -> tuple[float, ...]:
        """Scores at quantile levels 0, 0.05, ..., 1 of this analyzer's model."""
        ...
