"""Benchmark: the default compression policy against baselines on real agent transcripts.

Run:  .venv/bin/python bench/bench_compression.py [--quick] [--data DIR]
          [--models gpt-4.1,claude-sonnet-4-6] [--min-tokens 8000] [--repeat 5]

Everything runs with the DEFAULT settings (`Settings()`): no budget is given, the policy
decides when and how far to compress (docs/compression.md). For each model, over the
transcripts of at least `--min-tokens` tokens (the long histories), each method is
measured in the same run:

- agent-routing: `compress_messages(...)` with the defaults (offline, extractive), and
  in the replay the policy with its `cache_state` carried from step to step;
- observation masking: every tool output older than the last three turns becomes a
  placeholder, on every step (arXiv 2508.21433; no trigger, no regard for the cache);
- truncate last N: once the prompt reaches the policy's trigger, keep its last
  `target_ratio` (50 %) of tokens;
- strip whitespace/filler: collapse whitespace, drop filler words.

Figures: the whole transcript as one prompt (token reduction; retention of identifiers,
numbers, paths and URLs in the last three turns, in the system prompt + task and overall;
definitions in agent_routing/compression/_metrics.py), `replay_cost_ratio` (the run
replayed step by step with cache-read / cache-write prices, method cost / uncompressed
cost; agent_routing/compression/_replay.py; also over the steps whose prompt reached the
trigger, where the policy acts) and time per 10k input tokens of one
single-prompt compression (median of `--repeat` cold runs, CPU and wall clock). A second
table per model covers all transcripts (one timed run each). `--quick`: three long
transcripts, one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from agent_routing.compression import ModelProfile, compress_messages, profile_for
from agent_routing.compression._baselines import (
    mask_observations,
    strip_whitespace_and_filler,
    truncate_to_last_tokens,
)
from agent_routing.compression._codecs import ChatCodec
from agent_routing.compression._identifiers import items_in
from agent_routing.compression._layout import label_entries
from agent_routing.compression._metrics import (
    ConversationRetention,
    Retention,
    measure_retention,
    rendered_text,
)
from agent_routing.compression._policy import trigger_tokens_for
from agent_routing.compression._replay import (
    CacheBiller,
    ReplayCost,
    Sender,
    add_costs,
    policy_sender,
    replay,
    step_ends,
)
from agent_routing.compression.tokenize import TokenCounter, token_counter
from agent_routing.compression.transcripts import Transcript, read_transcripts
from agent_routing.config import Settings, settings_from_mapping

DEFAULT_DATA = Path("/work/shared/data/agent_transcripts")
DEFAULT_MODELS = "gpt-4.1,claude-sonnet-4-6"  # 4.6: priced by the package's price snapshot
T = TypeVar("T")
Messages = Sequence[dict[str, Any]]


@dataclass
class MethodTotals:
    """Figures of one method, added over transcripts (ratios are taken at the end)."""

    name: str
    input_tokens: int = 0
    output_tokens: int = 0
    recent: Retention = field(default_factory=Retention)
    opening: Retention = field(default_factory=Retention)
    overall: Retention = field(default_factory=Retention)
    replays: list[ReplayCost] = field(default_factory=list)
    wall_ms: float = 0.0
    cpu_ms: float = 0.0

    def add(self, tokens: tuple[int, int], kept: ConversationRetention, cost: ReplayCost) -> None:
        self.input_tokens += tokens[0]
        self.output_tokens += tokens[1]
        self.recent += kept.recent
        self.opening += kept.opening
        self.overall += kept.overall
        self.replays.append(cost)

    def per_10k(self, milliseconds: float) -> str:
        return f"{milliseconds * 10_000 / self.input_tokens:.1f}" if self.input_tokens else "-"

    def row(self) -> list[str]:
        reduction = 1 - self.output_tokens / self.input_tokens if self.input_tokens else 0.0
        return [
            self.name,
            f"{self.input_tokens:,}",
            f"{self.output_tokens:,}",
            f"{reduction:.1%}",
            f"{self.recent.ratio:.1%}",
            f"{self.opening.ratio:.1%}",
            f"{self.overall.ratio:.1%}",
            f"{add_costs(self.replays).ratio:.3f}",
            f"{add_costs(self.replays).active_ratio:.3f}",
            self.per_10k(self.cpu_ms),
            self.per_10k(self.wall_ms),
        ]


def timed(func: Callable[[], T], repeat: int, totals: MethodTotals) -> T:
    """Run `func` `repeat` times cold; add its median wall and CPU milliseconds to `totals`."""
    walls: list[float] = []
    cpus: list[float] = []
    result: T | None = None
    for _ in range(max(repeat, 1)):
        items_in.cache_clear()  # a first call: no identifier scan reused from a previous run
        wall, cpu = time.perf_counter(), time.process_time()
        result = func()
        cpus.append((time.process_time() - cpu) * 1000)
        walls.append((time.perf_counter() - wall) * 1000)
    totals.wall_ms += statistics.median(walls)
    totals.cpu_ms += statistics.median(cpus)
    assert result is not None
    return result


@dataclass(frozen=True)
class Setup:
    """What every method needs to know about the run for one model."""

    model: str
    settings: Settings
    profile: ModelProfile
    count: TokenCounter
    repeat: int

    def size(self, messages: Messages) -> int:
        """Prompt tokens of `messages` as the compressor and the replay count them."""
        return CacheBiller(self.profile, self.count).bill(messages)[1]

    @property
    def trigger(self) -> int:
        """The prompt size from which the default policy compresses for this model."""
        return trigger_tokens_for(self.profile, self.settings.compression)

    def replayed(self, transcript: Transcript, send: Sender) -> ReplayCost:
        return replay(transcript.messages, send, self.profile, self.count, self.trigger)


def run_ours(transcript: Transcript, setup: Setup, size: int, totals: MethodTotals) -> None:
    result = timed(
        lambda: compress_messages(
            transcript.messages,
            model=setup.model,
            settings=setup.settings,
            profile=setup.profile,
            count_tokens=setup.count,
        ),
        setup.repeat,
        totals,
    )
    kept = measure_retention(transcript.messages, rendered_text(result.history))
    send = policy_sender(
        model=setup.model, settings=setup.settings, profile=setup.profile, count=setup.count
    )
    cost = setup.replayed(transcript, send)
    totals.add((result.stats.input_tokens, result.stats.output_tokens), kept, cost)


def run_masking(transcript: Transcript, setup: Setup, size: int, totals: MethodTotals) -> None:
    masked = timed(lambda: mask_observations(transcript.messages), setup.repeat, totals)
    kept = measure_retention(transcript.messages, rendered_text(masked))
    cost = setup.replayed(transcript, lambda prompt, state, now: (mask_observations(prompt), None))
    totals.add((size, setup.size(masked)), kept, cost)


def _truncated(prompt: Messages, setup: Setup) -> Messages:
    size = setup.size(prompt)
    if size < setup.trigger:
        return prompt
    budget = int(size * setup.settings.compression.target_ratio)
    text, _ = truncate_to_last_tokens(prompt, budget, setup.model)
    return [{"role": "user", "content": text}]


def run_truncate(transcript: Transcript, setup: Setup, size: int, totals: MethodTotals) -> None:
    out = timed(lambda: _truncated(transcript.messages, setup), setup.repeat, totals)
    kept = measure_retention(transcript.messages, rendered_text(out))
    cost = setup.replayed(transcript, lambda prompt, state, now: (_truncated(prompt, setup), None))
    totals.add((size, setup.size(out)), kept, cost)


def run_strip(transcript: Transcript, setup: Setup, size: int, totals: MethodTotals) -> None:
    stripped = timed(lambda: strip_whitespace_and_filler(transcript.messages), setup.repeat, totals)
    kept = measure_retention(transcript.messages, rendered_text(stripped))
    cost = setup.replayed(
        transcript, lambda prompt, state, now: (strip_whitespace_and_filler(prompt), None)
    )
    totals.add((size, setup.size(stripped)), kept, cost)


METHODS = (
    ("agent-routing", run_ours),
    ("observation masking", run_masking),
    ("truncate last N", run_truncate),
    ("strip whitespace/filler", run_strip),
)


def measure(transcripts: Sequence[Transcript], setup: Setup) -> list[MethodTotals]:
    """Every method over `transcripts`: one totals object per method."""
    methods = [(MethodTotals(name), run) for name, run in METHODS]
    for transcript in transcripts:
        size = setup.size(transcript.messages)
        for totals, run in methods:
            run(transcript, setup, size, totals)
    return [totals for totals, _ in methods]


HEADERS = [
    "method",
    "tokens in",
    "tokens out",
    "reduction",
    "kept: last 3 turns",
    "kept: system+task",
    "kept: overall",
    "replay_cost_ratio",
    "(steps >= trigger)",
    "ms/10k tok (cpu)",
    "ms/10k tok (wall)",
]


def print_table(title: str, headers: list[str], rows: list[list[str]]) -> None:
    """A plain aligned table under a title."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    print(title)
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    print()


def replay_floor(transcripts: Sequence[Transcript], setup: Setup) -> float:
    """The lowest replay_cost_ratio any method that keeps the system prompt, the task and the
    last three turns can reach: each step writes its new messages whole (they are recent)
    and reads only the protected part of the older ones (everything else costs nothing, and
    no cache break costs anything)."""
    codec = ChatCodec()
    read = setup.profile.cache_read_cost_per_token or setup.profile.input_cost_per_token
    write = setup.profile.cache_write_cost_per_token or setup.profile.input_cost_per_token
    if not setup.profile.caches_prompts:
        read = write = setup.profile.input_cost_per_token
    floor = plain = 0.0
    for transcript in transcripts:
        biller = CacheBiller(setup.profile, setup.count)
        previous = 0
        for end in step_ends(transcript.messages):
            prompt = transcript.messages[:end]
            plain += biller.bill(prompt)[0]
            tokens = [codec.wire_tokens(message, setup.count) for message in prompt]
            entries = label_entries([codec.decode(message) for message in prompt], 3)
            kept = sum(n for n, e in zip(tokens[:previous], entries, strict=False) if not e.mutable)
            floor += write * sum(tokens[previous:]) + read * kept
            previous = end
    return floor / plain if plain else 1.0


def per_transcript(transcripts: Sequence[Transcript], setup: Setup) -> None:
    """One line per long transcript: our single-prompt reduction and replay ratio."""
    rows = []
    for transcript in transcripts:
        totals = MethodTotals("agent-routing")
        run_ours(transcript, replace(setup, repeat=1), setup.size(transcript.messages), totals)
        cost = totals.replays[0]
        rows.append(
            [
                transcript.id[:52],
                f"{totals.input_tokens:,}",
                f"{1 - totals.output_tokens / totals.input_tokens:.1%}",
                str(cost.steps),
                f"{cost.ratio:.3f}",
                f"{cost.active_ratio:.3f}",
            ]
        )
    headers = [
        "transcript",
        "tokens",
        "reduction",
        "steps",
        "replay_cost_ratio",
        "(steps >= trigger)",
    ]
    print_table("  agent-routing per long transcript", headers, rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run the methods for each model, print the tables."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--models", default=DEFAULT_MODELS, help="comma-separated litellm ids")
    parser.add_argument("--min-tokens", type=int, default=8000, help="what counts as long")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per transcript")
    parser.add_argument("--quick", action="store_true", help="three long transcripts, one run")
    parser.add_argument(
        "--trigger-usd",
        type=float,
        default=None,
        help="NOT the default: compression.trigger_usd for a sensitivity run",
    )
    args = parser.parse_args(argv)

    settings = Settings()
    if args.trigger_usd is not None:
        settings = settings_from_mapping({"compression": {"trigger_usd": args.trigger_usd}})
        print(f"NOT the defaults: compression.trigger_usd = {args.trigger_usd:g}; otherwise")
    transcripts = [t for path in sorted(args.data.glob("*.jsonl")) for t in read_transcripts(path)]
    print(
        f"default settings (agent-routing = Settings()); {len(transcripts)} transcripts; median of "
        f"{1 if args.quick else args.repeat} cold run(s) per transcript; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall time suffers under load)\n"
    )
    for model in args.models.split(","):
        setup = Setup(
            model=model,
            settings=settings,
            profile=profile_for(model, settings),
            count=token_counter(model),
            repeat=1 if args.quick else args.repeat,
        )
        long_ones = [t for t in transcripts if setup.size(t.messages) >= args.min_tokens]
        if args.quick:
            long_ones = long_ones[:3]
        prices = setup.profile
        read = prices.cache_read_cost_per_token or prices.input_cost_per_token
        write = prices.cache_write_cost_per_token or prices.input_cost_per_token
        print(
            f"== {model}: input ${prices.input_cost_per_mtok:g}/M, cache read "
            f"${read * 1e6:g}/M, cache write ${write * 1e6:g}/M; "
            f"the policy fires from {setup.trigger:,} tokens\n"
        )
        title = f"Histories of >= {args.min_tokens:,} tokens ({len(long_ones)})"
        print_table(title, HEADERS, [m.row() for m in measure(long_ones, setup)])
        print(
            f"  floor of replay_cost_ratio for any method keeping system prompt, task and the "
            f"last three turns: {replay_floor(long_ones, setup):.3f}\n"
        )
        per_transcript(long_ones, setup)
        if not args.quick:
            everything = measure(transcripts, replace(setup, repeat=1))
            title = f"All transcripts ({len(transcripts)}, one timed run each)"
            print_table(title, HEADERS, [m.row() for m in everything])
    return 0


if __name__ == "__main__":
    sys.exit(main())
