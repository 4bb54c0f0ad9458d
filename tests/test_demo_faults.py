"""`agent-routing demo --db FILE` deletes only a ledger the demo itself created."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from agent_routing.config import BudgetConfig
from agent_routing.demo import fresh_demo_ledger, is_demo_ledger
from agent_routing.errors import ConfigError
from agent_routing.ledger import SQLiteLedger, run_sync


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _real_ledger(path: Path) -> None:
    async def make() -> None:
        async with SQLiteLedger(path) as ledger:
            await ledger.save_budget(BudgetConfig(scope="daily", limit_usd=5.0))

    run_sync(make())


def _demo(db: Path, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent_routing.cli", "demo", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=240,
        env={"PATH": "", "AGENT_ROUTING_HOME": str(home), "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
        check=False,
    )


@pytest.mark.slow
def test_the_demo_refuses_a_real_ledger_and_leaves_it_intact(tmp_path: Path) -> None:
    """A real ledger holding a budget: exit 2 naming the file; file and budget untouched
    (before: deleted with its -wal/-shm without asking)."""
    db = tmp_path / "ledger.db"
    _real_ledger(db)
    before = _digest(db)
    done = _demo(db, tmp_path / "home")
    assert done.returncode == 2, done.stderr
    assert str(db) in done.stderr
    assert "Traceback" not in done.stderr
    assert _digest(db) == before

    async def stored() -> list[str]:
        async with SQLiteLedger(db) as ledger:
            return [budget.key for budget in await ledger.stored_budgets()]

    assert run_sync(stored()) == ["daily:*"]


@pytest.mark.parametrize("content", [b"my notes\n", b""])
def test_the_demo_refuses_any_other_file(tmp_path: Path, content: bytes) -> None:
    """A text file (or an empty one) at --db is refused naming `db`, and kept."""
    db = tmp_path / "notes.txt"
    db.write_bytes(content)
    with pytest.raises(ConfigError, match="not a ledger made by the demo"):
        fresh_demo_ledger(db)
    assert db.read_bytes() == content


def test_a_stray_wal_file_is_not_deleted(tmp_path: Path) -> None:
    """A -wal without its ledger belongs to someone else: refused, kept."""
    db = tmp_path / "demo.db"
    Path(f"{db}-wal").write_bytes(b"x")
    with pytest.raises(ConfigError, match="without its ledger"):
        fresh_demo_ledger(db)
    assert Path(f"{db}-wal").read_bytes() == b"x"


def test_the_demo_replaces_its_own_ledger(tmp_path: Path) -> None:
    """A ledger the demo made (marked) is replaced by a fresh marked one."""
    db = tmp_path / "demo.db"
    fresh_demo_ledger(db)
    assert is_demo_ledger(db)

    async def add_budget() -> None:
        async with SQLiteLedger(db) as ledger:
            await ledger.save_budget(BudgetConfig(scope="daily", limit_usd=1.0))

    run_sync(add_budget())
    fresh_demo_ledger(db)
    assert is_demo_ledger(db)

    async def stored() -> int:
        async with SQLiteLedger(db) as ledger:
            return len(await ledger.stored_budgets())

    assert run_sync(stored()) == 0


def test_a_demo_ledger_from_before_the_mark_is_still_replaced(tmp_path: Path) -> None:
    """A ledger holding only demo calls (an older demo's file, unmarked) is the demo's;
    one more call from a real chat makes it a ledger the demo must not touch."""
    import time

    from agent_routing.ids import new_id
    from agent_routing.ledger import LedgerWriter
    from agent_routing.records import CallRecord, Outcome

    db = tmp_path / "demo.db"

    def write(conversation_id: str) -> None:
        writer = LedgerWriter(db)
        writer.submit(
            CallRecord(
                id=new_id(),
                started_at=time.time(),
                model="gpt-4o-mini",
                outcome=Outcome.OK,
                conversation_id=conversation_id,
            )
        )
        assert writer.close(10)

    write("demo-1a2b3c4d")
    assert is_demo_ledger(db)
    write("my-chat")
    assert not is_demo_ledger(db)
    with pytest.raises(ConfigError):
        fresh_demo_ledger(db)
