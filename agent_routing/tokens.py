"""Token counts with tiktoken, offline, using the encoder files litellm ships.

`o200k_base` for the OpenAI families that use it (gpt-4o, gpt-4.1, gpt-4.5, gpt-5, the o-series,
gpt-oss), `cl100k_base` for every other model: for non-OpenAI models a count is an estimate
either way, and these are the only two encoders in the litellm wheel. litellm's own
`token_counter` would download Hugging Face tokenizers for Llama or Cohere models; this
module never does.

Chat messages are counted the way OpenAI documents (and litellm's `token_counter` follows):
3 tokens per message, every string field encoded (role, content, name, tool_call_id), 1 more
for a `name`, 3 to prime the reply. Parts of list content are counted per part; an image
counts a fixed estimate (85 tokens at `detail: low`, else 765, a 1024x1024 image at high
detail) because fetching it to measure would be network I/O. A tool call counts its
function name and arguments.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from agent_routing.errors import ConfigError

TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING_TOKENS = 3
IMAGE_TOKENS_LOW_DETAIL = 85
IMAGE_TOKENS_DEFAULT = 765

ENCODINGS = ("cl100k_base", "o200k_base")

_O200K_MODEL = re.compile(r"^(ft:)?(gpt-4o|chatgpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|gpt-oss|o\d|codex)")


def encoding_name_for(model: str | None) -> str:
    """The tiktoken encoding used to count tokens for `model` (provider prefixes ignored)."""
    if not model:
        return "cl100k_base"
    name = model.rsplit("/", 1)[-1].lower()
    return "o200k_base" if _O200K_MODEL.match(name) else "cl100k_base"


def tokenizer_dir() -> Path | None:
    """The directory of tiktoken files inside the installed litellm wheel (not imported)."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "litellm_core_utils" / "tokenizers"
    return path if path.is_dir() else None


@functools.cache
def get_encoding(name: str) -> Any:
    """A cached tiktoken encoder loaded from litellm's bundled files (no network).

    Sets `TIKTOKEN_CACHE_DIR` exactly as importing litellm does (honouring
    `CUSTOM_TIKTOKEN_CACHE_DIR`), so the value is the same whichever loads first.
    """
    if name not in ENCODINGS:
        raise ConfigError.single("encoding", f"unknown encoding {name!r}; use one of {ENCODINGS}")
    directory = tokenizer_dir()
    if directory is not None:
        os.environ["TIKTOKEN_CACHE_DIR"] = os.getenv("CUSTOM_TIKTOKEN_CACHE_DIR", str(directory))
    import tiktoken

    return tiktoken.get_encoding(name)


def count_text_tokens(text: str, model: str | None = None) -> int:
    """Number of tokens in `text` for `model` (special-token strings count as plain text)."""
    if not isinstance(text, str):
        raise ConfigError.single("text", f"must be a string, not {type(text).__name__}")
    if not text:
        return 0
    return len(get_encoding(encoding_name_for(model)).encode_ordinary(text))


def count_message_tokens(messages: Sequence[Mapping[str, Any]], model: str | None = None) -> int:
    """Prompt tokens of OpenAI-style chat `messages` for `model` (see the module doc)."""
    if isinstance(messages, str | bytes) or not isinstance(messages, Sequence):
        raise ConfigError.single(
            "messages", f"must be a list of message mappings, not {type(messages).__name__}"
        )
    encoder = get_encoding(encoding_name_for(model))

    def count(text: str) -> int:
        return len(encoder.encode_ordinary(text)) if text else 0

    total = 0
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise ConfigError.single(
                f"messages[{index}]", f"must be a mapping, not {type(message).__name__}"
            )
        total += TOKENS_PER_MESSAGE
        for key, value in message.items():
            if value is None:
                continue
            if key == "tool_calls":
                total += _tool_call_tokens(value, count, index)
            elif isinstance(value, str):
                total += count(value)
                if key == "name":
                    total += TOKENS_PER_NAME
            elif key == "content" and isinstance(value, Sequence):
                total += _content_tokens(value, count, index)
    return total + REPLY_PRIMING_TOKENS if messages else 0


def _content_tokens(parts: Sequence[Any], count: Any, index: int) -> int:
    total = 0
    for part in parts:
        if isinstance(part, str):
            total += count(part)
        elif isinstance(part, Mapping):
            kind = part.get("type")
            if kind == "text":
                total += count(str(part.get("text") or ""))
            elif kind in {"image_url", "input_image", "image"}:
                image = part.get("image_url")
                detail = image.get("detail") if isinstance(image, Mapping) else None
                total += IMAGE_TOKENS_LOW_DETAIL if detail == "low" else IMAGE_TOKENS_DEFAULT
            else:  # audio, files, provider-specific parts: count their text if they carry any
                total += count(str(part.get("text") or ""))
        else:
            raise ConfigError.single(
                f"messages[{index}].content",
                f"list parts must be strings or mappings, not {type(part).__name__}",
            )
    return total


def _tool_call_tokens(tool_calls: Any, count: Any, index: int) -> int:
    if not isinstance(tool_calls, Sequence) or isinstance(tool_calls, str):
        raise ConfigError.single(
            f"messages[{index}].tool_calls",
            f"must be a list of tool calls, not {type(tool_calls).__name__}",
        )
    total = 0
    for call in tool_calls:
        function = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(function, Mapping):
            raise ConfigError.single(
                f"messages[{index}].tool_calls", f"each tool call needs a 'function', got {call!r}"
            )
        total += count(str(function.get("name") or ""))
        total += count(str(function.get("arguments") or ""))
    return total
