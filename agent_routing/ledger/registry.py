"""The one place that turns a ledger location into a storage backend.

`ledger.url` (or `ledger.path`, `$AGENT_ROUTING_DB`, `--db`) is parsed by
:func:`agent_routing.ledger.urls.parse_ledger_url`; :data:`BACKENDS` maps its scheme to a
factory. Every part that opens a ledger (capture and its background writer, the plugin,
the CLI, the API, doctor) calls :func:`ledger_at` or :func:`resolve`, so a new backend is
one entry here. The PostgreSQL backend is imported only when a `postgresql://` URL is
used, so SQLite users never need its driver.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from agent_routing.config import LedgerSettings
from agent_routing.errors import ConfigError
from agent_routing.ledger.base import Ledger
from agent_routing.ledger.urls import LedgerURL, parse_ledger_url

BackendFactory = Callable[[LedgerURL, LedgerSettings], Ledger]


def _sqlite(target: LedgerURL, settings: LedgerSettings) -> Ledger:
    from agent_routing.ledger.sqlite import SQLiteLedger

    assert target.path is not None
    return SQLiteLedger.from_settings(settings, target.path)


def _postgresql(target: LedgerURL, settings: LedgerSettings) -> Ledger:
    try:
        from agent_routing.ledger.postgres import PostgresLedger
    except ImportError as error:
        raise ConfigError.single(
            "ledger.url",
            f"{target.redacted()} needs the PostgreSQL driver: "
            f'pip install "agent-routing[postgres]" ({error})',
        ) from None
    return PostgresLedger.from_settings(settings, target)


BACKENDS: dict[str, BackendFactory] = {"sqlite": _sqlite, "postgresql": _postgresql}
"""Backend name (the parsed URL scheme) -> factory of an unopened :class:`Ledger`."""


def resolve(
    settings: LedgerSettings | None = None,
    override: str | Path | LedgerURL | None = None,
    *,
    field: str = "db",
) -> LedgerURL:
    """The ledger location to use: `override` (e.g. `--db`, named `field` in errors), else
    the settings' (`ledger.url`, `ledger.path`, `$AGENT_ROUTING_DB`, the default file)."""
    if isinstance(override, LedgerURL):
        return override
    if override is not None:
        return parse_ledger_url(override, field)
    return (settings or LedgerSettings()).resolved_url()


def ledger_at(target: LedgerURL, settings: LedgerSettings | None = None) -> Ledger:
    """An unopened ledger of the backend `target`'s scheme names."""
    factory = BACKENDS.get(target.scheme)
    if factory is None:  # pragma: no cover - parse_ledger_url only yields known schemes
        raise ConfigError.single("ledger.url", f"no backend for {target.scheme!r}")
    return factory(target, settings or LedgerSettings())
