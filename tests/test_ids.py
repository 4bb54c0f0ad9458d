"""Record ids: unique, sortable by creation, decodable time, safe across threads."""

from __future__ import annotations

import threading
import time

import pytest

from agent_routing.ids import id_time_ms, new_id


def test_ids_are_unique_and_strictly_increasing() -> None:
    """Ids made in a tight loop (many per millisecond) never repeat and sort in creation order."""
    ids = [new_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert all(len(i) == 26 for i in ids)


def test_id_encodes_its_creation_time() -> None:
    """The first ten characters decode to the wall-clock millisecond of creation."""
    before = time.time_ns() // 1_000_000
    record_id = new_id()
    after = time.time_ns() // 1_000_000
    assert before <= id_time_ms(record_id) <= after + 1


def test_ids_from_many_threads_never_collide() -> None:
    """Eight threads making ids at once produce no duplicate."""
    results: list[list[str]] = [[] for _ in range(8)]

    def work(slot: list[str]) -> None:
        slot.extend(new_id() for _ in range(5_000))

    threads = [threading.Thread(target=work, args=(slot,)) for slot in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [i for slot in results for i in slot]
    assert len(set(everything)) == len(everything) == 40_000


def test_ids_keep_increasing_when_the_wall_clock_steps_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A wall clock set back (NTP) does not make a later id sort before an earlier one."""
    first = new_id()
    real = time.time_ns
    monkeypatch.setattr(time, "time_ns", lambda: real() - 60_000_000_000)  # one minute back
    later = [new_id() for _ in range(100)]
    assert [first, *later] == sorted([first, *later])
    assert len(set(later)) == 100


def test_ids_are_standard_ulids() -> None:
    """An id parses as a ULID (any ULID library reads it) and round-trips unchanged."""
    from ulid import ULID

    record_id = new_id()
    assert str(ULID.from_str(record_id)) == record_id
