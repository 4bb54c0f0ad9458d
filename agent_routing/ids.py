"""Time-sortable record identifiers created by the caller before the work happens.

An id is made before an LLM call starts, so a retry after a crash writes the same id again
and the ledger's `INSERT ... ON CONFLICT` turns it into a merge, never a duplicate.
The format is a ULID (48-bit millisecond time + 80 random bits, Crockford base32), made
monotonic within a process so ids sort in creation order even inside one millisecond.
"""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_lock = threading.Lock()
_last_ms = 0
_last_rand = 0


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, rem = divmod(value, 32)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


def new_id() -> str:
    """Return a new 26-character ULID, strictly increasing within this process."""
    global _last_ms, _last_rand
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms <= _last_ms:
            now_ms = _last_ms
            rand = _last_rand + 1
        else:
            rand = int.from_bytes(os.urandom(10), "big") >> 1  # leave headroom for increments
        _last_ms, _last_rand = now_ms, rand
    return _encode(now_ms, 10) + _encode(rand, 16)


def id_time_ms(record_id: str) -> int:
    """The creation time (Unix ms) encoded in an id made by :func:`new_id`."""
    value = 0
    for char in record_id[:10]:
        value = value * 32 + _ALPHABET.index(char)
    return value
