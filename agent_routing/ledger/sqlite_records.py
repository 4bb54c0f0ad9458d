"""The record operations of the SQLite ledger: calls, decisions and outcome signals.

Calls are merged by id with the upsert of :mod:`agent_routing.ledger.merge`; the
reservation of a call written with a final outcome is settled in the same transaction.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from agent_routing.ledger.base import OrphanSweep
from agent_routing.ledger.merge import SETTLE_RESERVATION_SQL, UPSERT_CALL_SQL
from agent_routing.ledger.orphans import close_as_abandoned, sweep_summary
from agent_routing.ledger.queries import limit_clause, where
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
from agent_routing.ledger.sqlite_base import SQLiteConnection, storable_row
from agent_routing.records import CallRecord, DecisionRecord, OutcomeSignal


def _upsert(
    db: sqlite3.Connection,
    calls: Sequence[CallRecord],
    rows: Sequence[tuple[Any, ...]],
    now: float,
) -> None:
    """Merge call rows by id and settle the reservation of each call now final, inside the
    caller's transaction (the triggers of `m006` keep the spend buckets in step)."""
    db.executemany(UPSERT_CALL_SQL, [storable_row(row) for row in rows])
    db.executemany(
        SETTLE_RESERVATION_SQL,
        [storable_row((now, record.id, record.id)) for record in calls],
    )


class SQLiteRecords(SQLiteConnection):
    """Writing and reading call rows, routing decisions and outcome signals."""

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
        call_rows = [call_to_row(record, now=now) for record in calls]
        # Host strings are stored whatever they hold (a lone surrogate is escaped, not
        # refused: refusing would drop the call's row).
        decision_rows = [storable_row(decision_to_row(decision)) for decision in decisions]
        signal_rows = [storable_row(signal_to_row(signal)) for signal in signals]

        def work(db: sqlite3.Connection) -> None:
            if decision_rows:
                db.executemany(
                    f"INSERT INTO decisions ({', '.join(DECISION_COLUMNS)}) "
                    f"VALUES ({', '.join('?' for _ in DECISION_COLUMNS)}) "
                    "ON CONFLICT(id) DO NOTHING",
                    decision_rows,
                )
            if signal_rows:
                db.executemany(
                    f"INSERT INTO signals ({', '.join(SIGNAL_COLUMNS)}) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT DO NOTHING",
                    signal_rows,
                )
            if call_rows:
                _upsert(db, calls, call_rows, now)

        await self._transaction(work)

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
        row = await self._fetchone(
            f"SELECT {', '.join(CALL_COLUMNS)} FROM calls WHERE id = ?", (call_id,)
        )
        return None if row is None else call_from_row(row)

    async def close_orphaned_calls(
        self, *, started_before: float, now: float | None = None
    ) -> OrphanSweep:
        """Close every call still pending that started before `started_before` as
        abandoned, in one `BEGIN IMMEDIATE` transaction (see the protocol's doc). The
        partial index `idx_calls_pending` keeps this a read of the pending rows only."""
        closed_at = time.time() if now is None else now

        def work(db: sqlite3.Connection) -> list[CallRecord]:
            rows = db.execute(
                f"SELECT {', '.join(CALL_COLUMNS)} FROM calls "
                "WHERE outcome = 'pending' AND started_at < ? ORDER BY started_at, id",
                (started_before,),
            ).fetchall()
            closed = [close_as_abandoned(call_from_row(row), now=closed_at) for row in rows]
            if closed:
                rows_out = [call_to_row(record, now=closed_at) for record in closed]
                _upsert(db, closed, rows_out, closed_at)
            return closed

        closed = await self._transaction(work)
        return sweep_summary(closed)

    async def _select_range(
        self,
        table: str,
        columns: Sequence[str],
        time_column: str,
        clauses: Sequence[tuple[str, Any]],
        limit: int | None,
    ) -> list[Any]:
        """Rows of `table` matching the (fixed) clauses whose value is given, oldest first
        by `time_column` then id: the one shape every range query shares."""
        condition, params = where(clauses)
        limit_sql, limit_params = limit_clause(limit)
        return await self._fetchall(
            f"SELECT {', '.join(columns)} FROM {table}{condition} "
            f"ORDER BY {time_column}, id{limit_sql}",
            params + limit_params,
        )

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
