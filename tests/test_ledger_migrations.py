"""Ledger schema: numbered migrations, exact columns, atomic bookkeeping, concurrent migrate."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import aiosqlite
import pytest

from agent_routing.ledger import SQLiteLedger
from agent_routing.ledger.report_sql import SUM_FIELDS
from agent_routing.ledger.sqlite.migrations import MIGRATIONS, applied_migrations, migrate

EXPECTED_COLUMNS = {
    "calls": [
        "id",
        "started_at",
        "model",
        "provider",
        "call_kind",
        "conversation_id",
        "agent_no",
        "tool",
        "decision_id",
        "tier",
        "reservation_id",
        "attempt",
        "stream",
        "ended_at",
        "latency_ms",
        "outcome",
        "error_class",
        "error_message",
        "input_tokens",
        "output_tokens",
        "cached_read_tokens",
        "cache_creation_tokens",
        "reasoning_tokens",
        "usage_source",
        "usage_rank",
        "price_input",
        "price_output",
        "price_cache_read",
        "price_cache_creation",
        "price_reasoning",
        "price_source",
        "price_model_key",
        "cost_usd",
        "tokens_saved",
        "usd_saved",
        "state_rank",
        "extra",
        "updated_at",
        "price_version",  # m008, appended by ALTER TABLE
    ],
    "decisions": [
        "id",
        "created_at",
        "conversation_id",
        "agent_no",
        "call_kind",
        "strategy",
        "chosen_tier",
        "chosen_model",
        "configured_model",
        "score",
        "top_features",
        "candidates",
        "reason",
        "applied",
        "extra",
    ],
    "signals": ["id", "decision_id", "kind", "created_at", "detail"],
    "reservations": [
        "id",
        "created_at",
        "expires_at",
        "model",
        "conversation_id",
        "call_kind",
        "amount_usd",
        "input_tokens",
        "output_tokens",
        "status",
        "call_id",
        "settled_at",
    ],
    "alerts": [
        "id",
        "budget_key",
        "period_key",
        "threshold",
        "fired_at",
        "spent_usd",
        "limit_usd",
        "message",
    ],
    "budget_overrides": ["key", "config", "updated_at"],
    "kv_cache": ["namespace", "key", "value", "created_at"],
    "spend_buckets": ["bucket", "model", "cost_usd"],
    "quota_holds": ["id", "quota_key", "created_at", "requests", "tokens"],
    "report_rollup": ["dim", "hour", "value", "bucket", *SUM_FIELDS],
    "report_task_last": ["conversation_id", "started_at", "id", "outcome"],
    "_routing_migrations": ["name", "applied_at"],
}


def _columns(path: Path) -> dict[str, list[str]]:
    with sqlite3.connect(path) as db:
        tables = [
            row[0]
            for row in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {
            table: [row[1] for row in db.execute(f"PRAGMA table_info({table})")] for table in tables
        }


async def test_migrate_blank(tmp_path: Path) -> None:
    """A blank file migrates to exactly the documented tables and columns, in WAL mode."""
    path = tmp_path / "ledger.db"
    async with SQLiteLedger(path):
        pass
    assert _columns(path) == EXPECTED_COLUMNS
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        triggers = db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall()
        assert sorted(name for (name,) in triggers) == [
            "calls_rollup_delete",
            "calls_rollup_insert",
            "calls_rollup_update",
            "calls_spend_insert",
            "calls_spend_update",
            "calls_task_last_delete",
            "calls_task_last_insert",
            "calls_task_last_update",
        ]
        names = [row[0] for row in db.execute("SELECT name FROM _routing_migrations ORDER BY name")]
    assert names == [function.__name__ for function in MIGRATIONS]
    assert names == sorted(names), "migrations are numbered in the order they run"


@pytest.mark.parametrize(
    "where",
    [
        "started_at >= 0 AND started_at < 1",
        "model = 'm' AND started_at >= 0 AND started_at < 1",
        "conversation_id = 'c'",
    ],
)
async def test_spend_sums_read_only_an_index(tmp_path: Path, where: str) -> None:
    """Budget spend sums (daily, per model, per conversation) are answered from a covering
    index, without touching table rows: a budget check stays cheap as calls accumulate."""
    path = tmp_path / "ledger.db"
    async with SQLiteLedger(path):
        pass
    with sqlite3.connect(path) as db:
        plan = db.execute(
            "EXPLAIN QUERY PLAN SELECT COALESCE(SUM(cost_usd), 0.0) FROM calls "
            f"WHERE outcome != 'pending' AND {where}"
        ).fetchall()
    assert "USING COVERING INDEX" in " ".join(str(row[-1]) for row in plan)


async def test_migration_names_are_numbered_and_unique() -> None:
    """Every migration is called mNNN_<what> with a number used once."""
    numbers = [function.__name__[:4] for function in MIGRATIONS]
    assert all(n[0] == "m" and n[1:].isdigit() for n in numbers)
    assert len(set(numbers)) == len(numbers)


async def test_second_migrate_is_a_noop(tmp_path: Path) -> None:
    """Migrating an up-to-date file applies nothing and leaves the bookkeeping rows as they were."""
    path = tmp_path / "ledger.db"
    async with SQLiteLedger(path):
        pass
    with sqlite3.connect(path) as db:
        before = db.execute("SELECT name, applied_at FROM _routing_migrations").fetchall()
    async with aiosqlite.connect(path, isolation_level=None) as db:
        assert await migrate(db) == []
    async with SQLiteLedger(path):
        pass
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT name, applied_at FROM _routing_migrations").fetchall() == before


async def test_failed_migration_leaves_neither_table_nor_bookkeeping_row(tmp_path: Path) -> None:
    """A migration that fails half-way rolls back its DDL together with its bookkeeping row."""

    async def m001_good(db: aiosqlite.Connection) -> None:
        await db.execute("CREATE TABLE good (x INTEGER)")

    async def m002_broken(db: aiosqlite.Connection) -> None:
        await db.execute("CREATE TABLE half (x INTEGER)")
        await db.execute("INSERT INTO no_such_table VALUES (1)")

    async with aiosqlite.connect(tmp_path / "x.db", isolation_level=None) as db:
        with pytest.raises(sqlite3.OperationalError):
            await migrate(db, [m001_good, m002_broken])
        assert await applied_migrations(db) == {"m001_good"}
        tables = {row[0] for row in await db.execute_fetchall("SELECT name FROM sqlite_master")}
        assert "good" in tables
        assert "half" not in tables
        assert not db.in_transaction

        async def m002_fixed(db: aiosqlite.Connection) -> None:
            await db.execute("CREATE TABLE half (x INTEGER)")

        m002_fixed.__name__ = "m002_broken"
        assert await migrate(db, [m001_good, m002_fixed]) == ["m002_broken"]


@pytest.mark.slow
def test_processes_migrating_the_same_file_at_once_are_safe(tmp_path: Path) -> None:
    """Six processes opening one fresh file together all succeed and each migration runs once."""
    path = tmp_path / "ledger.db"
    code = (
        "import asyncio, sys\n"
        "from agent_routing.ledger import SQLiteLedger\n"
        "async def main():\n"
        "    async with SQLiteLedger(sys.argv[1]):\n"
        "        pass\n"
        "asyncio.run(main())\n"
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", code, str(path)], stderr=subprocess.PIPE)
        for _ in range(6)
    ]
    for process in processes:
        _, err = process.communicate(timeout=60)
        assert process.returncode == 0, err.decode()
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT name, COUNT(*) FROM _routing_migrations GROUP BY name").fetchall()
    assert dict(rows) == {function.__name__: 1 for function in MIGRATIONS}
    assert _columns(path) == EXPECTED_COLUMNS
