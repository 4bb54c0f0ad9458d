"""How much compression kept: token reduction and retention of facts.

Retention is measured on the items of :mod:`~agent_routing.compression._identifiers`
(identifiers, numbers, paths, URLs). For one conversation:

- the *original items* are the distinct items in the rendered original messages
  (content, reasoning and tool calls as `name(arguments)`);
- an item is *kept* when it is also an item of the rendered output, after compression's
  own markers are removed (so "37 lines elided" never counts as keeping the number 37);
- `overall` = kept / original items; `recent` = the same over the items of the last
  `recent_turns` turns (from the third-last assistant message on, by default);
  `opening` = the same over the system prompt and the task (the first user message).

Ratios over several conversations add the counts first (micro-average).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agent_routing.compression._codecs import ChatCodec
from agent_routing.compression._identifiers import ItemKind, extract_items
from agent_routing.compression._layout import label_entries, recent_start
from agent_routing.compression._markers import strip_markers


@dataclass(frozen=True, slots=True)
class Retention:
    """How many of `total` distinct items were `kept`."""

    total: int = 0
    kept: int = 0

    @property
    def ratio(self) -> float:
        """kept / total (1.0 when there was nothing to keep)."""
        return self.kept / self.total if self.total else 1.0

    def __add__(self, other: Retention) -> Retention:
        return Retention(self.total + other.total, self.kept + other.kept)


def rendered_text(messages: Iterable[Mapping[str, Any]]) -> str:
    """Chat messages as the text a model reads: content, reasoning and tool calls."""
    codec = ChatCodec()
    return "\n\n".join(codec.decode(message).rendered() for message in messages)


def retention(items: Iterable[str], output_text: str) -> Retention:
    """How many of `items` are items of `output_text` (markers removed)."""
    wanted = set(items)
    found = extract_items(strip_markers(output_text))
    return Retention(len(wanted), sum(1 for item in wanted if item in found))


@dataclass(frozen=True, slots=True)
class ConversationRetention:
    """Retention of one conversation's items, by part and by kind."""

    recent: Retention  # items of the last `recent_turns` turns
    overall: Retention  # items of the whole conversation
    opening: Retention  # items of the system prompt and the task (first user message)
    by_kind: Mapping[ItemKind, Retention]  # overall, split by item kind


def measure_retention(
    original: Sequence[Mapping[str, Any]], output_text: str, recent_turns: int = 3
) -> ConversationRetention:
    """How much of `original` chat messages' items `output_text` keeps (see module doc)."""
    codec = ChatCodec()
    entries = label_entries([codec.decode(message) for message in original], recent_turns)
    found = extract_items(strip_markers(output_text))

    def kept(items: Iterable[str]) -> Retention:
        wanted = set(items)
        return Retention(len(wanted), sum(1 for item in wanted if item in found))

    overall = extract_items("\n\n".join(e.rendered() for e in entries))
    start = recent_start(entries, recent_turns)
    kinds: tuple[ItemKind, ...] = ("url", "path", "identifier", "number")
    by_kind = {kind: kept(i for i, of in overall.items() if of == kind) for kind in kinds}
    return ConversationRetention(
        recent=kept(extract_items("\n\n".join(e.rendered() for e in entries[start:]))),
        overall=kept(overall),
        opening=kept(extract_items("\n\n".join(e.rendered() for e in entries if e.pinned))),
        by_kind=by_kind,
    )
