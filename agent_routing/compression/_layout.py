"""Where a message sits in the conversation: what is protected, what is a turn.

A *turn* starts at an assistant message and holds the tool results and observations that
follow it. The most recent `keep_recent_turns` turns (and anything after them, such as a
new user message) are never changed; neither are the leading system messages nor the
task (the first user message). In-context demonstrations (`is_demo`) are reference text:
each is a unit of its own and may be shortened like a tool output.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from agent_routing.compression._entries import Entry, Role


def _starts_turn(entry: Entry) -> bool:
    return entry.role is Role.ASSISTANT and not entry.demo


def recent_start(entries: Sequence[Entry], keep_recent_turns: int) -> int:
    """Index of the first entry of the most recent `keep_recent_turns` turns.

    With fewer turns than that, every turn is recent; with no turn at all (no assistant
    message yet), only the last message is.
    """
    starts = [index for index, entry in enumerate(entries) if _starts_turn(entry)]
    if not starts:
        return max(len(entries) - 1, 0)
    return starts[-keep_recent_turns] if len(starts) >= keep_recent_turns else starts[0]


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one entry sits: its turn, and which protections apply."""

    unit: int
    pinned: bool
    recent: bool
    observation: bool


def placements(entries: Sequence[Entry], keep_recent_turns: int) -> list[Placement]:
    """The placement of each entry (see the module docstring for the rules)."""
    first_turn = next((i for i, entry in enumerate(entries) if _starts_turn(entry)), len(entries))
    recent_from = recent_start(entries, keep_recent_turns)
    leading_system = 0
    while leading_system < len(entries) and entries[leading_system].role is Role.SYSTEM:
        leading_system += 1
    task = next(
        (
            i
            for i, entry in enumerate(entries)
            if entry.role is Role.USER and not entry.demo and i < max(first_turn, 1)
        ),
        None,
    )
    placed: list[Placement] = []
    unit = 0
    previous_demo = False
    for index, entry in enumerate(entries):
        if _starts_turn(entry) or entry.demo or previous_demo:
            unit += 1
        previous_demo = entry.demo
        pinned = index < leading_system or index == task
        observation = entry.demo or (
            not pinned and entry.role is not Role.ASSISTANT and index > first_turn
        )
        placed.append(Placement(unit, pinned, index >= recent_from, observation))
    return placed


def label_entries(entries: Sequence[Entry], keep_recent_turns: int) -> list[Entry]:
    """Entries with their :class:`Placement` applied (`frozen` is left as it is)."""
    return [
        replace(
            entry,
            unit=place.unit,
            pinned=place.pinned,
            recent=place.recent,
            observation=place.observation,
        )
        for entry, place in zip(entries, placements(entries, keep_recent_turns), strict=True)
    ]
