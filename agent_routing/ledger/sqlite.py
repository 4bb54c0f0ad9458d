"""The SQLite ledger: one file shared by every agent process on a machine, via aiosqlite.

Settings and why:

* WAL journal: readers (reports, budget checks) never block the writer and vice versa.
* `busy_timeout`: a writer that finds the file locked waits inside SQLite first; the
  background writer adds its own retry with backoff on top, so nothing is dropped.
* `synchronous=NORMAL` (default): in WAL mode a committed transaction survives the death of
  the process (SIGKILL, crash), which is the guarantee the ledger gives (tested). Only an
  OS crash or power cut can lose the last commits; `synchronous="FULL"` closes that gap at
  a measured cost (see `bench/bench_ledger.py`).
* Every write that must be atomic across processes runs in `BEGIN IMMEDIATE`, which takes
  the write lock up front, so a check-then-insert can never interleave with another one.

The connection runs in autocommit mode (`isolation_level=None`); transactions are explicit.
One SQLiteLedger serialises its own operations with an asyncio lock, so concurrent
coroutines never interleave inside one transaction.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import aiosqlite
from pydantic import ValidationError

from agent_routing.config import BudgetConfig, LedgerSettings
from agent_routing.ledger.base import (
    BudgetAlert,
    LedgerError,
    Reservation,
    ReserveResult,
    SpendLimit,
    SpendWindow,
    UsageTotals,
)
from agent_routing.ledger.merge import SETTLE_RESERVATION_SQL, UPSERT_CALL_SQL
from agent_routing.ledger.migrations import migrate
from agent_routing.ledger.queries import (
    ALERT_COLUMNS,
    RESERVATION_COLUMNS,
    limit_clause,
    spend_query,
    where,
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

Synchronous = Literal["NORMAL", "FULL"]

_WAL_ATTEMPTS = 50
# Spend comparisons tolerate float rounding of sums of many small costs.
_USD_EPSILON = 1e-9


class SQLiteLedger:
    """A :class:`~agent_routing.ledger.base.Ledger` stored in one SQLite file.

    `path` may be ``":memory:"`` (one private in-memory database, for docs and tests).
    """

    def __init__(
        self,
        path: Path | str,
        *,
        busy_timeout_ms: int = 5000,
        synchronous: Synchronous = "NORMAL",
    ) -> None:
        if busy_timeout_ms < 0:
            raise LedgerError(f"busy_timeout_ms: must be >= 0 (got {busy_timeout_ms})")
        if synchronous not in ("NORMAL", "FULL"):
            raise LedgerError(f"synchronous: must be 'NORMAL' or 'FULL' (got {synchronous!r})")
        self.path = path if path == ":memory:" else Path(path).expanduser()
        self.busy_timeout_ms = busy_timeout_ms
        self.synchronous = synchronous
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: LedgerSettings, path: Path | None = None) -> SQLiteLedger:
        """A ledger at `path` (default: the settings' resolved path) with their timeouts."""
        return cls(path or settings.resolved_path(), busy_timeout_ms=settings.busy_timeout_ms)

    async def __aenter__(self) -> SQLiteLedger:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # --- connection --------------------------------------------------------------------

    async def open(self) -> None:
        """Connect, set the pragmas and apply pending migrations.

        Raises LedgerError naming the file when it cannot be created, read or migrated.
        """
        if self._db is not None:
            return
        try:
            self._db = await self._connect()
        except (OSError, sqlite3.Error) as error:
            raise LedgerError(f"cannot open the ledger {str(self.path)!r}: {error}") from error

    async def _connect(self) -> aiosqlite.Connection:
        if isinstance(self.path, Path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = aiosqlite.connect(
            str(self.path),
            isolation_level=None,
            timeout=self.busy_timeout_ms / 1000,
        )
        # aiosqlite's worker thread is not a daemon: a ledger left open would keep the
        # interpreter from exiting (non-daemon threads are joined before atexit runs).
        worker = getattr(connection, "_thread", None)
        if isinstance(worker, threading.Thread):
            worker.daemon = True
        db = await connection
        try:
            await db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            await self._enable_wal(db)
            await db.execute(f"PRAGMA synchronous = {self.synchronous}")
            await migrate(db)
        except BaseException:
            await db.close()
            raise
        return db

    async def _enable_wal(self, db: aiosqlite.Connection) -> None:
        # Switching a new file to WAL needs a moment of exclusive access; several processes
        # opening a fresh ledger together can see "locked" here, so retry briefly.
        for attempt in range(_WAL_ATTEMPTS):
            try:
                await db.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError:
                if attempt == _WAL_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(0.02 * (attempt + 1))

    async def close(self) -> None:
        """Close the connection (a no-op when closed)."""
        db, self._db = self._db, None
        if db is not None:
            await db.close()

    def is_transient_error(self, error: BaseException) -> bool:
        """Locked, busy, I/O and disk-full errors are worth retrying; the rest are not."""
        return isinstance(error, sqlite3.OperationalError | OSError)

    def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            raise LedgerError(f"the ledger at {str(self.path)!r} is not open; call open() first")
        return self._db

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[aiosqlite.Connection]:
        """One `BEGIN IMMEDIATE` transaction: committed on success, rolled back on error."""
        async with self._lock:
            db = self._conn()
            await db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                await db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    await db.execute("ROLLBACK")
                raise

    async def _fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        async with self._lock:
            return list(await self._conn().execute_fetchall(sql, params))

    async def _fetchone(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = await self._fetchall(sql, params)
        return rows[0] if rows else None

    async def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one autocommitted statement; return the number of rows it changed."""
        async with self._lock, self._conn().execute(sql, params) as cursor:
            return int(cursor.rowcount)

    # --- records -----------------------------------------------------------------------

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
        decision_rows = [decision_to_row(decision) for decision in decisions]
        signal_rows = [signal_to_row(signal) for signal in signals]
        async with self._write() as db:
            if decision_rows:
                await db.executemany(
                    f"INSERT INTO decisions ({', '.join(DECISION_COLUMNS)}) "
                    f"VALUES ({', '.join('?' for _ in DECISION_COLUMNS)}) "
                    "ON CONFLICT(id) DO NOTHING",
                    decision_rows,
                )
            if signal_rows:
                await db.executemany(
                    f"INSERT INTO signals ({', '.join(SIGNAL_COLUMNS)}) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT DO NOTHING",
                    signal_rows,
                )
            if call_rows:
                await db.executemany(UPSERT_CALL_SQL, call_rows)
                await db.executemany(
                    SETTLE_RESERVATION_SQL, [(now, record.id, record.id) for record in calls]
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
        row = await self._fetchone(
            f"SELECT {', '.join(CALL_COLUMNS)} FROM calls WHERE id = ?", (call_id,)
        )
        return None if row is None else call_from_row(row)

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
        condition, params = where(
            [
                ("started_at >= ?", since),
                ("started_at < ?", until),
                ("conversation_id = ?", conversation_id),
                ("model = ?", model),
                ("call_kind = ?", call_kind),
            ]
        )
        limit_sql, limit_params = limit_clause(limit)
        rows = await self._fetchall(
            f"SELECT {', '.join(CALL_COLUMNS)} FROM calls{condition} "
            f"ORDER BY started_at, id{limit_sql}",
            params + limit_params,
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
        condition, params = where(
            [
                ("created_at >= ?", since),
                ("created_at < ?", until),
                ("conversation_id = ?", conversation_id),
            ]
        )
        limit_sql, limit_params = limit_clause(limit)
        rows = await self._fetchall(
            f"SELECT {', '.join(DECISION_COLUMNS)} FROM decisions{condition} "
            f"ORDER BY created_at, id{limit_sql}",
            params + limit_params,
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
        condition, params = where(
            [
                ("created_at >= ?", since),
                ("created_at < ?", until),
                ("decision_id = ?", decision_id),
                ("kind = ?", kind),
            ]
        )
        limit_sql, limit_params = limit_clause(limit)
        rows = await self._fetchall(
            f"SELECT {', '.join(SIGNAL_COLUMNS)} FROM signals{condition} "
            f"ORDER BY created_at, id{limit_sql}",
            params + limit_params,
        )
        return [signal_from_row(row) for row in rows]

    # --- budgets -----------------------------------------------------------------------

    @staticmethod
    async def _spent_in(db: aiosqlite.Connection, window: SpendWindow, now: float) -> float:
        sql, params = spend_query(window, now)
        rows = list(await db.execute_fetchall(sql, params))
        return float(rows[0][0])

    async def reserve(
        self, reservation: Reservation, limits: Sequence[SpendLimit]
    ) -> ReserveResult:
        """Measure spend under every limit and store the reservation unless a hard limit
        would be exceeded, all inside one `BEGIN IMMEDIATE` transaction."""
        now = reservation.created_at
        spent: dict[str, float] = {}
        refused_by: str | None = None
        async with self._write() as db:
            for limit in limits:
                spent[limit.key] = await self._spent_in(db, limit.window, now)
            for limit in limits:
                over = spent[limit.key] + reservation.amount_usd > limit.limit_usd + _USD_EPSILON
                if limit.hard and over:
                    refused_by = limit.key
                    break
            if refused_by is None:
                await db.execute(
                    f"INSERT INTO reservations ({', '.join(RESERVATION_COLUMNS)}) "
                    f"VALUES ({', '.join('?' for _ in RESERVATION_COLUMNS)})",
                    (
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
                    ),
                )
        return ReserveResult(
            reservation_id=None if refused_by else reservation.id,
            spent_usd=spent,
            refused_by=refused_by,
        )

    async def release_reservation(self, reservation_id: str) -> bool:
        """Mark an open reservation released; False when it was not open."""
        changed = await self._execute(
            "UPDATE reservations SET status = 'released', settled_at = ? "
            "WHERE id = ? AND status = 'open'",
            (time.time(), reservation_id),
        )
        return changed > 0

    async def get_reservation(self, reservation_id: str) -> Reservation | None:
        """One reservation, or None."""
        row = await self._fetchone(
            f"SELECT {', '.join(RESERVATION_COLUMNS)} FROM reservations WHERE id = ?",
            (reservation_id,),
        )
        if row is None:
            return None
        return Reservation(**dict(zip(RESERVATION_COLUMNS, row, strict=True)))

    async def spent_usd(self, window: SpendWindow, *, now: float) -> float:
        """Settled cost plus open, unexpired reservations in the window."""
        async with self._lock:
            return await self._spent_in(self._conn(), window, now)

    async def usage_totals(
        self,
        *,
        since: float | None,
        until: float | None,
        model: str | None = None,
        provider: str | None = None,
    ) -> UsageTotals:
        """Requests and tokens of calls started in [since, until), blocked calls excluded."""
        condition, params = where(
            [
                ("started_at >= ?", since),
                ("started_at < ?", until),
                ("model = ?", model),
                ("provider = ?", provider),
            ],
            fixed=["outcome != 'blocked'"],
        )
        row = await self._fetchone(
            "SELECT COUNT(*), COALESCE(SUM(COALESCE(input_tokens, 0) "
            f"+ COALESCE(output_tokens, 0)), 0) FROM calls{condition}",
            params,
        )
        return UsageTotals(requests=int(row[0]), tokens=int(row[1]))

    async def insert_alert(self, alert: BudgetAlert) -> bool:
        """Store an alert unless one with the same budget, period and threshold exists."""
        changed = await self._execute(
            f"INSERT INTO alerts ({', '.join(ALERT_COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in ALERT_COLUMNS)}) ON CONFLICT DO NOTHING",
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
        condition, params = where([("fired_at >= ?", since)])
        rows = await self._fetchall(
            f"SELECT {', '.join(ALERT_COLUMNS)} FROM alerts{condition} ORDER BY fired_at, id",
            params,
        )
        return [BudgetAlert(**dict(zip(ALERT_COLUMNS, row, strict=True))) for row in rows]

    async def save_budget(self, budget: BudgetConfig) -> None:
        """Store or replace the budget override with key `budget.key`."""
        await self._execute(
            "INSERT INTO budget_overrides (key, config, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET config = excluded.config, "
            "updated_at = excluded.updated_at",
            (budget.key, budget.model_dump_json(), time.time()),
        )

    async def delete_budget(self, key: str) -> bool:
        """Remove a stored override; False when no override had that key."""
        return await self._execute("DELETE FROM budget_overrides WHERE key = ?", (key,)) > 0

    async def stored_budgets(self) -> list[BudgetConfig]:
        """Every stored override, by key; a corrupt stored value raises LedgerError."""
        rows = await self._fetchall("SELECT key, config FROM budget_overrides ORDER BY key")
        budgets = []
        for key, config in rows:
            try:
                budgets.append(BudgetConfig.model_validate(json.loads(config)))
            except (ValidationError, json.JSONDecodeError) as error:
                raise LedgerError(
                    f"budget_overrides[{key!r}]: stored budget is not valid: {error}"
                ) from None
        return budgets

    # --- cache -------------------------------------------------------------------------

    async def cache_get(self, namespace: str, key: str) -> str | None:
        """A cached value, or None."""
        row = await self._fetchone(
            "SELECT value FROM kv_cache WHERE namespace = ? AND key = ?", (namespace, key)
        )
        return None if row is None else str(row[0])

    async def cache_put(self, namespace: str, key: str, value: str) -> None:
        """Store or replace a cached value."""
        await self._execute(
            "INSERT INTO kv_cache (namespace, key, value, created_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(namespace, key) DO UPDATE SET value = excluded.value, "
            "created_at = excluded.created_at",
            (namespace, key, value, time.time()),
        )
