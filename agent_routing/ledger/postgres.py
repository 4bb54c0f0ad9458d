"""The PostgreSQL ledger: one database shared by a fleet of agents on many machines.

Same :class:`~agent_routing.ledger.base.Ledger` contract, columns, merge rules and meaning
as the SQLite ledger; what differs is how atomicity is obtained across machines:

* **Connections.** psycopg 3 (async) with a small pool (`ledger.pool_size`, default 4)
  per ledger object; each operation borrows a connection for one transaction, so
  concurrent coroutines never share one. A connection is checked before use, so a server
  restart costs a reconnect, not an error.
* **Migrations** (:mod:`agent_routing.ledger.postgres_migrations`): each in one
  transaction with its bookkeeping row, under an advisory lock.
* **Calls** are merged by id with the same `INSERT ... ON CONFLICT (id) DO UPDATE` rules
  (:mod:`agent_routing.ledger.merge`), translated to PostgreSQL functions; the batch is
  ordered by spend bucket, model and id so concurrent writers take row locks in one
  order (no deadlock between them; one that still happens is retried as transient).
* **Reservations** are made in one transaction that first takes a transaction-scoped
  advisory lock shared by every process of every machine, then measures the spend under
  each limit and inserts the hold: two checks can never both see room that only one may
  take. The lock is released at commit; nothing is checked then incremented outside it.
  A reservation whose process died stops counting at its `expires_at`
  (`reservation.ttl_s`), as in SQLite.

Errors: a location that cannot be reached, or refuses the credentials, raises
:class:`~agent_routing.ledger.base.LedgerError` naming `ledger.url` (without the
password) and the server's reason.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import psycopg
import psycopg.errors
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from pydantic import ValidationError

from agent_routing.config import BudgetConfig, LedgerSettings
from agent_routing.ledger.base import (
    BudgetAlert,
    LedgerError,
    OrphanSweep,
    QuotaHold,
    Reservation,
    ReserveResult,
    SpendLimit,
    SpendWindow,
    UsageTotals,
)
from agent_routing.ledger.merge import SETTLE_RESERVATION_SQL, UPSERT_CALL_SQL
from agent_routing.ledger.migrations import SPEND_BUCKET_S
from agent_routing.ledger.orphans import close_as_abandoned, sweep_summary
from agent_routing.ledger.postgres_migrations import pg_migrate
from agent_routing.ledger.queries import (
    ALERT_COLUMNS,
    MODEL_IN,
    RESERVATION_COLUMNS,
    limit_clause,
    model_names,
    spend_query,
    where,
)
from agent_routing.ledger.report_rollup import FOLD_SQL
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
from agent_routing.ledger.urls import LedgerURL, parse_ledger_url
from agent_routing.records import CallRecord, DecisionRecord, OutcomeSignal

REPORT_WORK_MEM = "64MB"  # a fixed constant, never input
QUOTA_LOCK_KEY = 0x41_52_5F_51_55_4F  # "AR_QUO": serialises quota check-and-hold fleet-wide
_HOLD_KEEP_S = 2 * 86400.0  # longer than any quota window (a local day is <= 25 h)
RESERVE_LOCK_KEY = 0x41_52_5F_52_45_53  # "AR_RES": serialises check-and-reserve fleet-wide
_USD_EPSILON = 1e-9
_PG_MODEL_IN = "model IN (SELECT jsonb_array_elements_text(?::jsonb))"

logger = logging.getLogger(__name__)


def pg_sql(sql: str) -> str:
    """The SQLite statement `sql` (shared builders, fixed text) in PostgreSQL's dialect:
    `?` placeholders become `%s`, SQLite's scalar MIN/MAX and json_patch their PostgreSQL
    equivalents. Only fixed fragments are rewritten; values stay parameters."""
    translated = (
        sql.replace(MODEL_IN, _PG_MODEL_IN)
        .replace(
            "MIN(calls.started_at, excluded.started_at)",
            "LEAST(calls.started_at, excluded.started_at)",
        )
        .replace(
            "MAX(calls.attempt, excluded.attempt)", "GREATEST(calls.attempt, excluded.attempt)"
        )
        .replace(
            "MAX(calls.state_rank, excluded.state_rank)",
            "GREATEST(calls.state_rank, excluded.state_rank)",
        )
        .replace(
            "json_patch(calls.extra, excluded.extra)",
            "(calls.extra::jsonb || excluded.extra::jsonb)::text",
        )
    )
    return translated.replace("?", "%s")


UPSERT_CALL_PG = pg_sql(UPSERT_CALL_SQL)
SETTLE_RESERVATION_PG = pg_sql(SETTLE_RESERVATION_SQL)


def _clean(value: Any) -> Any:
    """PostgreSQL text cannot hold NUL or a lone surrogate: store them visibly escaped
    instead of losing the record (SQLite keeps them as given)."""
    if isinstance(value, str):
        if "\x00" in value:
            value = value.replace("\x00", "\\x00")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


def _clean_row(row: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(_clean(value) for value in row)


class PostgresLedger:
    """A :class:`~agent_routing.ledger.base.Ledger` in a PostgreSQL database."""

    def __init__(
        self,
        url: LedgerURL | str,
        *,
        pool_size: int = 4,
        connect_timeout_s: float = 5.0,
    ) -> None:
        self.target = url if isinstance(url, LedgerURL) else parse_ledger_url(url)
        if self.target.scheme != "postgresql":
            raise LedgerError(f"ledger.url: {self.target.redacted()} is not a PostgreSQL URL")
        self.pool_size = pool_size
        self.connect_timeout_s = connect_timeout_s
        self._pool: AsyncConnectionPool | None = None

    @classmethod
    def from_settings(cls, settings: LedgerSettings, target: LedgerURL) -> PostgresLedger:
        """A ledger at `target` with the settings' pool size and connect timeout."""
        return cls(
            target, pool_size=settings.pool_size, connect_timeout_s=settings.connect_timeout_s
        )

    @property
    def path(self) -> str:
        """Where the ledger is, for messages (the URL without its password)."""
        return self.target.redacted()

    sql_dialect = "postgresql"

    async def report_rows(self, sql: str, params: Sequence[object]) -> list[Sequence[object]]:
        """Rows of one read-only report statement (`SQLReportSource`), with room to sort
        and hash in memory for this transaction only (`SET LOCAL work_mem`)."""
        async with self._tx() as conn:
            await conn.execute(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'")
            cursor = await conn.execute(pg_sql(sql), [_clean(value) for value in params])
            return list(await cursor.fetchall())

    async def __aenter__(self) -> PostgresLedger:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # --- connection ----------------------------------------------------------------------

    async def open(self) -> None:
        """Connect (one direct connection first, so a refusal gives the server's own
        reason), migrate, then start the pool. LedgerError names `ledger.url`."""
        if self._pool is not None:
            return
        timeout = max(1, round(self.connect_timeout_s))
        try:
            conn = await psycopg.AsyncConnection.connect(
                self.target.dsn, autocommit=True, connect_timeout=timeout
            )
        except psycopg.Error as error:
            reason = " ".join(str(error).split()) or repr(error)
            raise LedgerError(
                f"ledger.url: cannot connect to {self.target.redacted()}: {reason}"
            ) from error
        try:
            await pg_migrate(conn)
        except psycopg.Error as error:
            raise LedgerError(
                f"ledger.url: cannot migrate {self.target.redacted()}: {error}"
            ) from error
        finally:
            await conn.close()
        pool = AsyncConnectionPool(
            self.target.dsn,
            min_size=1,
            max_size=self.pool_size,
            timeout=self.connect_timeout_s,
            open=False,
            kwargs={"connect_timeout": timeout},
            check=AsyncConnectionPool.check_connection,
            name="agent-routing-ledger",
        )
        try:
            await pool.open(wait=True, timeout=self.connect_timeout_s)
        except PoolTimeout as error:
            await pool.close()
            raise LedgerError(
                f"ledger.url: cannot connect to {self.target.redacted()}: {error}"
            ) from error
        self._pool = pool

    async def close(self) -> None:
        """Close the pool (a no-op when closed)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    def is_transient_error(self, error: BaseException) -> bool:
        """Lost connections, a busy pool, deadlocks and serialisation failures are worth
        retrying; a row the schema refuses is not."""
        return isinstance(
            error,
            psycopg.OperationalError
            | psycopg.errors.DeadlockDetected
            | psycopg.errors.SerializationFailure
            | psycopg.errors.LockNotAvailable
            | psycopg.errors.AdminShutdown
            | psycopg.errors.CannotConnectNow
            | PoolTimeout
            | OSError,
        )

    def _require_pool(self) -> AsyncConnectionPool:
        if self._pool is None:
            raise LedgerError(f"the ledger at {self.path!r} is not open; call open() first")
        return self._pool

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """One transaction on a pooled connection: committed on success, else rolled back."""
        async with self._require_pool().connection() as conn:
            yield conn

    async def _fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        async with self._tx() as conn:
            cursor = await conn.execute(pg_sql(sql), [_clean(value) for value in params])
            return list(await cursor.fetchall())

    async def _fetchone(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = await self._fetchall(sql, params)
        return rows[0] if rows else None

    async def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        async with self._tx() as conn:
            cursor = await conn.execute(pg_sql(sql), [_clean(value) for value in params])
            return int(cursor.rowcount)

    async def probe_write(self, model: str) -> tuple[bool, int]:
        """Write a probe call row and read it back inside a transaction that is rolled
        back (doctor): (read back, calls stored before it)."""
        probe = CallRecord(id=f"doctor-{time.time_ns()}", started_at=time.time(), model=model)
        async with self._require_pool().connection() as conn:
            tx = conn.transaction(force_rollback=True)
            async with tx:
                await conn.execute(UPSERT_CALL_PG, _clean_row(call_to_row(probe)))
                cursor = await conn.execute("SELECT model FROM calls WHERE id = %s", (probe.id,))
                found = await cursor.fetchone()
                cursor = await conn.execute("SELECT COUNT(*) FROM calls")
                counted = await cursor.fetchone()
        calls = int(counted[0]) - 1 if counted else 0
        return (found is not None and found[0] == model), calls

    # --- records -------------------------------------------------------------------------

    @staticmethod
    async def _upsert(
        conn: psycopg.AsyncConnection[Any], calls: Sequence[CallRecord], now: float
    ) -> None:
        ordered = sorted(
            calls, key=lambda c: (int(c.started_at // SPEND_BUCKET_S), str(c.model), str(c.id))
        )
        rows = [_clean_row(call_to_row(record, now=now)) for record in ordered]
        async with conn.cursor() as cursor:
            await cursor.executemany(UPSERT_CALL_PG, rows)
            await cursor.executemany(
                SETTLE_RESERVATION_PG, [(now, _clean(c.id), _clean(c.id)) for c in ordered]
            )

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
        decision_rows = [_clean_row(decision_to_row(decision)) for decision in decisions]
        signal_rows = [_clean_row(signal_to_row(signal)) for signal in signals]
        async with self._tx() as conn:
            async with conn.cursor() as cursor:
                if decision_rows:
                    await cursor.executemany(
                        f"INSERT INTO decisions ({', '.join(DECISION_COLUMNS)}) "
                        f"VALUES ({', '.join('%s' for _ in DECISION_COLUMNS)}) "
                        "ON CONFLICT (id) DO NOTHING",
                        decision_rows,
                    )
                if signal_rows:
                    await cursor.executemany(
                        f"INSERT INTO signals ({', '.join(SIGNAL_COLUMNS)}) "
                        "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                        signal_rows,
                    )
            if calls:
                await self._upsert(conn, calls, now)
        if calls:
            await self._fold_rollup()

    async def _fold_rollup(self) -> None:
        """Fold the report rollup's deltas (report_rollup.FOLD_SQL) in a transaction of its
        own, after the calls committed; a failure only leaves deltas for the next fold (the
        reports read them too), so it is logged and never fails the write."""
        try:
            async with self._tx() as conn:
                await conn.execute(FOLD_SQL)
        except Exception as error:
            logger.debug("report rollup fold deferred: %s", error)

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
            f"SELECT {', '.join(CALL_COLUMNS)} FROM calls WHERE id = ?", (_clean(call_id),)
        )
        return None if row is None else call_from_row(row)

    async def close_orphaned_calls(
        self, *, started_before: float, now: float | None = None
    ) -> OrphanSweep:
        """Close every call still pending that started before `started_before` as
        abandoned, in one transaction (rows locked, so two sweeps never both close one)."""
        closed_at = time.time() if now is None else now
        async with self._tx() as conn:
            cursor = await conn.execute(
                f"SELECT {', '.join(CALL_COLUMNS)} FROM calls "
                "WHERE outcome = 'pending' AND started_at < %s "
                "ORDER BY started_at, id FOR UPDATE SKIP LOCKED",
                (started_before,),
            )
            rows = await cursor.fetchall()
            closed = [close_as_abandoned(call_from_row(row), now=closed_at) for row in rows]
            if closed:
                await self._upsert(conn, closed, closed_at)
        return sweep_summary(closed)

    async def _select_range(
        self,
        table: str,
        columns: Sequence[str],
        time_column: str,
        clauses: Sequence[tuple[str, Any]],
        limit: int | None,
    ) -> list[Any]:
        condition, params = where(clauses)
        limit_sql, limit_params = limit_clause(limit)
        return await self._fetchall(
            f"SELECT {', '.join(columns)} FROM {table}{condition} "
            f"ORDER BY {time_column}, id{limit_sql}",
            [_clean(value) for value in params] + limit_params,
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

    # --- budgets -------------------------------------------------------------------------

    @staticmethod
    async def _spent_in(
        conn: psycopg.AsyncConnection[Any], window: SpendWindow, now: float
    ) -> float:
        sql, params = spend_query(window, now)
        cursor = await conn.execute(pg_sql(sql), [_clean(value) for value in params])
        row = await cursor.fetchone()
        return float(row[0]) if row else 0.0

    async def reserve(
        self, reservation: Reservation, limits: Sequence[SpendLimit]
    ) -> ReserveResult:
        """Under a fleet-wide transaction-scoped advisory lock: measure spend under every
        limit and store the reservation unless a hard limit would be exceeded."""
        now = reservation.created_at
        spent: dict[str, float] = {}
        refused_by: str | None = None
        async with self._tx() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (RESERVE_LOCK_KEY,))
            for limit in limits:
                spent[limit.key] = await self._spent_in(conn, limit.window, now)
            for limit in limits:
                over = spent[limit.key] + reservation.amount_usd > limit.limit_usd + _USD_EPSILON
                if limit.hard and over:
                    refused_by = limit.key
                    break
            if refused_by is None:
                await conn.execute(
                    f"INSERT INTO reservations ({', '.join(RESERVATION_COLUMNS)}) "
                    f"VALUES ({', '.join('%s' for _ in RESERVATION_COLUMNS)})",
                    _clean_row(
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
                        )
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
            (_clean(reservation_id),),
        )
        if row is None:
            return None
        return Reservation(**dict(zip(RESERVATION_COLUMNS, row, strict=True)))

    async def spent_usd(self, window: SpendWindow, *, now: float) -> float:
        """Settled cost plus open, unexpired reservations in the window."""
        async with self._tx() as conn:
            return await self._spent_in(conn, window, now)

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
        condition, params = where(
            [
                ("started_at >= ?", since),
                ("started_at < ?", until),
                (MODEL_IN, model_names(model, model_aliases)),
                ("provider = ?", provider),
            ],
            fixed=["outcome != 'blocked'"],
        )
        row = await self._fetchone(
            "SELECT COUNT(*), COALESCE(SUM(COALESCE(input_tokens, 0) "
            f"+ COALESCE(output_tokens, 0)), 0) FROM calls{condition}",
            [_clean(value) for value in params],
        )
        return UsageTotals(requests=int(row[0]), tokens=int(row[1]))

    async def hold_quotas(self, holds: Sequence[QuotaHold], *, now: float) -> str | None:
        """Check every quota and hold room in each, atomically across machines: under a
        fleet-wide transaction-scoped advisory lock, usage = the larger of the committed
        calls and the holds in each window; refuse (nothing held) naming the first quota
        without room, else store one hold per quota (see
        :class:`~agent_routing.ledger.base.QuotaHolder`)."""
        if not holds:
            return None
        async with self._tx() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (QUOTA_LOCK_KEY,))
            for hold in holds:
                condition, params = where(
                    [
                        ("started_at >= ?", hold.since),
                        ("started_at < ?", hold.until),
                        (MODEL_IN, model_names(hold.model, hold.model_aliases)),
                        ("provider = ?", hold.provider),
                    ],
                    fixed=["outcome != 'blocked'"],
                )
                cursor = await conn.execute(
                    pg_sql(
                        "SELECT COUNT(*), COALESCE(SUM(COALESCE(input_tokens, 0) "
                        f"+ COALESCE(output_tokens, 0)), 0) FROM calls{condition}"
                    ),
                    [_clean(value) for value in params],
                )
                requests, tokens = await cursor.fetchone() or (0, 0)
                cursor = await conn.execute(
                    "SELECT COUNT(*), COALESCE(SUM(tokens), 0) FROM quota_holds "
                    "WHERE quota_key = %s AND created_at >= %s AND created_at < %s",
                    (_clean(hold.key), hold.since, hold.until),
                )
                held_requests, held_tokens = await cursor.fetchone() or (0, 0)
                if hold.unit == "requests":
                    used = max(int(requests), int(held_requests))
                else:
                    used = max(int(tokens), int(held_tokens))
                if used + hold.needed > hold.limit:
                    return hold.key
            await conn.execute(
                "DELETE FROM quota_holds WHERE created_at < %s", (now - _HOLD_KEEP_S,)
            )
            async with conn.cursor() as cursor:
                await cursor.executemany(
                    "INSERT INTO quota_holds (quota_key, created_at, requests, tokens) "
                    "VALUES (%s, %s, 1, %s)",
                    [
                        (_clean(hold.key), now, hold.needed if hold.unit == "tokens" else 0)
                        for hold in holds
                    ],
                )
        return None

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
            "ON CONFLICT (key) DO UPDATE SET config = excluded.config, "
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

    # --- cache ---------------------------------------------------------------------------

    async def cache_get(self, namespace: str, key: str) -> str | None:
        """A cached value, or None."""
        row = await self._fetchone(
            "SELECT value FROM kv_cache WHERE namespace = ? AND key = ?",
            (_clean(namespace), _clean(key)),
        )
        return None if row is None else str(row[0])

    async def cache_put(self, namespace: str, key: str, value: str) -> None:
        """Store or replace a cached value."""
        await self._execute(
            "INSERT INTO kv_cache (namespace, key, value, created_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, "
            "created_at = excluded.created_at",
            (namespace, key, value, time.time()),
        )
