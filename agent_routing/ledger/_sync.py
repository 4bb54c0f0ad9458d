"""Run ledger coroutines from synchronous code (CLI commands, API handlers, scripts)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` to completion and return its result, from any thread.

    Without a running event loop in this thread it uses :func:`asyncio.run`. When called
    from inside a running loop (sync code called by async code), it runs the coroutine on a
    fresh loop in a helper thread and waits, which blocks the calling loop for that time:
    prefer `await` there.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="agent-routing-sync") as pool:
        return pool.submit(asyncio.run, coro).result()
