"""What a compression step sees besides the entries: the budget, the counter, the bookkeeping.

Steps are plain callables `(entries, context) -> entries` (structlog-processor style). They
replace entries through :meth:`StepContext.swap`, which recounts the new entry, keeps the
running total and records what the step removed, so every step can stop the moment the
budget is met.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from agent_routing.compression._entries import Entry
from agent_routing.compression._identifiers import items_in
from agent_routing.compression.tokenize import MESSAGE_OVERHEAD_TOKENS, TokenCounter


@dataclass(slots=True)
class StepReport:
    """What one step did in one compression."""

    name: str
    messages_changed: int = 0
    tokens_removed: int = 0


@dataclass(slots=True, frozen=True)
class FoldedUnit:
    """A turn folded into a summary: what a utility-model summary would be asked about."""

    key: str  # digest of `source_text`: the summary cache key
    source_text: str  # the turn as received (stable across calls)
    tokens: int  # what the turn cost in the prompt before folding


class ReferenceIndex:
    """For every item (identifier, number, path, URL): the last entry position holding it.

    Built once per compression from the entries' text; answers "does a later message
    refer to this item?" for the elider and the extractive summary.
    """

    __slots__ = ("_last",)

    def __init__(self, entries: Sequence[Entry]) -> None:
        self._last: dict[str, int] = {}
        for entry in entries:
            for part in (entry.text, entry.side_text, entry.reasoning):
                for item in items_in(part):
                    self._last[item] = entry.position

    def referenced_after(self, item: str, position: int) -> bool:
        """True when `item` occurs in a message after `position`."""
        return self._last.get(item, -1) > position


@dataclass(slots=True)
class StepContext:
    """Shared state of one pipeline run."""

    budget: int
    total: int
    count: TokenCounter
    tool_output_max_tokens: int
    summaries: Mapping[str, str] = field(default_factory=dict)
    chunk: bool = False  # soft policy: mask every old output at once (one large change)
    reports: dict[str, StepReport] = field(default_factory=dict)
    folded_units: list[FoldedUnit] = field(default_factory=list)
    _references: ReferenceIndex | None = None

    def met(self) -> bool:
        """True once the prompt fits the budget."""
        return self.total <= self.budget

    def report(self, step: str) -> StepReport:
        """The report of `step`, created on first use."""
        found = self.reports.get(step)
        if found is None:
            found = self.reports[step] = StepReport(step)
        return found

    def counts(self, entry: Entry) -> tuple[int, int]:
        """(tokens of the whole message, tokens of its `text`), counted from scratch."""
        text_tokens = self.count(entry.text)
        return (
            text_tokens
            + self.count(entry.side_text)
            + self.count(entry.reasoning)
            + MESSAGE_OVERHEAD_TOKENS,
            text_tokens,
        )

    def measured(self, entry: Entry) -> Entry:
        """`entry` with `tokens` and `text_tokens` counted from scratch."""
        tokens, text_tokens = self.counts(entry)
        return replace(entry, tokens=tokens, text_tokens=text_tokens)

    def with_text(self, entry: Entry, text: str) -> Entry:
        """A changed copy of `entry` with a new `text`, recounted cheaply."""
        text_tokens = self.count(text)
        return replace(
            entry,
            text=text,
            text_tokens=text_tokens,
            tokens=entry.tokens - entry.text_tokens + text_tokens,
            changed=True,
        )

    def swap(self, entries: list[Entry], index: int, new: Entry, step: str) -> None:
        """Put `new` (already counted) at `index`; update the total and `step`'s report."""
        removed = entries[index].tokens - new.tokens
        entries[index] = new
        self.total -= removed
        report = self.report(step)
        report.messages_changed += 1
        report.tokens_removed += removed

    def references(self, entries: Sequence[Entry]) -> ReferenceIndex:
        """The reference index of the entries as the first step asking for it saw them."""
        if self._references is None:
            self._references = ReferenceIndex(entries)
        return self._references


class Step(Protocol):
    """One compression step: returns the new entry list, stopping once the budget is met."""

    name: str

    def __call__(self, entries: list[Entry], context: StepContext) -> list[Entry]: ...
