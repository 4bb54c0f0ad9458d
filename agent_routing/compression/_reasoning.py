"""Step 1: drop the reasoning of past assistant messages.

A past step's reasoning served that step; the agent needs what it *did* (the tool call)
and what came back, not how it got there (providers drop earlier thinking blocks
themselves for the same reason). Removed, in past assistant messages only:

- `<think>`, `<thinking>` and `<reasoning>` blocks in the text;
- the `thoughts` field of a JSON reply (Agent Zero's `{"thoughts", "headline",
  "tool_name", "tool_args"}`, Auto-GPT's `{"thoughts": {...}, "command": {...}}`);
- `Thought n:` lines of a ReAct reply that also has an `Action` line;
- reasoning carried beside the text (`reasoning_content`, thinking blocks).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace

from agent_routing.compression._context import StepContext
from agent_routing.compression._entries import Entry, Role

_TAGGED = re.compile(r"<(think|thinking|reasoning)>.*?</\1>\s*", re.DOTALL | re.IGNORECASE)
_REACT_THOUGHT = re.compile(r"^Thought(?: \d+)?:.*(?:\n|$)", re.MULTILINE)
_REACT_ACTION = re.compile(r"^Action(?: \d+)?:", re.MULTILINE)


def _without_json_thoughts(text: str) -> str:
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start or '"thoughts"' not in text:
        return text
    try:
        reply = json.loads(text[start : end + 1])
    except ValueError:
        return text
    if not isinstance(reply, dict) or "thoughts" not in reply:
        return text
    del reply["thoughts"]
    compact = json.dumps(reply, ensure_ascii=False, separators=(", ", ": "))
    return text[:start] + compact + text[end + 1 :]


def strip_reasoning(text: str) -> str:
    """`text` without reasoning blocks, JSON `thoughts` or ReAct `Thought` lines."""
    stripped = _TAGGED.sub("", text) if "<" in text else text
    stripped = _without_json_thoughts(stripped)
    if _REACT_ACTION.search(stripped):
        stripped = _REACT_THOUGHT.sub("", stripped)
    return stripped


class ReasoningDropper:
    """Drops reasoning from past assistant messages, oldest first, until the budget is met."""

    name = "drop_reasoning"

    def __call__(self, entries: list[Entry], context: StepContext) -> list[Entry]:
        result = list(entries)
        for index, entry in enumerate(result):
            if context.met():
                break
            if not entry.mutable or entry.role is not Role.ASSISTANT:
                continue
            text = strip_reasoning(entry.text) if entry.editable else entry.text
            if text == entry.text and not entry.reasoning:
                continue
            new = context.with_text(entry, text)
            if entry.reasoning:
                dropped = context.count(entry.reasoning)
                new = replace(
                    new, reasoning="", reasoning_dropped=True, tokens=new.tokens - dropped
                )
            context.swap(result, index, new, self.name)
        return result
