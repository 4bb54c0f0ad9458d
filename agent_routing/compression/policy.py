"""When compression pays, and down to what size.

Compressing costs nothing in money but may cost the agent a detail, so it runs only where
the saving matters (`compression.*` settings):

- an explicit target (the router's `compress_to_tokens`, the CLI's `--budget`) is always
  honoured: it is a hard limit, and the one case where a warm cached prefix may be
  rewritten (a prompt that does not fit fails outright);
- a prompt larger than the model's context window is compressed to
  `target_fullness x window`, also as a hard limit, whatever the price;
- otherwise the model's input price must reach `min_input_cost_per_mtok` and the prompt
  must fill at least `min_context_fullness` of the window; the budget is then
  `target_fullness x window`, a soft limit that never breaks a warm prompt cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from agent_routing.compression.profile import ModelProfile
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
) -> Plan:
    """Decide whether to compress a prompt of `prompt_tokens` for `profile`'s model."""
    if target_tokens is not None and (isinstance(target_tokens, bool) or target_tokens <= 0):
        raise ConfigError.single(
            "target_tokens", f"must be a positive number of tokens (got {target_tokens!r})"
        )
    if not settings.enabled:
        return Plan(None, False, CompressionOutcome.DISABLED, "compression.enabled is false")
    hard = _hard_limit(profile, settings, prompt_tokens, target_tokens)
    if hard is not None:
        return hard
    refusal = _below_thresholds(profile, settings, prompt_tokens)
    window = profile.context_window
    if refusal is not None or window is None:
        return Plan(None, False, CompressionOutcome.BELOW_THRESHOLD, refusal or "")
    budget = int(settings.target_fullness * window)
    if prompt_tokens <= budget:
        return _fits(prompt_tokens, budget)
    return Plan(
        budget,
        False,
        None,
        f"prompt fills {prompt_tokens / window:.1%} of the window; target "
        f"compression.target_fullness = {settings.target_fullness:.0%}",
    )


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
    profile: ModelProfile, settings: CompressionSettings, prompt_tokens: int
) -> str | None:
    """Why a prompt is not worth compressing for this model, or None when it is."""
    price = profile.input_cost_per_mtok
    if price < settings.min_input_cost_per_mtok:
        return (
            f"input price ${price:.4g}/Mtok of {profile.model} is below "
            f"compression.min_input_cost_per_mtok (${settings.min_input_cost_per_mtok:g})"
        )
    window = profile.context_window
    if window is None:
        return f"context window of {profile.model} is unknown: pass an explicit target"
    fullness = prompt_tokens / window
    if fullness < settings.min_context_fullness:
        return (
            f"prompt fills {fullness:.1%} of the {window:,}-token window, below "
            f"compression.min_context_fullness ({settings.min_context_fullness:.0%})"
        )
    return None


def _fits(prompt_tokens: int, budget: int) -> Plan:
    return Plan(
        budget,
        False,
        CompressionOutcome.WITHIN_BUDGET,
        f"prompt of {prompt_tokens:,} tokens already fits the budget of {budget:,}",
    )
