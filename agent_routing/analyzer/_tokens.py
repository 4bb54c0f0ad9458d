"""Token counts for the analyzer's size feature, with a bounded cost.

An exact tiktoken count costs about 0.1 µs per character here (1 ms for a 2,000-token
prompt), which alone would spend the analyzer's whole latency budget. The size feature is a
logarithm, so a few per cent of error does not matter: texts up to :data:`EXACT_LIMIT_CHARS`
are counted exactly, longer ones from the tokens-per-character ratio of their head and tail
(`bench/bench_analyzer.py` prints the error this makes). The encoder is the package's
offline one (:func:`agent_routing.tokens.get_encoding`).
"""

from __future__ import annotations

from agent_routing.tokens import get_encoding

ENCODING_NAME = "cl100k_base"
EXACT_LIMIT_CHARS = 1_000
SAMPLE_CHARS = 300  # taken from each end of a longer text


def count_tokens_exact(text: str) -> int:
    """The exact cl100k_base token count of `text` (cost grows with its length)."""
    return len(get_encoding(ENCODING_NAME).encode_ordinary(text))


def estimate_tokens(text: str) -> int:
    """Token count: exact up to EXACT_LIMIT_CHARS, else extrapolated from head and tail.

    The cost is bounded by tokenizing at most 2 x SAMPLE_CHARS characters.
    """
    if len(text) <= EXACT_LIMIT_CHARS:
        return count_tokens_exact(text)
    encode = get_encoding(ENCODING_NAME).encode_ordinary
    sampled = len(encode(text[:SAMPLE_CHARS])) + len(encode(text[-SAMPLE_CHARS:]))
    return max(1, round(sampled * len(text) / (2 * SAMPLE_CHARS)))
