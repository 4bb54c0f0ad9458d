"""Turning capture on, and the calls a self-reporting caller makes.

`enable_capture` registers one litellm logger per process. Agent Zero re-imports plugin code
when it changes, so the registered logger is found again by its marker attribute in
litellm's callback lists - never through a module global that a reload would reset.
`begin_call` / `end_call` reach the same logger the same way.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import math
import os
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent_routing.capture._events import Opened, Reported
from agent_routing.capture._logger import find_logger, make_logger, unregister
from agent_routing.capture._metadata import checked_attribution
from agent_routing.capture._recorder import CaptureRecorder, CaptureStats
from agent_routing.config import Settings, load_settings
from agent_routing.errors import ConfigError
from agent_routing.ids import new_id
from agent_routing.protocols import CallSink
from agent_routing.records import Usage

if TYPE_CHECKING:
    from agent_routing.ledger.urls import LedgerURL

log = logging.getLogger(__name__)

EXIT_FLUSH_TIMEOUT_S = 5.0

_enable_lock = threading.Lock()


@dataclass(slots=True)
class CaptureHandle:
    """What `enable_capture` returns: the process's capture, or an inert one when disabled."""

    recorder: CaptureRecorder | None
    db_path: Path | None = None

    @property
    def enabled(self) -> bool:
        """True while calls are being recorded."""
        return self.recorder is not None and not self.recorder.closed

    @property
    def sink(self) -> CallSink | None:
        """Where records go (the ledger writer by default)."""
        return self.recorder.sink if self.recorder is not None else None

    @property
    def stats(self) -> CaptureStats:
        """Event, submission and error counters."""
        return self.recorder.stats if self.recorder is not None else CaptureStats()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every call captured so far is committed, including the litellm
        callbacks already queued when flush was called; False on timeout, or when called
        on the very loop that runs those callbacks (use :meth:`aflush` there). See
        :mod:`agent_routing.capture._drain` and the README's "Guarantees"."""
        if self.recorder is None:
            return True
        from agent_routing.capture._drain import drain_litellm_callbacks

        deadline = None if timeout is None else time.monotonic() + timeout
        drained = drain_litellm_callbacks(timeout)
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        return self.recorder.flush(remaining) and drained

    async def aflush(self, timeout_s: float | None = None) -> bool:
        """:meth:`flush` for a coroutine: never blocks the event loop, and on the loop
        that runs litellm's callbacks it waits for them too."""
        if self.recorder is None:
            return True
        from agent_routing.capture._drain import adrain_litellm_callbacks

        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        drained = await adrain_litellm_callbacks(timeout_s)
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        flushed = await asyncio.to_thread(self.recorder.flush, remaining)
        return flushed and drained

    def pending_callbacks(self) -> int:
        """litellm callbacks queued or running now: rows they will complete are not yet
        acknowledged by a flush that returned before they were queued."""
        from agent_routing.capture._drain import pending_litellm_callbacks

        return pending_litellm_callbacks()

    def sweep(self, now: float | None = None) -> int:
        """Close calls PENDING longer than `capture.abandoned_after_s` (before `now`)."""
        return self.recorder.sweep(now) if self.recorder is not None else 0

    def close(self, timeout: float | None = EXIT_FLUSH_TIMEOUT_S) -> bool:
        """Stop capturing: unregister the logger, close open calls as ABANDONED, flush."""
        recorder = self.recorder
        if recorder is None:
            return True
        litellm = sys.modules.get("litellm")
        logger = find_logger(litellm) if litellm is not None else None
        registered = logger is not None and getattr(logger, "recorder", None) is self.recorder
        if registered:
            unregister(litellm, logger)
        atexit.unregister(recorder.close)
        return recorder.close(timeout)


def enable_capture(
    db_path: Path | str | None = None,
    *,
    settings: Settings | None = None,
    sink: CallSink | None = None,
) -> CaptureHandle:
    """Record every litellm completion and embedding call of this process.

    Idempotent: a second call (even from a reloaded copy of this module) returns the
    capture already running and registers nothing. `settings` default to
    :func:`load_settings`; with `capture.enabled: false` nothing is registered and an inert
    handle is returned. Records go to `sink`, else to the ledger at `db_path`, else
    `$AGENT_ROUTING_DB`, else `ledger.path` / the default location. Open calls are closed
    and everything is flushed at interpreter exit.
    """
    from agent_routing._litellm import litellm_module

    litellm = litellm_module()
    with _enable_lock:
        existing = find_logger(litellm)
        if existing is not None:
            if not existing.recorder.closed:
                return CaptureHandle(existing.recorder, getattr(existing, "db_path", None))
            unregister(litellm, existing)  # closed without unregistering (e.g. at exit)
        if settings is None:
            settings = load_settings()
        if not settings.capture.enabled:
            return CaptureHandle(None)
        path: Path | None = None
        if sink is None:
            target = _ledger_path(db_path, settings)
            path = target.path  # None for a server (postgresql://): no file
            sink = _ledger_writer(target, settings)
            if settings.otel.enabled:  # spans built and exported off the agent's thread
                from agent_routing.otel import wrap_sink

                sink = wrap_sink(sink, enabled=True)
        elif db_path is not None:
            raise ConfigError.single("db_path", "give either db_path or sink, not both")
        recorder = CaptureRecorder(sink, settings)
        logger = make_logger(recorder, path)
        litellm.callbacks.append(logger)
        atexit.register(recorder.close, EXIT_FLUSH_TIMEOUT_S)
        return CaptureHandle(recorder, path)


def _ledger_path(db_path: Path | str | None, settings: Settings) -> LedgerURL:
    """The ledger to record into, through the backend registry (a path or a URL)."""
    from agent_routing.ledger.registry import resolve
    from agent_routing.ledger.urls import parse_ledger_url

    if db_path is not None:
        return resolve(settings.ledger, db_path, field="db_path")
    from_env = os.environ.get("AGENT_ROUTING_DB")
    if from_env:
        return parse_ledger_url(from_env, "AGENT_ROUTING_DB")
    return settings.ledger.resolved_url()


def _ledger_writer(target: LedgerURL, settings: Settings) -> CallSink:
    from agent_routing.ledger.writer import get_writer

    writer: CallSink = get_writer(
        target, settings.ledger, abandoned_after_s=settings.capture.abandoned_after_s
    )
    return writer


def _active_recorder() -> CaptureRecorder | None:
    litellm = sys.modules.get("litellm")
    logger = find_logger(litellm) if litellm is not None else None
    recorder = getattr(logger, "recorder", None)
    return recorder if recorder is not None and not recorder.closed else None


def begin_call(
    *,
    model: str,
    messages: Sequence[Mapping[str, Any]] | None = None,
    call_id: str | None = None,
    kind: str = "chat",
    conversation_id: str | None = None,
    agent_no: int | None = None,
    tool: str | None = None,
    decision_id: str | None = None,
    tier: str | None = None,
    reservation_id: str | None = None,
    stream: bool | None = None,
    attempt: int = 0,
    tokens_saved: int | None = None,
    usd_saved: float | None = None,
) -> str:
    """Open a call's row yourself (before calling litellm) and return its id.

    Pass the returned id to litellm inside `capture_metadata(call_id=...)` so litellm's own
    events land on the same row, and to :func:`end_call` when the call ends. A no-op
    (still returning an id) while capture is off.

    `attempt` is the hop number of a routed call (0 = first try, n > 0 = a fallback hop of
    the same decision). `tokens_saved` / `usd_saved` are what prompt compression removed
    from this call's input, put on the call's own row (later events keep them).
    """
    if not isinstance(model, str) or not model.strip():
        raise ConfigError.single("model", f"must be a non-empty model name, not {model!r}")
    if messages is not None and (isinstance(messages, str) or not isinstance(messages, Sequence)):
        raise ConfigError.single(
            "messages", f"must be a list of messages or None, not {type(messages).__name__}"
        )
    attribution = checked_attribution(
        call_id=call_id or new_id(),
        conversation_id=conversation_id,
        agent_no=agent_no,
        kind=kind,
        tool=tool,
        decision_id=decision_id,
        tier=tier,
        reservation_id=reservation_id,
        attempt=attempt,
    )
    saved_tokens, saved_usd = _checked_savings(tokens_saved, usd_saved)
    row_id = attribution.call_id
    assert row_id is not None
    recorder = _active_recorder()
    if recorder is not None:
        copied = list(messages) if messages is not None else None
        recorder.post(
            Opened(
                row_id,
                None,
                model,
                None,
                copied,
                attribution,
                stream,
                time.time(),
                False,
                saved_tokens,
                saved_usd,
            )
        )
    return row_id


def _checked_savings(tokens_saved: object, usd_saved: object) -> tuple[int | None, float | None]:
    """Validate compression savings: a non-negative token count and a finite USD amount."""
    if tokens_saved is not None and (
        isinstance(tokens_saved, bool) or not isinstance(tokens_saved, int) or tokens_saved < 0
    ):
        raise ConfigError.single(
            "tokens_saved", f"must be a non-negative integer or None, not {tokens_saved!r}"
        )
    if usd_saved is None:
        return tokens_saved, None
    if (
        isinstance(usd_saved, bool)
        or not isinstance(usd_saved, int | float)
        or not math.isfinite(usd_saved)
        or usd_saved < 0
    ):
        raise ConfigError.single(
            "usd_saved", f"must be a non-negative finite number or None, not {usd_saved!r}"
        )
    return tokens_saved, float(usd_saved)


def end_call(
    call_id: str,
    *,
    response_text: str | None = None,
    reasoning_text: str | None = None,
    error: BaseException | None = None,
    usage: Usage | None = None,
    cost_usd: float | None = None,
) -> None:
    """Report how a call ended: its text (output is counted from it) or the error.

    `usage`, when the caller has the provider's counts (Agent Zero v2's `LLMResult.usage`),
    replaces the estimate and is kept over a litellm success callback for the same call.
    `cost_usd`, the price the caller got for the call, replaces the price from the table.
    """
    if not isinstance(call_id, str) or not call_id:
        raise ConfigError.single("call_id", f"must be a non-empty string, not {call_id!r}")
    for name, text in (("response_text", response_text), ("reasoning_text", reasoning_text)):
        if text is not None and not isinstance(text, str):
            raise ConfigError.single(name, f"must be a string or None, not {type(text).__name__}")
    if error is not None and not isinstance(error, BaseException):
        raise ConfigError.single("error", f"must be an exception or None, not {error!r}")
    if usage is not None and not isinstance(usage, Usage):
        raise ConfigError.single("usage", f"must be a records.Usage or None, not {usage!r}")
    if cost_usd is not None and (
        isinstance(cost_usd, bool)
        or not isinstance(cost_usd, int | float)
        or not math.isfinite(cost_usd)
        or cost_usd < 0
    ):
        raise ConfigError.single(
            "cost_usd", f"must be a non-negative finite number or None, not {cost_usd!r}"
        )
    recorder = _active_recorder()
    if recorder is not None:
        cost = float(cost_usd) if cost_usd is not None else None
        recorder.post(
            Reported(call_id, response_text, reasoning_text, error, usage, time.time(), cost)
        )
