"""The ledger: every LLM call, routing decision, outcome signal and budget reservation.

Callers use the :class:`Ledger` protocol (async) and, on the hot path, the background
:class:`LedgerWriter` from :func:`get_writer`. :func:`ledger_for` is the one place that
picks the storage backend (SQLite today), and :func:`run_sync` lets synchronous code
(CLI, API handlers) await ledger queries.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from agent_routing.config import LedgerSettings
from agent_routing.ledger.base import (
    BudgetAlert,
    Ledger,
    LedgerError,
    OrphanSweep,
    Reservation,
    ReserveResult,
    SpendLimit,
    SpendWindow,
    UsageTotals,
)
from agent_routing.ledger.sqlite import SQLiteLedger
from agent_routing.ledger.sync import run_sync
from agent_routing.ledger.writer import LedgerWriter, WriterStats, get_writer

__all__ = [
    "BudgetAlert",
    "Ledger",
    "LedgerError",
    "LedgerWriter",
    "OrphanSweep",
    "Reservation",
    "ReserveResult",
    "SQLiteLedger",
    "SpendLimit",
    "SpendWindow",
    "UsageTotals",
    "WriterStats",
    "get_writer",
    "ledger_for",
    "opened",
    "run_sync",
]


def ledger_for(settings: LedgerSettings | None = None, path: Path | None = None) -> Ledger:
    """An unopened ledger for these settings (`path` overrides `settings.path`)."""
    settings = settings or LedgerSettings()
    return SQLiteLedger.from_settings(settings, path)


@asynccontextmanager
async def opened(ledger: Ledger) -> AsyncIterator[Ledger]:
    """Open `ledger` for the block and close it after; storage errors raised inside become
    LedgerError (so a CLI or API handler reports them instead of a traceback)."""
    await ledger.open()
    try:
        yield ledger
    except (OSError, sqlite3.Error) as error:
        raise LedgerError(f"ledger error: {error}") from error
    finally:
        await ledger.close()
