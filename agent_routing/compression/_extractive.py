"""The offline summary of a turn: one line saying what was done and what came back.

Extractive means every word is copied from the turn, never generated: the action (tool
call, or the first sentence of the reply without its reasoning), the first line of each
result with its length, up to two error lines, and the identifiers, paths, URLs and
numbers of the result, those a later message mentions first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence

from agent_routing.compression._entries import Entry, Role
from agent_routing.compression._identifiers import ItemKind, extract_items, is_error_line
from agent_routing.compression._reasoning import strip_reasoning

ACTION_CHARS = 160
LINE_CHARS = 120
MAX_ERRORS = 2
MAX_ITEMS = 8
_KIND_ORDER: dict[ItemKind, int] = {"path": 0, "url": 1, "identifier": 2, "number": 3}
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


def clip(text: str, limit: int) -> str:
    """`text` on one line, cut to `limit` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3].rstrip() + "..."


def _first_line(text: str) -> str:
    return next((line for line in text.split("\n") if line.strip()), "")


def _json_action(text: str) -> str | None:
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        reply = json.loads(text[start : end + 1])
    except ValueError:
        return None
    if not isinstance(reply, dict):
        return None
    command = reply.get("command")
    name = reply.get("tool_name") or (command.get("name") if isinstance(command, dict) else None)
    if not name:
        return None
    arguments = reply.get("tool_args") or (
        command.get("args") if isinstance(command, dict) else None
    )
    headline = reply.get("headline")
    call = f"{name}({json.dumps(arguments, ensure_ascii=False) if arguments else ''})"
    return f"{headline}: {call}" if isinstance(headline, str) and headline else call


def _action(entry: Entry) -> str:
    if entry.side_text:
        action = entry.side_text.replace("\n", "; ")
        said = _first_line(strip_reasoning(entry.text)) if entry.editable else ""
        return clip(f"{action} ({said})" if said else action, ACTION_CHARS)
    text = strip_reasoning(entry.text)
    json_action = _json_action(text)
    if json_action is not None:
        return clip(json_action, ACTION_CHARS)
    first = _SENTENCE_END.split(text.strip(), maxsplit=1)[0] if text.strip() else ""
    return clip(first, ACTION_CHARS) or "(empty reply)"


def _result(entry: Entry, referenced_later: Callable[[str], bool]) -> str:
    text = entry.text if entry.editable else entry.side_text
    if not entry.editable:
        return f"non-text content: {clip(text, 80)}" if text else "non-text content"
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines:
        return "(empty)"
    parts = [clip(lines[0], LINE_CHARS) + (f" ({len(lines)} lines)" if len(lines) > 1 else "")]
    errors = [clip(line, LINE_CHARS) for line in lines[1:] if is_error_line(line)][:MAX_ERRORS]
    if errors:
        parts.append("errors: " + " / ".join(errors))
    shown = " ".join(parts)
    items = [(item, kind) for item, kind in extract_items(text).items() if item not in shown]
    items.sort(key=lambda pair: (not referenced_later(pair[0]), _KIND_ORDER[pair[1]]))
    if items:
        parts.append("mentions: " + ", ".join(item for item, _ in items[:MAX_ITEMS]))
    return " | ".join(parts)


def summarize_turn(entries: Sequence[Entry], referenced_later: Callable[[str], bool]) -> str:
    """One line for a turn (its entries in order), as the module docstring says."""
    parts: list[str] = []
    for entry in entries:
        if entry.role is Role.ASSISTANT and not entry.demo:
            parts.append(f"assistant: {_action(entry)}")
        elif entry.demo:
            parts.append(f"demonstration: {clip(_first_line(entry.text), LINE_CHARS)}")
        else:
            label = "tool" if entry.observation else entry.role.value
            parts.append(f"{label}: {_result(entry, referenced_later)}")
    return " -> ".join(parts)
