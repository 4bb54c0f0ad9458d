"""Raw SQL against a ledger of either backend, for tests that check stored rows directly."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from agent_routing.ledger.urls import parse_ledger_url


def fetch(
    url: str, sql: str, params: Sequence[Any] = (), *, pg_setup: Sequence[str] = ()
) -> list[tuple[Any, ...]]:
    """Rows of one statement (`?` placeholders) run on the ledger at `url` (after the
    `pg_setup` statements on the same connection, for PostgreSQL)."""
    target = parse_ledger_url(str(url))
    if target.path is not None:
        with sqlite3.connect(target.path) as db:
            return [tuple(row) for row in db.execute(sql, params).fetchall()]
    import psycopg

    from agent_routing.ledger.postgres import pg_sql

    with psycopg.connect(target.dsn, autocommit=True) as conn:
        for statement in pg_setup:
            conn.execute(statement)
        return [tuple(row) for row in conn.execute(pg_sql(sql), list(params)).fetchall()]


def scalar(url: str, sql: str, params: Sequence[Any] = ()) -> Any:
    """The first column of the first row."""
    return fetch(url, sql, params)[0][0]
