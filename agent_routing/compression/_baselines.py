"""Baselines the benchmark compares against (same data, same run).

- :func:`mask_observations`: observation masking as in Lindenbauer et al. (arXiv
  2508.21433): every tool output older than the last M turns becomes a fixed placeholder,
  on every step, with no trigger and no regard for the prompt cache;
- :func:`truncate_to_last_tokens`: keep the last N tokens of the conversation, the way a
  context window overflows;
- :func:`strip_whitespace_and_filler`: collapse whitespace and drop filler words, the
  cheapest lossless-looking trick.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from agent_routing.compression._codecs import ChatCodec
from agent_routing.compression._layout import label_entries
from agent_routing.tokens import encoding_name_for, get_encoding

_SPACES = re.compile(r"[ \t\f\v\r]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_FILLER = re.compile(
    r"\b(?:please|just|basically|actually|really|very|quite|simply|certainly|of course|"
    r"I think|I believe|it seems that|note that|in order to|let's|let us)\b ?",
    re.IGNORECASE,
)


def truncate_to_last_tokens(
    messages: Sequence[Mapping[str, Any]], budget: int, model: str | None = None
) -> tuple[str, int]:
    """The last `budget` tokens of the rendered conversation, and how many were kept."""
    codec = ChatCodec()
    text = "\n\n".join(
        f"{entry.role.value}: {entry.rendered()}" for entry in map(codec.decode, messages)
    )
    encoding = get_encoding(encoding_name_for(model))
    tokens = encoding.encode_ordinary(text)
    kept = tokens[-budget:] if budget > 0 else []
    return str(encoding.decode(kept)), len(kept)


def strip_text(text: str) -> str:
    """`text` with runs of spaces and blank lines collapsed and filler words removed."""
    text = _FILLER.sub("", text)
    text = _SPACES.sub(" ", text)
    text = _BLANK_LINES.sub("\n", text)
    return "\n".join(line.strip() for line in text.split("\n"))


def strip_whitespace_and_filler(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """New chat messages whose string contents went through :func:`strip_text`."""
    stripped: list[dict[str, Any]] = []
    for message in messages:
        copy = dict(message)
        if isinstance(copy.get("content"), str):
            copy["content"] = strip_text(copy["content"])
        stripped.append(copy)
    return stripped


MASK_PLACEHOLDER = "[old tool output omitted]"


def mask_observations(
    messages: Sequence[Mapping[str, Any]], keep_recent_turns: int = 3
) -> list[dict[str, Any]]:
    """New chat messages whose tool outputs older than the last `keep_recent_turns` turns
    are the placeholder (system prompt, task and demonstrations are kept)."""
    codec = ChatCodec()
    entries = label_entries([codec.decode(message) for message in messages], keep_recent_turns)
    masked: list[dict[str, Any]] = []
    for message, entry in zip(messages, entries, strict=True):
        copy = dict(message)
        if entry.observation and entry.mutable and not entry.demo and copy.get("content"):
            copy["content"] = MASK_PLACEHOLDER
        masked.append(copy)
    return masked
