"""The background writer: fast submit, batching, no loss under contention, crashes and locks."""

from __future__ import annotations

import asyncio
import logging
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from agent_routing.config import LedgerSettings
from agent_routing.ids import new_id
from agent_routing.ledger import LedgerWriter, SQLiteLedger, get_writer, run_sync
from agent_routing.protocols import CallSink
from agent_routing.records import CallRecord, DecisionRecord, Outcome, OutcomeSignal, Usage

FAST = LedgerSettings(flush_interval_ms=20, batch_size=500)


def call(call_id: str | None = None, **fields: object) -> CallRecord:
    values: dict[str, object] = {"model": "gpt-4o-mini", "outcome": Outcome.OK}
    values.update(fields)
    return CallRecord(id=call_id or new_id(), started_at=time.time(), **values)


def count_rows(path: Path, table: str = "calls") -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def stored_ids(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {row[0] for row in db.execute("SELECT id FROM calls")}


def run_child(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_writer_is_a_call_sink(tmp_path: Path) -> None:
    """LedgerWriter implements the CallSink protocol the capture and router parts use."""
    assert isinstance(LedgerWriter(tmp_path / "ledger.db", FAST), CallSink)


def test_submit_then_flush_commits_calls_decisions_and_signals(tmp_path: Path) -> None:
    """Everything submitted before flush() is committed when it returns True."""
    path = tmp_path / "ledger.db"
    writer = LedgerWriter(path, FAST)
    for index in range(1200):
        writer.submit(call(f"c{index:05d}"))
    writer.submit_decision(
        DecisionRecord("d1", time.time(), "conv", 0, "chat", "balanced", "cheap", "m", None, 0.2)
    )
    writer.submit_signal(OutcomeSignal("d1", "success", time.time()))
    assert writer.flush(timeout=30) is True
    assert count_rows(path) == 1200
    assert count_rows(path, "decisions") == 1
    assert count_rows(path, "signals") == 1
    stats = writer.stats()
    assert (stats.submitted, stats.committed, stats.rejected) == (1202, 1202, 0)
    assert stats.batches >= 3, "batch_size=500 splits 1,202 records into several transactions"
    assert writer.close(timeout=10) is True


def test_flush_with_nothing_submitted_returns_at_once(tmp_path: Path) -> None:
    """A writer with nothing pending reports flushed without creating the file."""
    path = tmp_path / "ledger.db"
    writer = LedgerWriter(path, FAST)
    assert writer.flush(timeout=0) is True
    assert not path.exists()


async def test_submit_from_a_running_loop_and_from_threads(tmp_path: Path) -> None:
    """Submits from the event loop and from four plain threads all land; aflush does not block."""
    path = tmp_path / "ledger.db"
    writer = LedgerWriter(path, FAST)

    def from_thread(prefix: str) -> None:
        for index in range(250):
            writer.submit(call(f"{prefix}-{index}"))

    threads = [threading.Thread(target=from_thread, args=(f"t{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for index in range(250):
        writer.submit(call(f"loop-{index}"))
        if index % 50 == 0:
            await asyncio.sleep(0)
    for thread in threads:
        thread.join()
    assert await writer.aflush(timeout_s=30) is True
    assert count_rows(path) == 1250
    await asyncio.to_thread(writer.close, 10)


def test_repeated_events_of_a_call_merge_into_one_row(tmp_path: Path) -> None:
    """Open and end events of one call submitted in a row end as a single ended row."""
    path = tmp_path / "ledger.db"
    writer = LedgerWriter(path, FAST)
    writer.submit(call("same", outcome=Outcome.PENDING, usage=Usage(100)))
    writer.submit(call("same", outcome=Outcome.OK, usage=Usage(100, 40)))
    assert writer.flush(timeout=10)

    async def read() -> CallRecord | None:
        async with SQLiteLedger(path) as ledger:
            return await ledger.get_call("same")

    stored = run_sync(read())
    assert stored is not None
    assert (stored.outcome, stored.usage) == (Outcome.OK, Usage(100, 40))
    assert count_rows(path) == 1


def test_a_rejected_record_does_not_block_the_others(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A record the schema refuses is logged with its id and dropped; its batch-mates land."""
    path = tmp_path / "ledger.db"
    writer = LedgerWriter(path, LedgerSettings(flush_interval_ms=500, batch_size=500))
    with caplog.at_level(logging.ERROR, logger="agent_routing.ledger"):
        writer.submit(call("before"))
        writer.submit(call("poison", model=None))
        writer.submit(call("after"))
        assert writer.flush(timeout=30) is True
    assert stored_ids(path) == {"before", "after"}
    assert writer.stats().rejected == 1
    assert "poison" in caplog.text


def test_submit_never_raises_when_no_thread_can_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the system refuses a thread, submit() still returns and keeps the record queued;
    a later flush starts the thread and writes it."""
    path = tmp_path / "ledger.db"
    writer = LedgerWriter(path, FAST)
    real_start = threading.Thread.start

    def refuse(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    writer.submit(call("queued"))
    assert writer.stats().submitted == 1
    monkeypatch.setattr(threading.Thread, "start", real_start)
    assert writer.flush(timeout=10) is True
    assert stored_ids(path) == {"queued"}


def test_close_then_submit_starts_a_new_thread(tmp_path: Path) -> None:
    """A writer closed (e.g. at exit) still writes records submitted afterwards."""
    path = tmp_path / "ledger.db"
    writer = LedgerWriter(path, FAST)
    writer.submit(call("one"))
    assert writer.close(timeout=10) is True
    writer.submit(call("two"))
    assert writer.flush(timeout=10) is True
    assert stored_ids(path) == {"one", "two"}


def test_get_writer_is_one_per_resolved_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same file reached by two spellings shares one writer; another file gets its own."""
    monkeypatch.chdir(tmp_path)
    first = get_writer(Path("ledger.db"), FAST)
    assert get_writer(tmp_path / "sub" / ".." / "ledger.db") is first
    assert get_writer(tmp_path / "other.db") is not first
    settings = LedgerSettings(path=tmp_path / "ledger.db")
    assert get_writer(settings=settings) is first


@pytest.mark.slow
def test_records_left_at_exit_are_flushed(tmp_path: Path) -> None:
    """A process that submits and simply exits (no flush) still commits every record."""
    path = tmp_path / "ledger.db"
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from agent_routing.ledger import get_writer\n"
        "from agent_routing.records import CallRecord\n"
        "writer = get_writer(Path(sys.argv[1]))\n"
        "for i in range(300):\n"
        "    writer.submit(CallRecord(id=f'exit-{i}', started_at=time.time(), model='m'))\n"
    )
    child = run_child(code, str(path))
    _, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert count_rows(path) == 300


FORK_PROCESS = """
import os, sys, time, traceback
from pathlib import Path
from agent_routing.config import LedgerSettings
from agent_routing.ledger import get_writer
from agent_routing.records import CallRecord, Outcome
path = Path(sys.argv[1])
def call(call_id):
    return CallRecord(id=call_id, started_at=time.time(), model="gpt-4o-mini", outcome=Outcome.OK)
writer = get_writer(path, LedgerSettings(flush_interval_ms=2000, batch_size=10_000))
for index in range(100):
    writer.submit(call(f"parent-{index}"))  # still queued: the window is 2 s
parent_thread = writer._thread
pid = os.fork()
if pid == 0:  # the child
    code = 1
    try:
        assert get_writer(path) is writer, "the child got another writer"
        assert writer._thread is None, "the child kept the parent's thread"
        for index in range(50):
            writer.submit(call(f"child-{index}"))
        assert writer.flush(timeout=30), "the child's flush timed out"
        assert writer._thread is not parent_thread, "the child wrote with the parent's thread"
        code = 0
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stderr.flush()
        os._exit(code)
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status), writer.flush(timeout=30))
"""


@pytest.mark.slow
def test_forked_child_uses_its_own_thread(tmp_path: Path) -> None:
    """After fork the child writes its own records with a new thread; the parent's queued
    records are written once, by the parent. (Forked from a fresh process: a fork of the
    test runner would copy locks held by other tests' threads.)"""
    path = tmp_path / "ledger.db"
    done = subprocess.run(
        [sys.executable, "-c", FORK_PROCESS, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", "True"], done.stderr
    ids = stored_ids(path)
    assert len(ids) == 150
    assert {i for i in ids if i.startswith("parent-")} == {f"parent-{i}" for i in range(100)}


WRITER_PROCESS = """
import sys, time
from pathlib import Path
from agent_routing.config import LedgerSettings
from agent_routing.ledger import get_writer
from agent_routing.records import CallRecord, Outcome, Usage
path, tag, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
writer = get_writer(path, LedgerSettings(flush_interval_ms=50, batch_size=500))
for i in range(count):
    record_id = f"{tag}-{i:06d}"
    writer.submit(CallRecord(id=record_id, started_at=time.time(), model="m",
                             outcome=Outcome.PENDING, usage=Usage(10)))
    if i % 10 == 0:  # a second event of the same call: must merge, not duplicate
        writer.submit(CallRecord(id=record_id, started_at=time.time(), model="m",
                                 outcome=Outcome.OK, usage=Usage(10, 5)))
assert writer.flush(timeout=60)
print(writer.stats().committed)
"""


@pytest.mark.slow
def test_eight_processes_write_exactly_once(tmp_path: Path) -> None:
    """8 writer processes x 2,000 calls (plus repeated events) into one file: exact count,
    every id present once."""
    path = tmp_path / "ledger.db"
    processes = [run_child(WRITER_PROCESS, str(path), f"p{n}", "2000") for n in range(8)]
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        assert int(out) == 2200  # 2,000 opens + 200 repeated end events committed
    expected = {f"p{n}-{i:06d}" for n in range(8) for i in range(2000)}
    assert count_rows(path) == 16_000
    assert stored_ids(path) == expected
    with sqlite3.connect(path) as db:
        merged = db.execute("SELECT COUNT(*) FROM calls WHERE outcome = 'ok'").fetchone()[0]
    assert merged == 8 * 200


CRASHING_WRITER = """
import sys, time
from pathlib import Path
from agent_routing.config import LedgerSettings
from agent_routing.ledger import get_writer
from agent_routing.records import CallRecord
writer = get_writer(Path(sys.argv[1]), LedgerSettings(flush_interval_ms=5, batch_size=50))
n = 0
while True:
    ids = [f"k-{n + i}" for i in range(25)]
    for record_id in ids:
        writer.submit(CallRecord(id=record_id, started_at=time.time(), model="m"))
    n += 25
    if writer.flush(timeout=30):
        print(" ".join(ids), flush=True)
"""


@pytest.mark.slow
def test_sigkill_mid_run_keeps_every_acknowledged_record(tmp_path: Path) -> None:
    """A writer killed with SIGKILL leaves an intact file holding every id it acknowledged."""
    path = tmp_path / "ledger.db"
    child = run_child(CRASHING_WRITER, str(path))
    acknowledged: set[str] = set()
    assert child.stdout is not None
    while len(acknowledged) < 1500:
        line = child.stdout.readline()
        assert line, child.stderr.read() if child.stderr else "writer exited"
        acknowledged.update(line.split())
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    stored = stored_ids(path)
    assert acknowledged <= stored
    assert len(stored) >= len(acknowledged)


LOCK_HOLDER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()  # hold the lock until the test says "release"
db.execute("COMMIT")
print("released", flush=True)
"""


@pytest.mark.slow
async def test_locked_database_makes_writes_wait_not_fail(tmp_path: Path) -> None:
    """While another process holds the write lock, submit() keeps returning at
    once, nothing is committed, and once the lock is released every record lands."""
    path = tmp_path / "ledger.db"
    async with SQLiteLedger(path):
        pass  # create and migrate the file first
    holder = run_child(LOCK_HOLDER, str(path))
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    writer = LedgerWriter(path, LedgerSettings(busy_timeout_ms=100, flush_interval_ms=10))
    for index in range(500):
        writer.submit(call(f"l-{index}"))
    submits_done_while_locked = holder.poll() is None
    assert await writer.aflush(timeout_s=0.5) is False  # still locked: nothing committed
    assert holder.poll() is None
    assert submits_done_while_locked
    out, _ = await asyncio.to_thread(holder.communicate, "release\n", timeout=30)
    assert "released" in out
    assert await writer.aflush(timeout_s=30) is True
    assert count_rows(path) == 500
    assert writer.stats().retries > 0, "busy_timeout 100 ms < the lock: the writer retried"
    await asyncio.to_thread(writer.close, 10)
