"""The SQLite ledger: one file shared by every agent process on a machine, via aiosqlite.

:class:`SQLiteLedger` joins three layers, one module each:

* :mod:`~agent_routing.ledger.sqlite_base`: the connection, its pragmas (WAL,
  `busy_timeout`, `synchronous`, and why) and its transactions;
* :mod:`~agent_routing.ledger.sqlite_records`: calls (merged by id), decisions, signals;
* :mod:`~agent_routing.ledger.sqlite_budgets`: reservations, spend, quota usage, alerts,
  stored budget overrides.

The small key-value cache lives here. Callers import :class:`SQLiteLedger` (and
`Synchronous`) from this module or from :mod:`agent_routing.ledger`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from agent_routing.config import LedgerSettings
from agent_routing.ledger.sqlite_base import Synchronous
from agent_routing.ledger.sqlite_budgets import SQLiteBudgets
from agent_routing.ledger.sqlite_records import SQLiteRecords

__all__ = ["SQLiteLedger", "Synchronous"]


class SQLiteLedger(SQLiteRecords, SQLiteBudgets):
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
