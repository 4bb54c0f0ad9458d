"""The storage interface every part of agent-routing uses to reach the ledger.

Callers (the background writer, budgets, reports, the CLI, the compression cache) depend on
the :class:`Ledger` protocol only, never on :class:`~agent_routing.ledger.sqlite.SQLiteLedger`,
so a PostgreSQL backend shared by a fleet of agents can slot in without touching them.

All time ranges are half-open, ``since <= t < until``, in Unix seconds; ``None`` leaves a
side open. A backend never builds SQL from input: only fixed column names, values always
passed as parameters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from agent_routing.config import BudgetConfig
from agent_routing.errors import AgentRoutingError
from agent_routing.records import CallRecord, DecisionRecord, OutcomeSignal

ReservationStatus = Literal["open", "settled", "released"]


class LedgerError(AgentRoutingError):
    """The ledger could not do what was asked (unreadable file, corrupt stored value)."""


@dataclass(frozen=True, slots=True)
class SpendWindow:
    """Which spend counts against one budget: a time range and optional filters.

    Spend in a window is the cost of every call with a final outcome that started in it,
    plus the amount of every open, unexpired reservation made in it (same filters). A
    call's reservation is settled in the transaction that records the call's final outcome,
    so a call is never counted twice nor missed.
    """

    since: float | None = None
    until: float | None = None
    model: str | None = None
    conversation_id: str | None = None
    # other names of `model` whose calls count too (e.g. `openai/gpt-4o` for `gpt-4o`);
    # the caller resolves them (pricing.model_aliases), the ledger only matches strings
    model_aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SpendLimit:
    """One budget as the ledger sees it while reserving.

    A `hard` limit refuses the reservation when spend + amount would exceed `limit_usd`;
    a soft one only has its spend reported back.
    """

    key: str
    window: SpendWindow
    limit_usd: float
    hard: bool


@dataclass(frozen=True, slots=True)
class Reservation:
    """Money held for a call that is about to run, until its record settles it."""

    id: str
    created_at: float
    expires_at: float
    model: str
    amount_usd: float
    conversation_id: str | None = None
    call_kind: str = "chat"
    input_tokens: int = 0
    output_tokens: int = 0
    status: ReservationStatus = "open"
    call_id: str | None = None
    settled_at: float | None = None


@dataclass(frozen=True, slots=True)
class ReserveResult:
    """What an atomic check-and-reserve found.

    `reservation_id` is None when a hard limit refused (then `refused_by` names it).
    `spent_usd` maps each limit key to its spend *before* this reservation.
    """

    reservation_id: str | None
    spent_usd: Mapping[str, float]
    refused_by: str | None = None


@dataclass(frozen=True, slots=True)
class UsageTotals:
    """Requests and tokens (input + output) used in a time range, for quotas."""

    requests: int
    tokens: int


@dataclass(frozen=True, slots=True)
class BudgetAlert:
    """A budget threshold crossed in one period; stored once per (budget, period, threshold)."""

    budget_key: str
    period_key: str
    threshold: float
    fired_at: float
    spent_usd: float
    limit_usd: float
    message: str


@dataclass(frozen=True, slots=True)
class OrphanSweep:
    """What closing orphaned pending calls did (see :meth:`Ledger.close_orphaned_calls`).

    `cost_usd` is the known cost those calls now add to spend; `unpriced` counts the closed
    calls that stored no unit prices, whose cost stays unknown (as for any unpriced call).
    """

    closed: int
    cost_usd: float
    unpriced: int


@dataclass(frozen=True, slots=True)
class RoutedUsage:
    """Billed calls (ok or abandoned) with a known cost, valid usage and a routing decision,
    summed per their decision's strongest candidate model (the last candidate naming a
    model): what the dashboard's routing savings price on that model.

    `calls_below` counts the calls that ran on another model than `strong_model`; token
    fields are sums over the calls (a missing count is 0). With prompt-size thresholds
    (:meth:`Ledger.routing_summary`'s `input_thresholds`) the calls are summed per model
    *and* band: `input_above` is the largest threshold their prompts exceed (0: none), so
    every call of a group is billed at the same long-prompt price tier.
    """

    strong_model: str
    calls: int
    calls_below: int
    cost_usd: float
    input_tokens: int
    output_tokens: int
    cached_read_tokens: int
    cache_creation_tokens: int
    reasoning_tokens: int
    input_above: int = 0


@dataclass(frozen=True, slots=True)
class RoutingSummary:
    """Routing in a range, computed in the database (see :meth:`Ledger.routing_summary`):
    how many decisions were made and applied, and the routed calls per strongest model."""

    decisions: int
    applied: int
    by_strong_model: tuple[RoutedUsage, ...]


@runtime_checkable
class Ledger(Protocol):
    """Async storage for calls, decisions, signals, budgets and a small cache.

    `open()` connects and applies pending migrations; every other method needs an open
    ledger. Methods may be awaited concurrently from one event loop.
    """

    async def open(self) -> None:
        """Connect and migrate (a no-op when already open)."""
        ...

    async def close(self) -> None:
        """Release the connection (a no-op when already closed)."""
        ...

    def is_transient_error(self, error: BaseException) -> bool:
        """Whether a failed write may succeed if retried (locked, busy, connection lost);
        False for errors a retry cannot fix (a record the schema rejects)."""
        ...

    # --- records -----------------------------------------------------------------------

    async def write_batch(
        self,
        calls: Sequence[CallRecord] = (),
        decisions: Sequence[DecisionRecord] = (),
        signals: Sequence[OutcomeSignal] = (),
    ) -> None:
        """Write all of these in one transaction: all land, or none (then it raises)."""
        ...

    async def upsert_calls(self, calls: Sequence[CallRecord]) -> None:
        """Insert or merge call rows by id (merge rules: `agent_routing.ledger.merge`)."""
        ...

    async def insert_decisions(self, decisions: Sequence[DecisionRecord]) -> None:
        """Insert routing decisions; a decision already stored (same id) is left as is."""
        ...

    async def insert_signals(self, signals: Sequence[OutcomeSignal]) -> None:
        """Insert outcome signals; an identical signal already stored is not repeated."""
        ...

    async def get_call(self, call_id: str) -> CallRecord | None:
        """The merged row of one call, or None."""
        ...

    async def close_orphaned_calls(
        self, *, started_before: float, now: float | None = None
    ) -> OrphanSweep:
        """Close, in one transaction, every call still pending that started before
        `started_before`: a process killed mid-call (SIGKILL) leaves such rows, and nothing
        else ever closes them, while spend ignores pending rows.

        Each becomes what the capture's own sweep writes for an abandoned call
        (:func:`agent_routing.ledger.orphans.close_as_abandoned`: outcome `abandoned`, input
        as counted and output as known, priced at the row's stored unit prices), plus
        `ended_at = now` (default: the current time). It is written through the normal
        merge, so its reservation is settled, spend buckets follow, and a late real end or
        provider usage still wins over `abandoned`.
        """
        ...

    async def query_calls(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        conversation_id: str | None = None,
        model: str | None = None,
        call_kind: str | None = None,
        limit: int | None = None,
    ) -> list[CallRecord]:
        """Calls that started in the range and match every given filter, oldest first."""
        ...

    async def query_decisions(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        conversation_id: str | None = None,
        limit: int | None = None,
    ) -> list[DecisionRecord]:
        """Decisions created in the range (and conversation), oldest first."""
        ...

    async def query_signals(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        decision_id: str | None = None,
        kind: str | None = None,
        limit: int | None = None,
    ) -> list[OutcomeSignal]:
        """Outcome signals created in the range matching the filters, oldest first."""
        ...

    async def routing_summary(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        conversation_id: str | None = None,
        input_thresholds: Sequence[int] = (),
    ) -> RoutingSummary:
        """Decisions created in the range (and conversation): their count, how many were
        applied, and the calls started in the range whose decision is one of them, summed
        per the decision's strongest model and per band of prompt sizes between
        `input_thresholds` (whole tokens; see :class:`RoutedUsage`), by model name then
        band."""
        ...

    # --- budgets -----------------------------------------------------------------------

    async def reserve(
        self, reservation: Reservation, limits: Sequence[SpendLimit]
    ) -> ReserveResult:
        """Atomically (across processes) measure spend under each limit and, unless a hard
        limit would be exceeded, store the reservation. `reservation.created_at` is "now"."""
        ...

    async def release_reservation(self, reservation_id: str) -> bool:
        """Stop an open reservation counting; False when it was not open."""
        ...

    async def get_reservation(self, reservation_id: str) -> Reservation | None:
        """One reservation, or None."""
        ...

    async def spent_usd(self, window: SpendWindow, *, now: float) -> float:
        """Spend in a window (see :class:`SpendWindow`) with reservations judged at `now`."""
        ...

    async def usage_totals(
        self,
        *,
        since: float | None,
        until: float | None,
        model: str | None = None,
        provider: str | None = None,
        model_aliases: Sequence[str] = (),
    ) -> UsageTotals:
        """Requests and tokens of calls (not blocked ones) started in the range; `model`
        matches any of `model_aliases` too."""
        ...

    async def insert_alert(self, alert: BudgetAlert) -> bool:
        """Store an alert; False (and nothing stored) when it already fired."""
        ...

    async def query_alerts(self, *, since: float | None = None) -> list[BudgetAlert]:
        """Alerts fired at or after `since`, oldest first."""
        ...

    async def save_budget(self, budget: BudgetConfig) -> None:
        """Store (or replace) a budget override under `budget.key`."""
        ...

    async def delete_budget(self, key: str) -> bool:
        """Remove a stored budget override; False when none had that key."""
        ...

    async def stored_budgets(self) -> list[BudgetConfig]:
        """Every stored budget override, by key."""
        ...

    # --- cache -------------------------------------------------------------------------

    async def cache_get(self, namespace: str, key: str) -> str | None:
        """A cached value, or None."""
        ...

    async def cache_put(self, namespace: str, key: str, value: str) -> None:
        """Store (or replace) a cached value."""
        ...


# --- atomic quota holds (issue #10) ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class QuotaHold:
    """One quota a call needs room in: its window, what it counts, and what the call needs
    (1 request, or its input tokens)."""

    key: str
    since: float
    until: float
    unit: Literal["requests", "tokens"]
    limit: int
    needed: int
    model: str | None = None
    provider: str | None = None
    model_aliases: tuple[str, ...] = ()


@runtime_checkable
class QuotaHolder(Protocol):
    """A ledger that can check quotas and hold room in them atomically (SQLite does)."""

    async def hold_quotas(self, holds: Sequence[QuotaHold], *, now: float) -> str | None:
        """In one transaction: for each hold, usage = the larger of committed calls and
        holds in its window; if usage + needed exceeds a limit, take nothing and return
        that quota's key; otherwise store one hold per quota and return None."""
        ...


@runtime_checkable
class SQLReportSource(Protocol):
    """A ledger that can run the report's aggregate queries itself (both built-in backends).

    `sql_dialect` is "sqlite" or "postgresql"; `report_rows` runs one read-only statement
    built by :mod:`agent_routing.ledger.report_sql` (fixed SQL, `?` placeholders, values
    as parameters) and returns its rows. Reports then read a few aggregate rows instead of
    every call (see :func:`agent_routing.reports.build_report`).
    """

    sql_dialect: str

    async def report_rows(self, sql: str, params: Sequence[object]) -> list[Sequence[object]]:
        """Rows of one read-only statement."""
        ...
