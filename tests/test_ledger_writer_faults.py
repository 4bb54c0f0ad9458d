"""No record lost under file faults: a deleted ledger is detected and recreated, a lone
surrogate is stored, and flush() acknowledges litellm's own callbacks (200 real calls)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_routing._litellm import litellm_module
from agent_routing.budgets import Budgets
from agent_routing.capture import CaptureHandle, enable_capture
from agent_routing.config import BudgetConfig, LedgerSettings, Settings
from agent_routing.ids import new_id
from agent_routing.ledger import LedgerWriter, SQLiteLedger, run_sync
from agent_routing.records import CallRecord, DecisionRecord, Outcome, Usage

FAST = LedgerSettings(flush_interval_ms=20, batch_size=500)


def _call(**fields: object) -> CallRecord:
    values: dict[str, object] = {"model": "gpt-4o-mini", "outcome": Outcome.OK}
    values.update(fields)
    return CallRecord(id=new_id(), started_at=time.time(), **values)


def _decision() -> DecisionRecord:
    return DecisionRecord(
        id=new_id(),
        created_at=time.time(),
        conversation_id="c",
        agent_no=0,
        call_kind="chat",
        strategy="balanced",
        chosen_tier="cheap",
        chosen_model="gpt-4o-mini",
        configured_model=None,
        score=None,
    )


def _rows(path: Path, sql: str = "SELECT id FROM calls") -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as db:
        return list(db.execute(sql))


def test_a_deleted_ledger_is_recreated_and_keeps_every_later_record(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Delete the file (and its -wal/-shm) while the writer has it open: the next batch
    notices, logs at ERROR, recreates the ledger and writes there (before: every later
    record went into the unlinked file and was lost without a word)."""
    path = tmp_path / "ledger.db"
    writer = LedgerWriter(path, FAST)
    first = _call()
    writer.submit(first)
    assert writer.flush(10)
    for name in ("ledger.db", "ledger.db-wal", "ledger.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    later = [_call() for _ in range(50)]
    with caplog.at_level(logging.ERROR, logger="agent_routing.ledger"):
        for record in later:
            writer.submit(record)
        writer.submit_decision(_decision())
        assert writer.flush(10)
    assert writer.close(10)
    assert {row[0] for row in _rows(path)} == {record.id for record in later}
    assert len(_rows(path, "SELECT id FROM decisions")) == 1
    assert writer.stats().reopened == 1
    assert "was deleted while in use" in caplog.text


def test_a_replaced_ledger_file_is_reopened(tmp_path: Path) -> None:
    """A file moved away and replaced by another ledger: later records go to the file now
    at the path, the moved one keeps what it had."""
    path = tmp_path / "ledger.db"
    writer = LedgerWriter(path, FAST)
    writer.submit(_call())
    assert writer.flush(10)
    path.rename(tmp_path / "old.db")

    async def fresh() -> None:
        async with SQLiteLedger(path):
            pass

    run_sync(fresh())
    record = _call()
    writer.submit(record)
    assert writer.flush(10)
    assert writer.close(10)
    assert [row[0] for row in _rows(path)] == [record.id]
    assert writer.stats().reopened == 1


def test_a_lone_surrogate_in_conversation_id_is_stored(tmp_path: Path) -> None:
    """A host string that is not valid UTF-8 (a lone surrogate) is stored, escaped, and a
    conversation budget on it still counts (before: the writer rejected and dropped it)."""
    path = tmp_path / "ledger.db"
    odd = "chat-\udcff-\ud800"
    writer = LedgerWriter(path, FAST)
    record = _call(conversation_id=odd, cost_usd=0.5, usage=Usage(10, 10), tool="t\udc80")
    writer.submit(record)
    assert writer.flush(10)
    assert writer.close(10)
    assert writer.stats().rejected == 0
    [(stored,)] = _rows(path, "SELECT conversation_id FROM calls")
    assert stored == "chat-\\udcff-\\ud800"

    async def check() -> tuple[str, list[CallRecord]]:
        settings = Settings(budgets=[BudgetConfig(scope="conversation", limit_usd=0.6)])
        async with SQLiteLedger(path) as ledger:
            verdict = await Budgets(ledger, settings, estimate_cost=lambda *_: 0.2).check(
                model="gpt-4o-mini", conversation_id=odd, input_tokens=10
            )
            return verdict.action, await ledger.query_calls(conversation_id=odd)

    action, calls = run_sync(check())
    assert action == "block"  # $0.50 spent + $0.20 > $0.60: the stored row counts
    assert [call.id for call in calls] == [record.id]


@pytest.fixture
def capture(tmp_path: Path) -> Iterator[tuple[CaptureHandle, Path]]:
    """Capture of real litellm calls (mock_response) into a real ledger file."""
    path = tmp_path / "ledger.db"
    handle = enable_capture(path, settings=Settings(ledger={"path": str(path)}))
    yield handle, path
    handle.close()


async def _two_hundred_calls() -> None:
    litellm = litellm_module()
    await asyncio.gather(
        *(
            litellm.acompletion(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": f"question {n}"}],
                mock_response="answer",
            )
            for n in range(200)
        )
    )


def _outcomes(path: Path) -> dict[str, int]:
    return dict(_rows(path, "SELECT outcome, COUNT(*) FROM calls GROUP BY outcome"))  # type: ignore[arg-type]


async def test_aflush_acknowledges_200_calls_seen_only_through_callbacks(
    capture: tuple[CaptureHandle, Path],
) -> None:
    """Right after 200 concurrent calls, `await aflush()` returns once all 200 rows are
    final (before: 67 of 200 were still pending after flush returned True)."""
    handle, path = capture
    await _two_hundred_calls()
    assert await handle.aflush(30)
    assert _outcomes(path) == {"ok": 200}
    assert handle.pending_callbacks() == 0


async def test_flush_from_another_thread_acknowledges_them_too(
    capture: tuple[CaptureHandle, Path],
) -> None:
    """A blocking flush() from another thread (the API's way) waits for them as well."""
    handle, path = capture
    await _two_hundred_calls()
    assert await asyncio.to_thread(handle.flush, 30)
    assert _outcomes(path) == {"ok": 200}


async def test_flush_on_the_callbacks_own_loop_says_it_cannot_acknowledge(
    capture: tuple[CaptureHandle, Path],
) -> None:
    """A blocking flush() on the loop that must run the callbacks cannot wait for them:
    it returns False instead of a True that would not be true."""
    handle, path = capture
    await _two_hundred_calls()
    if handle.pending_callbacks() == 0:
        pytest.skip("litellm ran every callback before the flush")
    assert handle.flush(5) is False
    assert await handle.aflush(30)
    assert _outcomes(path) == {"ok": 200}
