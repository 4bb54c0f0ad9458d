"""Codecs between host message shapes and compression entries.

Two host shapes are supported: Agent Zero output messages `{"ai": bool, "content": ...}`
(:class:`AgentZeroCodec`) and OpenAI-style chat messages `{"role", "content",
"tool_calls"?}` as in the shared transcripts (:class:`ChatCodec`). Encoding builds new
message dicts; content a step did not change is handed back by reference, never copied and
never mutated.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from agent_routing.compression._entries import Entry, Role, message_digest
from agent_routing.errors import ConfigError
from agent_routing.tokens import (
    TOKENS_PER_MESSAGE,
    TOKENS_PER_NAME,
    _content_tokens,
    _tool_call_tokens,
)


@dataclass(frozen=True, slots=True)
class SystemParts:
    """Agent Zero's system prompt parts (`loop_data.system`), sent as one system message."""

    parts: tuple[str, ...]


def _render_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and "raw_content" in value:
        return str(value.get("preview") or "")
    if isinstance(value, list):
        return "\n".join(_render_value(item) for item in value)
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


class AgentZeroCodec:
    """Agent Zero `OutputMessage`s: `{"ai": bool, "content": str | list | dict}`.

    A string content is rewritable; a dict's longest string value (e.g. `tool_result`) is
    the rewritable slot and its other fields are counted as they are; a raw dict
    `{raw_content, preview}` (images) and a list are counted by their preview/text and
    never rewritten. :class:`SystemParts` decode to one pinned system entry.
    """

    def decode(self, message: Any) -> Entry:
        if isinstance(message, SystemParts):
            joined = "\n\n".join(message.parts)
            return Entry(role=Role.SYSTEM, text=joined, original=message, editable=False)
        if not isinstance(message, Mapping):
            return Entry(
                role=Role.USER, text="", side_text=str(message), original=message, editable=False
            )
        role = Role.ASSISTANT if message.get("ai") else Role.USER
        content = message.get("content")
        if isinstance(content, str):
            return Entry(role=role, text=content, original=message)
        if isinstance(content, Mapping) and "raw_content" not in content:
            strings = {k: v for k, v in content.items() if isinstance(v, str)}
            if strings:
                slot = max(strings, key=lambda key: len(strings[key]))
                rest = {k: v for k, v in content.items() if k != slot}
                side = _render_value(rest) if rest else ""
                return Entry(
                    role=role, text=strings[slot], side_text=side, original=message, slot=slot
                )
        side = _render_value(content) if content is not None else ""
        return Entry(role=role, text="", side_text=side, original=message, editable=False)

    def encode(self, entry: Entry) -> Any:
        if entry.summary:
            return {"ai": entry.role is Role.ASSISTANT, "content": entry.text}
        if not isinstance(entry.original, Mapping):
            return entry.original
        message = dict(entry.original)
        if entry.changed and entry.editable:
            content = entry.original.get("content")
            if entry.slot is not None and isinstance(content, Mapping):
                message["content"] = {**content, entry.slot: entry.text}
            else:
                message["content"] = entry.text
        return message

    def digest(self, message: Any) -> str:
        if isinstance(message, SystemParts):
            return message_digest({"system": list(message.parts)})
        return message_digest(message)

    def wire_tokens(self, message: Any, count: Callable[[str], int]) -> int:
        """The host's rendering (`output_langchain`): a string as it is, a raw dict as its
        `raw_content`, any other content as `json.dumps(..., ensure_ascii=False)`."""
        if isinstance(message, SystemParts):
            text = "\n\n".join(message.parts)
        elif isinstance(message, Mapping):
            text = _host_text(message.get("content"))
        else:
            text = str(message)
        return count(text) + TOKENS_PER_MESSAGE


def _host_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Mapping) and "raw_content" in content:
        raw = content.get("raw_content")
        return raw if isinstance(raw, str) else _render_value(content.get("preview") or "")
    try:
        return json.dumps(content, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(content)


def _chat_message_tokens(message: Mapping[str, Any], count: Callable[[str], int]) -> int:
    """One message as :func:`agent_routing.tokens.count_message_tokens` counts it, with the
    compressor's bound counter (no reply priming: that is per prompt, not per message)."""
    total = TOKENS_PER_MESSAGE
    for key, value in message.items():
        if value is None:
            continue
        if key == "tool_calls":
            total += _tool_call_tokens(value, count, 0)
        elif isinstance(value, str):
            total += count(value) + (TOKENS_PER_NAME if key == "name" else 0)
        elif key == "content" and isinstance(value, list):
            total += _content_tokens(value, count, 0)
    return total


_CHAT_ROLES = {
    "system": Role.SYSTEM,
    "developer": Role.SYSTEM,
    "user": Role.USER,
    "assistant": Role.ASSISTANT,
    "tool": Role.TOOL,
    "function": Role.TOOL,
}
_REASONING_KEYS = ("reasoning_content", "thinking_blocks", "reasoning")
_THINKING_PARTS = frozenset({"thinking", "redacted_thinking", "reasoning"})


def render_tool_calls(message: Mapping[str, Any]) -> str:
    """Tool calls of a chat message as `name(arguments)` lines (they are not in `content`)."""
    calls = message.get("tool_calls")
    lines: list[str] = []
    if isinstance(calls, list):
        for call in calls:
            function = call.get("function") if isinstance(call, Mapping) else None
            if isinstance(function, Mapping):
                lines.append(f"{function.get('name', '')}({function.get('arguments', '')})")
    legacy = message.get("function_call")
    if isinstance(legacy, Mapping):
        lines.append(f"{legacy.get('name', '')}({legacy.get('arguments', '')})")
    return "\n".join(lines)


def _reasoning_of(message: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    for key in _REASONING_KEYS:
        value = message.get(key)
        if isinstance(value, str) and value:
            found.append(value)
        elif isinstance(value, list):
            found.extend(
                str(block.get("thinking") or "") for block in value if isinstance(block, Mapping)
            )
    return found


class ChatCodec:
    """OpenAI-style chat messages `{"role", "content", "tool_calls"?, ...}`.

    Tool calls are rendered as `name(arguments)` for counting and kept as they are; a list
    content of text parts is rewritable (and written back as one string); one with images
    or other parts is counted and never rewritten.
    """

    def decode(self, message: Any) -> Entry:
        if not isinstance(message, Mapping):
            return Entry(
                role=Role.USER, text="", side_text=str(message), original=message, editable=False
            )
        role = _CHAT_ROLES.get(str(message.get("role", "user")), Role.USER)
        content = message.get("content")
        reasoning = _reasoning_of(message)
        side = render_tool_calls(message)
        editable = True
        if content is None or isinstance(content, str):
            text = content or ""
        elif isinstance(content, list):
            texts: list[str] = []
            others: list[Any] = []
            for part in content:
                kind = part.get("type") if isinstance(part, Mapping) else None
                if kind == "text" and isinstance(part, Mapping):
                    texts.append(str(part.get("text") or ""))
                elif kind in _THINKING_PARTS and isinstance(part, Mapping):
                    reasoning.append(str(part.get("thinking") or part.get("text") or ""))
                else:
                    others.append(part)
            text = "\n".join(texts)
            if others:
                editable = False
                side = "\n".join(filter(None, [_render_value(others), side]))
        else:
            text, editable = "", False
            side = "\n".join(filter(None, [_render_value(content), side]))
        return Entry(
            role=role,
            text=text,
            side_text=side,
            reasoning="\n".join(reasoning),
            original=message,
            editable=editable,
            demo=message.get("is_demo") is True,
        )

    def encode(self, entry: Entry) -> Any:
        if entry.summary:
            return {"role": entry.role.value, "content": entry.text}
        if not isinstance(entry.original, Mapping):
            return entry.original
        message = dict(entry.original)
        if not entry.changed:
            return message
        if entry.reasoning_dropped:
            for key in _REASONING_KEYS:
                message.pop(key, None)
        content = entry.original.get("content")
        if entry.editable:
            message["content"] = None if content is None and not entry.text else entry.text
        elif entry.reasoning_dropped and isinstance(content, list):
            message["content"] = [
                part
                for part in content
                if not (isinstance(part, Mapping) and part.get("type") in _THINKING_PARTS)
            ]
        return message

    def digest(self, message: Any) -> str:
        return message_digest(message)

    def wire_tokens(self, message: Any, count: Callable[[str], int]) -> int:
        """As :func:`agent_routing.tokens.count_message_tokens` counts one message."""
        if not isinstance(message, Mapping):
            return count(str(message)) + TOKENS_PER_MESSAGE
        try:
            return _chat_message_tokens(message, count)
        except ConfigError:  # a shape the counter refuses: count what the model reads
            entry = self.decode(message)
            return (
                count(entry.text)
                + count(entry.side_text)
                + count(entry.reasoning)
                + TOKENS_PER_MESSAGE
            )
