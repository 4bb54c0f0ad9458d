"""The background ledger writer: records leave the agent's event loop in microseconds.

`submit*` only appends to a thread-safe queue (no I/O, no await, no lock held for more than
a few instructions), so it is safe on Agent Zero's event loop, from any thread, with or
without a running loop. A background thread gathers records for up to
`ledger.flush_interval_ms` or `ledger.batch_size` records and writes each batch in one
transaction through the :class:`~agent_routing.ledger.base.Ledger` protocol.

Nothing is dropped because the file is busy: a locked database makes the thread wait and
retry with exponential backoff until the writer is closed. The only records ever
discarded are ones the storage rejects for good (e.g. a field the schema refuses); each is
logged at ERROR with its id and counted in :meth:`LedgerWriter.stats`.

Once after it first opens the ledger, the thread closes the calls left PENDING by processes
that died mid-call (SIGKILL) more than `capture.abandoned_after_s` ago
(:meth:`~agent_routing.ledger.base.Ledger.close_orphaned_calls`): the next process that
records calls cleans up after the dead one, off the event loop. A live process's calls are
safe, since its own capture abandons them at that same age.

Process model: :func:`get_writer` keeps one writer per resolved ledger path per process.
After `fork()` the child drops the parent's queue and thread (the parent writes its own
records) and starts a fresh thread on its first submit. Pending records are flushed at
interpreter exit (`atexit`); what still cannot be written then (the ledger file is garbage,
the server is down) is saved to the spool (:mod:`agent_routing.ledger.spool`) and written by
the next writer that opens the same ledger, in this process or another. The same happens
when :meth:`LedgerWriter.close` times out: the thread stops retrying and ends (no retry is
logged after close) and the unwritten records go to the spool. At exit every writer gets at
most its `exit_timeout_s` (all at once, not one after another), and a writer whose ledger
has never opened and whose last attempt failed spools at once: nothing could be written
before the process ends, and waiting would only delay the exit. Note that
`multiprocessing` children started with the "fork" method leave through `os._exit`, which
skips atexit: call :meth:`LedgerWriter.flush` (or `close`) before such a child returns.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import queue
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_routing.config import CaptureSettings, LedgerSettings
from agent_routing.errors import ConfigError
from agent_routing.ledger import spool
from agent_routing.ledger.base import Ledger
from agent_routing.ledger.urls import LedgerURL
from agent_routing.records import CallRecord, DecisionRecord, OutcomeSignal

logger = logging.getLogger("agent_routing.ledger")

_CALL = 0
_DECISION = 1
_SIGNAL = 2
_FLUSH = object()  # ends the current gathering window at once
_STOP = object()  # write what is queued, then let the thread end

_Item = tuple[int, int, Any]  # (sequence number, kind, record)

_BACKOFF_FIRST_S = 0.05
_BACKOFF_MAX_S = 2.0
_LOG_EVERY_N_FAILURES = 20
_STOP_POLL_S = 0.05  # how soon a thread waiting between retries sees that it was stopped
_STOP_GRACE_S = 1.0  # how long close waits for a stopped thread before spooling anyway


class _Stopped(BaseException):
    """Raised inside the writer thread once it was told to stop (not an `Exception`, so no
    handler meant for storage errors takes it for one)."""


@dataclass(frozen=True, slots=True)
class WriterStats:
    """Counters of one writer in this process."""

    submitted: int
    committed: int
    batches: int
    retries: int
    rejected: int
    last_error: str | None
    orphans_closed: int = 0
    reopened: int = 0  # times the ledger file was found deleted or replaced, and reopened
    spooled: int = 0  # records saved to the spool at exit (not written to the ledger)
    unspooled: int = 0  # spooled records (of any process) this writer wrote to the ledger


class LedgerWriter:
    """A :class:`~agent_routing.protocols.CallSink` that writes to a ledger in the background.

    Records are kept by reference until written: do not mutate a record after submitting
    it; submit a new record with the same id for the next event of that call.
    `abandoned_after_s` (default: the `capture.abandoned_after_s` default) is the age past
    which a pending call is taken as orphaned when the thread first opens the ledger.
    """

    def __init__(
        self,
        path: Path,
        settings: LedgerSettings | None = None,
        *,
        ledger_factory: Callable[[], Ledger] | None = None,
        exit_timeout_s: float = 10.0,
        abandoned_after_s: float | None = None,
        spool_key: str | None = None,
    ) -> None:
        self.path = path
        self.spool_key = spool_key or str(path)
        # where this writer spools: fixed now, not at exit (when the environment may differ)
        self.spool_folder = spool.spool_dir()
        self.settings = settings or LedgerSettings()
        self.exit_timeout_s = exit_timeout_s
        if abandoned_after_s is None:
            abandoned_after_s = CaptureSettings().abandoned_after_s
        if not abandoned_after_s > 0:
            raise ConfigError.single(
                "abandoned_after_s", f"must be a number of seconds > 0 (got {abandoned_after_s!r})"
            )
        self.abandoned_after_s = abandoned_after_s
        self._factory = ledger_factory or self._sqlite_factory
        self._orphan_sweep_done = False  # once per writer: not again after close or fork
        self._orphans_closed = 0
        self._reset()
        _LIVE_WRITERS.add(self)

    def _sqlite_factory(self) -> Ledger:
        # every backend comes from the registry (#14); `path` here is a SQLite file
        from agent_routing.ledger.registry import ledger_at
        from agent_routing.ledger.urls import sqlite_url

        return ledger_at(sqlite_url(self.path), self.settings)

    def _reset(self) -> None:
        """Fresh queue, locks and counters (at creation, and in a forked child)."""
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._committed_changed = threading.Condition(threading.Lock())
        self._submitted = 0
        self._committed = 0
        self._thread: threading.Thread | None = None
        self._batches = 0
        self._retries = 0
        self._rejected = 0
        self._last_error: str | None = None
        self._identity: tuple[int, int] | None = None
        self._reopened = 0
        self._inflight: list[_Item] = []
        self._spooled = 0
        self._spooled_through = 0  # every record up to this sequence number is in the spool
        self._unspooled = 0
        self._stop = threading.Event()  # the current thread's; each new thread gets its own
        self._local = threading.local()  # .stop: the event of the thread reading it
        self._opened = False  # the ledger opened at least once (in this process)
        self._open_failing = False  # the last attempt to open it failed
        self._ledger: Ledger

    # --- the hot path ------------------------------------------------------------------

    def submit(self, record: CallRecord) -> None:
        """Queue a call record (merged by id in the ledger). Never blocks, never raises."""
        self._put(_CALL, record)

    def submit_decision(self, decision: DecisionRecord) -> None:
        """Queue a routing decision."""
        self._put(_DECISION, decision)

    def submit_signal(self, signal: OutcomeSignal) -> None:
        """Queue an outcome signal."""
        self._put(_SIGNAL, signal)

    def _put(self, kind: int, item: Any) -> None:
        with self._lock:
            self._submitted += 1
            self._queue.put((self._submitted, kind, item))
            if self._thread is None:
                self._start_locked()

    def _start_locked(self) -> None:
        """Start the writer thread; if the system refuses a thread, records stay queued and
        the next submit or flush tries again."""
        stop = threading.Event()
        thread = threading.Thread(
            target=self._run,
            args=(stop,),
            name=f"agent-routing-ledger-writer:{self.path.name}",
            daemon=True,
        )
        try:
            thread.start()
        except RuntimeError:
            logger.exception("ledger writer for %s: cannot start its thread yet", self.path)
            return
        self._thread = thread
        self._stop = stop

    # --- waiting -----------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted so far is committed; False if `timeout` passed.

        Blocks the calling thread: from async code use :meth:`aflush`.
        """
        return self._wait_committed(timeout, unless_unopenable=False)

    def flush_unless_unopenable(self, timeout: float | None = None) -> bool:
        """:meth:`flush`, but False at once when the ledger cannot be opened
        (:meth:`never_opened`; a first open still under way is waited for): for paths
        that end the process, such as capture's close at exit."""
        return self._wait_committed(timeout, unless_unopenable=True)

    def _wait_committed(self, timeout: float | None, *, unless_unopenable: bool) -> bool:
        """:meth:`flush`; with `unless_unopenable`, also stop waiting (False) as soon as
        :meth:`never_opened` says the ledger cannot be opened."""
        with self._lock:
            target = self._submitted
            if target > max(self._committed, self._spooled_through) and self._thread is None:
                self._start_locked()
            elif self._thread is None and target > self._committed:
                return False  # spooled by an earlier close: written by the next writer
        if target <= self._committed:
            return True
        self._queue.put(_FLUSH)
        with self._committed_changed:
            written = self._committed_changed.wait_for(
                lambda: self._committed >= target or (unless_unopenable and self.never_opened()),
                timeout=timeout,
            )
        return written and self._committed >= target

    async def aflush(self, timeout_s: float | None = None) -> bool:
        """:meth:`flush` without blocking the event loop."""
        return await asyncio.to_thread(self.flush, timeout_s)

    def close(self, timeout: float | None = None) -> bool:
        """Flush, then stop the thread. A later submit starts a new one.

        Returns False when `timeout` passed first. The thread is then told to stop: it
        retries no more and ends (at once when it waits between retries; after the
        storage call it is in, otherwise), and every record not yet written is saved to
        the spool, which the next writer of this ledger writes (:meth:`spool_unwritten`).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        flushed = self.flush(timeout)
        with self._lock:
            thread = self._thread
            if flushed:
                if thread is None:
                    return True
                self._queue.put(_STOP)
            elif thread is None and self._submitted <= self._spooled_through:
                return False  # an earlier close spooled them: nothing to say or do again
            else:
                self._stop.set()
                if thread is not None:  # wakes it if it waits for records; queued before
                    self._queue.put(_STOP)  # any record a new thread should take
                self._thread = None  # a later submit starts a new thread
        if flushed:
            assert thread is not None
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            return not thread.is_alive()
        logger.error(
            "ledger writer for %s: %d record(s) not yet written at close; it stops retrying",
            self.path,
            self._submitted - self._committed,
        )
        if thread is not None:
            thread.join(_STOP_GRACE_S)
        # a record the stopped thread still writes is written twice then: harmless
        self.spool_unwritten()
        return False

    def never_opened(self) -> bool:
        """True while the ledger has not opened once in this process and the last attempt
        failed (a garbage file, a server that refuses): nothing can be written soon."""
        return not self._opened and self._open_failing

    def stats(self) -> WriterStats:
        """Counters for diagnostics and benchmarks."""
        return WriterStats(
            submitted=self._submitted,
            committed=self._committed,
            batches=self._batches,
            retries=self._retries,
            rejected=self._rejected,
            last_error=self._last_error,
            orphans_closed=self._orphans_closed,
            reopened=self._reopened,
            spooled=self._spooled,
            unspooled=self._unspooled,
        )

    def spool_unwritten(self) -> Path | None:
        """Save every record submitted but not yet committed to a spool file (at exit,
        after :meth:`close` timed out), so the next writer of this ledger writes it.
        Returns the file, or None when nothing was left (or it could not be saved: logged).
        """
        with self._lock:
            pending = {seq: (seq, kind, item) for seq, kind, item in self._inflight}
            pending.update((item[0], item) for item in self._drain_nowait())
            through = self._submitted
        unwritten = [pending[seq] for seq in sorted(pending) if seq > self._committed]
        target = spool.save(
            self.spool_key,
            str(self.path),
            [(kind, item) for _, kind, item in unwritten],
            self.spool_folder,
        )
        if target is not None or not unwritten:
            self._spooled_through = max(self._spooled_through, through)
        if target is not None:
            self._spooled += len(unwritten)
            logger.error(
                "ledger writer for %s: %d record(s) could not be written before close or exit; "
                "saved to %s: the next agent-routing writer that opens this ledger writes them",
                self.path,
                len(unwritten),
                target,
            )
        return target

    # --- the background thread ---------------------------------------------------------

    def _run(self, stop: threading.Event) -> None:
        self._local.stop = stop
        try:
            asyncio.run(self._serve())
        except _Stopped:  # closed before its records could be written: close spooled them
            with self._lock:
                if self._thread is threading.current_thread():
                    self._thread = None
        except BaseException:  # a bug must not leave records queued with no thread to write them
            logger.exception("ledger writer for %s stopped; the next submit restarts it", self.path)
            with self._lock:
                if self._thread is threading.current_thread():
                    self._thread = None

    async def _open(self) -> Ledger:
        """A new ledger, opened; its file's identity is remembered (see `_commit`)."""
        ledger = self._factory()
        # Opening is retried whatever the error (unwritable directory, locked migration):
        # records wait in the queue meanwhile, and nothing else could store them.
        try:
            await self._retry("open the ledger", ledger.open, ledger, any_error=True)
        except _Stopped:
            with contextlib.suppress(Exception):
                await ledger.close()
            raise
        self._identity = _file_identity(self.path)
        self._opened = True
        self._open_failing = False
        return ledger

    async def _serve(self) -> None:
        self._ledger = await self._open()
        try:
            await self._write_spooled()
            await self._close_orphans(self._ledger)
            stopping = False
            while not stopping:
                if self._local.stop.is_set():  # never take a record from the queue once
                    raise _Stopped  # stopped: close spools what is left there
                items, stopping = self._collect()
                if items:
                    await self._commit(self._ledger, items)
            if self._local.stop.is_set():
                raise _Stopped  # closed on a timeout: what is queued was spooled
            while True:  # final drain; hand over to a new thread only when truly empty
                with self._lock:
                    items = self._drain_nowait()
                    if not items:
                        self._thread = None
                        break
                await self._commit(self._ledger, items)
        finally:
            await self._ledger.close()

    async def _same_file(self) -> bool:
        """False (after reopening, which recreates the file) when the ledger file was
        deleted or replaced since it was opened: the connection would keep writing into
        the unlinked file, and every later record would be lost without a word."""
        identity = _file_identity(self.path)
        if self._identity is None or identity == self._identity:
            return True
        logger.error(
            "ledger writer for %s: the ledger file was %s while in use; reopening it "
            "(a new ledger is created if it is gone) and writing the records there. "
            "Calls written before this are in the old file only.",
            self.path,
            "deleted" if identity is None else "replaced",
        )
        self._reopened += 1
        try:
            await self._ledger.close()
        except Exception as error:
            logger.warning("ledger writer for %s: closing the old file: %r", self.path, error)
        self._ledger = await self._open()
        return False

    async def _write_spooled(self) -> None:
        """Write the records earlier processes (or this one) spooled for this ledger."""
        claimed = spool.claim(self.spool_key, self.spool_folder)
        for index, path in enumerate(claimed):
            try:
                await self._write_spool_file(path)
            except _Stopped:  # give the files back for the next writer
                for left in claimed[index:]:
                    spool.release(left, imported=False)
                raise

    async def _write_spool_file(self, path: Path) -> None:
        """Write one claimed spool file, then delete it (set aside as .bad if unreadable)."""
        try:
            records = spool.load(path)
        except (OSError, ValueError, TypeError, KeyError):
            logger.exception(
                "ledger writer for %s: unreadable spool file %s set aside as .bad",
                self.path,
                path,
            )
            spool.release(path, imported=False, bad=True)
            return
        await self._write(self._ledger, [(0, kind, record) for kind, record in records])
        self._unspooled += len(records)
        spool.release(path, imported=True)
        logger.warning(
            "ledger writer for %s: wrote %d record(s) spooled by an earlier process (%s)",
            self.path,
            len(records),
            path.name,
        )

    async def _close_orphans(self, ledger: Ledger) -> None:
        """Close the calls dead processes left pending (once per writer). A failure is
        logged and skipped: the next process to start, or `agent-routing doctor`, retries."""
        if self._orphan_sweep_done:
            return
        self._orphan_sweep_done = True
        try:
            swept = await ledger.close_orphaned_calls(
                started_before=time.time() - self.abandoned_after_s
            )
        except Exception as error:
            logger.warning(
                "ledger writer for %s: cannot close calls left pending by dead processes: %s",
                self.path,
                error,
            )
            return
        self._orphans_closed += swept.closed
        if swept.closed:
            logger.info(
                "ledger writer for %s: closed %d call(s) left pending by dead processes "
                "as abandoned ($%.6f now counted, %d unpriced)",
                self.path,
                swept.closed,
                swept.cost_usd,
                swept.unpriced,
            )

    def _collect(self) -> tuple[list[_Item], bool]:
        """Block for a first item, then gather until the batch is full or the interval ends."""
        first = self._queue.get()
        if first is _STOP:
            return [], True
        if first is _FLUSH:
            return [], False
        items: list[_Item] = [first]
        deadline = time.monotonic() + self.settings.flush_interval_ms / 1000
        while len(items) < self.settings.batch_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                item = self._queue.get(timeout=remaining)
            except queue.Empty:
                break
            if item is _FLUSH:
                break
            if item is _STOP:
                return items, True
            items.append(item)
        return items, False

    def _drain_nowait(self) -> list[_Item]:
        items: list[_Item] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return items
            if item is not _FLUSH and item is not _STOP:
                items.append(item)

    async def _commit(self, ledger: Ledger, items: list[_Item]) -> None:
        # The file's identity is checked before and after the batch: a batch that went
        # into a deleted (unlinked) file is written again into the new one. Rewriting is
        # safe: calls merge by id, decisions and signals are inserted once.
        self._inflight = items  # first: a stop from here on leaves them for the spool
        await self._same_file()
        while True:
            await self._write(self._ledger, items)
            if await self._same_file():
                break
        with self._committed_changed:
            self._committed = max(self._committed, items[-1][0])
            self._inflight = []
            self._batches += 1
            self._committed_changed.notify_all()

    async def _write(self, ledger: Ledger, items: list[_Item]) -> None:
        """Write items in one transaction; isolate records the storage rejects for good."""
        calls = [item for _, kind, item in items if kind == _CALL]
        decisions = [item for _, kind, item in items if kind == _DECISION]
        signals = [item for _, kind, item in items if kind == _SIGNAL]
        try:
            await self._retry(
                "write", lambda: ledger.write_batch(calls, decisions, signals), ledger
            )
        except Exception as error:  # permanent: a retry cannot fix it
            if len(items) > 1:
                for item in items:
                    await self._write(ledger, [item])
                return
            self._rejected += 1
            self._last_error = repr(error)
            logger.exception(
                "ledger writer for %s: record rejected and dropped: %r",
                self.path,
                items[0][2],
            )

    async def _retry(
        self,
        what: str,
        action: Callable[[], Any],
        ledger: Ledger,
        *,
        any_error: bool = False,
    ) -> None:
        """Await `action()` until it succeeds; re-raise errors that are not transient
        (unless `any_error`)."""
        delay = _BACKOFF_FIRST_S
        failures = 0
        stop: threading.Event = self._local.stop
        while True:
            if stop.is_set():
                raise _Stopped
            try:
                await action()
            except Exception as error:
                if not (any_error or ledger.is_transient_error(error)):
                    raise
                failures += 1
                self._retries += 1
                self._last_error = repr(error)
                if any_error and not self._open_failing:
                    with self._committed_changed:
                        self._open_failing = True
                        self._committed_changed.notify_all()  # wakes close_writers
                if stop.is_set():
                    raise _Stopped from None
                if failures % _LOG_EVERY_N_FAILURES == 1:
                    logger.warning(
                        "ledger writer for %s: cannot %s yet (%s); retrying (attempt %d)",
                        self.path,
                        what,
                        error,
                        failures,
                    )
                await _pause(delay, stop)
                delay = min(delay * 2, _BACKOFF_MAX_S)
            else:
                if failures:
                    logger.info("ledger writer for %s: %s succeeded after retries", self.path, what)
                return


async def _pause(delay: float, stop: threading.Event) -> None:
    """Sleep `delay` seconds, or raise :class:`_Stopped` soon after `stop` is set."""
    end = time.monotonic() + delay
    while True:
        if stop.is_set():
            raise _Stopped
        left = end - time.monotonic()
        if left <= 0:
            return
        await asyncio.sleep(min(left, _STOP_POLL_S))


def _file_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file at `path`, or None when there is none."""
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_dev, info.st_ino


# --- the process-wide registry ----------------------------------------------------------


class _Registry:
    """The writers of this process: one per resolved path, plus every live one for exit."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_path: dict[Path | str, LedgerWriter] = {}


_LIVE_WRITERS: weakref.WeakSet[LedgerWriter] = weakref.WeakSet()
_REGISTRY = _Registry()


def get_writer(
    path: Path | str | LedgerURL | None = None,
    settings: LedgerSettings | None = None,
    *,
    abandoned_after_s: float | None = None,
) -> LedgerWriter:
    """The writer for a ledger in this process (created on first use).

    `path` (a path or a ledger URL) defaults to the settings' ledger location. One writer
    exists per resolved path or URL; the `settings` (and `abandoned_after_s`, see
    :class:`LedgerWriter`) of the first call for it are the ones used.
    """
    from agent_routing.ledger.registry import ledger_at, resolve

    settings = settings or LedgerSettings()
    target = resolve(settings, path, field="db_path")
    if target.path is not None:
        resolved: Path | str = target.path.expanduser().resolve()
        factory = None
        label: Path = Path(resolved)
    else:  # a server: the label shown in logs and thread names never holds the password
        resolved = target.key
        label = Path(target.redacted())

        def factory() -> Ledger:
            return ledger_at(target, settings)

    with _REGISTRY.lock:
        writer = _REGISTRY.by_path.get(resolved)
        if writer is None:
            writer = LedgerWriter(
                label,
                settings,
                ledger_factory=factory,
                abandoned_after_s=abandoned_after_s,
                spool_key=str(resolved),
            )
            _REGISTRY.by_path[resolved] = writer
        return writer


def _reset_after_fork_in_child() -> None:
    """A child must not share the parent's thread, locks or queued (parent-owned) records."""
    _REGISTRY.lock = threading.Lock()
    for writer in list(_LIVE_WRITERS):
        writer._reset()


def close_writers(
    writers: Iterable[LedgerWriter] | None = None, timeout: float | None = None
) -> None:
    """Close `writers` (default: every live writer of this process) as the process does at
    exit: each gets its `exit_timeout_s` (or `timeout` when given), counted from now for
    all of them together, so N writers never take N timeouts; one whose ledger never
    opened (:meth:`LedgerWriter.never_opened`) gets none. What a writer cannot write in
    its time is spooled (:meth:`LedgerWriter.close`)."""
    start = time.monotonic()
    for writer in list(_LIVE_WRITERS if writers is None else writers):
        try:
            allowed = writer.exit_timeout_s if timeout is None else timeout
            # a first open still under way is waited for, until it fails
            writer.flush_unless_unopenable(max(0.0, start + allowed - time.monotonic()))
            if writer.never_opened():
                allowed = 0.0
            writer.close(timeout=max(0.0, start + allowed - time.monotonic()))
        except Exception:  # one writer's failure must not keep the others from closing
            logger.exception("ledger writer for %s: closing failed", writer.path)


def live_writers() -> list[LedgerWriter]:
    """Every writer of this process not yet garbage-collected (tests close the ones they
    made with :func:`close_writers`)."""
    return list(_LIVE_WRITERS)


def _close_all_at_exit() -> None:
    close_writers()


os.register_at_fork(after_in_child=_reset_after_fork_in_child)
atexit.register(_close_all_at_exit)
