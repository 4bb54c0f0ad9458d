"""Start-up migration (`initialize.py` calls it once at start): the `startup_migration`
extension point, agent-less and sync."""

from __future__ import annotations

from helpers.extension import call_extensions_sync


def startup_migration() -> None:
    call_extensions_sync("startup_migration", None)
