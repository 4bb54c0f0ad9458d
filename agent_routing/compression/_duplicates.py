"""Step 2: collapse repeated and duplicate tool outputs.

Agents re-run the same command, re-open the same file and print the same progress line a
hundred times. What is said again later costs tokens twice and tells nothing new:

- runs of three or more identical lines inside an output keep the first line and a count;
- an output identical (up to whitespace) to a later one is replaced by a short marker;
- an output whose lines mostly reappear in one later output keeps only the lines that do
  not, behind a marker saying so (nothing unique is lost).

Only past outputs change. The later copy a marker points to becomes an *anchor*, which the
elider leaves whole, so what the marker promises is still there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from agent_routing.compression import _markers as markers
from agent_routing.compression._context import StepContext
from agent_routing.compression._entries import Entry

_MIN_RUN = 3
_MIN_SUPERSEDED_LINES = 8
_SUPERSEDED_SHARE = 0.8


def collapse_repeated_lines(text: str) -> str:
    """`text` with every run of 3+ identical consecutive lines reduced to one plus a count."""
    lines = text.split("\n")
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        run = 1
        while index + run < len(lines) and lines[index + run] == line:
            run += 1
        out.append(line)
        if run >= _MIN_RUN and line.strip():
            out.append(markers.repeated_line(run - 1))
        else:
            out.extend([line] * (run - 1))
        index += run
    return "\n".join(out)


def _line_set(text: str) -> frozenset[str]:
    return frozenset(stripped for line in text.split("\n") if (stripped := line.strip()))


class DuplicateCollapser:
    """Collapses repeated lines, duplicate outputs and superseded outputs, oldest first."""

    name = "collapse_duplicates"

    def __call__(self, entries: list[Entry], context: StepContext) -> list[Entry]:
        result = list(entries)
        outputs = [i for i, entry in enumerate(result) if entry.observation and entry.editable]
        keys = {i: " ".join(result[i].text.split()) for i in outputs}
        lines = {i: _line_set(result[i].text) for i in outputs}
        for order, index in enumerate(outputs):
            if context.met():
                break
            entry = result[index]
            if not entry.mutable or not entry.text:
                continue
            later = outputs[order + 1 :]
            collapsed = self._collapsed(entry, later, keys, lines, index)
            if collapsed is None:
                continue
            text, anchor = collapsed
            new = context.with_text(entry, text)
            if new.tokens < entry.tokens:
                context.swap(result, index, new, self.name)
                if anchor is not None:
                    result[anchor] = replace(result[anchor], anchor=True)
        return result

    @staticmethod
    def _collapsed(
        entry: Entry,
        later: Sequence[int],
        keys: dict[int, str],
        lines: dict[int, frozenset[str]],
        index: int,
    ) -> tuple[str, int | None] | None:
        """The shortened text and the index of the later copy it relies on, or None."""
        if keys[index]:
            twin = next((other for other in later if keys[other] == keys[index]), None)
            if twin is not None:
                return markers.duplicate_output(entry.text_tokens), twin
        own = lines[index]
        if len(own) >= _MIN_SUPERSEDED_LINES and later:
            best = max(later, key=lambda other: len(own & lines[other]))
            shared = len(own & lines[best])
            if shared >= _SUPERSEDED_SHARE * len(own):
                unique = [
                    line
                    for line in entry.text.split("\n")
                    if line.strip() and line.strip() not in lines[best]
                ]
                header = markers.superseded_output(shared / len(own), len(unique))
                return "\n".join([header, *unique]), best
        collapsed = collapse_repeated_lines(entry.text)
        return (collapsed, None) if collapsed != entry.text else None
