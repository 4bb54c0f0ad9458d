"""Step 3: elide the middle of long tool outputs, keeping what the agent may still need.

A long output (over `compression.tool_output_max_tokens`) keeps, within that many tokens
and in this order of priority:

1. its head and its tail (where commands print what they did and how they ended);
2. lines reporting errors or warnings (up to half of the room left);
3. for every identifier, number, path or URL that a *later* message mentions, the first
   line holding it (the agent referred to it, so it may need its context again);
4. with room to spare, the first line holding each other item.

Each removed run becomes one marker saying how many lines and characters went, so the
agent knows the output was shortened and can re-run the command for the full text. Very
long lines (minified JSON, one-line API responses) are cut into pieces of about
`SEGMENT_CHARS` first, so the same rules apply inside them.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Callable

from agent_routing.compression import _markers as markers
from agent_routing.compression._context import StepContext
from agent_routing.compression._entries import Entry
from agent_routing.compression._identifiers import error_positions, items_in

SEGMENT_CHARS = 240
HEAD_SHARE = 0.3
TAIL_SHARE = 0.3
MARKER_TOKENS = 14  # a marker costs about this much: never replace less than that by one


def segments_of(text: str, max_chars: int = SEGMENT_CHARS) -> list[str]:
    """`text` cut into consecutive pieces: lines with their newline, long lines cut at a
    space or comma near `max_chars`. Joining the pieces gives `text` back exactly."""
    pieces: list[str] = []
    for whole_line in text.splitlines(keepends=True):
        line = whole_line
        while len(line) > max_chars:
            cut = max(
                line.rfind(" ", max_chars // 2, max_chars),
                line.rfind(",", max_chars // 2, max_chars),
            )
            cut = cut + 1 if cut > 0 else max_chars
            pieces.append(line[:cut])
            line = line[cut:]
        if line:
            pieces.append(line)
    return pieces


def _priority_segments(
    text: str, pieces: list[str], first: int, last: int, keep_item: Callable[[str], bool]
) -> tuple[list[int], list[int], list[int]]:
    """Pieces in `first`..`last` worth keeping, by priority: error lines, then the first
    piece holding each item a later message refers to, then the first holding any other item.
    """
    starts: list[int] = []
    offset = 0
    for piece in pieces:
        starts.append(offset)
        offset += len(piece)
    low = starts[first]
    high = starts[last] if last < len(pieces) else len(text)

    def holder(position: int) -> int:
        return bisect.bisect_right(starts, position) - 1

    errors = sorted({holder(found) for found in error_positions(text, low, high)})
    referenced: set[int] = set()
    others: set[int] = set()
    for item in items_in(text):
        found = text.find(item, low, high)
        if found >= 0:
            (referenced if keep_item(item) else others).add(holder(found))
    return errors, sorted(referenced), sorted(others - referenced)


def _ends(estimates: list[float], limit_tokens: int) -> tuple[int, int]:
    """(end of the head, start of the tail): the first and last pieces within their shares.

    The first and the last piece are always kept, whatever their size.
    """
    head_end, used = 0, 0.0
    while head_end < len(estimates) and (
        head_end == 0 or used + estimates[head_end] <= limit_tokens * HEAD_SHARE
    ):
        used += estimates[head_end]
        head_end += 1
    tail_start, used = len(estimates), 0.0
    while tail_start - 1 > head_end and (
        tail_start == len(estimates)
        or used + estimates[tail_start - 1] <= limit_tokens * TAIL_SHARE
    ):
        tail_start -= 1
        used += estimates[tail_start]
    return head_end, tail_start


def elide(
    text: str, limit_tokens: int, tokens_per_char: float, keep_item: Callable[[str], bool]
) -> str | None:
    """`text` cut to about `limit_tokens` as the module docstring says, or None if it fits.

    `tokens_per_char` estimates a piece's tokens from its length (the ratio measured on
    the whole text), which keeps this linear; the caller recounts the result exactly.
    """
    pieces = segments_of(text)
    estimates = [len(piece) * tokens_per_char for piece in pieces]
    if sum(estimates) <= limit_tokens or len(pieces) < 3:
        return None
    head_end, tail_start = _ends(estimates, limit_tokens)
    keep = [index < head_end or index >= tail_start for index in range(len(pieces))]
    used = sum(estimate for estimate, kept in zip(estimates, keep, strict=True) if kept)
    errors, referenced, others = _priority_segments(text, pieces, head_end, tail_start, keep_item)
    error_cap = used + (limit_tokens - used) / 2  # errors first, but not all of the room
    for group, cap in (
        (errors, error_cap),
        (referenced, limit_tokens),
        (errors, limit_tokens),
        (others, limit_tokens),
    ):
        for index in group:
            if not keep[index] and used + estimates[index] <= cap:
                keep[index] = True
                used += estimates[index]
    return _assemble(pieces, keep, estimates)


def _assemble(pieces: list[str], keep: list[bool], estimates: list[float]) -> str | None:
    out: list[str] = []
    index = 0
    elided_any = False
    while index < len(pieces):
        if keep[index]:
            out.append(pieces[index])
            index += 1
            continue
        end = index
        while end < len(pieces) and not keep[end]:
            end += 1
        gap = "".join(pieces[index:end])
        if sum(estimates[index:end]) <= MARKER_TOKENS:
            out.append(gap)
        else:
            if out and not out[-1].endswith(("\n", " ")):
                out.append(" ")
            out.append(markers.elided(gap) + ("\n" if gap.endswith("\n") else " "))
            elided_any = True
        index = end
    return "".join(out) if elided_any else None


class ToolOutputElider:
    """Elides long past tool outputs, oldest first, until the budget is met."""

    name = "elide_tool_outputs"

    def __call__(self, entries: list[Entry], context: StepContext) -> list[Entry]:
        result = list(entries)
        limit = context.tool_output_max_tokens
        for index, entry in enumerate(result):
            if context.met():
                break
            if not (entry.mutable and entry.observation and entry.editable) or entry.anchor:
                continue
            if entry.text_tokens <= limit:
                continue
            referenced_later = functools.partial(
                context.references(result).referenced_after, position=entry.position
            )
            ratio = entry.text_tokens / max(len(entry.text), 1)
            text = elide(entry.text, limit, ratio, referenced_later)
            if text is None:
                continue
            new = context.with_text(entry, text)
            if new.tokens < entry.tokens:
                context.swap(result, index, new, self.name)
        return result
