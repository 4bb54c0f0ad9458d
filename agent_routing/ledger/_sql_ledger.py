"""The ledger operations both SQL backends share, written once over a small executor.

:class:`SQLLedger` implements the :class:`~agent_routing.ledger.base.Ledger` contract
(and quota holds) from the statements of :mod:`agent_routing.ledger.queries`, the merge
upsert of :mod:`agent_routing.ledger.merge` and the row mapping of
:mod:`agent_routing.ledger.rows`. A backend subclasses it and supplies only what truly
differs between databases:

* the executor: `_fetchall` (rows of one statement), `_execute` (one autocommitted
  statement, rows changed) and `_transaction` (a transaction body run atomically), each
  translating the SQL to its dialect and cleaning values its driver cannot store;
* `ROW_LOCK`, the clause that locks rows a transaction selects to update (PostgreSQL's
  `FOR UPDATE SKIP LOCKED`; nothing in SQLite, whose `BEGIN IMMEDIATE` locks the file);
* `_write_order`, the order a batch of calls is merged in (PostgreSQL orders it so
  concurrent writers take row locks in one order);
* connection handling and error classification (`open`, `close`, `is_transient_error`).

A transaction body is a generator (written once, no I/O): it yields :class:`Fetch` and
:class:`Execute` steps and is sent each Fetch's rows back, so every check-then-write
decision lives here while the backend decides how the steps run atomically. SQLite runs
the whole body in one call on its connection's thread inside `BEGIN IMMEDIATE` (the write
lock is never held across the event loop); PostgreSQL runs it on one pooled connection,
first taking the fleet-wide advisory lock the body names (`lock`), so two checks can never
both see room only one may take.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeAlias, TypeVar

from pydantic import ValidationError

from agent_routing.config import BudgetConfig
from agent_routing.ledger.base import (
    BudgetAlert,
    LedgerError,
    OrphanSweep,
    QuotaHold,
    Reservation,
    ReserveResult,
    RoutedUsage,
    RoutingSummary,
    SpendLimit,
    SpendWindow,
    UsageTotals,
)
from agent_routing.ledger.merge import SETTLE_RESERVATION_SQL, UPSERT_CALL_SQL
from agent_routing.ledger.orphans import close_as_abandoned, sweep_summary
from agent_routing.ledger.queries import (
    ALERT_COLUMNS,
    CACHE_GET_SQL,
    CACHE_PUT_SQL,
    DELETE_BUDGET_SQL,
    DELETE_OLD_HOLDS_SQL,
    HELD_QUOTA_SQL,
    INSERT_ALERT_SQL,
    INSERT_DECISION_SQL,
    INSERT_QUOTA_HOLD_SQL,
    INSERT_RESERVATION_SQL,
    INSERT_SIGNAL_SQL,
    RELEASE_RESERVATION_SQL,
    RESERVATION_COLUMNS,
    SAVE_BUDGET_SQL,
    SELECT_CALL_SQL,
    SELECT_RESERVATION_SQL,
    STORED_BUDGETS_SQL,
    alerts_query,
    decision_counts_query,
    pending_calls_sql,
    routed_usage_query,
    select_range,
    spend_query,
    usage_query,
)
from agent_routing.ledger.rows import (
    CALL_COLUMNS,
    DECISION_COLUMNS,
    SIGNAL_COLUMNS,
    call_from_row,
    call_to_row,
    decision_from_row,
    decision_to_row,
    signal_from_row,
    signal_to_row,
)
from agent_routing.records import CallRecord, DecisionRecord, OutcomeSignal

T = TypeVar("T")

# Spend comparisons tolerate float rounding of sums of many small costs.
USD_EPSILON = 1e-9
HOLD_KEEP_S = 2 * 86400.0  # longer than any quota window (a local day is <= 25 h)

TxLock = Literal["reserve", "quota"]
"""The fleet-wide check-then-write a transaction serialises with (PostgreSQL's advisory
locks; SQLite's `BEGIN IMMEDIATE` already serialises every write transaction)."""


@dataclass(frozen=True, slots=True)
class Fetch:
    """Run one statement; its rows are sent back into the body."""

    sql: str
    params: Sequence[Any] = ()


@dataclass(frozen=True, slots=True)
class Execute:
    """Run one statement, or with `many` once per row of `params`; nothing is sent back."""

    sql: str
    params: Sequence[Any] = ()
    many: bool = False


Step: TypeAlias = Fetch | Execute
Body: TypeAlias = Generator[Step, Any, T]
"""A transaction body: yields steps, is sent each Fetch's rows, returns its result."""


def drive(body: Body[T], run: Callable[[Step], Any]) -> T:
    """Run every step of `body` with `run` (synchronous: SQLite's connection thread)."""
    sent: Any = None
    while True:
        try:
            step = body.send(sent)
        except StopIteration as stop:
            result: T = stop.value
            return result
        sent = run(step)


async def drive_async(body: Body[T], run: Callable[[Step], Awaitable[Any]]) -> T:
    """Run every step of `body` with the awaitable `run` (PostgreSQL's connection)."""
    sent: Any = None
    while True:
        try:
            step = body.send(sent)
        except StopIteration as stop:
            result: T = stop.value
            return result
        sent = await run(step)


# --- transaction bodies ------------------------------------------------------------------


def _merge_calls(rows: Sequence[Sequence[Any]], call_ids: Sequence[str], now: float) -> Body[None]:
    """Merge call rows by id and settle the reservation of each call now final (the
    spend-bucket triggers keep the buckets in step)."""
    yield Execute(UPSERT_CALL_SQL, rows, many=True)
    yield Execute(SETTLE_RESERVATION_SQL, [(now, i, i) for i in call_ids], many=True)


def _write_body(
    call_rows: Sequence[Sequence[Any]],
    call_ids: Sequence[str],
    decision_rows: Sequence[Sequence[Any]],
    signal_rows: Sequence[Sequence[Any]],
    now: float,
) -> Body[None]:
    if decision_rows:
        yield Execute(INSERT_DECISION_SQL, decision_rows, many=True)
    if signal_rows:
        yield Execute(INSERT_SIGNAL_SQL, signal_rows, many=True)
    if call_rows:
        yield from _merge_calls(call_rows, call_ids, now)


def _reserve_body(
    reservation: Reservation,
    limits: Sequence[SpendLimit],
    queries: Sequence[tuple[str, str, list[Any]]],
    row: Sequence[Any],
    spent: dict[str, float],
) -> Body[str | None]:
    """Measure spend under every limit (`queries`: key, SQL, parameters; into `spent`);
    refuse at the first hard limit the reservation would exceed, else store its `row`.
    Returns the refusing limit's key or None."""
    for key, sql, params in queries:
        rows = yield Fetch(sql, params)
        spent[key] = float(rows[0][0]) if rows else 0.0
    for limit in limits:
        over = spent[limit.key] + reservation.amount_usd > limit.limit_usd + USD_EPSILON
        if limit.hard and over:
            return limit.key
    yield Execute(INSERT_RESERVATION_SQL, row)
    return None


def _reservation_row(reservation: Reservation) -> tuple[Any, ...]:
    """The `reservations` row of a new reservation (open, unsettled), in
    :data:`~agent_routing.ledger.queries.RESERVATION_COLUMNS` order."""
    return (
        reservation.id,
        reservation.created_at,
        reservation.expires_at,
        reservation.model,
        reservation.amount_usd,
        reservation.conversation_id,
        reservation.call_kind,
        reservation.input_tokens,
        reservation.output_tokens,
        "open",
        None,
        None,
    )


def _hold_body(
    holds: Sequence[QuotaHold], counted: Sequence[tuple[str, list[Any]]], now: float
) -> Body[str | None]:
    """Usage per quota (`counted`: its calls' usage query) = the larger of committed calls
    and holds in its window; refuse (nothing held) naming the first quota without room,
    else hold room in each."""
    for hold, (sql, params) in zip(holds, counted, strict=True):
        rows = yield Fetch(sql, params)
        requests, tokens = rows[0] if rows else (0, 0)
        rows = yield Fetch(HELD_QUOTA_SQL, (hold.key, hold.since, hold.until))
        held_requests, held_tokens = rows[0] if rows else (0, 0)
        if hold.unit == "requests":
            used = max(int(requests), int(held_requests))
        else:
            used = max(int(tokens), int(held_tokens))
        if used + hold.needed > hold.limit:
            return hold.key
    yield Execute(DELETE_OLD_HOLDS_SQL, (now - HOLD_KEEP_S,))
    yield Execute(
        INSERT_QUOTA_HOLD_SQL,
        [(hold.key, now, hold.needed if hold.unit == "tokens" else 0) for hold in holds],
        many=True,
    )
    return None


class SQLLedger:
    """The :class:`~agent_routing.ledger.base.Ledger` operations over an SQL executor.

    Subclasses supply `_fetchall`, `_execute`, `_transaction` (and may set `ROW_LOCK`
    and override `_write_order`); see the module docstring.
    """

    ROW_LOCK: ClassVar[str] = ""

    # --- the executor (per dialect) ------------------------------------------------------

    async def _fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """The rows of one statement."""
        raise NotImplementedError

    async def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one autocommitted statement; the number of rows it changed."""
        raise NotImplementedError

    async def _transaction(self, body: Body[T], *, lock: TxLock | None = None) -> T:
        """Run `body` in one transaction (serialised fleet-wide with others naming the
        same `lock`): committed when it returns, rolled back when it raises."""
        raise NotImplementedError

    async def _fetchone(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = await self._fetchall(sql, params)
        return rows[0] if rows else None

    def _write_order(self, calls: Sequence[CallRecord]) -> Sequence[CallRecord]:
        """The order a batch of calls is merged in (as given, unless the dialect needs
        one lock order)."""
        return calls

    # --- records -------------------------------------------------------------------------

    async def write_batch(
        self,
        calls: Sequence[CallRecord] = (),
        decisions: Sequence[DecisionRecord] = (),
        signals: Sequence[OutcomeSignal] = (),
    ) -> None:
        """Write all of these in one transaction (calls merged, reservations settled)."""
        if not (calls or decisions or signals):
            return
        now = time.time()
        ordered = self._write_order(calls)
        # Rows are built before the transaction, so no lock is held while they are.
        await self._transaction(
            _write_body(
                [call_to_row(record, now=now) for record in ordered],
                [record.id for record in ordered],
                [decision_to_row(decision) for decision in decisions],
                [signal_to_row(signal) for signal in signals],
                now,
            )
        )

    async def upsert_calls(self, calls: Sequence[CallRecord]) -> None:
        """Insert or merge call rows by id, settling reservations of final calls."""
        await self.write_batch(calls=calls)

    async def insert_decisions(self, decisions: Sequence[DecisionRecord]) -> None:
        """Insert decisions; one already stored under the same id is left unchanged."""
        await self.write_batch(decisions=decisions)

    async def insert_signals(self, signals: Sequence[OutcomeSignal]) -> None:
        """Insert signals; an identical one already stored is not repeated."""
        await self.write_batch(signals=signals)

    async def get_call(self, call_id: str) -> CallRecord | None:
        """The merged row of one call, or None."""
        row = await self._fetchone(SELECT_CALL_SQL, (call_id,))
        return None if row is None else call_from_row(row)

    async def close_orphaned_calls(
        self, *, started_before: float, now: float | None = None
    ) -> OrphanSweep:
        """Close every call still pending that started before `started_before` as
        abandoned, in one transaction (rows locked, so two sweeps never both close one).
        The partial index `idx_calls_pending` keeps this a read of the pending rows only."""
        closed_at = time.time() if now is None else now
        order = self._write_order

        def body() -> Body[list[CallRecord]]:
            rows = yield Fetch(pending_calls_sql(self.ROW_LOCK), (started_before,))
            closed = [close_as_abandoned(call_from_row(row), now=closed_at) for row in rows]
            if closed:
                ordered = order(closed)
                yield from _merge_calls(
                    [call_to_row(record, now=closed_at) for record in ordered],
                    [record.id for record in ordered],
                    closed_at,
                )
            return closed

        return sweep_summary(await self._transaction(body()))

    async def _select_range(
        self,
        table: str,
        columns: Sequence[str],
        time_column: str,
        clauses: Sequence[tuple[str, Any]],
        limit: int | None,
    ) -> list[Any]:
        return await self._fetchall(*select_range(table, columns, time_column, clauses, limit))

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
        """Calls started in [since, until) matching every given filter, oldest first."""
        rows = await self._select_range(
            "calls",
            CALL_COLUMNS,
            "started_at",
            [
                ("started_at >= ?", since),
                ("started_at < ?", until),
                ("conversation_id = ?", conversation_id),
                ("model = ?", model),
                ("call_kind = ?", call_kind),
            ],
            limit,
        )
        return [call_from_row(row) for row in rows]

    async def query_decisions(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        conversation_id: str | None = None,
        limit: int | None = None,
    ) -> list[DecisionRecord]:
        """Decisions created in [since, until) (and conversation), oldest first."""
        rows = await self._select_range(
            "decisions",
            DECISION_COLUMNS,
            "created_at",
            [
                ("created_at >= ?", since),
                ("created_at < ?", until),
                ("conversation_id = ?", conversation_id),
            ],
            limit,
        )
        return [decision_from_row(row) for row in rows]

    async def query_signals(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        decision_id: str | None = None,
        kind: str | None = None,
        limit: int | None = None,
    ) -> list[OutcomeSignal]:
        """Signals created in [since, until) matching the filters, oldest first."""
        rows = await self._select_range(
            "signals",
            SIGNAL_COLUMNS,
            "created_at",
            [
                ("created_at >= ?", since),
                ("created_at < ?", until),
                ("decision_id = ?", decision_id),
                ("kind = ?", kind),
            ],
            limit,
        )
        return [signal_from_row(row) for row in rows]

    # --- budgets -------------------------------------------------------------------------

    async def reserve(
        self, reservation: Reservation, limits: Sequence[SpendLimit]
    ) -> ReserveResult:
        """Measure spend under every limit and store the reservation unless a hard limit
        would be exceeded, atomically across processes (and machines, for a server)."""
        spent: dict[str, float] = {}
        # Statements are built before the transaction, so no lock is held while they are.
        queries = [
            (limit.key, *spend_query(limit.window, reservation.created_at)) for limit in limits
        ]
        refused_by = await self._transaction(
            _reserve_body(reservation, limits, queries, _reservation_row(reservation), spent),
            lock="reserve",
        )
        return ReserveResult(
            reservation_id=None if refused_by else reservation.id,
            spent_usd=spent,
            refused_by=refused_by,
        )

    async def release_reservation(self, reservation_id: str) -> bool:
        """Mark an open reservation released; False when it was not open."""
        changed = await self._execute(RELEASE_RESERVATION_SQL, (time.time(), reservation_id))
        return changed > 0

    async def get_reservation(self, reservation_id: str) -> Reservation | None:
        """One reservation, or None."""
        row = await self._fetchone(SELECT_RESERVATION_SQL, (reservation_id,))
        if row is None:
            return None
        return Reservation(**dict(zip(RESERVATION_COLUMNS, row, strict=True)))

    async def spent_usd(self, window: SpendWindow, *, now: float) -> float:
        """Settled cost plus open, unexpired reservations in the window."""
        row = await self._fetchone(*spend_query(window, now))
        return float(row[0]) if row else 0.0

    async def usage_totals(
        self,
        *,
        since: float | None,
        until: float | None,
        model: str | None = None,
        provider: str | None = None,
        model_aliases: Sequence[str] = (),
    ) -> UsageTotals:
        """Requests and tokens of calls started in [since, until), blocked calls excluded."""
        row = await self._fetchone(*usage_query(since, until, model, model_aliases, provider))
        return UsageTotals(requests=int(row[0]), tokens=int(row[1]))

    async def routing_summary(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        conversation_id: str | None = None,
        input_thresholds: Sequence[int] = (),
    ) -> RoutingSummary:
        """Decision counts and routed calls summed per their decision's strongest model and
        prompt-size band, in the database (one row per model and band, not one per call):
        see :class:`~agent_routing.ledger.base.RoutingSummary`."""
        counts = await self._fetchone(*decision_counts_query(since, until, conversation_id))
        rows = await self._fetchall(
            *routed_usage_query(since, until, conversation_id, input_thresholds)
        )
        groups = [
            RoutedUsage(
                strong_model=str(row[0]),
                calls=int(row[1]),
                calls_below=int(row[2]),
                cost_usd=float(row[3]),
                input_tokens=int(row[4]),
                output_tokens=int(row[5]),
                cached_read_tokens=int(row[6]),
                cache_creation_tokens=int(row[7]),
                reasoning_tokens=int(row[8]),
                input_above=int(row[9]),
            )
            for row in rows
        ]
        return RoutingSummary(int(counts[0]), int(counts[1]), tuple(groups))

    async def hold_quotas(self, holds: Sequence[QuotaHold], *, now: float) -> str | None:
        """Check every quota and hold room in each, atomically across processes (and
        machines): see :class:`~agent_routing.ledger.base.QuotaHolder`."""
        if not holds:
            return None
        counted = [
            usage_query(hold.since, hold.until, hold.model, hold.model_aliases, hold.provider)
            for hold in holds
        ]
        return await self._transaction(_hold_body(holds, counted, now), lock="quota")

    async def insert_alert(self, alert: BudgetAlert) -> bool:
        """Store an alert unless one with the same budget, period and threshold exists."""
        changed = await self._execute(
            INSERT_ALERT_SQL,
            (
                alert.budget_key,
                alert.period_key,
                alert.threshold,
                alert.fired_at,
                alert.spent_usd,
                alert.limit_usd,
                alert.message,
            ),
        )
        return changed > 0

    async def query_alerts(self, *, since: float | None = None) -> list[BudgetAlert]:
        """Alerts fired at or after `since`, oldest first."""
        rows = await self._fetchall(*alerts_query(since))
        return [BudgetAlert(**dict(zip(ALERT_COLUMNS, row, strict=True))) for row in rows]

    async def save_budget(self, budget: BudgetConfig) -> None:
        """Store or replace the budget override with key `budget.key`."""
        await self._execute(SAVE_BUDGET_SQL, (budget.key, budget.model_dump_json(), time.time()))

    async def delete_budget(self, key: str) -> bool:
        """Remove a stored override; False when no override had that key."""
        return await self._execute(DELETE_BUDGET_SQL, (key,)) > 0

    async def stored_budgets(self) -> list[BudgetConfig]:
        """Every stored override, by key; a corrupt stored value raises LedgerError."""
        budgets = []
        for key, config in await self._fetchall(STORED_BUDGETS_SQL):
            try:
                budgets.append(BudgetConfig.model_validate(json.loads(config)))
            except (ValidationError, json.JSONDecodeError) as error:
                raise LedgerError(
                    f"budget_overrides[{key!r}]: stored budget is not valid: {error}"
                ) from None
        return budgets

    # --- cache ---------------------------------------------------------------------------

    async def cache_get(self, namespace: str, key: str) -> str | None:
        """A cached value, or None."""
        row = await self._fetchone(CACHE_GET_SQL, (namespace, key))
        return None if row is None else str(row[0])

    async def cache_put(self, namespace: str, key: str, value: str) -> None:
        """Store or replace a cached value."""
        await self._execute(CACHE_PUT_SQL, (namespace, key, value, time.time()))
