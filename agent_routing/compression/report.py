"""Compressing recorded transcripts and summing up the result (the `compress` command).

Each transcript is compressed as one prompt about to be sent to `model`, then measured:
tokens before and after, and retention of identifiers, numbers, paths and URLs
(:mod:`~agent_routing.compression._metrics`); it is also replayed step by step, under the
policy and uncompressed, with prompt-cache prices (:mod:`~agent_routing.compression._replay`).
Totals add tokens, retained items, time and replay costs over all transcripts before
dividing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agent_routing.compression._chat import compress_messages
from agent_routing.compression._metrics import Retention, measure_retention, rendered_text
from agent_routing.compression._profile import ModelProfile
from agent_routing.compression._replay import ReplayCost, add_costs, policy_sender, replay
from agent_routing.compression.tokenize import TokenCounter
from agent_routing.compression.transcripts import Transcript
from agent_routing.config import Settings


@dataclass(frozen=True, slots=True)
class TranscriptStats:
    """The measured compression of one transcript."""

    id: str
    messages: int
    input_tokens: int
    output_tokens: int
    outcome: str
    budget_met: bool
    recent: Retention
    overall: Retention
    elapsed_ms: float
    usd_saved: float | None
    replay: ReplayCost

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {
            "id": self.id,
            "messages": self.messages,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "reduction": _ratio(self.input_tokens - self.output_tokens, self.input_tokens),
            "outcome": self.outcome,
            "budget_met": self.budget_met,
            "retention_recent": round(self.recent.ratio, 4),
            "retention_overall": round(self.overall.ratio, 4),
            "elapsed_ms": round(self.elapsed_ms, 3),
            "usd_saved": self.usd_saved,
            "replay_steps": self.replay.steps,
            "replay_cost_ratio": round(self.replay.ratio, 4),
            "replay_usd": round(self.replay.usd, 6),
            "replay_uncompressed_usd": round(self.replay.plain_usd, 6),
        }


def _ratio(part: float, whole: float) -> float:
    return round(part / whole, 4) if whole else 0.0


@dataclass(frozen=True, slots=True)
class Totals:
    """Sums over several transcripts (micro-averages: counts are added, then divided)."""

    transcripts: tuple[TranscriptStats, ...]

    @property
    def input_tokens(self) -> int:
        """Tokens of all transcripts before compression."""
        return sum(t.input_tokens for t in self.transcripts)

    @property
    def output_tokens(self) -> int:
        """Tokens of all transcripts after compression."""
        return sum(t.output_tokens for t in self.transcripts)

    def as_dict(self) -> dict[str, Any]:
        """The figures the `compress --json` output promises, and a few more."""
        recent = sum((t.recent for t in self.transcripts), Retention())
        overall = sum((t.overall for t in self.transcripts), Retention())
        elapsed = sum(t.elapsed_ms for t in self.transcripts)
        saved = [t.usd_saved for t in self.transcripts if t.usd_saved is not None]
        replayed = add_costs(t.replay for t in self.transcripts)
        return {
            "transcripts": len(self.transcripts),
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "reduction": _ratio(self.input_tokens - self.output_tokens, self.input_tokens),
            "retention_recent": round(recent.ratio, 4),
            "retention_overall": round(overall.ratio, 4),
            "ms_per_10k_tokens": round(elapsed / self.input_tokens * 10_000, 3)
            if self.input_tokens
            else 0.0,
            "budget_met": sum(1 for t in self.transcripts if t.budget_met),
            "usd_saved": sum(saved) if saved else None,
            "replay_steps": replayed.steps,
            "replay_cost_ratio": round(replayed.ratio, 4),
            "replay_usd": round(replayed.usd, 6),
            "replay_uncompressed_usd": round(replayed.plain_usd, 6),
        }


def compress_transcript(
    transcript: Transcript,
    *,
    model: str,
    settings: Settings,
    target_tokens: int | None,
    profile: ModelProfile,
    count: TokenCounter,
) -> TranscriptStats:
    """Compress one transcript as a prompt for `model` and measure the result; replay it
    step by step under the policy and uncompressed (:mod:`~agent_routing.compression._replay`).
    """
    result = compress_messages(
        transcript.messages,
        model=model,
        settings=settings,
        target_tokens=target_tokens,
        profile=profile,
        count_tokens=count,
    )
    retained = measure_retention(
        transcript.messages,
        rendered_text(result.history),
        settings.compression.keep_recent_turns,
    )
    stats = result.stats
    return TranscriptStats(
        id=transcript.id,
        messages=len(transcript.messages),
        input_tokens=stats.input_tokens,
        output_tokens=stats.output_tokens,
        outcome=stats.outcome.value,
        budget_met=stats.budget_met,
        recent=retained.recent,
        overall=retained.overall,
        elapsed_ms=stats.elapsed_ms,
        usd_saved=stats.usd_saved,
        replay=replay(
            transcript.messages,
            policy_sender(
                model=model,
                settings=settings,
                profile=profile,
                count=count,
                target_tokens=target_tokens,
            ),
            profile,
            count,
        ),
    )


def compress_transcripts(
    transcripts: Sequence[Transcript],
    *,
    model: str,
    settings: Settings,
    target_tokens: int | None,
    profile: ModelProfile,
    count: TokenCounter,
) -> Totals:
    """:func:`compress_transcript` for each transcript, with totals."""
    return Totals(
        tuple(
            compress_transcript(
                transcript,
                model=model,
                settings=settings,
                target_tokens=target_tokens,
                profile=profile,
                count=count,
            )
            for transcript in transcripts
        )
    )
