"""Turning capture on and off: one logger per process, reload-proof, ledger by default."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest

from agent_routing._litellm import litellm_module
from agent_routing.capture import (
    METADATA_KEY,
    MemorySink,
    begin_call,
    call_id_of,
    capture_metadata,
    enable_capture,
    end_call,
)
from agent_routing.capture._logger import CALLBACK_LISTS, MARKER, find_logger
from agent_routing.config import Settings
from agent_routing.errors import ConfigError
from agent_routing.ids import id_time_ms
from agent_routing.ledger import SQLiteLedger
from agent_routing.records import CallRecord, Outcome, UsageSource

MESSAGES = [{"role": "user", "content": "Summarise the last three messages in one line."}]


def registered_loggers(litellm: Any) -> int:
    """Distinct capture loggers present in any of litellm's callback lists."""
    found = {
        id(callback)
        for name in CALLBACK_LISTS
        for callback in getattr(litellm, name, [])
        if getattr(callback, MARKER, False) is True
    }
    return len(found)


@pytest.fixture(autouse=True)
def no_capture_left_behind() -> Any:
    """Every test starts and ends with no capture logger registered."""
    litellm = litellm_module()
    assert find_logger(litellm) is None
    yield
    logger = find_logger(litellm)
    if logger is not None:
        logger.recorder.close(5)
        from agent_routing.capture._logger import unregister

        unregister(litellm, logger)
        pytest.fail("a test left capture enabled")


def test_enabling_twice_registers_one_logger() -> None:
    """A second enable_capture returns the running capture and registers nothing."""
    litellm = litellm_module()
    first = enable_capture(sink=MemorySink(), settings=Settings())
    try:
        second = enable_capture(sink=MemorySink(), settings=Settings())
        assert second.recorder is first.recorder
        litellm.completion(model="gpt-4o-mini", messages=MESSAGES, mock_response="ok")
        assert registered_loggers(litellm) == 1
    finally:
        first.close()


def test_enabling_after_reloading_the_modules_finds_the_same_logger() -> None:
    """After Agent Zero-style hot reload of the capture modules, enable_capture, begin_call
    and end_call from the new module objects still reach the one registered logger."""
    import agent_routing.capture as capture_package
    import agent_routing.capture._api as api_module
    import agent_routing.capture._logger as logger_module

    litellm = litellm_module()
    sink = MemorySink()
    first = enable_capture(sink=sink, settings=Settings())
    try:
        for module in (logger_module, api_module, capture_package):
            importlib.reload(module)
        again = capture_package.enable_capture(sink=MemorySink(), settings=Settings())
        assert again.recorder is first.recorder
        assert registered_loggers(litellm) == 1
        call_id = capture_package.begin_call(model="gpt-4o-mini", messages=MESSAGES)
        capture_package.end_call(call_id, response_text="done")
        assert first.flush(10)
        row = sink.get(call_id)
        assert row is not None
        assert row.outcome is Outcome.OK
    finally:
        first.close()
    assert registered_loggers(litellm) == 0


def test_enabling_again_after_the_exit_handler_closed_capture_replaces_the_dead_logger() -> None:
    """If capture was closed without being unregistered (the exit handler), a new
    enable_capture registers a fresh logger instead of returning a dead one."""
    litellm = litellm_module()
    first = enable_capture(sink=MemorySink(), settings=Settings())
    assert first.recorder is not None
    first.recorder.close(5)  # what the atexit handler does
    sink = MemorySink()
    second = enable_capture(sink=sink, settings=Settings())
    try:
        assert second.recorder is not first.recorder
        assert registered_loggers(litellm) == 1
        call_id = begin_call(model="gpt-4o-mini")
        end_call(call_id)
        assert second.flush(10)
        assert sink.get(call_id) is not None
    finally:
        second.close()


def test_close_unregisters_from_every_litellm_list() -> None:
    """After close, no litellm list holds the logger and new calls are not recorded."""
    litellm = litellm_module()
    sink = MemorySink()
    handle = enable_capture(sink=sink, settings=Settings())
    litellm.completion(model="gpt-4o-mini", messages=MESSAGES, mock_response="ok")
    assert handle.close()
    assert registered_loggers(litellm) == 0
    assert not handle.enabled
    recorded = len(sink.submissions)
    litellm.completion(model="gpt-4o-mini", messages=MESSAGES, mock_response="ok")
    assert len(sink.submissions) == recorded


def test_disabled_in_settings_registers_nothing() -> None:
    """capture.enabled: false gives an inert handle; begin/end still validate and return."""
    litellm = litellm_module()
    handle = enable_capture(sink=MemorySink(), settings=Settings(capture={"enabled": False}))
    assert not handle.enabled
    assert registered_loggers(litellm) == 0
    call_id = begin_call(model="gpt-4o-mini")
    end_call(call_id, response_text="x")
    assert handle.flush(1)
    assert handle.close()


def test_default_sink_is_the_ledger_at_db_path(tmp_path: Path) -> None:
    """Without a sink, rows go to the SQLite ledger at db_path."""
    db = tmp_path / "ledger.db"
    handle = enable_capture(db, settings=Settings())
    try:
        assert handle.db_path == db
        call_id = begin_call(model="gpt-4o-mini", messages=MESSAGES, kind="summarization")
        end_call(call_id, response_text="one line")
        assert handle.flush(10)
    finally:
        handle.close()
    row = stored_call(db, call_id)
    assert row.outcome is Outcome.OK
    assert row.call_kind == "summarization"
    assert row.usage_source is UsageSource.ESTIMATED
    assert row.cost_usd is not None
    assert row.cost_usd > 0


def test_the_ledger_writer_closes_orphans_after_the_configured_age(tmp_path: Path) -> None:
    """The writer capture opens closes dead processes' calls after the *configured*
    `capture.abandoned_after_s`, not the default (a longer setting must protect live calls)."""
    from agent_routing.ledger.writer import get_writer

    db = tmp_path / "ledger.db"
    settings = Settings.model_validate({"capture": {"abandoned_after_s": 4321}})
    handle = enable_capture(db, settings=settings)
    try:
        assert get_writer(db).abandoned_after_s == 4321
    finally:
        handle.close()


def test_agent_routing_db_sets_the_ledger_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AGENT_ROUTING_DB chooses the ledger when db_path is not given."""
    db = tmp_path / "from-env.db"
    monkeypatch.setenv("AGENT_ROUTING_DB", str(db))
    handle = enable_capture(settings=Settings())
    try:
        assert handle.db_path == db
        call_id = begin_call(model="gpt-4o-mini", messages=MESSAGES)
        end_call(call_id)
        assert handle.flush(10)
    finally:
        handle.close()
    assert stored_call(db, call_id).outcome is Outcome.OK


def stored_call(db: Path, call_id: str) -> CallRecord:
    import asyncio

    async def read() -> CallRecord | None:
        async with SQLiteLedger(db) as ledger:
            return await ledger.get_call(call_id)

    row = asyncio.run(read())
    assert row is not None
    return row


def test_db_path_and_sink_together_are_refused() -> None:
    """Giving both a ledger path and a sink is ambiguous: ConfigError naming db_path."""
    with pytest.raises(ConfigError) as raised:
        enable_capture(Path("x.db"), sink=MemorySink(), settings=Settings())
    assert raised.value.problems[0][0] == "db_path"


def test_capture_metadata_is_namespaced_and_carries_a_fresh_call_id() -> None:
    """capture_metadata puts everything under one key, with a new time-sortable id."""
    metadata = capture_metadata(kind="memory", conversation_id="ctx-1", agent_no=0)
    assert list(metadata) == [METADATA_KEY]
    call_id = call_id_of(metadata)
    assert call_id is not None
    assert id_time_ms(call_id) > 0
    assert metadata[METADATA_KEY] == {
        "call_id": call_id,
        "conversation_id": "ctx-1",
        "agent_no": 0,
        "kind": "memory",
    }
    assert call_id_of(capture_metadata(call_id="given-id")) == "given-id"
    assert call_id_of({"other": 1}) is None


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kind": "banter"}, "kind"),
        ({"agent_no": -1}, "agent_no"),
        ({"agent_no": True}, "agent_no"),
        ({"conversation_id": ""}, "conversation_id"),
        ({"tier": 3}, "tier"),
    ],
)
def test_bad_attribution_is_refused_naming_the_field(kwargs: dict[str, Any], field: str) -> None:
    """capture_metadata and begin_call reject bad attribution with the field's name."""
    with pytest.raises(ConfigError) as raised:
        capture_metadata(**kwargs)
    assert raised.value.problems[0][0] == field
    with pytest.raises(ConfigError) as raised:
        begin_call(model="gpt-4o-mini", **kwargs)
    assert raised.value.problems[0][0] == field


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: begin_call(model=""), "model"),
        (lambda: begin_call(model="gpt-4o", messages="hi"), "messages"),  # type: ignore[arg-type]
        (lambda: end_call(""), "call_id"),
        (lambda: end_call("id", error="boom"), "error"),  # type: ignore[arg-type]
        (lambda: end_call("id", response_text=5), "response_text"),  # type: ignore[arg-type]
        (lambda: end_call("id", usage={"input_tokens": 1}), "usage"),  # type: ignore[arg-type]
    ],
)
def test_bad_begin_and_end_arguments_are_refused(call: Any, field: str) -> None:
    """begin_call / end_call reject malformed arguments, naming them."""
    with pytest.raises(ConfigError) as raised:
        call()
    assert raised.value.problems[0][0] == field


def test_malformed_callback_payloads_are_counted_never_raised() -> None:
    """A hook given garbage by litellm counts an error and returns normally."""
    handle = enable_capture(sink=MemorySink(), settings=Settings())
    try:
        logger = find_logger(litellm_module())
        logger.log_pre_api_call(model=None, messages=None, kwargs={"litellm_params": 5})
        logger.log_stream_event(kwargs={}, response_obj=object(), start_time=None, end_time=None)
        logger.log_success_event(
            kwargs={"litellm_params": "x"}, response_obj=None, start_time=None, end_time=None
        )
        assert handle.stats.hook_errors == 3
    finally:
        handle.close()


class ExplodingSink(MemorySink):
    """A sink that refuses the first record it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.refused = 0

    def submit(self, record: CallRecord) -> None:
        if not self.refused:
            self.refused += 1
            raise OSError("disk full")
        super().submit(record)


def test_a_failing_sink_costs_one_submission_not_the_capture() -> None:
    """If the sink raises, the error is counted and later events are still recorded."""
    sink = ExplodingSink()
    handle = enable_capture(sink=sink, settings=Settings())
    try:
        call_id = begin_call(model="gpt-4o-mini", messages=MESSAGES)
        end_call(call_id, response_text="fine")
        assert handle.flush(10)
        assert handle.stats.sink_errors == 1
        row = sink.get(call_id)
        assert row is not None
        assert row.outcome is Outcome.OK
    finally:
        handle.close()
