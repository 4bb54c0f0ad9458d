"""Analyzer latency for 100 / 2,000 / 8,000-token prompts, beside token-count baselines.

    .venv/bin/python bench/bench_analyzer.py [--quick] [--data-dir ../shared/data]

Prompts are cut, by exact cl100k_base token count, from real agent transcripts
(`agent_transcripts/swe_agent.jsonl` under the data directory; a fixed synthetic text if it
is absent). The process is pinned to one CPU core. For each size it prints p50 / p99 of:

- `analyze`: `ComplexityAnalyzer().analyze(request)`, the router's per-call cost;
- `tiktoken exact`: an exact token count of the whole prompt (what a naive size feature costs);
- `token estimate`: the analyzer's bounded token estimate alone;

and the estimate's error against the exact count.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from agent_routing.analyzer import ComplexityAnalyzer
from agent_routing.analyzer._tokens import count_tokens_exact, estimate_tokens
from agent_routing.protocols import AnalysisRequest
from agent_routing.tokens import get_encoding

SIZES = (100, 2_000, 8_000)
SYNTHETIC = (
    'Traceback (most recent call last):\n  File "app.py", line 42, in main\n'
    "    result = compute(values, threshold=0.5)\nValueError: threshold must be positive. "
    "Please fix the bug in compute() so that the tests in test_app.py pass, then explain "
    "why the original code failed and what edge cases remain. "
)


def source_text(data_dir: Path) -> str:
    """Transcript text to cut prompts from (synthetic text when the data is absent)."""
    path = data_dir / "agent_transcripts" / "swe_agent.jsonl"
    if not path.is_file():
        return SYNTHETIC * 4_000
    parts = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            parts.extend(message["content"] for message in json.loads(line)["messages"])
    return "\n".join(parts)


def prompt_of(text: str, tokens: int, offset: int) -> str:
    """`tokens` tokens of `text` starting `offset` tokens in (exact, decoded back to text)."""
    encoding = get_encoding("cl100k_base")
    ids = encoding.encode_ordinary(text[offset * 8 : offset * 8 + tokens * 12])
    return str(encoding.decode(ids[:tokens]))


def percentiles(func: Callable[[], object], repeats: int) -> tuple[float, float]:
    """p50 and p99 in microseconds over `repeats` timed calls (after 20 warm-up calls)."""
    for _ in range(20):
        func()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        func()
        samples.append((time.perf_counter_ns() - start) / 1_000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def main(argv: list[str] | None = None) -> None:
    """Print the latency table and the token-estimate error."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats (smoke run)")
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    repeats = 50 if args.quick else 2_000
    text = source_text(args.data_dir)
    analyzer = ComplexityAnalyzer()
    print(f"one CPU core, {repeats} timed calls per cell, microseconds")
    print(
        f"{'tokens':>7} {'analyze p50':>12} {'p99':>8} {'tiktoken exact p50':>19} {'p99':>8} "
        f"{'estimate p50':>13} {'p99':>8} {'analyze/exact p50':>18}"
    )
    for size in SIZES:
        prompt = prompt_of(text, size, offset=size)
        request = AnalysisRequest(prompt=prompt)
        analyze = percentiles(lambda r=request: analyzer.analyze(r), repeats)
        exact = percentiles(lambda p=prompt: count_tokens_exact(p), repeats)
        estimate = percentiles(lambda p=prompt: estimate_tokens(p), repeats)
        print(
            f"{count_tokens_exact(prompt):>7} {analyze[0]:>12.1f} {analyze[1]:>8.1f} "
            f"{exact[0]:>19.1f} {exact[1]:>8.1f} {estimate[0]:>13.1f} {estimate[1]:>8.1f} "
            f"{analyze[0] / exact[0]:>18.2f}"
        )
    errors = []
    for start in range(0, min(len(text), 2_000_000), 40_000):
        for size in (600, 3_000, 9_000, 30_000):
            chunk = text[start : start + size]
            if len(chunk) == size:
                exact_count = count_tokens_exact(chunk)
                errors.append(abs(estimate_tokens(chunk) - exact_count) / exact_count)
    errors.sort()
    print(
        f"token estimate error on {len(errors)} transcript slices of 600-30,000 chars: "
        f"median {100 * statistics.median(errors):.1f} %, "
        f"p90 {100 * errors[int(len(errors) * 0.9)]:.1f} %, max {100 * errors[-1]:.1f} %"
    )


if __name__ == "__main__":
    main()
