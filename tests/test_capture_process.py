"""Capture across a real process lifetime: exit with a call still open, and a crash.

The child processes use the real ledger (SQLite file) and litellm mock responses.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agent_routing.ledger import SQLiteLedger
from agent_routing.records import CallRecord, Outcome, UsageSource
from agent_routing.tokens import count_message_tokens

MESSAGES = [
    {"role": "system", "content": "Extract facts worth remembering from the conversation."},
    {"role": "user", "content": "The user prefers metric units and lives in Porto."},
]

CHILD_PRELUDE = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from agent_routing._litellm import litellm_module
    from agent_routing.capture import capture_metadata, enable_capture
    from agent_routing.config import Settings

    db, call_id = Path(sys.argv[1]), sys.argv[2]
    MESSAGES = {messages!r}
    handle = enable_capture(db, settings=Settings())
    litellm = litellm_module()

    async def memorise(streaming):
        # A utility call started in a background task at the end of a turn: its stream is
        # still being read when the turn - and the process - ends.
        stream = await litellm.acompletion(
            model="gpt-4o-mini", messages=MESSAGES, mock_response="Porto; metric. " * 30,
            stream=True, metadata=capture_metadata(call_id=call_id, kind="memory"),
        )
        async for _chunk in stream:
            streaming.set()  # the call is open and its first chunk is in
            await asyncio.sleep(30)
    """
).format(messages=MESSAGES)

EXIT_AT_END_OF_TURN = CHILD_PRELUDE + textwrap.dedent(
    """
    async def turn():
        streaming = asyncio.Event()
        asyncio.get_running_loop().create_task(memorise(streaming))
        await streaming.wait()  # the turn ends; asyncio.run cancels the background task

    asyncio.run(turn())
    """
)

CRASH_MID_CALL = CHILD_PRELUDE + textwrap.dedent(
    """
    async def turn():
        streaming = asyncio.Event()
        task = asyncio.get_running_loop().create_task(memorise(streaming))
        await streaming.wait()
        handle.flush(10)
        print("opened", flush=True)
        await task

    asyncio.run(turn())
    """
)


def child_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(LITELLM_LOCAL_MODEL_COST_MAP="True", AGENT_ROUTING_HOME=str(home))
    env.pop("AGENT_ROUTING_DB", None)
    return env


def stored_call(db: Path, call_id: str) -> CallRecord | None:
    async def read() -> CallRecord | None:
        async with SQLiteLedger(db) as ledger:
            return await ledger.get_call(call_id)

    return asyncio.run(read())


CALL_ID = "01K0CAPTUREPROCESSTEST0001"


@pytest.mark.slow
def test_call_open_at_exit_is_recorded_abandoned(tmp_path: Path, isolated_home: Path) -> None:
    """A background call whose success callback never arrives before the process exits is
    still one row: ABANDONED at exit, with the exact input count and no output."""
    db = tmp_path / "ledger.db"
    done = subprocess.run(
        [sys.executable, "-c", EXIT_AT_END_OF_TURN, str(db), CALL_ID],
        env=child_env(isolated_home),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    row = stored_call(db, CALL_ID)
    assert row is not None
    assert row.outcome is Outcome.ABANDONED
    assert row.extra["closed_by"] == "exit"
    assert row.call_kind == "memory"
    assert row.usage_source is UsageSource.ESTIMATED
    assert row.usage is not None
    assert row.usage.input_tokens == count_message_tokens(MESSAGES, "gpt-4o-mini")
    assert row.usage.output_tokens == 0
    assert row.cost_usd is not None
    assert row.cost_usd > 0


@pytest.mark.slow
def test_a_killed_process_leaves_its_open_call_visible(tmp_path: Path, isolated_home: Path) -> None:
    """SIGKILL skips every exit handler, yet the call opened before it is in the ledger
    (PENDING, exact input): nothing that reached litellm is invisible."""
    db = tmp_path / "ledger.db"
    child = subprocess.Popen(
        [sys.executable, "-c", CRASH_MID_CALL, str(db), CALL_ID],
        env=child_env(isolated_home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "opened"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    row = stored_call(db, CALL_ID)
    assert row is not None
    assert row.outcome is Outcome.PENDING
    assert row.usage is not None
    assert row.usage.input_tokens == count_message_tokens(MESSAGES, "gpt-4o-mini")
