"""The working copy of a prompt that compression edits: one frozen entry per message.

Compression never edits a host object: Agent Zero's `history_output` holds the *stored*
history content objects (agent-zero-host.md §8.3), so a change made in place would rewrite
the chat itself. A codec (:mod:`~agent_routing.compression._codecs`) decodes each host
message into a frozen :class:`Entry`, the steps replace entries with new ones, and the
codec encodes the result into new message objects.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol


class Role(StrEnum):
    """Who a message comes from, as far as compression cares."""

    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


@dataclass(slots=True, frozen=True)
class Entry:
    """One prompt message as compression sees it. Steps replace entries, never edit them.

    `text` is the part steps may rewrite; `side_text` (rendered tool calls, other fields of
    a dict, an image preview) and `reasoning` (reasoning carried beside the text) are
    counted too. `digests` identify the input messages the entry stands for (a summary
    stands for several), which is how the prompt-cache prefix is matched on the next call.
    """

    role: Role
    text: str
    side_text: str = ""
    reasoning: str = ""
    tokens: int = 0  # the whole message: text, side text, reasoning and message overhead
    text_tokens: int = 0  # `text` alone
    source_tokens: int = 0  # what the input messages it stands for cost, uncompressed
    position: int = 0  # order in the input; a summary takes its first message's position
    digests: tuple[str, ...] = ()
    original: Any = None  # the host message (None for a summary made by compression)
    source_text: str = ""  # the rendering as received: stable across calls (cache keys)
    editable: bool = True  # False for images and other content compression cannot rewrite
    slot: str | None = None  # dict content: the key whose string value is `text`
    demo: bool = False  # an in-context demonstration (transcripts' `is_demo`)
    observation: bool = False  # a tool result or environment observation
    unit: int = 0  # the turn (assistant message plus its results) this entry belongs to
    pinned: bool = False  # system prompt and task: never changed
    recent: bool = False  # inside the most recent turns: never changed
    frozen: bool = False  # inside the warm prompt-cache prefix: reproduced byte for byte
    anchor: bool = False  # the surviving copy of a collapsed duplicate: never elided
    changed: bool = False
    reasoning_dropped: bool = False
    summary: bool = False  # a summary of folded turns, made by compression

    @property
    def mutable(self) -> bool:
        """True when no protection applies, so a step may rewrite or fold this entry."""
        return not (self.pinned or self.recent or self.frozen)

    def rendered(self) -> str:
        """Everything the model reads of this message, as one text (for metrics)."""
        parts = [part for part in (self.reasoning, self.text, self.side_text) if part]
        return "\n".join(parts)


class MessageCodec(Protocol):
    """Translates one host message shape to entries and back."""

    def decode(self, message: Any) -> Entry:
        """An entry for `message` (tokens, position and digests are filled in by the caller)."""
        ...

    def encode(self, entry: Entry) -> Any:
        """A new host message for `entry`; unchanged content is passed by reference."""
        ...

    def digest(self, message: Any) -> str:
        """A stable digest of `message` (see :func:`message_digest`)."""
        ...

    def wire_tokens(self, message: Any, count: Callable[[str], int]) -> int:
        """Prompt tokens of `message` as the host sends it (what `tokens_saved` counts)."""
        ...


def message_digest(message: Any) -> str:
    """A stable digest of a host message's content (used to match the cached prefix)."""
    try:
        payload = json.dumps(message, sort_keys=True, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):  # e.g. keys of mixed types; fall back to repr
        payload = repr(message)
    return hashlib.blake2b(payload.encode("utf-8", "replace"), digest_size=16).hexdigest()
