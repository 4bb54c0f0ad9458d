"""Numbered schema migrations for the SQLite ledger (simonw/llm style, made atomic).

`MIGRATIONS` is an ordered list of functions named `mNNN_what`; the table
`_routing_migrations(name, applied_at)` records which ones ran. Each migration and its
bookkeeping row commit together in one `BEGIN IMMEDIATE` transaction, so a crash leaves
either both or neither, and two processes migrating the same file at once are safe: the
second waits for the write lock, then sees the row and skips. Never edit a migration that
has shipped; add a new one.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence

import aiosqlite

from agent_routing.ledger.queries import SPEND_BUCKET_S
from agent_routing.ledger.report_rollup import sqlite_statements, task_last_sqlite_statements

Migration = Callable[[aiosqlite.Connection], Awaitable[None]]

MIGRATIONS: list[Migration] = []

BOOKKEEPING_TABLE = "_routing_migrations"


def migration(function: Migration) -> Migration:
    """Register `function` as the next migration (its name is its identity)."""
    MIGRATIONS.append(function)
    return function


@migration
async def m001_calls(db: aiosqlite.Connection) -> None:
    """One row per LLM call: every CallRecord field, usage and unit prices as columns.

    `usage_rank` / `state_rank` remember how trustworthy the stored usage and outcome are,
    so that late or reordered events merge into the same final row.
    """
    await db.execute(
        """
        CREATE TABLE calls (
            id TEXT PRIMARY KEY,
            started_at REAL NOT NULL,
            model TEXT NOT NULL,
            provider TEXT,
            call_kind TEXT NOT NULL,
            conversation_id TEXT,
            agent_no INTEGER,
            tool TEXT,
            decision_id TEXT,
            tier TEXT,
            reservation_id TEXT,
            attempt INTEGER NOT NULL DEFAULT 0,
            stream INTEGER,
            ended_at REAL,
            latency_ms REAL,
            outcome TEXT NOT NULL,
            error_class TEXT,
            error_message TEXT,
            input_tokens INTEGER,
            output_tokens INTEGER,
            cached_read_tokens INTEGER,
            cache_creation_tokens INTEGER,
            reasoning_tokens INTEGER,
            usage_source TEXT,
            usage_rank INTEGER,
            price_input REAL,
            price_output REAL,
            price_cache_read REAL,
            price_cache_creation REAL,
            price_reasoning REAL,
            price_source TEXT,
            price_model_key TEXT,
            cost_usd REAL,
            tokens_saved INTEGER,
            usd_saved REAL,
            state_rank INTEGER NOT NULL DEFAULT 0,
            extra TEXT NOT NULL DEFAULT '{}',
            updated_at REAL NOT NULL
        )
        """
    )


@migration
async def m002_decisions_signals(db: aiosqlite.Connection) -> None:
    """Routing decisions (written before the call they route) and outcome signals."""
    await db.execute(
        """
        CREATE TABLE decisions (
            id TEXT PRIMARY KEY,
            created_at REAL NOT NULL,
            conversation_id TEXT,
            agent_no INTEGER,
            call_kind TEXT NOT NULL,
            strategy TEXT NOT NULL,
            chosen_tier TEXT,
            chosen_model TEXT NOT NULL,
            configured_model TEXT,
            score REAL,
            top_features TEXT NOT NULL DEFAULT '[]',
            candidates TEXT NOT NULL DEFAULT '[]',
            reason TEXT NOT NULL DEFAULT '',
            applied INTEGER NOT NULL DEFAULT 1,
            extra TEXT NOT NULL DEFAULT '{}'
        )
        """
    )
    await db.execute(
        """
        CREATE TABLE signals (
            id INTEGER PRIMARY KEY,
            decision_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            created_at REAL NOT NULL,
            detail TEXT NOT NULL DEFAULT '',
            UNIQUE (decision_id, kind, created_at, detail)
        )
        """
    )


@migration
async def m003_budgets(db: aiosqlite.Connection) -> None:
    """Reservations held by budget checks, fired alerts, and budgets set at run time."""
    await db.execute(
        """
        CREATE TABLE reservations (
            id TEXT PRIMARY KEY,
            created_at REAL NOT NULL,
            expires_at REAL NOT NULL,
            model TEXT NOT NULL,
            conversation_id TEXT,
            call_kind TEXT NOT NULL,
            amount_usd REAL NOT NULL,
            input_tokens INTEGER NOT NULL,
            output_tokens INTEGER NOT NULL,
            status TEXT NOT NULL DEFAULT 'open',
            call_id TEXT,
            settled_at REAL
        )
        """
    )
    await db.execute(
        """
        CREATE TABLE alerts (
            id INTEGER PRIMARY KEY,
            budget_key TEXT NOT NULL,
            period_key TEXT NOT NULL,
            threshold REAL NOT NULL,
            fired_at REAL NOT NULL,
            spent_usd REAL NOT NULL,
            limit_usd REAL NOT NULL,
            message TEXT NOT NULL,
            UNIQUE (budget_key, period_key, threshold)
        )
        """
    )
    await db.execute(
        """
        CREATE TABLE budget_overrides (
            key TEXT PRIMARY KEY,
            config TEXT NOT NULL,
            updated_at REAL NOT NULL
        )
        """
    )


@migration
async def m004_kv_cache(db: aiosqlite.Connection) -> None:
    """A small key-value cache (e.g. utility-model summaries keyed by content hash)."""
    await db.execute(
        """
        CREATE TABLE kv_cache (
            namespace TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (namespace, key)
        )
        """
    )


@migration
async def m005_indexes(db: aiosqlite.Connection) -> None:
    """Indexes for report ranges, spend sums, quotas and reservation scans.

    The three spend indexes end with (outcome, cost_usd) so that spend sums over calls
    (conversation budgets, unaligned windows) read the index alone, never the rows.
    """
    for statement in (
        "CREATE INDEX idx_calls_started_at ON calls (started_at, outcome, cost_usd)",
        "CREATE INDEX idx_calls_conversation "
        "ON calls (conversation_id, started_at, outcome, cost_usd)",
        "CREATE INDEX idx_calls_model ON calls (model, started_at, outcome, cost_usd)",
        "CREATE INDEX idx_calls_provider ON calls (provider, started_at)",
        "CREATE INDEX idx_calls_decision ON calls (decision_id)",
        "CREATE INDEX idx_decisions_created_at ON decisions (created_at)",
        "CREATE INDEX idx_decisions_conversation ON decisions (conversation_id)",
        "CREATE INDEX idx_signals_decision ON signals (decision_id)",
        "CREATE INDEX idx_signals_created_at ON signals (created_at)",
        "CREATE INDEX idx_reservations_open ON reservations (status, expires_at)",
    ):
        await db.execute(statement)


# the width of a spend bucket (both backends' schema and spend queries share it)

_COUNTED_NEW = "NEW.outcome != 'pending' AND NEW.cost_usd IS NOT NULL"
_COUNTED_OLD = "OLD.outcome != 'pending' AND OLD.cost_usd IS NOT NULL"
_SAME_CONTRIBUTION = (
    f"({_COUNTED_OLD} AND {_COUNTED_NEW} AND OLD.model = NEW.model "
    f"AND OLD.cost_usd = NEW.cost_usd "
    f"AND CAST(OLD.started_at / {SPEND_BUCKET_S} AS INTEGER) "
    f"= CAST(NEW.started_at / {SPEND_BUCKET_S} AS INTEGER))"
)
_ADD_NEW = (
    "INSERT INTO spend_buckets (bucket, model, cost_usd) "
    f"SELECT CAST(NEW.started_at / {SPEND_BUCKET_S} AS INTEGER), NEW.model, NEW.cost_usd "
    f"WHERE {_COUNTED_NEW} "
    "ON CONFLICT (bucket, model) DO UPDATE SET cost_usd = cost_usd + excluded.cost_usd;"
)


@migration
async def m006_spend_buckets(db: aiosqlite.Connection) -> None:
    """Spend per 15-minute bucket and model, kept by triggers in the same transaction as the
    call rows, so a daily or monthly budget check sums at most a few thousand buckets
    instead of every call of the period. Backfilled from the calls already stored."""
    await db.execute(
        """
        CREATE TABLE spend_buckets (
            bucket INTEGER NOT NULL,
            model TEXT NOT NULL,
            cost_usd REAL NOT NULL,
            PRIMARY KEY (bucket, model)
        ) WITHOUT ROWID
        """
    )
    await db.execute(
        f"CREATE TRIGGER calls_spend_insert AFTER INSERT ON calls WHEN {_COUNTED_NEW} "
        f"BEGIN {_ADD_NEW} END"
    )
    await db.execute(
        "CREATE TRIGGER calls_spend_update AFTER UPDATE ON calls "
        f"WHEN (({_COUNTED_OLD}) OR ({_COUNTED_NEW})) AND NOT {_SAME_CONTRIBUTION} "
        "BEGIN "
        "UPDATE spend_buckets SET cost_usd = cost_usd - OLD.cost_usd "
        f"WHERE {_COUNTED_OLD} AND bucket = CAST(OLD.started_at / {SPEND_BUCKET_S} AS INTEGER) "
        "AND model = OLD.model; "
        f"{_ADD_NEW} END"
    )
    await db.execute(
        "INSERT INTO spend_buckets (bucket, model, cost_usd) "
        f"SELECT CAST(started_at / {SPEND_BUCKET_S} AS INTEGER), model, SUM(cost_usd) "
        "FROM calls WHERE outcome != 'pending' AND cost_usd IS NOT NULL "
        f"GROUP BY CAST(started_at / {SPEND_BUCKET_S} AS INTEGER), model"
    )


@migration
async def m007_pending_index(db: aiosqlite.Connection) -> None:
    """A partial index of the calls still pending, by start time.

    Closing the rows left pending by killed processes runs every time a process starts
    writing; with this index it reads only the pending rows (a handful), never the whole
    history of calls.
    """
    await db.execute(
        "CREATE INDEX idx_calls_pending ON calls (started_at) WHERE outcome = 'pending'"
    )


@migration
async def m008_price_version(db: aiosqlite.Connection) -> None:
    """Which litellm release's price map priced each call (`price_version`): prices now come
    from the installed litellm map or from the newer snapshot shipped in the package, and
    `price_source` ('litellm', 'snapshot', 'override') with this column says which."""
    await db.execute("ALTER TABLE calls ADD COLUMN price_version TEXT")


@migration
async def m009_quota_holds(db: aiosqlite.Connection) -> None:
    """One row per call a quota admitted, taken atomically with the check (issue #10).

    Quotas used to count committed calls only, so a burst of concurrent calls all saw the
    same room: a 10 requests/minute quota let 40 of 40 through. A check now counts the
    larger of the committed calls and these holds in the window, and adds its own hold in
    the same `BEGIN IMMEDIATE` transaction. Old holds are deleted as new ones are taken.
    """
    await db.execute(
        """
        CREATE TABLE quota_holds (
            id INTEGER PRIMARY KEY,
            quota_key TEXT NOT NULL,
            created_at REAL NOT NULL,
            requests INTEGER NOT NULL,
            tokens INTEGER NOT NULL
        )
        """
    )
    await db.execute("CREATE INDEX idx_quota_holds ON quota_holds (quota_key, created_at)")


@migration
async def m011_report_rollup(db: aiosqlite.Connection) -> None:
    """The report rollup (`report_rollup`, see :mod:`agent_routing.ledger.report_rollup`):
    per UTC hour sums and latency histograms of the calls by model, kind, tool, tier and
    conversation, kept exact by triggers on `calls`, backfilled here from the calls already
    stored. Named m011 as on PostgreSQL (whose m010 is an index SQLite does not need)."""
    for statement in sqlite_statements():
        await db.execute(statement)


@migration
async def m012_report_task_last(db: aiosqlite.Connection) -> None:
    """Each conversation's last finished call (`report_task_last`, kept by triggers on
    `calls`), so the report's tasks figure needs no seek per conversation; backfilled."""
    for statement in task_last_sqlite_statements():
        await db.execute(statement)


async def applied_migrations(db: aiosqlite.Connection) -> set[str]:
    """Names of the migrations already applied (empty for a blank database)."""
    async with db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?", (BOOKKEEPING_TABLE,)
    ) as cursor:
        if await cursor.fetchone() is None:
            return set()
    async with db.execute(f"SELECT name FROM {BOOKKEEPING_TABLE}") as cursor:
        return {str(row[0]) for row in await cursor.fetchall()}


async def migrate(
    db: aiosqlite.Connection, migrations: Sequence[Migration] | None = None
) -> list[str]:
    """Apply pending migrations in order; return the names applied (empty = no-op).

    `db` must be in autocommit mode (`isolation_level=None`): each migration runs inside
    its own explicit `BEGIN IMMEDIATE ... COMMIT` together with its bookkeeping row.
    `migrations` defaults to :data:`MIGRATIONS`.
    """
    if migrations is None:
        migrations = MIGRATIONS
    if {function.__name__ for function in migrations} <= await applied_migrations(db):
        return []  # the common case: nothing to do, and no write lock taken
    applied_now: list[str] = []
    for function in migrations:
        name = function.__name__
        await db.execute("BEGIN IMMEDIATE")
        try:
            await db.execute(
                f"CREATE TABLE IF NOT EXISTS {BOOKKEEPING_TABLE} "
                "(name TEXT PRIMARY KEY, applied_at REAL NOT NULL)"
            )
            async with db.execute(
                f"SELECT 1 FROM {BOOKKEEPING_TABLE} WHERE name = ?", (name,)
            ) as cursor:
                already = await cursor.fetchone() is not None
            if not already:
                await function(db)
                await db.execute(
                    f"INSERT INTO {BOOKKEEPING_TABLE} (name, applied_at) VALUES (?, ?)",
                    (name, time.time()),
                )
                applied_now.append(name)
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
    return applied_now
