"""When compression pays, and down to what size.

Compressing costs nothing in money but may cost the agent a detail, and rewriting a prompt
the provider holds in its cache costs a cache write, so it runs only where the saving
matters (`compression.*` settings):

- an explicit target (the router's `compress_to_tokens`, the CLI's `--budget`) is always
  honoured: it is a hard limit, and the one case where a warm cached prefix that an
  earlier call compressed may be rewritten (a prompt that does not fit fails outright);
- a prompt larger than the model's context window is compressed to
  `target_fullness x window`, also as a hard limit, whatever the price;
- otherwise (the soft policy) the prompt must be large in absolute terms: at least
  `trigger_tokens` tokens and `trigger_usd` dollars at the model's input price (with the
  defaults: 8,000 tokens for a $2/M model), and the model at least
  `min_input_cost_per_mtok` dear. The budget is `target_ratio` of the prompt. After a
  compression whose result is still in the provider's cache, the next one is due only
  once the prompt has grown by `recompress_growth` over the size it was compressed to, so
  each cache break removes a large chunk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from agent_routing.compression._profile import ModelProfile
from agent_routing.config import CompressionSettings
from agent_routing.errors import ConfigError


class CompressionOutcome(StrEnum):
    """What a compression call did; `reason` in the statistics says why."""

    COMPRESSED = "compressed"  # rewritten, and the prompt fits the budget
    PARTIAL = "partial"  # rewritten, but the prompt is still over the budget
    UNREACHABLE = "unreachable"  # over the budget and nothing could be removed
    WITHIN_BUDGET = "within_budget"  # already fits: unchanged
    BELOW_THRESHOLD = "below_threshold"  # too cheap a model or too empty a context: unchanged
    DISABLED = "disabled"  # compression.enabled is false: unchanged
    EMPTY = "empty"  # no history to compress: unchanged
    UNKNOWN_MODEL = "unknown_model"  # no price data for the model: unchanged
    FAILED = "failed"  # an error inside compression: the prompt is passed on unchanged


@dataclass(frozen=True, slots=True)
class Plan:
    """The decision taken before any step runs."""

    budget: int | None  # the token budget, when one applies
    hard: bool  # True: the budget is a hard limit (may rewrite a warm cached prefix)
    skip: CompressionOutcome | None  # set when nothing is to be done
    reason: str


def plan_compression(
    profile: ModelProfile,
    settings: CompressionSettings,
    prompt_tokens: int,
    target_tokens: int | None = None,
    compressed_tokens: int | None = None,
) -> Plan:
    """Decide whether to compress a prompt of `prompt_tokens` for `profile`'s model.

    `compressed_tokens` is the size an earlier compression of this conversation reached,
    while its result is still in the provider's cache (None otherwise).
    """
    if target_tokens is not None and (isinstance(target_tokens, bool) or target_tokens <= 0):
        raise ConfigError.single(
            "target_tokens", f"must be a positive number of tokens (got {target_tokens!r})"
        )
    if not settings.enabled:
        return Plan(None, False, CompressionOutcome.DISABLED, "compression.enabled is false")
    hard = _hard_limit(profile, settings, prompt_tokens, target_tokens)
    if hard is not None:
        return hard
    refusal = _below_thresholds(profile, settings, prompt_tokens, compressed_tokens)
    if refusal is not None:
        return Plan(None, False, CompressionOutcome.BELOW_THRESHOLD, refusal)
    budget = max(int(settings.target_ratio * prompt_tokens), 1)
    usd = prompt_tokens * profile.input_cost_per_token
    return Plan(
        budget,
        False,
        None,
        f"prompt of {prompt_tokens:,} tokens (${usd:.4f} of input) reached the trigger "
        f"({settings.trigger_tokens:,} tokens and ${settings.trigger_usd:g}); target "
        f"compression.target_ratio = {settings.target_ratio:.0%} of it",
    )


def trigger_tokens_for(profile: ModelProfile, settings: CompressionSettings) -> int:
    """The smallest prompt (tokens) the soft policy compresses for `profile`'s model."""
    price = profile.input_cost_per_token
    if settings.trigger_usd <= 0:
        by_usd = 0
    elif price <= 0:
        by_usd = 2**62  # a free model never costs the trigger amount
    else:  # the rounding keeps $0.016 at $2/M at 8,000 (not 8,001)
        by_usd = math.ceil(round(settings.trigger_usd / price, 6))
    return max(settings.trigger_tokens, by_usd)


def _hard_limit(
    profile: ModelProfile,
    settings: CompressionSettings,
    prompt_tokens: int,
    target_tokens: int | None,
) -> Plan | None:
    """The plan for an explicit target or a prompt over the context window, else None."""
    if target_tokens is not None:
        if prompt_tokens <= target_tokens:
            return _fits(prompt_tokens, target_tokens)
        return Plan(target_tokens, True, None, f"explicit target of {target_tokens:,} tokens")
    window = profile.context_window
    if window is not None and prompt_tokens > window:
        return Plan(
            int(settings.target_fullness * window),
            True,
            None,
            f"prompt of {prompt_tokens:,} tokens exceeds the {window:,}-token context window",
        )
    return None


def _below_thresholds(
    profile: ModelProfile,
    settings: CompressionSettings,
    prompt_tokens: int,
    compressed_tokens: int | None,
) -> str | None:
    """Why a prompt is not worth compressing for this model now, or None when it is."""
    price = profile.input_cost_per_mtok
    if price < settings.min_input_cost_per_mtok:
        return (
            f"input price ${price:.4g}/Mtok of {profile.model} is below "
            f"compression.min_input_cost_per_mtok (${settings.min_input_cost_per_mtok:g})"
        )
    trigger = trigger_tokens_for(profile, settings)
    if prompt_tokens < trigger:
        usd = prompt_tokens * profile.input_cost_per_token
        return (
            f"prompt of {prompt_tokens:,} tokens (${usd:.4f} of input at ${price:.4g}/Mtok) is "
            f"below the trigger: compression.trigger_tokens ({settings.trigger_tokens:,}) and "
            f"compression.trigger_usd (${settings.trigger_usd:g}), i.e. {trigger:,} tokens "
            f"for {profile.model}"
        )
    share = settings.min_context_fullness
    window = profile.context_window
    if share is not None and (window is None or prompt_tokens < share * window):
        return (
            f"prompt fills less than compression.min_context_fullness ({share:.0%}, "
            "deprecated) of the context window"
        )
    if compressed_tokens is not None:
        regrown = int(compressed_tokens * (1 + settings.recompress_growth))
        if prompt_tokens < regrown:
            return (
                f"the cached prompt was compressed to {compressed_tokens:,} tokens; it is "
                f"compressed again from {regrown:,} (compression.recompress_growth = "
                f"{settings.recompress_growth:.0%}), now {prompt_tokens:,}"
            )
    return None


def _fits(prompt_tokens: int, budget: int) -> Plan:
    return Plan(
        budget,
        False,
        CompressionOutcome.WITHIN_BUDGET,
        f"prompt of {prompt_tokens:,} tokens already fits the budget of {budget:,}",
    )
