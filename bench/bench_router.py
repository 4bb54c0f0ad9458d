"""Router decision latency beside the analyzer alone, and the strategies' calibration.

    .venv/bin/python bench/bench_router.py [--quick] [--calibrate] [--data-dir ../shared/data]

Latency (one CPU core, microseconds, p50 / p99) for 100 / 2,000 / 8,000-token prompts cut
from real agent transcripts (as in bench_analyzer.py), all in one run:

- `analyze`: `ComplexityAnalyzer().analyze(request)` alone, the baseline;
- `route, tokens given`: `Router.route` when the caller passes `input_tokens` (the plugin
  has the host's count) - analyzer, strategy, rules, context and candidate costs;
- `route, counting`: the same, the router counting the prompt's tokens exactly (tiktoken);
- `route + budgets + ledger`: tokens given, a real `Budgets` check-and-reserve on a SQLite
  ledger in a temporary directory and the decision submitted to the background writer:
  the Agent Zero plugin's path.

`--calibrate` also re-measures the numbers the built-in strategies are made of
(router/_calibration.py): the score quantiles over agent steps, compared with
`SHIPPED_SCORE_QUANTILES`, and the strong share that recovers 50 / 80 / 95 % of the quality
gap for each cheap/strong pair with recorded outcomes, with the mean the strategies use.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

# Bench scripts are not a package: reuse bench_analyzer.py's prompt cutting from this folder.
sys.path.insert(0, str(Path(__file__).parent))
from bench_analyzer import prompt_of, source_text

from agent_routing.analyzer import ComplexityAnalyzer
from agent_routing.config import Settings, settings_from_mapping
from agent_routing.protocols import AnalysisRequest
from agent_routing.router import Router, RouteRequest

SIZES = (100, 2_000, 8_000)
GAP_TARGETS = (0.5, 0.8, 0.95)


async def percentiles(func: Callable[[], Awaitable[object]], repeats: int) -> tuple[float, float]:
    """p50 and p99 in microseconds over `repeats` awaited calls (after 20 warm-up calls)."""
    for _ in range(20):
        await func()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        await func()
        samples.append((time.perf_counter_ns() - start) / 1_000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


async def latency(text: str, repeats: int, workdir: Path) -> None:
    """Print the latency table: analyzer alone and three router paths, per prompt size."""
    from agent_routing.budgets import Budgets
    from agent_routing.ledger import get_writer, ledger_for

    settings = settings_from_mapping(
        {
            "budgets": [{"scope": "daily", "limit_usd": 1_000_000, "enforcement": "block"}],
            "ledger": {"path": str(workdir / "bench.db")},
        }
    )
    analyzer = ComplexityAnalyzer()
    plain = Router(settings, analyzer=analyzer)
    ledger = ledger_for(settings.ledger)
    await ledger.open()
    writer = get_writer(settings.ledger.resolved_path(), settings.ledger)
    full = Router(settings, analyzer=analyzer, budgets=Budgets(ledger, settings), sink=writer)
    print(f"one CPU core, {repeats} timed calls per cell, microseconds (p50 / p99)")
    header = (
        "tokens",
        "analyze",
        "route, tokens given",
        "route, counting",
        "route + budgets + ledger",
        "given/analyze",
        "full/analyze",
    )
    print(
        f"{header[0]:>7} {header[1]:>17} {header[2]:>21} {header[3]:>19} {header[4]:>26}"
        f" {header[5]:>14} {header[6]:>13}"
    )
    try:
        for size in SIZES:
            prompt = prompt_of(text, size, offset=size)
            request = AnalysisRequest(prompt=prompt)
            given = RouteRequest(prompt, input_tokens=size, conversation_id="bench")
            counting = RouteRequest(prompt, conversation_id="bench")

            async def analyze(r: AnalysisRequest = request) -> object:
                return analyzer.analyze(r)

            cells = [
                await percentiles(analyze, repeats),
                await percentiles(lambda r=given: plain.route(r, dry_run=True), repeats),
                await percentiles(lambda r=counting: plain.route(r, dry_run=True), repeats),
                await percentiles(lambda r=given: full.route(r), repeats),
            ]
            text_cells = [f"{p50:.0f} / {p99:.0f}" for p50, p99 in cells]
            print(
                f"{size:>7} {text_cells[0]:>17} {text_cells[1]:>21} {text_cells[2]:>19} "
                f"{text_cells[3]:>26} {cells[1][0] / cells[0][0]:>14.2f} "
                f"{cells[3][0] / cells[0][0]:>13.2f}"
            )
    finally:
        writer.flush(timeout=30)
        await ledger.close()


def calibrate(data_dir: Path) -> None:
    """Re-measure the quantile table and the strong shares behind the strategies."""
    import numpy as np

    from agent_routing.analyzer._datasets import CODE_PAIRS, MMLU_PRO_PAIRS, load_dataset
    from agent_routing.analyzer.quantiles import (
        SHIPPED_SCORE_QUANTILES,
        STRONG_SHARES,
        quantile_table,
    )
    from agent_routing.compression.transcripts import read_transcripts
    from agent_routing.router._calibration import agent_step_requests, strong_share_to_recover

    analyzer = ComplexityAnalyzer()
    steps = [
        request
        for path in sorted((data_dir / "agent_transcripts").glob("*.jsonl"))
        for transcript in read_transcripts(path)
        for request in agent_step_requests(transcript.messages)
    ]
    table = quantile_table((analyzer.analyze(request).score for request in steps), digits=4)
    print(
        f"\nscore quantiles (0, 0.05, ..., 1) over {len(steps)} agent steps "
        f"(model {analyzer.model.model_version}):"
    )
    print("  measured:", ", ".join(f"{value:.4f}" for value in table))
    print("  shipped: ", ", ".join(f"{value:.4f}" for value in SHIPPED_SCORE_QUANTILES))
    print(f"  same: {table == SHIPPED_SCORE_QUANTILES}")
    print(
        "\nstrong share needed to recover the quality gap "
        + " / ".join(f"{int(t * 100)} %" for t in GAP_TARGETS)
    )
    shares: dict[float, list[float]] = {target: [] for target in GAP_TARGETS}
    for dataset, pairs in (("mmlu_pro", MMLU_PRO_PAIRS), ("code", CODE_PAIRS)):
        prompts, _ = load_dataset(data_dir, dataset)
        scores = np.array([analyzer.analyze(AnalysisRequest(p.prompt)).score for p in prompts])
        for cheap, strong in pairs:
            keep = [
                i for i, p in enumerate(prompts) if cheap in p.outcomes and strong in p.outcomes
            ]
            weak_q = [prompts[i].outcomes[cheap] for i in keep]
            strong_q = [prompts[i].outcomes[strong] for i in keep]
            row = [strong_share_to_recover(scores[keep], weak_q, strong_q, t) for t in GAP_TARGETS]
            for target, value in zip(GAP_TARGETS, row, strict=True):
                if value is not None:
                    shares[target].append(value)
            print(
                f"  {dataset:<9} {cheap} -> {strong} ({len(keep)} prompts, quality "
                f"{np.mean(weak_q):.3f} -> {np.mean(strong_q):.3f}): "
                + " / ".join("-" if v is None else f"{v:.3f}" for v in row)
            )
    means = [statistics.fmean(shares[t]) for t in GAP_TARGETS]
    print("  mean over pairs: " + " / ".join(f"{m:.3f}" for m in means))
    print(
        "  strategies use:  "
        + " / ".join(f"{name} {share:.2f}" for name, share in STRONG_SHARES.items())
    )


def main(argv: list[str] | None = None) -> None:
    """Print router latency beside the analyzer's (and the calibration with --calibrate)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats (smoke run)")
    parser.add_argument("--calibrate", action="store_true", help="re-measure the strategies")
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    Settings()  # import pydantic models before timing
    with tempfile.TemporaryDirectory() as workdir:
        asyncio.run(latency(source_text(args.data_dir), 50 if args.quick else 2_000, Path(workdir)))
    if args.calibrate:
        calibrate(args.data_dir)


if __name__ == "__main__":
    main()
