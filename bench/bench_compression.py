"""Benchmark: cost-aware compression against two naive baselines on real agent transcripts.

Run:  .venv/bin/python bench/bench_compression.py [--quick] [--data DIR] [--model MODEL]
          [--ratio 0.5] [--min-tokens 8000] [--repeat 5]

For every transcript of at least `--min-tokens` tokens (the long histories), each method
gets the same token budget, `--ratio` x the transcript's size:

- agent-routing: `compress_messages(..., target_tokens=budget)` (offline, extractive);
- truncate last N: keep the last `budget` tokens of the conversation;
- strip: collapse whitespace and drop filler words (it has no budget; it removes what it can).

Printed side by side in one run: token reduction; retention of identifiers / numbers /
paths / URLs in the last three turns, in the opening (system prompt and task) and overall
(definitions: agent_routing/compression/metrics.py and docs/compression.md); overall
retention by item kind; how many budgets were met; time per 10k input tokens (median of
`--repeat` cold runs per transcript, wall clock and CPU). A second table repeats the main
figures over all transcripts. `--quick` takes three long transcripts and one run.
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

from agent_routing.compression import compress_messages, model_profile
from agent_routing.compression.baselines import strip_whitespace_and_filler, truncate_to_last_tokens
from agent_routing.compression.identifiers import ItemKind, items_in
from agent_routing.compression.metrics import (
    ConversationRetention,
    Retention,
    measure_retention,
    rendered_text,
)
from agent_routing.compression.profile import ModelProfile
from agent_routing.compression.tokenize import TokenCounter, token_counter
from agent_routing.compression.transcripts import Transcript, read_transcripts
from agent_routing.config import Settings

DEFAULT_DATA = Path("/work/shared/data/agent_transcripts")
KINDS: tuple[ItemKind, ...] = ("url", "path", "identifier", "number")
T = TypeVar("T")


@dataclass
class MethodTotals:
    """Figures of one method, added over transcripts (ratios are taken at the end)."""

    name: str
    input_tokens: int = 0
    output_tokens: int = 0
    recent: Retention = field(default_factory=Retention)
    opening: Retention = field(default_factory=Retention)
    overall: Retention = field(default_factory=Retention)
    by_kind: dict[ItemKind, Retention] = field(
        default_factory=lambda: {k: Retention() for k in KINDS}
    )
    budget_met: int = 0
    transcripts: int = 0
    wall_ms: float = 0.0
    cpu_ms: float = 0.0

    def add(self, tokens: tuple[int, int], kept: ConversationRetention, met: bool) -> None:
        self.input_tokens += tokens[0]
        self.output_tokens += tokens[1]
        self.recent += kept.recent
        self.opening += kept.opening
        self.overall += kept.overall
        for kind in KINDS:
            self.by_kind[kind] += kept.by_kind[kind]
        self.budget_met += int(met)
        self.transcripts += 1

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
            f"{self.budget_met}/{self.transcripts}",
            self.per_10k(self.wall_ms),
            self.per_10k(self.cpu_ms),
        ]

    def kind_row(self) -> list[str]:
        return [self.name, *(f"{self.by_kind[kind].ratio:.1%}" for kind in KINDS)]


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
    """What every method needs to know about the run."""

    model: str
    settings: Settings
    profile: ModelProfile
    count: TokenCounter
    ratio: float
    repeat: int

    def size(self, messages: list[dict[str, Any]]) -> int:
        """Prompt tokens of `messages` as the compressor counts them."""
        return compress_messages(
            messages,
            model=self.model,
            settings=self.settings,
            profile=self.profile,
            count_tokens=self.count,
        ).stats.input_tokens


def run_ours(transcript: Transcript, setup: Setup, size: int, totals: MethodTotals) -> None:
    budget = max(int(size * setup.ratio), 1)
    result = timed(
        lambda: compress_messages(
            transcript.messages,
            model=setup.model,
            settings=setup.settings,
            target_tokens=budget,
            profile=setup.profile,
            count_tokens=setup.count,
        ),
        setup.repeat,
        totals,
    )
    kept = measure_retention(transcript.messages, rendered_text(result.history))
    totals.add(
        (result.stats.input_tokens, result.stats.output_tokens), kept, result.stats.budget_met
    )


def run_truncate(transcript: Transcript, setup: Setup, size: int, totals: MethodTotals) -> None:
    budget = max(int(size * setup.ratio), 1)
    text, kept_tokens = timed(
        lambda: truncate_to_last_tokens(transcript.messages, budget, setup.model),
        setup.repeat,
        totals,
    )
    kept = measure_retention(transcript.messages, text)
    totals.add((size, kept_tokens), kept, kept_tokens <= budget)


def run_strip(transcript: Transcript, setup: Setup, size: int, totals: MethodTotals) -> None:
    budget = max(int(size * setup.ratio), 1)
    stripped = timed(lambda: strip_whitespace_and_filler(transcript.messages), setup.repeat, totals)
    stripped_size = setup.size(stripped)
    kept = measure_retention(transcript.messages, rendered_text(stripped))
    totals.add((size, stripped_size), kept, stripped_size <= budget)


def measure(transcripts: Sequence[Transcript], setup: Setup) -> list[MethodTotals]:
    """The three methods over `transcripts`: one totals object per method."""
    methods = [
        (MethodTotals("agent-routing"), run_ours),
        (MethodTotals("truncate last N"), run_truncate),
        (MethodTotals("strip whitespace/filler"), run_strip),
    ]
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
    "budget met",
    "ms/10k tok (wall)",
    "ms/10k tok (cpu)",
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


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run the methods, print the tables."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--model", default="gpt-4o")
    parser.add_argument("--ratio", type=float, default=0.5, help="budget as a share of a prompt")
    parser.add_argument("--min-tokens", type=int, default=8000, help="what counts as long")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per transcript")
    parser.add_argument("--quick", action="store_true", help="three long transcripts, one run")
    args = parser.parse_args(argv)

    settings = Settings()
    setup = Setup(
        model=args.model,
        settings=settings,
        profile=model_profile(args.model, settings.prices),
        count=token_counter(args.model),
        ratio=args.ratio,
        repeat=1 if args.quick else args.repeat,
    )
    transcripts = [t for path in sorted(args.data.glob("*.jsonl")) for t in read_transcripts(path)]
    long_ones = [t for t in transcripts if setup.size(t.messages) >= args.min_tokens]
    if args.quick:
        long_ones = long_ones[:3]
    print(
        f"model {args.model}; budget = {args.ratio:.0%} of each prompt; {len(transcripts)} "
        f"transcripts, {len(long_ones)} with >= {args.min_tokens:,} tokens; "
        f"median of {setup.repeat} run(s) per transcript; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall time suffers under load)\n"
    )
    long_totals = measure(long_ones, setup)
    title = f"Histories of >= {args.min_tokens:,} tokens ({len(long_ones)})"
    print_table(title, HEADERS, [m.row() for m in long_totals])
    print_table(
        "  overall retention by item kind", ["method", *KINDS], [m.kind_row() for m in long_totals]
    )
    if not args.quick:
        everything = measure(transcripts, replace(setup, repeat=1))
        title = f"All transcripts ({len(transcripts)}, one run each)"
        print_table(title, HEADERS, [m.row() for m in everything])
    return 0


if __name__ == "__main__":
    sys.exit(main())
