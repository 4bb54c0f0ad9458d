"""Waiting for litellm's own async callbacks, so that `flush` can acknowledge them.

litellm runs async success and failure callbacks later, on a logging worker bound to one
event loop (`GLOBAL_LOGGING_WORKER`, an `asyncio.Queue` of callback coroutines). When a
completion returns, its success callback has usually not run yet, so a flush of capture
alone acknowledged rows that were still `pending` (67 of 200 right after 200 concurrent
calls). Before its own barrier, the capture's flush now waits until that worker has run
every callback queued so far:

* from another thread (or another loop): the wait is scheduled on the worker's loop;
* from a coroutine on the worker's own loop: `aflush` awaits the queue directly;
* a blocking `flush()` called ON the worker's loop thread cannot wait (the callbacks need
  that very loop): it returns False when callbacks are still queued, and says so in the
  log; use `await handle.aflush()` there.

The worker is looked up by name, best effort: a litellm without it (or a different
layout) means there is nothing to wait for.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import sys
from typing import Any

log = logging.getLogger(__name__)


def _worker() -> Any | None:
    module = sys.modules.get("litellm.litellm_core_utils.logging_worker")
    return getattr(module, "GLOBAL_LOGGING_WORKER", None)


def _worker_queue() -> Any | None:
    queue = getattr(_worker(), "_queue", None)
    return queue if isinstance(queue, asyncio.Queue) else None


def _worker_loop() -> asyncio.AbstractEventLoop | None:
    """The loop the worker runs on: its task's loop (the queue itself binds to a loop only
    once it has had to wait), None when it is not running."""
    task = getattr(_worker(), "_worker_task", None)
    if isinstance(task, asyncio.Task) and not task.done():
        return task.get_loop()
    loop = getattr(_worker_queue(), "_loop", None)
    return loop if isinstance(loop, asyncio.AbstractEventLoop) else None


def pending_litellm_callbacks() -> int:
    """How many litellm async callbacks are queued or running now (0 when unknown)."""
    queue = _worker_queue()
    return int(getattr(queue, "_unfinished_tasks", 0)) if queue is not None else 0


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def drain_litellm_callbacks(timeout: float | None) -> bool:
    """Block until litellm has run every async callback queued so far; False when they
    could not all run in `timeout`, or cannot run while this thread waits (module doc)."""
    queue = _worker_queue()
    if queue is None or pending_litellm_callbacks() == 0:
        return True
    loop = _worker_loop()
    if loop is None or loop.is_closed():
        return True  # nothing will ever run them
    if not loop.is_running():
        return True  # the loop is stopped: litellm drops them; nothing to wait for
    if _running_loop() is loop:
        log.warning(
            "agent-routing flush() on the event loop that runs litellm's callbacks cannot "
            "wait for them (%d queued); use `await aflush()`",
            pending_litellm_callbacks(),
        )
        return False
    future = asyncio.run_coroutine_threadsafe(queue.join(), loop)
    try:
        future.result(timeout)
    except (TimeoutError, concurrent.futures.TimeoutError):
        future.cancel()
        return False
    return True


async def adrain_litellm_callbacks(timeout_s: float | None) -> bool:
    """:func:`drain_litellm_callbacks` for a coroutine (on any loop)."""
    queue = _worker_queue()
    if queue is None or pending_litellm_callbacks() == 0:
        return True
    if _worker_loop() is _running_loop():
        try:
            await asyncio.wait_for(queue.join(), timeout_s)
        except TimeoutError:
            return False
        return True
    return await asyncio.to_thread(drain_litellm_callbacks, timeout_s)
