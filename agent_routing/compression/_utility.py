"""Summaries of folded turns by the cheap utility model: paid once per content, only if it pays.

The extractive summary is free and offline; a utility-model summary reads better but costs
a call. So for each turn the folder picked (:class:`FoldedUnit`):

1. a summary already in the cache (the ledger database, keyed by the turn's content hash)
   is reused for free;
2. otherwise the call is made only when its estimated cost (prompt plus
   `max_summary_tokens` at the utility model's prices) is below what the summary saves
   on this one call (the turn's tokens minus `max_summary_tokens`, at the main model's
   input price). Later calls reuse the cached summary, so this errs on the cheap side;
3. a failed call counts as an error and the turn keeps its extractive line: compression
   never raises into the agent loop because a summary failed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from agent_routing.compression._context import FoldedUnit
from agent_routing.compression._extractive import clip
from agent_routing.compression._profile import ModelProfile, model_profile
from agent_routing.compression._result import SummaryStats
from agent_routing.compression.tokenize import MESSAGE_OVERHEAD_TOKENS, TokenCounter
from agent_routing.config import PriceOverride

logger = logging.getLogger(__name__)

SUMMARY_NAMESPACE = "compression.turn_summary"
SUMMARY_INSTRUCTIONS = (
    "You shorten an AI agent's own history. Summarize the step below in at most {words} words "
    "for the agent's later use: what it did, what came back, and every file path, "
    "identifier, number, URL and error message it may need again. Reply with the summary "
    "only, on one line."
)

Completer = Callable[[list[dict[str, str]]], Awaitable[str]]
_Fate = Literal["hit", "call", "uneconomic", "error"]  # what happened to one turn
"""An async callable sending chat messages to the utility model and returning the reply text."""


class SummaryCache(Protocol):
    """Where summaries are kept across calls and processes (the ledger implements it)."""

    async def cache_get(self, namespace: str, key: str) -> str | None:
        """The value stored under `key`, or None."""
        ...

    async def cache_put(self, namespace: str, key: str, value: str) -> None:
        """Store `value` under `key` (replacing any previous value)."""
        ...


def litellm_completer(model: str, *, max_tokens: int = 200, **kwargs: Any) -> Completer:
    """A :data:`Completer` calling `litellm.acompletion(model=...)` (extra kwargs passed on)."""

    async def complete(messages: list[dict[str, str]]) -> str:
        from agent_routing._litellm import litellm_module

        response = await litellm_module().acompletion(
            model=model, messages=messages, max_tokens=max_tokens, **kwargs
        )
        return str(response.choices[0].message.content or "")

    return complete


@dataclass(frozen=True, slots=True)
class UtilitySummarizer:
    """Summarizes folded turns with the utility model `profile` describes."""

    complete: Completer
    profile: ModelProfile
    cache: SummaryCache | None = None
    max_summary_tokens: int = 120
    concurrency: int = 4

    def prompt(self, source_text: str) -> list[dict[str, str]]:
        """The chat messages sent to summarize one turn."""
        words = max(self.max_summary_tokens * 3 // 4, 10)
        return [
            {"role": "system", "content": SUMMARY_INSTRUCTIONS.format(words=words)},
            {"role": "user", "content": source_text},
        ]

    def estimated_cost(self, prompt_tokens: int, output_tokens: int) -> float:
        """USD for one summary call of that size at the utility model's prices."""
        return (
            prompt_tokens * self.profile.input_cost_per_token
            + output_tokens * self.profile.output_cost_per_token
        )

    async def summaries_for(
        self,
        units: Sequence[FoldedUnit],
        *,
        main_input_cost_per_token: float,
        count: TokenCounter,
    ) -> tuple[dict[str, str], SummaryStats]:
        """Summaries for `units` (by turn key) that are cached or worth buying, and stats."""
        gate = asyncio.Semaphore(max(self.concurrency, 1))
        outcomes = await asyncio.gather(
            *(self._one(unit, main_input_cost_per_token, count, gate) for unit in units)
        )
        summaries = {
            unit.key: text for unit, (text, _, _) in zip(units, outcomes, strict=True) if text
        }
        kinds = [kind for _, kind, _ in outcomes]
        stats = SummaryStats(
            cache_hits=kinds.count("hit"),
            calls=kinds.count("call"),
            skipped_uneconomic=kinds.count("uneconomic"),
            errors=kinds.count("error"),
            cost_usd=sum(cost for _, _, cost in outcomes),
        )
        return summaries, stats

    async def _store(self, key: str, summary: str) -> None:
        """Cache a bought summary; a cache failure loses the reuse, not the summary."""
        if self.cache is None:
            return
        try:
            await self.cache.cache_put(SUMMARY_NAMESPACE, key, summary)
        except Exception:
            logger.warning("could not cache a turn summary", exc_info=True)

    async def _one(
        self,
        unit: FoldedUnit,
        main_input_cost_per_token: float,
        count: TokenCounter,
        gate: asyncio.Semaphore,
    ) -> tuple[str | None, _Fate, float]:
        """(summary or None, what happened, USD spent) for one folded turn."""
        async with gate:
            try:
                if self.cache is not None:
                    cached = await self.cache.cache_get(SUMMARY_NAMESPACE, unit.key)
                    if cached:
                        return cached, "hit", 0.0
                messages = self.prompt(unit.source_text)
                prompt_tokens = sum(count(m["content"]) + MESSAGE_OVERHEAD_TOKENS for m in messages)
                cost = self.estimated_cost(prompt_tokens, self.max_summary_tokens)
                saving = (unit.tokens - self.max_summary_tokens) * main_input_cost_per_token
                if cost >= saving:
                    return None, "uneconomic", 0.0
                reply = clip(await self.complete(messages), self.max_summary_tokens * 8)
                spent = self.estimated_cost(prompt_tokens, count(reply))
                if not reply:
                    return None, "error", spent
                await self._store(unit.key, reply)
                return reply, "call", spent
            except Exception:
                logger.warning("utility summary failed; keeping the extractive line", exc_info=True)
                return None, "error", 0.0


def utility_summarizer(
    model: str,
    overrides: Mapping[str, PriceOverride] | None = None,
    *,
    cache: SummaryCache | None = None,
    max_summary_tokens: int = 120,
    **completion_kwargs: Any,
) -> UtilitySummarizer:
    """A summarizer calling `model` through litellm, priced from `overrides` or litellm.

    `cache` is usually the ledger (its `cache_get` / `cache_put`); extra keyword arguments
    go to `litellm.acompletion` (e.g. `api_base`, or `mock_response` in tests). Raises
    UnknownModelError when `model` cannot be priced: the cost check needs its prices.
    """
    return UtilitySummarizer(
        complete=litellm_completer(model, max_tokens=max_summary_tokens * 2, **completion_kwargs),
        profile=model_profile(model, overrides),
        cache=cache,
        max_summary_tokens=max_summary_tokens,
    )
