"""Token helpers (helpers/tokens.py): tiktoken counts with a 1.1 buffer for approximations."""

from __future__ import annotations

APPROX_BUFFER = 1.1


def count_tokens(text: str, encoding_name: str = "cl100k_base") -> int:
    if not text:
        return 0
    import litellm  # noqa: F401  (points TIKTOKEN_CACHE_DIR at the wheel's files: offline)
    import tiktoken

    return len(tiktoken.get_encoding(encoding_name).encode(text, disallowed_special=()))


def approximate_tokens(text: str) -> int:
    return int(count_tokens(text) * APPROX_BUFFER)
