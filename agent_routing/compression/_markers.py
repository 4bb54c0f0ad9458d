"""The notes compression leaves where it removed something, in one place.

Every removal is marked, so the agent knows a text was shortened (and can re-run a command
for the full output); the retention metric strips the markers first, so that the numbers
they carry ("37 lines") never count as kept facts.
"""

from __future__ import annotations

import re


def elided(gap: str) -> str:
    """The marker for a run of removed text inside a tool output."""
    lines = gap.count("\n")
    amount = f"{lines:,} lines ({len(gap):,} chars)" if lines else f"{len(gap):,} chars"
    return f"[... {amount} elided ...]"


def repeated_line(times: int) -> str:
    """The marker after a line that was repeated `times` more times."""
    return f"[previous line repeated {times:,} more times]"


def duplicate_output(tokens: int) -> str:
    """The text that replaces an output identical to a later one."""
    return f"[output omitted: identical to a later tool output ({tokens:,} tokens)]"


def superseded_output(share: float, kept_lines: int) -> str:
    """The header of an output whose lines mostly repeat in a later one."""
    return (
        f"[output shortened: {share:.0%} of its lines repeat in a later tool output; "
        f"{kept_lines:,} other lines kept]"
    )


def cleared_output(lines: int, tokens: int) -> str:
    """The note that replaces the body of an old tool output (observation masking)."""
    plural = "s" if lines != 1 else ""
    return (
        f"[older output cleared to save context: {lines:,} line{plural}, {tokens:,} tokens; "
        "run the command again to see it]"
    )


def summary_header(turns: int, tokens: int) -> str:
    """The first line of a summary of folded turns."""
    plural = "s" if turns != 1 else ""
    return (
        f"[Summary of {turns:,} earlier turn{plural} ({tokens:,} tokens), "
        "folded to save context; the lines below are copied from them]"
    )


_ANY_MARKER = re.compile(
    r"\[\.\.\. [\d,]+ (?:lines \([\d,]+ chars\)|chars) elided \.\.\.\]"
    r"|\[previous line repeated [\d,]+ more times\]"
    r"|\[output omitted: identical to a later tool output \([\d,]+ tokens\)\]"
    r"|\[output shortened: \d+% of its lines repeat in a later tool output; "
    r"[\d,]+ other lines kept\]"
    r"|\[older output cleared to save context: [\d,]+ lines?, [\d,]+ tokens; "
    r"run the command again to see it\]"
    r"|\[Summary of [\d,]+ earlier turns? \([\d,]+ tokens\), folded to save context; "
    r"the lines below are copied from them\]"
)


def strip_markers(text: str) -> str:
    """`text` without any marker this module makes."""
    return _ANY_MARKER.sub(" ", text)
