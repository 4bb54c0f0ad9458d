"""Step 1: clear old tool outputs beyond the most recent turns (observation masking).

Observation masking replaces what a tool printed in an old turn by a short note, and keeps
the agent's own messages (its reasoning and actions) as they are. On SWE-bench Verified it
cut the cost of agent runs by about half at the same solve rate, as well as or better
than LLM summaries (Lindenbauer et al., "The Complexity Trap", arXiv 2508.21433). An old
output here keeps:

- its first line (the command echo or header, what the output was about);
- for every identifier, number, path or URL that a *later* message mentions, the first
  line holding it (cut to about `LINE_CHARS` around the item), up to `MAX_KEPT_LINES`,
  error and warning lines first;
- one marker saying how many lines and tokens were cleared, and that re-running the
  command shows them again.

Outputs of the most recent `keep_recent_turns` turns, the system prompt, the task and
in-context demonstrations are never masked (demonstrations may still be elided by the
later steps). Under the soft policy every old output is masked at once (one large change
of the prompt, so that a prompt-cache break pays for itself); under a hard target the
oldest go first, until the budget is met.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Callable

from agent_routing.compression import _markers as markers
from agent_routing.compression._context import StepContext
from agent_routing.compression._entries import Entry
from agent_routing.compression._identifiers import is_error_line, items_in

MIN_MASK_TOKENS = 60  # an output shorter than this is left as it is (a note costs ~25)
MAX_KEPT_LINES = 8
LINE_CHARS = 200


def _clip(line: str, at: int) -> str:
    """`line` cut to about LINE_CHARS characters around position `at`."""
    if len(line) <= LINE_CHARS:
        return line
    start = max(0, min(at - LINE_CHARS // 3, len(line) - LINE_CHARS))
    return line[start : start + LINE_CHARS]


def masked_text(text: str, tokens: int, referenced_later: Callable[[str], bool]) -> str:
    """The note that replaces an old output `text` of `tokens` tokens (see module doc)."""
    lines = text.splitlines()
    starts: list[int] = []
    offset = 0
    for line in text.splitlines(keepends=True):
        starts.append(offset)
        offset += len(line)
    holders: dict[int, int] = {}  # line index -> where its first referenced item starts
    for item in items_in(text):
        if not referenced_later(item):
            continue
        found = text.find(item)
        if found >= 0:
            holders.setdefault(bisect.bisect_right(starts, found) - 1, found)
    holders.pop(0, None)
    errors = [index for index in holders if is_error_line(lines[index])]
    chosen = sorted([*errors, *(i for i in sorted(holders) if i not in errors)][:MAX_KEPT_LINES])
    kept = {index: _clip(lines[index], holders[index] - starts[index]) for index in chosen}
    first = _clip(lines[0], 0) if lines else ""
    note = markers.cleared_output(len(lines), tokens)
    return "\n".join([first, note, *(kept[index] for index in sorted(kept))])


class ObservationMasker:
    """Masks old tool outputs (oldest first): all of them under the soft policy."""

    name = "mask_old_outputs"

    def __call__(self, entries: list[Entry], context: StepContext) -> list[Entry]:
        result = list(entries)
        for index, entry in enumerate(result):
            if context.met() and not context.chunk:
                break
            if not (entry.mutable and entry.observation and entry.editable):
                continue
            if entry.demo or entry.summary or entry.text_tokens < MIN_MASK_TOKENS:
                continue
            referenced_later = functools.partial(
                context.references(result).referenced_after, position=entry.position
            )
            new = context.with_text(
                entry, masked_text(entry.text, entry.text_tokens, referenced_later)
            )
            if new.tokens < entry.tokens:
                context.swap(result, index, new, self.name)
        return result
