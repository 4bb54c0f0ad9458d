"""What a compression call returns: new message lists, and statistics to record and show."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agent_routing.compression._policy import CompressionOutcome
from agent_routing.compression._prompt_cache import PromptCacheState


@dataclass(frozen=True, slots=True)
class StepStats:
    """What one step removed."""

    name: str
    messages_changed: int
    tokens_removed: int


@dataclass(frozen=True, slots=True)
class SummaryStats:
    """Utility-model summaries: how many were reused, bought, refused or failed."""

    cache_hits: int = 0
    calls: int = 0
    skipped_uneconomic: int = 0
    errors: int = 0
    cost_usd: float = 0.0


@dataclass(frozen=True, slots=True)
class CompressionStats:
    """Token and dollar figures of one compression, and why it did what it did.

    `input_tokens` / `output_tokens` cover the whole prompt (system, history and the
    caller's `extra_prompt_tokens`). `usd_saved` prices the removed tokens at the model's
    input price (what they would have cost on this call: `CallRecord.usd_saved`); money
    spent on utility-model summaries is reported apart, in `summaries.cost_usd`.
    """

    outcome: CompressionOutcome
    reason: str
    model: str
    input_tokens: int
    output_tokens: int
    budget_tokens: int | None = None
    budget_met: bool = True
    rewritten: bool = False  # the returned prompt differs from the input (this call or a
    # warm cached prefix compressed by an earlier call and reproduced now)
    protected_tokens: int = 0  # system prompt, task, recent turns and warm cached prefix
    frozen_messages: int = 0  # messages reproduced byte for byte from the warm cached prefix
    prefix_rewritten: bool = False  # a hard target forced a rewrite of a warm cached prefix
    input_cost_per_token: float | None = None
    steps: tuple[StepStats, ...] = ()
    summaries: SummaryStats = field(default_factory=SummaryStats)
    elapsed_ms: float = 0.0

    @property
    def tokens_saved(self) -> int:
        """Input tokens removed (never negative)."""
        return max(self.input_tokens - self.output_tokens, 0)

    @property
    def usd_saved(self) -> float | None:
        """What the removed tokens would have cost on this call; None when unpriced."""
        if self.input_cost_per_token is None:
            return None
        return self.tokens_saved * self.input_cost_per_token

    @property
    def reduction(self) -> float:
        """Fraction of the prompt's tokens removed."""
        return self.tokens_saved / self.input_tokens if self.input_tokens else 0.0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (for logs, the CLI and the API)."""
        return {
            "outcome": self.outcome.value,
            "reason": self.reason,
            "model": self.model,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "tokens_saved": self.tokens_saved,
            "usd_saved": self.usd_saved,
            "reduction": round(self.reduction, 4),
            "budget_tokens": self.budget_tokens,
            "budget_met": self.budget_met,
            "rewritten": self.rewritten,
            "protected_tokens": self.protected_tokens,
            "frozen_messages": self.frozen_messages,
            "prefix_rewritten": self.prefix_rewritten,
            "steps": [
                {"name": s.name, "messages": s.messages_changed, "tokens": s.tokens_removed}
                for s in self.steps
            ],
            "summaries": {
                "cache_hits": self.summaries.cache_hits,
                "calls": self.summaries.calls,
                "skipped_uneconomic": self.summaries.skipped_uneconomic,
                "errors": self.summaries.errors,
                "cost_usd": self.summaries.cost_usd,
            },
            "elapsed_ms": round(self.elapsed_ms, 3),
        }


@dataclass(frozen=True, slots=True)
class CompressionResult:
    """New message lists to send instead of the originals, and the statistics.

    `system` is the list of system-prompt parts (Agent Zero; empty for chat messages, whose
    system messages stay in `history`). The lists and every changed message are new
    objects; unchanged content is the caller's own object, passed by reference.
    `cache_state` is what to pass as `cache_state` to the next call for the same
    conversation (None when the model's provider does not cache prompts).
    """

    system: list[str]
    history: list[Any]
    stats: CompressionStats
    cache_state: PromptCacheState | None = None

    @property
    def changed(self) -> bool:
        """True when the returned lists differ from the input: assign them back then.

        Also true when nothing was compressed on this call but a warm cached prefix that an
        earlier call compressed is reproduced (sending the raw history would break the
        provider's prompt cache).
        """
        return self.stats.rewritten
