"""Step 4: fold old turns into a summary, oldest first, until the budget is met.

Each folded turn becomes one line of a summary message placed where the turns were: the
extractive line by default (:mod:`~agent_routing.compression._extractive`), or a
utility-model summary when the caller obtained one for that turn's content (the
`summaries` of the step context, keyed by :func:`turn_key`). A turn is folded whole, so a
tool result never loses the assistant message that called it.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence

from agent_routing.compression import _markers as markers
from agent_routing.compression._context import FoldedUnit, StepContext
from agent_routing.compression._entries import Entry, Role
from agent_routing.compression._extractive import summarize_turn
from agent_routing.compression.tokenize import MESSAGE_OVERHEAD_TOKENS

SUMMARY_VERSION = "turn-summary-v1"


def turn_source_text(entries: Sequence[Entry]) -> str:
    """A turn as received, one `role: text` block per message (what a summary is made of)."""
    return "\n\n".join(f"{entry.role.value}: {entry.source_text}" for entry in entries)


def turn_key(source_text: str) -> str:
    """The content hash that identifies a turn's summary across calls and processes."""
    payload = f"{SUMMARY_VERSION}\n{source_text}".encode("utf-8", "replace")
    return hashlib.sha256(payload).hexdigest()


def _units(entries: Sequence[Entry]) -> list[list[int]]:
    """Indices of each whole, unprotected turn, in order (consecutive entries per unit)."""
    groups: dict[int, list[int]] = {}
    for index, entry in enumerate(entries):
        groups.setdefault(entry.unit, []).append(index)
    return [
        indices
        for indices in groups.values()
        if all(entries[i].mutable and not entries[i].summary for i in indices)
        and indices == list(range(indices[0], indices[-1] + 1))
    ]


class TurnFolder:
    """Replaces the oldest unprotected turns by summary lines until the budget is met."""

    name = "fold_old_turns"

    def __call__(self, entries: list[Entry], context: StepContext) -> list[Entry]:
        if context.met():
            return entries
        references = context.references(entries)
        folded: dict[int, str] = {}  # first index of a folded unit -> its summary line
        members: dict[int, list[int]] = {}
        estimate = context.total
        previous_end = -2
        for indices in _units(entries):
            if estimate <= context.budget:
                break
            turn = [entries[i] for i in indices]
            source = turn_source_text(turn)
            key = turn_key(source)
            referenced_later = functools.partial(
                references.referenced_after, position=turn[-1].position
            )
            line = context.summaries.get(key) or summarize_turn(turn, referenced_later)
            line = "- " + " ".join(line.split())
            tokens = sum(entry.tokens for entry in turn)
            line_tokens = context.count(line) + 1
            header = (
                0
                if indices[0] == previous_end + 1
                else context.count(markers.summary_header(1, tokens)) + MESSAGE_OVERHEAD_TOKENS
            )
            if line_tokens + header >= tokens:  # folding this turn would not save anything
                continue
            context.folded_units.append(FoldedUnit(key=key, source_text=source, tokens=tokens))
            folded[indices[0]] = line
            members[indices[0]] = indices
            estimate += line_tokens + header - tokens
            previous_end = indices[-1]
        return self._rebuilt(entries, folded, members, context) if folded else entries

    def _rebuilt(
        self,
        entries: list[Entry],
        folded: dict[int, str],
        members: dict[int, list[int]],
        context: StepContext,
    ) -> list[Entry]:
        result: list[Entry] = []
        run: list[int] = []  # first indices of the folded units in the current run
        index = 0
        while index < len(entries):
            if index in folded:
                run.append(index)
                index = members[index][-1] + 1
                continue
            if run:
                result.append(self._summary(entries, run, folded, members, context))
                run = []
            result.append(entries[index])
            index += 1
        if run:
            result.append(self._summary(entries, run, folded, members, context))
        return result

    def _summary(
        self,
        entries: list[Entry],
        run: list[int],
        folded: dict[int, str],
        members: dict[int, list[int]],
        context: StepContext,
    ) -> Entry:
        covered = [entries[i] for first in run for i in members[first]]
        tokens = sum(entry.tokens for entry in covered)
        text = "\n".join(
            [markers.summary_header(len(run), tokens), *(folded[first] for first in run)]
        )
        summary = context.measured(
            Entry(
                role=Role.USER,
                text=text,
                position=covered[0].position,
                digests=tuple(d for entry in covered for d in entry.digests),
                source_tokens=sum(entry.source_tokens for entry in covered),
                unit=covered[0].unit,
                source_text=text,
                changed=True,
                summary=True,
            )
        )
        context.total += summary.tokens - tokens
        report = context.report(self.name)
        report.messages_changed += len(covered)
        report.tokens_removed += tokens - summary.tokens
        return summary
