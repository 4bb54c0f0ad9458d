"""The ledger: every LLM call, routing decision, outcome signal and budget reservation.

Callers use the :class:`Ledger` protocol (async) and, on the hot path, the background
:class:`LedgerWriter` from :func:`get_writer`. :func:`ledger_for` picks the storage
backend from the ledger URL through :mod:`agent_routing.ledger.registry` (a path or
`sqlite:///...`: SQLite; `postgresql://...`: PostgreSQL), and :func:`run_sync` lets
synchronous code (CLI, API handlers) await ledger queries.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from agent_routing.config import LedgerSettings
from agent_routing.ledger._sync import run_sync
from agent_routing.ledger.base import (
    BudgetAlert,
    Ledger,
    LedgerError,
    OrphanSweep,
    Reservation,
    ReserveResult,
    RoutedUsage,
    RoutingSummary,
    SpendLimit,
    SpendWindow,
    UsageTotals,
)
from agent_routing.ledger.registry import ledger_at, resolve
from agent_routing.ledger.sqlite import SQLiteLedger
from agent_routing.ledger.urls import LedgerURL, parse_ledger_url
from agent_routing.ledger.writer import LedgerWriter, WriterStats, get_writer

__all__ = [
    "BudgetAlert",
    "Ledger",
    "LedgerError",
    "LedgerURL",
    "LedgerWriter",
    "OrphanSweep",
    "Reservation",
    "ReserveResult",
    "RoutedUsage",
    "RoutingSummary",
    "SQLiteLedger",
    "SpendLimit",
    "SpendWindow",
    "UsageTotals",
    "WriterStats",
    "get_writer",
    "ledger_for",
    "opened",
    "parse_ledger_url",
    "run_sync",
]


def ledger_for(
    settings: LedgerSettings | None = None, path: Path | str | LedgerURL | None = None
) -> Ledger:
    """An unopened ledger for these settings; `path` (a path or URL, e.g. `--db`)
    overrides the configured location. A bad location is a ConfigError naming the field."""
    settings = settings or LedgerSettings()
    return ledger_at(resolve(settings, path), settings)


def _storage_errors() -> tuple[type[BaseException], ...]:
    """The driver errors a ledger may raise (psycopg's only once it is loaded)."""
    errors: tuple[type[BaseException], ...] = (OSError, sqlite3.Error)
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None:
        errors += (psycopg.Error,)
    return errors


@asynccontextmanager
async def opened(ledger: Ledger) -> AsyncIterator[Ledger]:
    """Open `ledger` for the block and close it after; storage errors raised inside become
    LedgerError (so a CLI or API handler reports them instead of a traceback)."""
    await ledger.open()
    try:
        yield ledger
    except _storage_errors() as error:
        raise LedgerError(f"ledger error: {error}") from error
    finally:
        await ledger.close()
