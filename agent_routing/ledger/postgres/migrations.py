"""Numbered schema migrations of the PostgreSQL ledger: the SQLite schema, in PostgreSQL.

Same tables, columns and meaning as :mod:`agent_routing.ledger.sqlite.migrations` (so
:mod:`agent_routing.ledger.rows` and the merge rules serve both backends), with
PostgreSQL types: times are `double precision` Unix seconds, JSON is kept as text.

Each migration and its bookkeeping row in `_routing_migrations(name, applied_at)` commit
together in one transaction (PostgreSQL DDL is transactional), and the whole run holds a
session advisory lock, so any number of processes on any number of machines may start
against a fresh database at once: one migrates, the others wait, then find every row and
skip. Never edit a migration that has shipped; add a new one.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from agent_routing.ledger.queries import SPEND_BUCKET_S
from agent_routing.ledger.report_rollup import (
    postgres_statements,
    task_last_postgres_statements,
)
from agent_routing.ledger.sqlite.migrations import BOOKKEEPING_TABLE

MIGRATION_LOCK_KEY = 0x41_52_5F_4D_49_47  # "AR_MIG": one advisory lock for the whole run

_COUNTED = "{row}.outcome <> 'pending' AND {row}.cost_usd IS NOT NULL"
_BUCKET = f"floor({{row}}.started_at / {SPEND_BUCKET_S})::bigint"

PG_MIGRATIONS: list[tuple[str, tuple[str, ...]]] = [
    (
        "m001_calls",
        (
            """
            CREATE TABLE calls (
                id TEXT PRIMARY KEY,
                started_at DOUBLE PRECISION NOT NULL,
                model TEXT NOT NULL,
                provider TEXT,
                call_kind TEXT NOT NULL,
                conversation_id TEXT,
                agent_no BIGINT,
                tool TEXT,
                decision_id TEXT,
                tier TEXT,
                reservation_id TEXT,
                attempt INTEGER NOT NULL DEFAULT 0,
                stream INTEGER,
                ended_at DOUBLE PRECISION,
                latency_ms DOUBLE PRECISION,
                outcome TEXT NOT NULL,
                error_class TEXT,
                error_message TEXT,
                input_tokens BIGINT,
                output_tokens BIGINT,
                cached_read_tokens BIGINT,
                cache_creation_tokens BIGINT,
                reasoning_tokens BIGINT,
                usage_source TEXT,
                usage_rank INTEGER,
                price_input DOUBLE PRECISION,
                price_output DOUBLE PRECISION,
                price_cache_read DOUBLE PRECISION,
                price_cache_creation DOUBLE PRECISION,
                price_reasoning DOUBLE PRECISION,
                price_source TEXT,
                price_model_key TEXT,
                cost_usd DOUBLE PRECISION,
                tokens_saved BIGINT,
                usd_saved DOUBLE PRECISION,
                state_rank INTEGER NOT NULL DEFAULT 0,
                extra TEXT NOT NULL DEFAULT '{}',
                updated_at DOUBLE PRECISION NOT NULL
            )
            """,
        ),
    ),
    (
        "m002_decisions_signals",
        (
            """
            CREATE TABLE decisions (
                id TEXT PRIMARY KEY,
                created_at DOUBLE PRECISION NOT NULL,
                conversation_id TEXT,
                agent_no BIGINT,
                call_kind TEXT NOT NULL,
                strategy TEXT NOT NULL,
                chosen_tier TEXT,
                chosen_model TEXT NOT NULL,
                configured_model TEXT,
                score DOUBLE PRECISION,
                top_features TEXT NOT NULL DEFAULT '[]',
                candidates TEXT NOT NULL DEFAULT '[]',
                reason TEXT NOT NULL DEFAULT '',
                applied INTEGER NOT NULL DEFAULT 1,
                extra TEXT NOT NULL DEFAULT '{}'
            )
            """,
            """
            CREATE TABLE signals (
                id BIGSERIAL PRIMARY KEY,
                decision_id TEXT NOT NULL,
                kind TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                detail TEXT NOT NULL DEFAULT '',
                UNIQUE (decision_id, kind, created_at, detail)
            )
            """,
        ),
    ),
    (
        "m003_budgets",
        (
            """
            CREATE TABLE reservations (
                id TEXT PRIMARY KEY,
                created_at DOUBLE PRECISION NOT NULL,
                expires_at DOUBLE PRECISION NOT NULL,
                model TEXT NOT NULL,
                conversation_id TEXT,
                call_kind TEXT NOT NULL,
                amount_usd DOUBLE PRECISION NOT NULL,
                input_tokens BIGINT NOT NULL,
                output_tokens BIGINT NOT NULL,
                status TEXT NOT NULL DEFAULT 'open',
                call_id TEXT,
                settled_at DOUBLE PRECISION
            )
            """,
            """
            CREATE TABLE alerts (
                id BIGSERIAL PRIMARY KEY,
                budget_key TEXT NOT NULL,
                period_key TEXT NOT NULL,
                threshold DOUBLE PRECISION NOT NULL,
                fired_at DOUBLE PRECISION NOT NULL,
                spent_usd DOUBLE PRECISION NOT NULL,
                limit_usd DOUBLE PRECISION NOT NULL,
                message TEXT NOT NULL,
                UNIQUE (budget_key, period_key, threshold)
            )
            """,
            """
            CREATE TABLE budget_overrides (
                key TEXT PRIMARY KEY,
                config TEXT NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL
            )
            """,
        ),
    ),
    (
        "m004_kv_cache",
        (
            """
            CREATE TABLE kv_cache (
                namespace TEXT NOT NULL,
                key TEXT NOT NULL,
                value TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (namespace, key)
            )
            """,
        ),
    ),
    (
        "m005_indexes",
        (
            "CREATE INDEX idx_calls_started_at ON calls (started_at) INCLUDE (outcome, cost_usd)",
            "CREATE INDEX idx_calls_conversation "
            "ON calls (conversation_id, started_at) INCLUDE (outcome, cost_usd)",
            "CREATE INDEX idx_calls_model ON calls (model, started_at) INCLUDE (outcome, cost_usd)",
            "CREATE INDEX idx_calls_provider ON calls (provider, started_at)",
            "CREATE INDEX idx_calls_decision ON calls (decision_id)",
            "CREATE INDEX idx_decisions_created_at ON decisions (created_at)",
            "CREATE INDEX idx_decisions_conversation ON decisions (conversation_id)",
            "CREATE INDEX idx_signals_decision ON signals (decision_id)",
            "CREATE INDEX idx_signals_created_at ON signals (created_at)",
            "CREATE INDEX idx_reservations_open ON reservations (status, expires_at)",
        ),
    ),
    (
        "m006_spend_buckets",
        (
            """
            CREATE TABLE spend_buckets (
                bucket BIGINT NOT NULL,
                model TEXT NOT NULL,
                cost_usd DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (bucket, model)
            )
            """,
            f"""
            CREATE FUNCTION routing_calls_spend() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'UPDATE' AND {_COUNTED.format(row="OLD")} THEN
                    IF {_COUNTED.format(row="NEW")} AND OLD.model = NEW.model
                       AND OLD.cost_usd = NEW.cost_usd
                       AND {_BUCKET.format(row="OLD")} = {_BUCKET.format(row="NEW")} THEN
                        RETURN NULL;
                    END IF;
                    UPDATE spend_buckets SET cost_usd = cost_usd - OLD.cost_usd
                    WHERE bucket = {_BUCKET.format(row="OLD")} AND model = OLD.model;
                END IF;
                IF {_COUNTED.format(row="NEW")} THEN
                    INSERT INTO spend_buckets (bucket, model, cost_usd)
                    VALUES ({_BUCKET.format(row="NEW")}, NEW.model, NEW.cost_usd)
                    ON CONFLICT (bucket, model)
                    DO UPDATE SET cost_usd = spend_buckets.cost_usd + EXCLUDED.cost_usd;
                END IF;
                RETURN NULL;
            END
            $$
            """,
            "CREATE TRIGGER calls_spend AFTER INSERT OR UPDATE ON calls "
            "FOR EACH ROW EXECUTE FUNCTION routing_calls_spend()",
            "INSERT INTO spend_buckets (bucket, model, cost_usd) "
            f"SELECT {_BUCKET.format(row='calls')}, model, SUM(cost_usd) FROM calls "
            "WHERE outcome <> 'pending' AND cost_usd IS NOT NULL "
            f"GROUP BY {_BUCKET.format(row='calls')}, model",
        ),
    ),
    (
        "m007_pending_index",
        ("CREATE INDEX idx_calls_pending ON calls (started_at) WHERE outcome = 'pending'",),
    ),
    (
        "m008_price_version",
        ("ALTER TABLE calls ADD COLUMN price_version TEXT",),
    ),
    (
        "m009_quota_holds",
        (
            """
            CREATE TABLE quota_holds (
                id BIGSERIAL PRIMARY KEY,
                quota_key TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                requests INTEGER NOT NULL,
                tokens BIGINT NOT NULL
            )
            """,
            "CREATE INDEX idx_quota_holds ON quota_holds (quota_key, created_at)",
        ),
    ),
    (
        "m010_report_indexes",
        (
            # the report reads every column it aggregates from this index (index-only scans
            # once the table is vacuumed), ordered by time for ranges
            "CREATE INDEX idx_calls_report ON calls (started_at) INCLUDE (model, call_kind, "
            "tool, tier, conversation_id, outcome, attempt, input_tokens, output_tokens, "
            "cached_read_tokens, cost_usd, latency_ms, tokens_saved, usd_saved, id)",
        ),
    ),
    # the report rollup and its triggers (agent_routing.ledger.report_rollup), backfilled
    ("m011_report_rollup", tuple(postgres_statements())),
    # each conversation's last finished call, refreshed by the rollup's fold
    ("m012_report_task_last", tuple(task_last_postgres_statements())),
]
"""(name, statements) in order; every statement of one migration runs in its transaction."""


async def pg_applied(conn: Any) -> set[str]:
    """Names of the migrations already applied (empty for a blank database)."""
    cursor = await conn.execute("SELECT to_regclass(%s)", (BOOKKEEPING_TABLE,))
    row = await cursor.fetchone()
    if row is None or row[0] is None:
        return set()
    cursor = await conn.execute(f"SELECT name FROM {BOOKKEEPING_TABLE}")
    return {str(name) for (name,) in await cursor.fetchall()}


async def pg_migrate(
    conn: Any, migrations: Sequence[tuple[str, Sequence[str]]] | None = None
) -> list[str]:
    """Apply pending migrations in order on an autocommit connection; return the names
    applied (empty = nothing to do, and no lock taken)."""
    if migrations is None:
        migrations = PG_MIGRATIONS
    if {name for name, _ in migrations} <= await pg_applied(conn):
        return []
    applied_now: list[str] = []
    await conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
    try:
        for name, statements in migrations:
            async with conn.transaction():
                await conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {BOOKKEEPING_TABLE} "
                    "(name TEXT PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)"
                )
                cursor = await conn.execute(
                    f"SELECT 1 FROM {BOOKKEEPING_TABLE} WHERE name = %s", (name,)
                )
                if await cursor.fetchone() is not None:
                    continue
                for statement in statements:
                    await conn.execute(statement)
                await conn.execute(
                    f"INSERT INTO {BOOKKEEPING_TABLE} (name, applied_at) VALUES (%s, %s)",
                    (name, time.time()),
                )
                applied_now.append(name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
    return applied_now
