"""The connection layer of the SQLite ledger: one aiosqlite connection and its transactions.

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
* The whole transaction (BEGIN, the statements, COMMIT) runs as one call on the
  connection's own thread (:meth:`SQLiteConnection._transaction`, which drives a
  transaction body of :mod:`agent_routing.ledger._sql_ledger`): the write lock is held
  only while SQL runs. Before, each statement was awaited separately, so a busy event loop
  (Agent Zero's, doing its own slow work between two awaits) kept the lock and made other
  processes' budget checks wait out `busy_timeout` and refuse legitimate calls.

The connection runs in autocommit mode (`isolation_level=None`); transactions are explicit.
One ledger serialises its own operations with an asyncio lock, so concurrent coroutines
never interleave inside one transaction. This class is the SQLite executor (`_fetchall`,
`_execute`, `_transaction`) of the operations both backends share
(:class:`agent_routing.ledger._sql_ledger.SQLLedger`);
:class:`~agent_routing.ledger.sqlite.SQLiteLedger` joins the two.
"""

from __future__ import annotations

import asyncio
import math
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal, TypeVar

import aiosqlite

from agent_routing.ledger._sql_ledger import Body, Fetch, Step, TxLock, drive
from agent_routing.ledger.base import LedgerError
from agent_routing.ledger.queries import utf8_text
from agent_routing.ledger.sqlite.migrations import migrate

Synchronous = Literal["NORMAL", "FULL"]

_WAL_ATTEMPTS = 50

T = TypeVar("T")


def storable(value: Any) -> Any:
    """`value`, with a string SQLite cannot take (a lone surrogate, which is not UTF-8)
    replaced by the same text with that code point written as `\\udcff`: deterministic, so
    the same host string always finds the same rows. Every other value is unchanged."""
    return utf8_text(value) if isinstance(value, str) else value


def storable_row(values: Sequence[Any]) -> tuple[Any, ...]:
    """:func:`storable` applied to each value of one row of parameters."""
    return tuple(storable(value) for value in values)


def is_lock_error(error: BaseException) -> bool:
    """SQLite's "database is locked" / "busy": another connection holds the lock, so
    waiting helps. Anything else (read-only file, I/O error, not a database) will not
    change by retrying a moment later."""
    text = str(error).lower()
    return isinstance(error, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def _run_step(conn: sqlite3.Connection, step: Step) -> list[Any] | None:
    """One step of a transaction body on the plain sqlite3 connection."""
    if isinstance(step, Fetch):
        return conn.execute(step.sql, storable_row(step.params)).fetchall()
    if step.many:
        conn.executemany(step.sql, [storable_row(row) for row in step.params])
    else:
        conn.execute(step.sql, storable_row(step.params))
    return None


async def _on_connection_thread(db: aiosqlite.Connection, function: Callable[[], T]) -> T:
    """Run `function` on `db`'s worker thread as one call, and await its result.

    This is aiosqlite's own `Connection._execute`, the call behind every public method of
    it: aiosqlite (0.22) has no public way to run a callable on that thread, and the
    alternatives lose what this keeps. Awaiting each statement of a transaction through
    the public API holds SQLite's write lock across this event loop's other work (issue
    #10 item 2: other processes' budget checks waited out `busy_timeout` and refused);
    `executescript` returns no rows and takes no parameters, so a check-then-insert cannot
    be one script; a second, plain sqlite3 connection on a thread of our own would hold a
    second file handle per ledger (and a second private database for ":memory:") and
    would not share the connection the migrations and reads use. The private name is
    used only here; `tests/test_ledger_busy_loop.py` fails if the lock is ever held
    across the loop again.
    """
    result: T = await db._execute(function)  # type: ignore[no-untyped-call]
    return result


class SQLiteConnection:
    """Opening, migrating and closing the file, and the transaction helpers every storage
    operation uses. `path` may be ``":memory:"`` (one private in-memory database)."""

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
            await _ensure_math_functions(db)
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
            except sqlite3.OperationalError as error:
                # Only a lock is worth waiting for: a read-only or unwritable location
                # fails the same way every time (retrying it stalled each open 25 s).
                if attempt == _WAL_ATTEMPTS - 1 or not is_lock_error(error):
                    raise
                await asyncio.sleep(0.02 * (attempt + 1))

    async def close(self) -> None:
        """Close the connection (a no-op when closed)."""
        db, self._db = self._db, None
        if db is not None:
            await db.close()

    def close_nowait(self) -> None:
        """Close without an event loop, for a connection whose loop has closed (it could
        never be awaited again): stop its worker thread, which closes the file."""
        db, self._db = self._db, None
        if db is not None:
            db.stop()

    def is_transient_error(self, error: BaseException) -> bool:
        """Locked, busy, I/O and disk-full errors are worth retrying; the rest are not."""
        return isinstance(error, sqlite3.OperationalError | OSError)

    def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            raise LedgerError(f"the ledger at {str(self.path)!r} is not open; call open() first")
        return self._db

    async def _transaction(self, body: Body[T], *, lock: TxLock | None = None) -> T:
        """Run the transaction `body` inside one `BEGIN IMMEDIATE` transaction, committed
        on success and rolled back on error, as ONE call on the connection's thread: the
        write lock is taken and released there, whatever this event loop is doing
        meanwhile. (`lock` is not needed: `BEGIN IMMEDIATE` serialises every write
        transaction of every process on the file.)"""
        async with self._lock:
            db = self._conn()

            def run() -> T:
                # aiosqlite runs this on its worker thread, the only thread using the
                # sqlite3 connection, exactly as it runs its own statements.
                conn: sqlite3.Connection = db._conn
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = drive(body, lambda step: _run_step(conn, step))
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                return result

            return await _on_connection_thread(db, run)

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[aiosqlite.Connection]:
        """One `BEGIN IMMEDIATE` transaction: committed on success, rolled back on error.

        Each statement inside is a separate await, so the write lock is held while this
        event loop runs other tasks: prefer :meth:`_transaction` for anything on a
        loop that also does other work.
        """
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
            return list(await self._conn().execute_fetchall(sql, storable_row(params)))

    async def _fetchone(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = await self._fetchall(sql, params)
        return rows[0] if rows else None

    async def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one autocommitted statement; return the number of rows it changed."""
        async with self._lock, self._conn().execute(sql, storable_row(params)) as cursor:
            return int(cursor.rowcount)


# --- SQL math functions the report rollup's triggers use (m011) ---------------------------
# SQLite has `log2` and `floor` only when built with its math functions (the default of its
# own build since 3.35, but not of every distribution's library). Without them every write
# to `calls` would fail in the trigger; the same functions are then defined on the
# connection, computing exactly what SQLite's would.
MATH_PROBE_SQL = "SELECT log2(2.0), floor(1.5)"


def _sql_log2(value: float | None) -> float | None:
    if value is None or value <= 0:
        return None  # as SQLite's log2: NULL outside its domain
    return math.log2(value)


def _sql_floor(value: float | None) -> float | None:
    return None if value is None else float(math.floor(value))


MATH_FUNCTIONS: dict[str, Callable[[float | None], float | None]] = {
    "log2": _sql_log2,
    "floor": _sql_floor,
}


def ensure_math_functions_sync(connection: sqlite3.Connection, *, force: bool = False) -> bool:
    """Define `log2`/`floor` on `connection` when SQLite lacks them (or `force`); True if
    they were defined here."""
    if not force:
        try:
            connection.execute(MATH_PROBE_SQL).fetchone()
            return False
        except sqlite3.OperationalError:
            pass
    for name, function in MATH_FUNCTIONS.items():
        connection.create_function(name, 1, function, deterministic=True)
    return True


async def _ensure_math_functions(db: aiosqlite.Connection, *, force: bool = False) -> bool:
    """`ensure_math_functions_sync` for an aiosqlite connection."""
    if not force:
        try:
            await db.execute_fetchall(MATH_PROBE_SQL)
            return False
        except sqlite3.OperationalError:
            pass
    for name, function in MATH_FUNCTIONS.items():
        await db.create_function(name, 1, function, deterministic=True)
    return True
