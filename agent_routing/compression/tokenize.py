"""Token counting for compression: one fast counter per model, bound once.

Compression counts every message once and every rewritten message again, on the agent's
hot path, so the counter is a plain `str -> int` callable bound to the model's tiktoken
encoder (:mod:`agent_routing.tokens`: offline, from the files in the litellm wheel).
"""

from __future__ import annotations

from collections.abc import Callable

from agent_routing.tokens import TOKENS_PER_MESSAGE, encoding_name_for, get_encoding

TokenCounter = Callable[[str], int]

MESSAGE_OVERHEAD_TOKENS = TOKENS_PER_MESSAGE
"""Tokens a chat message costs beyond its text (OpenAI's rule, as agent_routing.tokens)."""


def token_counter(model: str | None = None) -> TokenCounter:
    """A counter of `model`'s tokens in a text (special tokens count as plain text)."""
    encode = get_encoding(encoding_name_for(model)).encode_ordinary

    def count(text: str) -> int:
        return len(encode(text)) if text else 0

    return count
