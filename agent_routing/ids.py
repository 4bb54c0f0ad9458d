"""Time-sortable record identifiers created by the caller before the work happens.

An id is made before an LLM call starts, so a retry after a crash writes the same id again
and the ledger's `INSERT ... ON CONFLICT` turns it into a merge, never a duplicate.
The format is a ULID (48-bit millisecond time + 80 random bits, Crockford base32), made by
the `python-ulid` package with its strict monotonic policy: within one millisecond the
random part is incremented, so ids sort in creation order. The clock it reads never goes
back within a process (a wall clock stepped back by NTP keeps the last millisecond), and
generation holds one lock, so ids made by many threads are unique and increasing in the
order they were made.
"""

from __future__ import annotations

import threading
import time

from ulid import ULID, StrictMonotonicPolicy, ULIDGenerator


class _ForwardClock:
    """Wall-clock milliseconds, never earlier than the last value it gave (read under _lock)."""

    def __init__(self) -> None:
        self.last_ms = 0

    def __call__(self) -> int:
        self.last_ms = max(self.last_ms, time.time_ns() // 1_000_000)
        return self.last_ms


_lock = threading.Lock()
_generator = ULIDGenerator(clock=_ForwardClock(), policy=StrictMonotonicPolicy())


def new_id() -> str:
    """Return a new 26-character ULID, strictly increasing within this process."""
    with _lock:  # the clock is read inside the generator: read it and increment atomically
        return str(_generator.generate())


def id_time_ms(record_id: str) -> int:
    """The creation time (Unix ms) encoded in an id made by :func:`new_id`."""
    return ULID.from_str(record_id).milliseconds
