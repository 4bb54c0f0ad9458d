"""The capture thread: hooks put events on its queue; it applies them to the call book.

One daemon thread owns the :class:`~agent_routing.capture._callbook.CallBook`, so hooks never
take a lock: `post` is a `SimpleQueue.put`. Flush, sweep and close are barriers queued
behind every earlier event, so `flush()` returning True means everything posted before it
is merged and committed by the sink.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

from agent_routing.capture._callbook import CallBook, CaptureStats
from agent_routing.capture._events import Barrier, Event
from agent_routing.config import Settings
from agent_routing.protocols import CallSink

__all__ = ["CaptureRecorder", "CaptureStats"]

log = logging.getLogger(__name__)


class CaptureRecorder:
    """Owns the worker thread; `post` is the only method hooks call."""

    def __init__(
        self,
        sink: CallSink,
        settings: Settings,
        *,
        sweep_interval_s: float | None = None,
    ) -> None:
        self.sink = sink
        self.settings = settings
        self.stats = CaptureStats()
        self.abandoned_after_s = settings.capture.abandoned_after_s
        self._book = CallBook(settings, sink, self.stats)
        self._sweep_interval_s = sweep_interval_s or min(max(self.abandoned_after_s / 4, 0.05), 30)
        self._queue: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="agent-routing-capture", daemon=True)
        self._thread.start()

    # --- called from any thread -----------------------------------------------------------

    def post(self, event: Event) -> None:
        """Queue `event` for the worker (microseconds; never blocks)."""
        if not self._closed.is_set():
            self._queue.put(event)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran: nothing is recorded any more."""
        return self._closed.is_set()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every event posted so far is processed and committed by the sink.

        False at once (records stay queued, retried) when the sink is a ledger writer whose
        ledger has never opened and whose last attempt failed: the host's end-of-turn flush
        then does not add its timeout to every turn while the ledger is broken."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._closed.is_set() and not self._barrier("flush", None, timeout).done.is_set():
            return False
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        return bool(self._sink_flush(remaining))

    def _sink_flush(self, timeout: float | None) -> bool:
        flush = getattr(self.sink, "flush_unless_unopenable", self.sink.flush)
        return bool(flush(timeout))

    def sweep(self, now: float | None = None, timeout: float | None = 10.0) -> int:
        """Close calls still PENDING `abandoned_after_s` before `now`; returns how many."""
        if self._closed.is_set():
            return 0
        return self._barrier("sweep", now, timeout).result

    def close(self, timeout: float | None = 10.0) -> bool:
        """Close every open call as ABANDONED, stop the worker and flush the sink.

        A ledger writer whose ledger cannot be opened is not waited for (its records stay
        with it, spooled when it closes at exit): this runs at interpreter exit, and waiting
        could only delay it."""
        if self._closed.is_set():
            return True
        deadline = None if timeout is None else time.monotonic() + timeout
        barrier = self._barrier("close", None, timeout)
        self._closed.set()
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        return barrier.done.is_set() and self._sink_flush(remaining)

    def _barrier(self, action: Any, now: float | None, timeout: float | None) -> Barrier:
        barrier = Barrier(action, now)
        if threading.current_thread() is self._thread:
            raise RuntimeError("capture barrier requested from its own worker thread")
        self._queue.put(barrier)
        deadline = None if timeout is None else time.monotonic() + timeout
        while not barrier.done.wait(0.05):
            if not self._thread.is_alive():
                break  # the worker is gone (interpreter shutdown): nothing will answer
            if deadline is not None and time.monotonic() >= deadline:
                break
        return barrier

    # --- worker thread --------------------------------------------------------------------

    def _run(self) -> None:
        next_sweep = time.monotonic() + self._sweep_interval_s
        while True:
            try:
                event: Event | None = self._queue.get(
                    timeout=max(0.0, next_sweep - time.monotonic())
                )
            except queue.Empty:
                event = None
            try:
                if isinstance(event, Barrier):
                    if self._on_barrier(event):
                        return
                elif event is not None:
                    self.stats.events += 1
                    self._book.apply(event)
                if time.monotonic() >= next_sweep:
                    self._book.sweep(time.time())
                    next_sweep = time.monotonic() + self._sweep_interval_s
            except Exception:
                self.stats.worker_errors += 1
                log.exception("agent-routing capture could not process %r", type(event).__name__)

    def _on_barrier(self, barrier: Barrier) -> bool:
        try:
            if barrier.action == "sweep":
                barrier.result = self._book.sweep(barrier.now or time.time())
            elif barrier.action == "close":
                barrier.result = self._book.abandon_open("exit", time.time())
        finally:
            barrier.done.set()
        return barrier.action == "close"
