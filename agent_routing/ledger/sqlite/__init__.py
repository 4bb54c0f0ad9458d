"""The SQLite ledger: one file shared by every agent process on a machine, via aiosqlite.

:class:`SQLiteLedger` joins two layers:

* :mod:`~agent_routing.ledger.sqlite._connection`: the connection, its pragmas (WAL,
  `busy_timeout`, `synchronous`, and why), its transactions (`BEGIN IMMEDIATE`, run in
  one call on the connection's thread) and error classification: SQLite's executor;
* :class:`agent_routing.ledger._sql_ledger.SQLLedger`: every ledger operation (calls
  merged by id, decisions, signals, reservations, spend, quota holds, alerts, stored
  budget overrides, the key-value cache), written once for both SQL backends.

Callers import :class:`SQLiteLedger` (and `Synchronous`) from this package or from
:mod:`agent_routing.ledger`; `ensure_math_functions_sync` defines the SQL math functions
the report rollup's triggers need on a plain sqlite3 connection (doctor's read-only check).
The schema is :mod:`agent_routing.ledger.sqlite.migrations`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from agent_routing.config import LedgerSettings
from agent_routing.ledger._sql_ledger import SQLLedger
from agent_routing.ledger.sqlite._connection import (
    SQLiteConnection,
    Synchronous,
    ensure_math_functions_sync,
)

__all__ = ["SQLiteLedger", "Synchronous", "ensure_math_functions_sync"]


class SQLiteLedger(SQLiteConnection, SQLLedger):
    """A :class:`~agent_routing.ledger.base.Ledger` stored in one SQLite file.

    `path` may be ``":memory:"`` (one private in-memory database, for docs and tests).
    """

    @classmethod
    def from_settings(cls, settings: LedgerSettings, path: Path | None = None) -> SQLiteLedger:
        """A ledger at `path` (default: the settings' resolved path) with their timeouts."""
        return cls(path or settings.resolved_path(), busy_timeout_ms=settings.busy_timeout_ms)

    sql_dialect = "sqlite"

    async def report_rows(self, sql: str, params: Sequence[object]) -> list[Sequence[object]]:
        """Rows of one read-only report statement (`SQLReportSource`)."""
        return list(await self._fetchall(sql, params))

    async def __aenter__(self) -> SQLiteLedger:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
