"""The host-independent core: decode, decide, run the steps, encode, account.

`compress_with_codec` works on any message shape a :class:`MessageCodec` understands. It
decides with :func:`plan_compression` whether and how far to compress, reproduces a warm
cached prefix byte for byte, runs the steps in order until the budget is met, and returns
new host messages with statistics. The budget is met, or the statistics say why not.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from agent_routing.compression._context import FoldedUnit, Step, StepContext
from agent_routing.compression._duplicates import DuplicateCollapser
from agent_routing.compression._elision import ToolOutputElider
from agent_routing.compression._entries import Entry, MessageCodec, Role
from agent_routing.compression._folding import TurnFolder
from agent_routing.compression._layout import placements
from agent_routing.compression._masking import ObservationMasker
from agent_routing.compression._policy import CompressionOutcome, Plan, plan_compression
from agent_routing.compression._profile import ModelProfile
from agent_routing.compression._prompt_cache import PromptCacheState, SentMessage, cached_prefix
from agent_routing.compression._reasoning import ReasoningDropper
from agent_routing.compression._result import CompressionStats, StepStats
from agent_routing.compression._utility import UtilitySummarizer
from agent_routing.compression.tokenize import TokenCounter
from agent_routing.config import CompressionSettings
from agent_routing.errors import ConfigError

DEFAULT_STEPS: tuple[Step, ...] = (
    ObservationMasker(),
    ReasoningDropper(),
    DuplicateCollapser(),
    ToolOutputElider(),
    TurnFolder(),
)
"""The pipeline, in order: old tool outputs cleared first, folding last."""


@dataclass(frozen=True, slots=True)
class CoreOutput:
    """The new host messages, the statistics, the next cache state and the folded turns."""

    messages: list[Any]
    stats: CompressionStats
    cache_state: PromptCacheState | None
    folded_units: tuple[FoldedUnit, ...] = ()


class _Decoded(NamedTuple):
    """A decoded message before counting; `sent_tokens` is set for a warm-prefix message."""

    entry: Entry
    position: int
    digests: tuple[str, ...]
    wire_tokens: int  # the message as the host sends it
    sent_tokens: int | None = None  # its inputs' tokens before an earlier compression


@dataclass(frozen=True, slots=True)
class _Inputs:
    """Everything one compression call decodes and runs the steps with."""

    messages: Sequence[Any]
    digests: Sequence[str]
    wire: Sequence[int]  # each input message's tokens as the host sends it
    codec: MessageCodec
    count: TokenCounter
    settings: CompressionSettings
    summaries: Mapping[str, str]
    extra_prompt_tokens: int

    def context(self) -> StepContext:
        """A fresh step context (budget and total are set once they are known)."""
        return StepContext(
            budget=0,
            total=0,
            count=self.count,
            tool_output_max_tokens=self.settings.tool_output_max_tokens,
            summaries=self.summaries,
        )

    def decode(
        self, prefix: Sequence[SentMessage], context: StepContext, *, thaw_raw: bool = False
    ) -> list[Entry]:
        """Placed and counted entries: the warm `prefix` as sent before (frozen), then the
        remaining input messages. With `thaw_raw`, prefix messages that were sent as they
        came (never compressed) are decoded as new ones: compressing them breaks the cache
        from there on, while every message compressed and sent before stays byte-identical.
        """
        decoded: list[_Decoded] = []
        position = 0
        for sent in prefix:
            raw = len(sent.digests) == 1 and self.codec.digest(sent.message) == sent.digests[0]
            if thaw_raw and raw:
                entry = self.codec.decode(self.messages[position])
                decoded.append(_Decoded(entry, position, sent.digests, self.wire[position]))
            else:
                entry = self.codec.decode(sent.message)
                tokens = sent.tokens or self.codec.wire_tokens(sent.message, self.count)
                decoded.append(_Decoded(entry, position, sent.digests, tokens, sent.source_tokens))
            position += len(sent.digests)
        for index in range(position, len(self.messages)):
            entry = self.codec.decode(self.messages[index])
            decoded.append(_Decoded(entry, index, (self.digests[index],), self.wire[index]))
        places = placements([item.entry for item in decoded], self.settings.keep_recent_turns)
        entries: list[Entry] = []
        for item, place in zip(decoded, places, strict=True):
            text_tokens = context.count(item.entry.text)
            tokens = max(item.wire_tokens, text_tokens)  # the rest: role, tool calls, keys
            entries.append(
                replace(
                    item.entry,
                    tokens=tokens,
                    text_tokens=text_tokens,
                    source_tokens=tokens if item.sent_tokens is None else item.sent_tokens,
                    position=item.position,
                    digests=item.digests,
                    source_text=item.entry.rendered(),
                    frozen=item.sent_tokens is not None,
                    unit=place.unit,
                    pinned=place.pinned,
                    recent=place.recent,
                    observation=place.observation,
                )
            )
        return entries

    def total(self, entries: Sequence[Entry]) -> int:
        """Prompt tokens of `entries` plus the parts the caller did not pass."""
        return sum(entry.tokens for entry in entries) + self.extra_prompt_tokens


def _run(entries: list[Entry], steps: Sequence[Step], context: StepContext) -> list[Entry]:
    for step in steps:
        if context.met():
            break
        entries = step(entries, context)
    return entries


def _unmet_reason(entries: Sequence[Entry], budget: int, total: int, extra: int) -> str:
    pinned = sum(e.tokens for e in entries if e.pinned)
    frozen = sum(e.tokens for e in entries if e.frozen and not e.pinned)
    recent = sum(e.tokens for e in entries if e.recent and not (e.pinned or e.frozen))
    protected = pinned + frozen + recent + extra
    if protected > budget:
        parts = [f"the most recent turns ({recent:,})", f"system prompt and task ({pinned:,})"]
        if frozen:
            parts.append(f"warm cached prefix ({frozen:,})")
        if extra:
            parts.append(f"other prompt parts ({extra:,})")
        return (
            f"budget of {budget:,} tokens not met: the protected part alone takes "
            f"{protected:,} tokens: " + ", ".join(parts)
        )
    return (
        f"budget of {budget:,} tokens not met: every unprotected message is compressed as far "
        f"as the steps go; {total:,} tokens remain"
    )


def compress_with_codec(
    messages: Sequence[Any],
    codec: MessageCodec,
    *,
    profile: ModelProfile,
    settings: CompressionSettings,
    count: TokenCounter,
    target_tokens: int | None = None,
    cache_state: PromptCacheState | None = None,
    now: float | None = None,
    extra_prompt_tokens: int = 0,
    summaries: Mapping[str, str] | None = None,
    steps: Sequence[Step] = DEFAULT_STEPS,
) -> CoreOutput:
    """Compress `messages` for `profile`'s model (see the module docstring).

    `extra_prompt_tokens` counts prompt parts the caller sends but does not pass (they are
    part of the budget and never changed); `summaries` maps turn keys to utility-model
    summaries to use instead of extractive lines. Raises ConfigError on a bad argument.
    """
    if extra_prompt_tokens < 0:
        raise ConfigError.single(
            "extra_prompt_tokens", f"must be zero or more (got {extra_prompt_tokens!r})"
        )
    started = time.perf_counter()
    now = time.time() if now is None else now
    count = _memoized(count)  # a message's text is counted for the wire and for the steps
    digests = [codec.digest(message) for message in messages]
    wire = [codec.wire_tokens(message, count) for message in messages]
    inputs = _Inputs(
        messages, digests, wire, codec, count, settings, summaries or {}, extra_prompt_tokens
    )
    warm = (
        cache_state is not None
        and settings.enabled
        and cache_state.is_warm(profile.model, profile.prompt_cache_ttl_s, now)
    )
    prefix = cached_prefix(cache_state, digests) if cache_state is not None and warm else []
    context = inputs.context()
    entries = inputs.decode(prefix, context)
    compressed_before = cache_state.compressed_tokens if cache_state and prefix else None
    plan = plan_compression(
        profile, settings, inputs.total(entries), target_tokens, compressed_before
    )
    if all(entry.role is Role.SYSTEM for entry in entries):
        plan = Plan(plan.budget, plan.hard, CompressionOutcome.EMPTY, "no history to compress")
    prefix_rewritten = False
    if plan.skip is None and plan.budget is not None:
        budget, kept = plan.budget, entries  # kept: the warm prefix as sent, no cache break
        if prefix and not plan.hard:  # due: old raw messages may change, in one chunk
            entries = inputs.decode(prefix, context, thaw_raw=True)
        context.budget, context.total = budget, inputs.total(entries)
        context.chunk = not plan.hard
        entries = _run(entries, steps, context)
        if prefix and not plan.hard:
            refusal = _break_refusal(kept, entries, len(prefix), profile, settings)
            if refusal is not None:
                entries, context = kept, inputs.context()
                plan = Plan(None, False, CompressionOutcome.BELOW_THRESHOLD, refusal)
        elif not context.met() and plan.hard and prefix:  # only a hard limit breaks the cache
            context = inputs.context()
            entries = inputs.decode([], context)
            context.budget, context.total = budget, inputs.total(entries)
            entries = _run(entries, steps, context)
            prefix_rewritten = True
    out = [codec.encode(entry) for entry in entries]
    out_tokens = [
        codec.wire_tokens(message, count) if entry.changed else entry.tokens
        for entry, message in zip(entries, out, strict=True)
    ]
    stats = _stats(
        entries,
        wire=(sum(wire), sum(out_tokens)),
        replayed=any(_replays_a_change(entry, codec) for entry in entries),
        plan=plan,
        profile=profile,
        context=context,
        extra=extra_prompt_tokens,
        prefix_rewritten=prefix_rewritten,
    )
    state = None
    if profile.caches_prompts:
        sent = tuple(
            SentMessage(entry.digests, _copied(message), entry.source_tokens, tokens)
            for entry, message, tokens in zip(entries, out, out_tokens, strict=True)
        )
        compressed = stats.output_tokens if plan.skip is None else compressed_before
        state = PromptCacheState(
            model=profile.model, sent_at=now, messages=sent, compressed_tokens=compressed
        )
    stats = replace(stats, elapsed_ms=(time.perf_counter() - started) * 1000)
    return CoreOutput(out, stats, state, tuple(context.folded_units))


def _memoized(count: TokenCounter) -> TokenCounter:
    """`count` remembering its results for the length of one call."""
    known: dict[str, int] = {}

    def counted(text: str) -> int:
        found = known.get(text)
        if found is None:
            found = known[text] = count(text)
        return found

    return counted


def _break_refusal(
    kept: Sequence[Entry],
    compressed: Sequence[Entry],
    cached: int,
    profile: ModelProfile,
    settings: CompressionSettings,
) -> str | None:
    """Why compressing the warm prefix would not pay, or None when it pays.

    `kept` is the prompt without a cache break (its first `cached` entries are a cache
    read), `compressed` the prompt with one: a cache read up to its first entry changed on
    this call, a cache write from there on. The break pays when its extra cost on this call
    is recovered, at the cache-read price of the tokens it removed, within
    `compression.payback_steps` later calls.
    """
    read = profile.cache_read_cost_per_token
    if read is None:
        return None
    write = profile.cache_write_cost_per_token or profile.input_cost_per_token
    keep_usd = read * sum(e.tokens for e in kept[:cached]) + write * sum(
        e.tokens for e in kept[cached:]
    )
    hit = next((i for i, e in enumerate(compressed[:cached]) if e.changed), cached)
    break_usd = read * sum(e.tokens for e in compressed[:hit]) + write * sum(
        e.tokens for e in compressed[hit:]
    )
    removed = sum(e.tokens for e in kept) - sum(e.tokens for e in compressed)
    later = removed * read * settings.payback_steps
    if removed > 0 and break_usd - keep_usd <= later:
        return None
    return (
        f"a cache break would not pay: compressing the cached prefix would remove "
        f"{max(removed, 0):,} tokens but cost "
        f"${break_usd - keep_usd:.5f} more on this call (a cache write from its first change "
        f"on), more than it saves in compression.payback_steps ({settings.payback_steps}) "
        f"later calls (${later:.5f}); the prefix is kept"
    )


def _replays_a_change(entry: Entry, codec: MessageCodec) -> bool:
    """True when a frozen entry (a message as sent before) is not its input message as is."""
    return entry.frozen and (
        len(entry.digests) != 1 or codec.digest(entry.original) != entry.digests[0]
    )


def _copied(message: Any) -> Any:
    return dict(message) if isinstance(message, dict) else message


def _stats(
    entries: Sequence[Entry],
    *,
    wire: tuple[int, int],
    replayed: bool,
    plan: Plan,
    profile: ModelProfile,
    context: StepContext,
    extra: int,
    prefix_rewritten: bool,
) -> CompressionStats:
    estimate = sum(entry.tokens for entry in entries) + extra  # as the steps counted
    input_tokens, output_tokens = wire[0] + extra, wire[1] + extra  # as the host sends
    changed = any(entry.changed for entry in entries)
    met = plan.budget is None or estimate <= plan.budget
    if plan.skip is not None:
        outcome, reason = plan.skip, plan.reason
    elif met:
        outcome, reason = CompressionOutcome.COMPRESSED, plan.reason
    else:
        assert plan.budget is not None
        outcome = CompressionOutcome.PARTIAL if changed else CompressionOutcome.UNREACHABLE
        reason = _unmet_reason(entries, plan.budget, estimate, extra)
    if prefix_rewritten:
        reason += "; the warm cached prefix was rewritten to meet the hard target"
    return CompressionStats(
        outcome=outcome,
        reason=reason,
        model=profile.model,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        budget_tokens=plan.budget,
        budget_met=met,
        rewritten=changed or replayed,
        protected_tokens=sum(e.tokens for e in entries if not e.mutable) + extra,
        frozen_messages=sum(1 for e in entries if e.frozen),
        prefix_rewritten=prefix_rewritten,
        input_cost_per_token=profile.input_cost_per_token,
        steps=tuple(
            StepStats(r.name, r.messages_changed, r.tokens_removed)
            for r in context.reports.values()
        ),
    )


async def acompress_with_codec(
    messages: Sequence[Any],
    codec: MessageCodec,
    *,
    profile: ModelProfile,
    settings: CompressionSettings,
    count: TokenCounter,
    summarizer: UtilitySummarizer | None = None,
    target_tokens: int | None = None,
    cache_state: PromptCacheState | None = None,
    now: float | None = None,
    extra_prompt_tokens: int = 0,
) -> CoreOutput:
    """:func:`compress_with_codec`, with utility-model summaries for the folded turns.

    A first pass with extractive lines finds the turns to fold; their summaries are then
    taken from the cache or bought where that pays (see
    :mod:`~agent_routing.compression._utility`), and a second pass folds with them. Without
    a summarizer, or with `compression.summarizer: extractive`, this is the first pass.
    """
    compress = functools.partial(
        compress_with_codec,
        messages,
        codec,
        profile=profile,
        settings=settings,
        count=count,
        target_tokens=target_tokens,
        cache_state=cache_state,
        now=time.time() if now is None else now,
        extra_prompt_tokens=extra_prompt_tokens,
    )
    first = compress()
    if summarizer is None or settings.summarizer != "utility" or not first.folded_units:
        return first
    summaries, summary_stats = await summarizer.summaries_for(
        first.folded_units, main_input_cost_per_token=profile.input_cost_per_token, count=count
    )
    final = compress(summaries=summaries) if summaries else first
    stats = replace(
        final.stats,
        summaries=summary_stats,
        elapsed_ms=first.stats.elapsed_ms + (final.stats.elapsed_ms if summaries else 0.0),
    )
    return replace(final, stats=stats)
