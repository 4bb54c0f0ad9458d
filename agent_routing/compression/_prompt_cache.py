"""Keeping the provider's cached prompt prefix byte-identical while it is warm.

Providers bill a repeated prompt prefix at the cache-read price (a tenth of the input price
at Anthropic, half at OpenAI) for a few minutes after it was last sent. Rewriting any
message inside that prefix turns everything after it back into full-price (and, at
Anthropic, cache-write-price) tokens on this call, while the tokens removed would only
have cost the cache-read price: at Anthropic prices (cache write 1.25x, read 0.1x the
input price) a rewrite that removes half the prefix pays back only after about ten more
calls. So while the cache is warm the prefix is reproduced exactly, and only messages
sent for the first time are compressed.

How "warm" is known: the caller keeps the :class:`PromptCacheState` returned with each
compression (the messages as sent, with the digests of the inputs they stood for) and
passes it to the next call. The prefix is warm when the state is for the same model, the
model's provider caches prompts, and `now - state.sent_at` is within the cache TTL
(:mod:`~agent_routing.compression._profile`). The prefix is then the longest run of sent
messages whose input digests match the current inputs in order: anything the host itself
rewrote (Agent Zero's own history compression, a changed system prompt) ends it there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class SentMessage:
    """One message as it was sent, and the input messages it stood for (digests, tokens)."""

    digests: tuple[str, ...]
    message: Any
    source_tokens: int = 0  # the input messages it stood for, as the host sends them
    tokens: int = 0  # the message itself, as the host sends it (0: unknown, count again)


@dataclass(frozen=True, slots=True)
class PromptCacheState:
    """What was sent to `model` at `sent_at` (Unix seconds): the next call's cached prefix."""

    model: str
    sent_at: float
    messages: tuple[SentMessage, ...]
    compressed_tokens: int | None = None  # the size the last compression reached, if any

    def is_warm(self, model: str, ttl_s: float | None, now: float) -> bool:
        """True when `model`'s provider still holds this prompt in its cache at `now`."""
        return ttl_s is not None and model == self.model and 0 <= now - self.sent_at <= ttl_s


def cached_prefix(state: PromptCacheState, digests: Sequence[str]) -> list[SentMessage]:
    """The leading sent messages whose input digests match `digests` in order."""
    matched: list[SentMessage] = []
    position = 0
    for sent in state.messages:
        size = len(sent.digests)
        if size == 0 or tuple(digests[position : position + size]) != sent.digests:
            break
        matched.append(sent)
        position += size
    return matched
