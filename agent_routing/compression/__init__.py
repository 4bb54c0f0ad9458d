"""Cost-aware compression of prompt and history.

Entry points: :func:`compress_loop_prompt` (Agent Zero's `message_loop_prompts_after`
hook; never raises), :func:`compress_messages` / :func:`acompress_messages` (chat message
lists). Nothing heavy is imported here: tiktoken and litellm load on first use.

Public modules besides this one, for offline replays (the `compress` command, bench/):
`transcripts` (read recorded agent runs), `tokenize` (token counters) and `report`
(compress transcripts and total the savings). The `_*` modules are internal: the policy
(`_policy`: when and how far), the compressor and its steps (`_compressor`, `_masking`,
`_folding`, `_elision`, `_extractive`, `_duplicates`, `_reasoning`), message handling
(`_chat`, `_agent_zero`, `_codecs`, `_entries`, `_layout`, `_markers`, `_context`,
`_identifiers`), model profiles (`_profile`), utility summaries (`_utility`), the prompt
cache (`_prompt_cache`), results and measurements (`_result`, `_metrics`, `_replay`,
`_baselines`).
"""

from __future__ import annotations

from agent_routing.compression._agent_zero import compress_loop_prompt
from agent_routing.compression._chat import acompress_messages, compress_messages
from agent_routing.compression._policy import CompressionOutcome
from agent_routing.compression._profile import ModelProfile, model_profile, profile_for
from agent_routing.compression._prompt_cache import PromptCacheState
from agent_routing.compression._result import CompressionResult, CompressionStats
from agent_routing.compression._utility import (
    Completer,
    SummaryCache,
    UtilitySummarizer,
    litellm_completer,
    utility_summarizer,
)

__all__ = [
    "Completer",
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
    "profile_for",
    "utility_summarizer",
]
