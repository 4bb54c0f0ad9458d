"""Cost-aware compression of prompt and history.

Entry points: :func:`compress_loop_prompt` (Agent Zero's `message_loop_prompts_after`
hook; never raises), :func:`compress_messages` / :func:`acompress_messages` (chat message
lists). Nothing heavy is imported here: tiktoken and litellm load on first use.
"""

from __future__ import annotations

from agent_routing.compression.agent_zero import compress_loop_prompt
from agent_routing.compression.chat import acompress_messages, compress_messages
from agent_routing.compression.policy import CompressionOutcome
from agent_routing.compression.profile import ModelProfile, model_profile
from agent_routing.compression.prompt_cache import PromptCacheState
from agent_routing.compression.result import CompressionResult, CompressionStats
from agent_routing.compression.utility import (
    SummaryCache,
    UtilitySummarizer,
    litellm_completer,
    utility_summarizer,
)

__all__ = [
    "CompressionOutcome",
    "CompressionResult",
    "CompressionStats",
    "ModelProfile",
    "PromptCacheState",
    "SummaryCache",
    "UtilitySummarizer",
    "acompress_messages",
    "compress_loop_prompt",
    "compress_messages",
    "litellm_completer",
    "model_profile",
    "utility_summarizer",
]
