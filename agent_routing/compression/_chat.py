"""Compression of OpenAI-style chat message lists (litellm `messages`, the shared transcripts).

Unlike the Agent Zero hook these raise on bad input (UnknownModelError naming the model,
ConfigError naming the argument), because their callers (the CLI, the benchmark, code that
builds its own prompts) want to hear about it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agent_routing.compression._codecs import ChatCodec
from agent_routing.compression._compressor import acompress_with_codec, compress_with_codec
from agent_routing.compression._profile import ModelProfile, profile_for
from agent_routing.compression._prompt_cache import PromptCacheState
from agent_routing.compression._result import CompressionResult
from agent_routing.compression._utility import UtilitySummarizer
from agent_routing.compression.tokenize import TokenCounter, token_counter
from agent_routing.config import Settings


def compress_messages(
    messages: Sequence[Any],
    *,
    model: str,
    settings: Settings | None = None,
    target_tokens: int | None = None,
    cache_state: PromptCacheState | None = None,
    now: float | None = None,
    extra_prompt_tokens: int = 0,
    profile: ModelProfile | None = None,
    count_tokens: TokenCounter | None = None,
) -> CompressionResult:
    """Compressed copies of chat `messages` for `model`, with extractive summaries.

    Arguments as in :func:`~agent_routing.compression._agent_zero.compress_loop_prompt`;
    `settings` defaults to the built-in defaults.
    """
    settings = settings or Settings()
    output = compress_with_codec(
        messages,
        ChatCodec(),
        profile=profile or profile_for(model, settings),
        settings=settings.compression,
        count=count_tokens or token_counter(model),
        target_tokens=target_tokens,
        cache_state=cache_state,
        now=now,
        extra_prompt_tokens=extra_prompt_tokens,
    )
    return CompressionResult([], output.messages, output.stats, output.cache_state)


async def acompress_messages(
    messages: Sequence[Any],
    *,
    model: str,
    settings: Settings | None = None,
    summarizer: UtilitySummarizer | None = None,
    target_tokens: int | None = None,
    cache_state: PromptCacheState | None = None,
    now: float | None = None,
    extra_prompt_tokens: int = 0,
    profile: ModelProfile | None = None,
    count_tokens: TokenCounter | None = None,
) -> CompressionResult:
    """:func:`compress_messages` with optional utility-model summaries of folded turns."""
    settings = settings or Settings()
    output = await acompress_with_codec(
        messages,
        ChatCodec(),
        profile=profile or profile_for(model, settings),
        settings=settings.compression,
        count=count_tokens or token_counter(model),
        summarizer=summarizer,
        target_tokens=target_tokens,
        cache_state=cache_state,
        now=now,
        extra_prompt_tokens=extra_prompt_tokens,
    )
    return CompressionResult([], output.messages, output.stats, output.cache_state)
