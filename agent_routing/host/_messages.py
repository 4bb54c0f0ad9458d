"""Agent Zero message objects as plain text and litellm-style message dicts.

The host passes LangChain messages (`.type` in system/human/ai, `.content` a string or a
list of parts) to chat models and `{ai, content}` dicts as history output. Nothing here
mutates what it reads: the history's content objects are the stored ones (§8.3).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

_ROLES = {"system": "system", "human": "user", "ai": "assistant"}


def content_text(content: Any) -> str:
    """The text of a message content (str, list of parts, dict or raw content)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(part, str):
                parts.append(part)
        return "\n".join(parts)
    if isinstance(content, dict) and "raw_content" in content:
        return str(content.get("preview") or "")
    try:
        return json.dumps(content, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(content)


def to_litellm_messages(messages: Iterable[Any]) -> list[dict[str, Any]]:
    """LangChain-style messages as `{role, content}` dicts, the way the host sends them."""
    converted = []
    for message in messages:
        role = _ROLES.get(str(getattr(message, "type", "human")), "user")
        converted.append({"role": role, "content": content_text(getattr(message, "content", ""))})
    return converted


def unified_call_messages(kwargs: dict[str, Any]) -> list[dict[str, Any]]:
    """The messages a `unified_call(**kwargs)` will send: system + messages + user."""
    converted = []
    system = kwargs.get("system_message") or ""
    if system:
        converted.append({"role": "system", "content": str(system)})
    converted.extend(to_litellm_messages(kwargs.get("messages") or []))
    user = kwargs.get("user_message") or ""
    if user:
        converted.append({"role": "user", "content": str(user)})
    return converted


def history_texts(history_output: Sequence[Any], limit: int = 12) -> tuple[str, ...]:
    """The last `limit` history messages as text, oldest first."""
    texts = []
    for item in list(history_output)[-limit:]:
        content = item.get("content") if isinstance(item, dict) else item
        texts.append(content_text(content))
    return tuple(texts)


def outermost_json_object(text: str) -> dict[str, Any] | None:
    """The host's dirty parse: the text from the first `{` to the last `}` as a dict."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        value = json.loads(text[start : end + 1])
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def is_tool_request(text: str) -> bool:
    """True when a reply holds a tool call the host will accept (name + non-empty args)."""
    request = outermost_json_object(text)
    if request is None:
        return False
    name = request.get("tool_name", request.get("tool"))
    args = request.get("tool_args", request.get("args"))
    return isinstance(name, str) and bool(name) and isinstance(args, dict) and bool(args)


def looks_like_tool_error(message: str) -> bool:
    """A tool result that reports a failure (traceback, error line, tool not found)."""
    head = message.strip()[:2000]
    lowered = head.lower()
    return (
        "traceback (most recent call last)" in lowered
        or lowered.startswith(("error", "exception"))
        or ("tool " in lowered and " not found" in lowered)
    )
