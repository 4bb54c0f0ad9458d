"""The one function Agent Zero's `message_loop_prompts_after` hook calls.

The hook (written by the plugin) passes `loop_data.system` and `loop_data.history_output`
and assigns the returned lists back::

    result = await compress_loop_prompt(
        loop_data.system, loop_data.history_output, model=model_name, settings=settings,
        target_tokens=decision.compress_to_tokens, cache_state=agent.get_data(KEY),
    )
    loop_data.system, loop_data.history_output = result.system, result.history
    agent.set_data(KEY, result.cache_state)   # a "_"-prefixed key: never saved to disk

It never raises: any failure (unknown model, bad content, a bug) returns the prompt
unchanged with `stats.outcome` saying what happened, because the agent loop does not catch
exceptions from extensions.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from agent_routing.compression._codecs import AgentZeroCodec, SystemParts
from agent_routing.compression._compressor import acompress_with_codec
from agent_routing.compression._policy import CompressionOutcome
from agent_routing.compression._profile import ModelProfile, profile_for
from agent_routing.compression._prompt_cache import PromptCacheState
from agent_routing.compression._result import CompressionResult, CompressionStats
from agent_routing.compression._utility import UtilitySummarizer
from agent_routing.compression.tokenize import TokenCounter, token_counter
from agent_routing.config import Settings
from agent_routing.errors import UnknownModelError

logger = logging.getLogger(__name__)


async def compress_loop_prompt(
    system: Sequence[str],
    history_output: Sequence[Any],
    *,
    model: str,
    settings: Settings,
    target_tokens: int | None = None,
    cache_state: PromptCacheState | None = None,
    now: float | None = None,
    extra_prompt_tokens: int = 0,
    summarizer: UtilitySummarizer | None = None,
    profile: ModelProfile | None = None,
    count_tokens: TokenCounter | None = None,
) -> CompressionResult:
    """Compressed copies of Agent Zero's system parts and history output, and statistics.

    `model` is the litellm id the main call goes to; `target_tokens` the router's
    `compress_to_tokens` (a hard limit); `cache_state` the `cache_state` of this
    conversation's previous result; `now` the current Unix time (default: the clock);
    `extra_prompt_tokens` the tokens of prompt parts not passed (Agent Zero's extras);
    `summarizer` the utility-model summarizer, used when `compression.summarizer` is
    `utility`. `profile` and `count_tokens` replace the price lookup and tokenizer.
    """
    try:
        resolved = profile or profile_for(model, settings)
        output = await acompress_with_codec(
            [SystemParts(tuple(system)), *history_output],
            AgentZeroCodec(),
            profile=resolved,
            settings=settings.compression,
            count=count_tokens or token_counter(model),
            summarizer=summarizer,
            target_tokens=target_tokens,
            cache_state=cache_state,
            now=now,
            extra_prompt_tokens=extra_prompt_tokens,
        )
    except UnknownModelError as error:
        return _unchanged(
            system, history_output, model, CompressionOutcome.UNKNOWN_MODEL, str(error)
        )
    except Exception as error:
        logger.warning("prompt compression failed; prompt left unchanged", exc_info=True)
        reason = f"{type(error).__name__}: {error}"
        return _unchanged(system, history_output, model, CompressionOutcome.FAILED, reason)
    first, *history = output.messages
    new_system = list(first.parts) if isinstance(first, SystemParts) else list(system)
    return CompressionResult(new_system, history, output.stats, output.cache_state)


def _unchanged(
    system: Sequence[str],
    history_output: Sequence[Any],
    model: str,
    outcome: CompressionOutcome,
    reason: str,
) -> CompressionResult:
    history = [dict(m) if isinstance(m, dict) else m for m in history_output or ()]
    stats = CompressionStats(
        outcome=outcome, reason=reason, model=model, input_tokens=0, output_tokens=0
    )
    return CompressionResult(list(system or ()), history, stats, None)
