"""DeferredTask / EventLoopThread: coroutines run on persistent named threads with own loops.

As in the host, a user request runs on the "AgentContext" loop thread and background work
(memorisation) on another. litellm binds its async logging worker to the first loop that
uses it; a success callback enqueued from another thread's loop is never woken up while
that loop idles, which is why background utility calls get no success callback.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any, ClassVar


class EventLoopThread:
    _threads: ClassVar[dict[str, EventLoopThread]] = {}
    _lock = threading.Lock()

    def __init__(self, name: str) -> None:
        self.name = name
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()

    @classmethod
    def get(cls, name: str) -> EventLoopThread:
        with cls._lock:
            if name not in cls._threads:
                cls._threads[name] = EventLoopThread(name)
            return cls._threads[name]

    def submit(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future[Any]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    @classmethod
    def shutdown_all(cls) -> list[Any]:
        """Cancel what is pending on every loop and stop them (test teardown).

        A loop whose tasks do not all finish cancelling (litellm's logging worker awaiting
        a callback queued from another loop) is left running on its daemon thread instead:
        stopping it would leave pending tasks to be garbage-collected mid-flight. Returns
        those (loop, tasks), for the caller to keep referenced.
        """
        with cls._lock:
            threads = list(cls._threads.values())
            cls._threads.clear()
        leftovers: list[Any] = []
        for item in threads:

            async def cancel_pending() -> list[asyncio.Task[Any]]:
                current = asyncio.current_task()
                pending = [t for t in asyncio.all_tasks() if t is not current]
                for task in pending:
                    task.cancel()
                if pending:
                    await asyncio.wait(pending, timeout=0.05)
                stuck = [t for t in pending if not t.done()]
                for task in stuck:  # they end with the process; say nothing when collected
                    task._log_destroy_pending = False  # type: ignore[attr-defined]
                return stuck

            stuck = asyncio.run_coroutine_threadsafe(cancel_pending(), item.loop).result(5)
            if stuck:
                leftovers.append((item.loop, stuck))
                continue
            item.loop.call_soon_threadsafe(item.loop.stop)
            item.thread.join(5)
            item.loop.close()
        return leftovers


class DeferredTask:
    def __init__(self, thread_name: str = "Background") -> None:
        self.thread_name = thread_name
        self.future: concurrent.futures.Future[Any] | None = None

    def start_task(
        self, func: Callable[..., Coroutine[Any, Any, Any]], *args: Any, **kwargs: Any
    ) -> DeferredTask:
        self.future = EventLoopThread.get(self.thread_name).submit(func(*args, **kwargs))
        return self

    def result_sync(self, timeout: float | None = None) -> Any:
        assert self.future is not None
        return self.future.result(timeout)

    async def result(self) -> Any:
        assert self.future is not None
        return await asyncio.wrap_future(self.future)

    def join(self, timeout: float | None = None) -> None:
        if self.future is not None:
            concurrent.futures.wait([self.future], timeout)

    def is_alive(self) -> bool:
        return self.future is not None and not self.future.done()
