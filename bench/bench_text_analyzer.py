"""Latency of the learnable text analyzer (`router.analyzer: text`) on one CPU core.

    .venv/bin/python bench/bench_text_analyzer.py [--quick] [--data-dir ../shared/data]

The model is trained first, as `agent-routing train --data FILE` does, on 3,000 MMLU-Pro rows
with their category (so it carries a realistic number of non-zero bucket weights). Prompts
of 100 / 2,000 / 8,000 cl100k_base tokens are cut from the SWE-agent transcripts, each with
two history messages of about 1,000 tokens (the text analyzer reads the last two). Prints
p50 / p99 in microseconds of `TextAnalyzer.analyze` (which includes the feature model it
starts from), as routing runs it (`text`) and with duel mode's recording of the hashed
buckets (`+ recording`), beside `ComplexityAnalyzer.analyze` alone.
Target: p99 < 2 ms at 2,000 tokens. `--freeze-gc` moves the objects left by training into
the permanent generation first (`gc.freeze()`), as a long-running host would have them.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_analyzer import percentiles, prompt_of, source_text

from agent_routing.analyzer import ComplexityAnalyzer, TextAnalyzer
from agent_routing.analyzer._datasets import MMLU_PRO, load_dataset
from agent_routing.analyzer._text_training import benefit_label, fit_text_model, row_from_request
from agent_routing.analyzer._tokens import count_tokens_exact
from agent_routing.protocols import AnalysisRequest

SIZES = (100, 2_000, 8_000)
PAIR = ("gemini-1.5-flash-002", "gemini-1.5-pro-002")


def trained_analyzer(data_dir: Path, rows: int) -> TextAnalyzer:
    """A text analyzer fit on `rows` MMLU-Pro prompts (benefit of gemini flash -> pro)."""
    prompts, _ = load_dataset(data_dir, MMLU_PRO)
    prior = ComplexityAnalyzer()
    usable = [p for p in prompts if PAIR[0] in p.outcomes and PAIR[1] in p.outcomes][:rows]
    examples = [
        row_from_request(
            AnalysisRequest(prompt=p.prompt, category=p.category),
            benefit_label(p.outcomes[PAIR[0]], p.outcomes[PAIR[1]]),
            prior,
        )
        for p in usable
    ]
    return TextAnalyzer(fit_text_model(examples), prior=prior)


def main(argv: list[str] | None = None) -> None:
    """Print the latency table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats (smoke run)")
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--freeze-gc", action="store_true", help="gc.freeze() after training")
    args = parser.parse_args(argv)
    analyzer = trained_analyzer(args.data_dir, 300 if args.quick else 3_000)
    if args.freeze_gc:
        gc.collect()
        gc.freeze()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    repeats = 50 if args.quick else 2_000
    text = source_text(args.data_dir)
    history = (prompt_of(text, 1_000, offset=50_000), prompt_of(text, 1_000, offset=60_000))
    print(
        f"text model {analyzer.model.model_version}: {len(analyzer.model.text_weights):,} "
        f"non-zero bucket weights; one CPU core, {repeats} timed calls per cell, microseconds"
    )
    recording = TextAnalyzer(analyzer.model, prior=analyzer.prior, record_text=True)
    analyzer.record_text = False
    print(
        f"{'tokens':>7} {'text p50':>9} {'p99':>8} {'+ recording p50':>16} {'p99':>8} "
        f"{'features p50':>13} {'p99':>8}"
    )
    for size in SIZES:
        prompt = prompt_of(text, size, offset=size)
        request = AnalysisRequest(prompt=prompt, history=history, tools=("browser",))
        text_time = percentiles(lambda r=request: analyzer.analyze(r), repeats)
        recorded = percentiles(lambda r=request: recording.analyze(r), repeats)
        prior_time = percentiles(lambda r=request: analyzer.prior.analyze(r), repeats)
        print(
            f"{count_tokens_exact(prompt):>7} {text_time[0]:>9.1f} {text_time[1]:>8.1f} "
            f"{recorded[0]:>16.1f} {recorded[1]:>8.1f} {prior_time[0]:>13.1f} {prior_time[1]:>8.1f}"
        )


if __name__ == "__main__":
    main()
