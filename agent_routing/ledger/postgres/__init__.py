"""The PostgreSQL ledger: one database shared by a fleet of agents on many machines.

Same :class:`~agent_routing.ledger.base.Ledger` contract, columns, merge rules and meaning
as the SQLite ledger: the operations themselves (statements, parameters, row mapping,
the check-then-write of reservations and quota holds) are the shared ones of
:class:`~agent_routing.ledger._sql_ledger.SQLLedger`, run through this module's executor
(statements translated by :func:`pg_sql`, values cleaned by `_clean`). What differs is
how atomicity is obtained across machines:

* **Connections.** psycopg 3 (async) with a small pool (`ledger.pool_size`, default 4)
  per ledger object; each operation borrows a connection for one transaction, so
  concurrent coroutines never share one. A connection is checked before use, so a server
  restart costs a reconnect, not an error.
* **Migrations** (:mod:`agent_routing.ledger.postgres.migrations`): each in one
  transaction with its bookkeeping row, under an advisory lock.
* **Calls** are merged by id with the same `INSERT ... ON CONFLICT (id) DO UPDATE` rules
  (:mod:`agent_routing.ledger.merge`), translated to PostgreSQL functions; the batch is
  ordered by spend bucket, model and id so concurrent writers take row locks in one
  order (no deadlock between them; one that still happens is retried as transient).
* **Orphaned calls** are closed in one transaction that locks the pending rows it reads
  (`FOR UPDATE SKIP LOCKED`), so two sweeps never both close one.
* **Reservations** and **quota holds** are made in one transaction that first takes a
  transaction-scoped advisory lock shared by every process of every machine (one key
  each), then measures the spend (or usage) under each limit and inserts the hold: two
  checks can never both see room that only one may take. The lock is released at commit;
  nothing is checked then incremented outside it. A reservation whose process died stops
  counting at its `expires_at` (`reservation.ttl_s`), as in SQLite.

Errors: a location that cannot be reached, or refuses the credentials, raises
:class:`~agent_routing.ledger.base.LedgerError` naming `ledger.url` (without the
password) and the server's reason.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, ClassVar, TypeVar

import psycopg
import psycopg.errors
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from agent_routing.config import LedgerSettings
from agent_routing.ledger._sql_ledger import Body, Fetch, SQLLedger, Step, TxLock, drive_async
from agent_routing.ledger.base import LedgerError
from agent_routing.ledger.merge import UPSERT_CALL_SQL
from agent_routing.ledger.postgres.migrations import pg_migrate
from agent_routing.ledger.queries import MODEL_IN, SPEND_BUCKET_S, STRONGEST_MODEL, utf8_text
from agent_routing.ledger.report_rollup import FOLD_SQL
from agent_routing.ledger.rows import call_to_row
from agent_routing.ledger.urls import LedgerURL, parse_ledger_url
from agent_routing.records import CallRecord, DecisionRecord, OutcomeSignal

REPORT_WORK_MEM = "64MB"  # a fixed constant, never input
QUOTA_LOCK_KEY = 0x41_52_5F_51_55_4F  # "AR_QUO": serialises quota check-and-hold fleet-wide
RESERVE_LOCK_KEY = 0x41_52_5F_52_45_53  # "AR_RES": serialises check-and-reserve fleet-wide
_LOCK_KEYS: dict[TxLock, int] = {"reserve": RESERVE_LOCK_KEY, "quota": QUOTA_LOCK_KEY}
_PG_MODEL_IN = "model IN (SELECT jsonb_array_elements_text(?::jsonb))"
_PG_STRONGEST_MODEL = (
    "(SELECT candidate.value ->> 'model' "
    "FROM jsonb_array_elements(decisions.candidates::jsonb) "
    "WITH ORDINALITY AS candidate(value, position) "
    "WHERE jsonb_typeof(candidate.value -> 'model') = 'string' "
    "AND candidate.value ->> 'model' <> '' "
    "ORDER BY candidate.position DESC LIMIT 1)"
)

T = TypeVar("T")

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=512)
def pg_sql(sql: str) -> str:
    """The SQLite statement `sql` (shared builders, fixed text) in PostgreSQL's dialect:
    `?` placeholders become `%s`, SQLite's scalar MIN/MAX and json_patch their PostgreSQL
    equivalents. Only fixed fragments are rewritten; values stay parameters."""
    translated = (
        sql.replace(MODEL_IN, _PG_MODEL_IN)
        .replace(STRONGEST_MODEL, _PG_STRONGEST_MODEL)
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


def _clean(value: Any) -> Any:
    """PostgreSQL text cannot hold NUL or a lone surrogate: store them visibly escaped
    instead of losing the record (SQLite keeps them as given)."""
    if isinstance(value, str):
        if "\x00" in value:
            value = value.replace("\x00", "\\x00")
        return utf8_text(value)
    return value


def _clean_row(row: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(_clean(value) for value in row)


class PostgresLedger(SQLLedger):
    """A :class:`~agent_routing.ledger.base.Ledger` in a PostgreSQL database.

    Its operations are the shared ones (:class:`~agent_routing.ledger._sql_ledger.SQLLedger`);
    this class is their PostgreSQL executor, with the connection pool and error
    classification."""

    ROW_LOCK: ClassVar[str] = " FOR UPDATE SKIP LOCKED"

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
            cursor = await conn.execute(pg_sql(sql), _clean_row(params))
            return list(await cursor.fetchall())

    async def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        async with self._tx() as conn:
            cursor = await conn.execute(pg_sql(sql), _clean_row(params))
            return int(cursor.rowcount)

    async def _transaction(self, body: Body[T], *, lock: TxLock | None = None) -> T:
        """Run `body` in one transaction on one pooled connection, first taking the
        fleet-wide transaction-scoped advisory lock `lock` names (released at commit)."""
        async with self._tx() as conn, conn.cursor() as cursor:
            if lock is not None:
                await cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEYS[lock],))

            async def run(step: Step) -> list[Any] | None:
                if isinstance(step, Fetch):
                    await cursor.execute(pg_sql(step.sql), _clean_row(step.params))
                    return list(await cursor.fetchall())
                if step.many:
                    rows = [_clean_row(row) for row in step.params]
                    await cursor.executemany(pg_sql(step.sql), rows)
                else:
                    await cursor.execute(pg_sql(step.sql), _clean_row(step.params))
                return None

            return await drive_async(body, run)

    def _write_order(self, calls: Sequence[CallRecord]) -> Sequence[CallRecord]:
        """Calls ordered by spend bucket, model and id, so concurrent writers take row
        locks in one order (no deadlock between them)."""
        return sorted(
            calls, key=lambda c: (int(c.started_at // SPEND_BUCKET_S), str(c.model), str(c.id))
        )

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

    async def write_batch(
        self,
        calls: Sequence[CallRecord] = (),
        decisions: Sequence[DecisionRecord] = (),
        signals: Sequence[OutcomeSignal] = (),
    ) -> None:
        """Write all of these in one transaction (calls merged, reservations settled),
        then fold the report rollup's deltas."""
        await super().write_batch(calls, decisions, signals)
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
