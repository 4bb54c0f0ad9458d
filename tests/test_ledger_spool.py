"""No record is lost when a process ends before its ledger can be written: what the writer
still holds at exit goes to the spool, and the next writer of that ledger writes it."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from agent_routing.ledger import SQLiteLedger, spool
from agent_routing.ledger.writer import LedgerWriter
from agent_routing.records import (
    CallRecord,
    DecisionRecord,
    Outcome,
    OutcomeSignal,
    UnitPrices,
    Usage,
    UsageSource,
)

_CHILD = textwrap.dedent(
    """
    import sys, time
    from agent_routing.ledger.writer import get_writer
    from agent_routing.records import CallRecord, DecisionRecord, OutcomeSignal, Usage

    path, count = sys.argv[1], int(sys.argv[2])
    writer = get_writer(path)
    writer.exit_timeout_s = 60.0  # the default is 10 s: exit must not wait for it here
    writer.submit_decision(DecisionRecord(
        id="decision-1", created_at=time.time(), conversation_id="chat \\ud800",
        agent_no=0, call_kind="chat", strategy="threshold", chosen_tier="cheap",
        chosen_model="gpt-4o-mini", configured_model="gpt-4o", score=0.2,
        top_features=[("length", 0.5)]))
    for index in range(count):
        writer.submit(CallRecord(
            id=f"call-{index}", started_at=time.time(), model="gpt-4o-mini",
            conversation_id="chat \\ud800", decision_id="decision-1",
            usage=Usage(input_tokens=100 + index, output_tokens=5), cost_usd=0.001))
    writer.submit_signal(OutcomeSignal(decision_id="decision-1", kind="success",
                                       created_at=time.time()))
    print("submitted", flush=True)
    """
)


def _run_child(path: Path, count: int, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AGENT_ROUTING_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), str(count)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _garbage(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not a database\n" * 100)


@pytest.mark.slow
def test_records_a_process_could_not_write_are_spooled_and_written_by_the_next(
    isolated_home: Path,
) -> None:
    """A process whose ledger is a garbage file exits: its 40 calls, decision and signal go
    to the spool (logged); once the file is fixed, the next writer writes all of them."""
    ledger_path = isolated_home / "fleet" / "ledger.db"
    _garbage(ledger_path)
    started = time.monotonic()
    child = _run_child(ledger_path, 40, isolated_home)
    took = time.monotonic() - started
    assert child.returncode == 0, child.stderr
    assert "saved to" in child.stderr
    assert "42 record(s)" in child.stderr
    # A ledger that never opened is spooled at once, not after exit_timeout_s (60 s here;
    # before: the process always took the full timeout to end). The bound is loose: the
    # child's start-up and imports are most of it.
    assert took < 30, took
    assert "retrying" not in child.stderr.split("saved to")[1]
    files = sorted(spool.spool_dir().glob("*.jsonl"))
    assert len(files) == 1
    assert "ledger.db" in files[0].read_text(encoding="utf-8").splitlines()[0]

    ledger_path.unlink()  # the operator replaces the broken file
    writer = LedgerWriter(ledger_path, spool_key=str(ledger_path.resolve()))
    writer.submit(CallRecord(id="after", started_at=1.0, model="gpt-4o-mini"))
    assert writer.flush(timeout=30)
    assert writer.stats().unspooled == 42
    writer.close()

    async def read() -> tuple[int, CallRecord | None, int, int]:
        async with SQLiteLedger(ledger_path) as ledger:
            calls = await ledger.query_calls()
            decisions = await ledger.query_decisions()
            signals = await ledger.query_signals()
            return len(calls), await ledger.get_call("call-7"), len(decisions), len(signals)

    calls, seventh, decisions, signals = asyncio.run(read())
    assert (calls, decisions, signals) == (41, 1, 1)
    assert seventh is not None
    assert seventh.usage is not None
    assert seventh.usage.input_tokens == 107
    assert seventh.conversation_id == "chat \\ud800"  # as the ledger stores a lone surrogate
    assert list(spool.spool_dir().glob("*")) == []


def test_a_spool_file_round_trips_every_field(isolated_home: Path) -> None:
    """Calls (usage, prices, enums, extra), decisions and signals read back equal."""
    call = CallRecord(
        id="c1",
        started_at=12.5,
        model="openrouter/anthropic/claude-sonnet-4.6",
        provider="openrouter",
        call_kind="utility",
        conversation_id="lone \udc80 surrogate",
        agent_no=2,
        tool="code_execution_tool",
        attempt=1,
        stream=True,
        ended_at=13.0,
        latency_ms=500.0,
        outcome=Outcome.OK,
        usage=Usage(input_tokens=10, output_tokens=2, cached_read_tokens=4, reasoning_tokens=1),
        usage_source=UsageSource.PROVIDER,
        prices=UnitPrices(input=3e-6, output=1.5e-5, cache_read=3e-7, source="snapshot"),
        cost_usd=6e-5,
        tokens_saved=100,
        usd_saved=3e-4,
        extra={"price_source": "snapshot", "nested": [1, 2]},
    )
    decision = DecisionRecord(
        id="d1",
        created_at=1.0,
        conversation_id=None,
        agent_no=None,
        call_kind="chat",
        strategy="threshold",
        chosen_tier="strong",
        chosen_model="gpt-4o",
        configured_model="gpt-4o",
        score=0.9,
        top_features=[("length", 0.4), ("code", 0.1)],
        candidates=[{"tier": "strong", "ok": True}],
        applied=False,
    )
    signal = OutcomeSignal(decision_id="d1", kind="tool_error", created_at=2.0)
    saved = spool.save("key", "ledger.db", [(0, call), (1, decision), (2, signal)])
    assert saved is not None
    (claimed,) = spool.claim("key")
    assert spool.load(claimed) == [(0, call), (1, decision), (2, signal)]


def test_a_spool_file_is_taken_by_one_writer_only(isolated_home: Path) -> None:
    """Two claims of the same ledger's spool: the first takes the file, the second none;
    a file given back is claimable again, another ledger's never."""
    signal = OutcomeSignal(decision_id="d", kind="success", created_at=1.0)
    spool.save("ledger-a", "a", [(2, signal)])
    spool.save("ledger-b", "b", [(2, signal)])
    first = spool.claim("ledger-a")
    assert len(first) == 1
    assert spool.claim("ledger-a") == []
    spool.release(first[0], imported=False)
    again = spool.claim("ledger-a")
    assert len(again) == 1
    spool.release(again[0], imported=True)
    assert spool.claim("ledger-a") == []
    assert len(spool.claim("ledger-b")) == 1


def test_an_unreadable_spool_file_is_set_aside_and_the_rest_written(
    isolated_home: Path,
) -> None:
    """A corrupt spool file is renamed `.bad` (never read again, logged); a good one beside
    it is still written to the ledger."""
    ledger_path = isolated_home / "ledger.db"
    key = str(ledger_path.resolve())
    spool.save(key, "x", [(2, OutcomeSignal(decision_id="d", kind="success", created_at=1.0))])
    folder = spool.spool_dir()
    (folder / f"{spool.ledger_hash(key)}-broken.jsonl").write_text("{not json\n")
    writer = LedgerWriter(ledger_path, spool_key=key)
    writer.submit(CallRecord(id="now", started_at=1.0, model="gpt-4o-mini"))
    assert writer.flush(timeout=30)
    writer.close()
    assert writer.stats().unspooled == 1
    assert [path.name for path in folder.iterdir()] == [
        f"{spool.ledger_hash(key)}-broken.jsonl.bad"
    ]


def _writer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("agent-routing-ledger-writer")]


def test_close_stops_the_retries_and_spools_what_it_could_not_write(
    isolated_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A writer on a garbage file, closed with a 0.5 s timeout: close returns False, its
    thread ends, it retries and logs no more, its 5 records are in the spool; a second
    close adds nothing; once the file is fixed, the next submit writes all 6."""
    ledger_path = isolated_home / "ledger.db"
    _garbage(ledger_path)
    threads_before = set(_writer_threads())
    writer = LedgerWriter(ledger_path, spool_key=str(ledger_path.resolve()))
    for index in range(5):
        writer.submit(CallRecord(id=f"c{index}", started_at=1.0, model="gpt-4o-mini"))
    assert writer.close(timeout=0.5) is False
    assert writer.never_opened()
    assert set(_writer_threads()) == threads_before  # the thread ended
    assert writer.stats().spooled == 5
    (spooled,) = spool.spool_dir().glob("*.jsonl")
    assert [record.id for _, record in spool.load(spooled)] == [f"c{i}" for i in range(5)]

    retries = writer.stats().retries
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="agent_routing.ledger"):
        time.sleep(2.5)  # longer than the longest backoff: a live retry loop would show
        assert writer.close(timeout=0.5) is False  # already spooled: nothing again
    assert writer.stats().retries == retries
    assert caplog.records == []
    assert writer.stats().spooled == 5

    ledger_path.unlink()  # the operator replaces the broken file
    writer.submit(CallRecord(id="after", started_at=1.0, model="gpt-4o-mini"))
    assert writer.flush(timeout=30)
    assert writer.stats().unspooled == 5
    assert writer.close(timeout=30)

    async def ids() -> list[str]:
        async with SQLiteLedger(ledger_path) as ledger:
            return sorted(call.id for call in await ledger.query_calls())

    assert asyncio.run(ids()) == ["after", "c0", "c1", "c2", "c3", "c4"]
    assert list(spool.spool_dir().glob("*.jsonl")) == []


_MANY_WRITERS = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from agent_routing.ledger.writer import LedgerWriter
    from agent_routing.records import CallRecord

    folder = Path(sys.argv[1])
    for n in range(4):  # four ledgers that cannot be opened, 10 s exit timeout each
        path = folder / f"ledger-{n}.db"
        path.write_bytes(b"not a database\\n" * 100)
        writer = LedgerWriter(path, spool_key=str(path))
        writer.submit(CallRecord(id=f"w{n}", started_at=time.time(), model="m"))
    print("submitted", flush=True)
    """
)


@pytest.mark.slow
def test_a_process_with_unopenable_ledgers_exits_without_waiting(
    isolated_home: Path, tmp_path: Path
) -> None:
    """A real process with 4 writers on garbage files (default exit timeout: 10 s each)
    ends without waiting for them (before: 4 x 10 s) and spools one record per ledger."""
    env = {**os.environ, "AGENT_ROUTING_HOME": str(isolated_home)}
    started = time.monotonic()
    child = subprocess.run(
        [sys.executable, "-c", _MANY_WRITERS, str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    took = time.monotonic() - started
    assert child.returncode == 0, child.stderr
    assert took < 20, took  # loose: start-up and imports; the old exit alone took 40 s
    files = sorted(spool.spool_dir().glob("*.jsonl"))
    assert len(files) == 4
    assert sorted(record.id for f in files for _, record in spool.load(f)) == [
        "w0",
        "w1",
        "w2",
        "w3",
    ]


_CAPTURING = textwrap.dedent(
    """
    import atexit, sys, time
    ended = []
    # registered first, so it runs last: after capture's and the writers' exit handlers
    atexit.register(lambda: print(f"exit handlers took {time.monotonic() - ended[0]:.3f}"))
    from pathlib import Path
    from agent_routing.capture import begin_call, enable_capture
    from agent_routing.config import Settings

    enable_capture(Path(sys.argv[1]), settings=Settings())
    begin_call(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}],
               call_id="captured-1", kind="utility")
    ended.append(time.monotonic())
    """
)


@pytest.mark.slow
def test_a_capturing_process_on_an_unopenable_ledger_exits_without_waiting(
    isolated_home: Path,
) -> None:
    """Capture on a garbage ledger (the plugin's case): the exit handlers take well under
    capture's 5 s exit flush (before: 5 s, then the writer's own wait), and the open call,
    closed as abandoned at exit, is in the spool."""
    ledger_path = isolated_home / "ledger.db"
    _garbage(ledger_path)
    child = subprocess.run(
        [sys.executable, "-c", _CAPTURING, str(ledger_path)],
        env={**os.environ, "AGENT_ROUTING_HOME": str(isolated_home)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == 0, child.stderr
    took = float(child.stdout.split("exit handlers took ")[1])
    assert took < 2.5, took
    records = [record for f in spool.spool_dir().glob("*.jsonl") for _, record in spool.load(f)]
    assert {record.id for record in records} == {"captured-1"}
    assert records[-1].outcome is Outcome.ABANDONED


def test_capture_flush_does_not_wait_out_its_timeout_on_an_unopenable_ledger(
    isolated_home: Path,
) -> None:
    """Capture into a garbage ledger: flush(30) says False well before its 30 s (the
    host's end-of-turn flush waited its 5 s on every turn), the records stay queued, and
    closing the writer spools them."""
    from agent_routing.capture import begin_call, enable_capture
    from agent_routing.config import Settings
    from agent_routing.ledger.writer import live_writers

    ledger_path = isolated_home / "ledger.db"
    _garbage(ledger_path)
    handle = enable_capture(ledger_path, settings=Settings())
    try:
        begin_call(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hi"}],
            call_id="queued-1",
            kind="utility",
        )
        started = time.monotonic()
        assert handle.flush(30) is False
        assert time.monotonic() - started < 15
    finally:
        handle.close(5)
    (writer,) = [w for w in live_writers() if w.path == ledger_path.resolve()]
    assert writer.never_opened()
    assert writer.close(timeout=5) is False
    (spooled,) = spool.spool_dir().glob("*.jsonl")
    assert {record.id for _, record in spool.load(spooled)} == {"queued-1"}
