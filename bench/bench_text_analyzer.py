"""Latency of the learnable text analyzer (`router.analyzer: text`) on one CPU core.

    .venv/bin/python bench/bench_text_analyzer.py [--quick] [--repeats N] [--freeze-gc]
        [--data-dir ../shared/data]

The model is trained first, as `agent-routing train --data FILE` does, on 3,000 MMLU-Pro rows
with their category (so it carries a realistic number of non-zero bucket weights). Prompts
of 100 / 2,000 / 8,000 cl100k_base tokens are cut from the SWE-agent transcripts, each with
two history messages of about 1,000 tokens (the text analyzer reads the last two).

The process is pinned to one core (`os.sched_setaffinity`). Every call is timed twice: wall
time (`time.perf_counter_ns`) and the thread's CPU time (`time.thread_time_ns`), and the
thread's involuntary context switches (`getrusage(RUSAGE_THREAD).ru_nivcsw`) are read
around it, so a call the scheduler preempted is known. For `text` (as routing runs it), `+
recording` (duel mode also records the hashed buckets) and the feature model alone it prints
p50 / p95 / p99 of wall and CPU time in microseconds, the share of calls preempted and the
p99 wall time of the calls that were not. The load average is printed at start and end:
with a load at or above the core count the wall-time tail is the other processes' time
slices, not this code (CPU time is not affected).

Targets at 2,000 tokens: p99 CPU < 2 ms always; p99 wall < 2 ms on a machine that is not
saturated. `--freeze-gc` moves the objects left by training into the permanent generation
first (`gc.freeze()`), as a long-running host would have them.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_analyzer import prompt_of, source_text
from tabulate import tabulate

from agent_routing.analyzer import ComplexityAnalyzer, TextAnalyzer
from agent_routing.analyzer._datasets import MMLU_PRO, load_dataset
from agent_routing.analyzer._text_training import benefit_label, fit_text_model, row_from_request
from agent_routing.analyzer._tokens import count_tokens_exact
from agent_routing.protocols import AnalysisRequest

SIZES = (100, 2_000, 8_000)
PAIR = ("gemini-1.5-flash-002", "gemini-1.5-pro-002")
TARGET_US = 2_000.0
WARMUP = 50


@dataclass(frozen=True)
class Timing:
    """Per-call samples of one cell, microseconds."""

    wall: list[float]
    cpu: list[float]
    preempted: list[bool]

    @staticmethod
    def pct(samples: list[float], q: float) -> float:
        """The q-quantile (nearest rank) of `samples`."""
        ordered = sorted(samples)
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")

    def cells(self) -> list[str]:
        """wall p50/p95/p99, CPU p50/p95/p99, % preempted, p99 wall of the other calls."""
        quiet = [w for w, p in zip(self.wall, self.preempted, strict=True) if not p]
        share = 100.0 * sum(self.preempted) / len(self.preempted)

        def three(samples: list[float]) -> str:
            return " / ".join(f"{self.pct(samples, q):,.0f}" for q in (0.5, 0.95, 0.99))

        quiet99 = f"{self.pct(quiet, 0.99):,.0f}"
        return [three(self.wall), three(self.cpu), f"{share:.1f} %", quiet99]


def measure(func: Callable[[], object], repeats: int) -> Timing:
    """Time `repeats` calls after WARMUP untimed ones (wall, thread CPU, preemption)."""
    for _ in range(WARMUP):
        func()
    usage = resource.getrusage
    thread = resource.RUSAGE_THREAD
    wall: list[float] = []
    cpu: list[float] = []
    preempted: list[bool] = []
    for _ in range(repeats):
        switches = usage(thread).ru_nivcsw
        wall_start = time.perf_counter_ns()
        cpu_start = time.thread_time_ns()
        func()
        cpu_end = time.thread_time_ns()
        wall_end = time.perf_counter_ns()
        preempted.append(usage(thread).ru_nivcsw != switches)
        wall.append((wall_end - wall_start) / 1_000)
        cpu.append((cpu_end - cpu_start) / 1_000)
    return Timing(wall, cpu, preempted)


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


def load_line(label: str) -> str:
    """`label: load average 1/5/15 min ... on N cores` (os.getloadavg)."""
    one, five, fifteen = os.getloadavg()
    return (
        f"{label}: load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min) "
        f"on {os.cpu_count()} cores"
    )


def main(argv: list[str] | None = None) -> int:
    """Print the latency table and whether the targets were met in this run."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats (smoke run)")
    parser.add_argument("--repeats", type=int, default=2_000, help="timed calls per cell")
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--freeze-gc", action="store_true", help="gc.freeze() after training")
    args = parser.parse_args(argv)
    analyzer = trained_analyzer(args.data_dir, 300 if args.quick else 3_000)
    if args.freeze_gc:
        gc.collect()
        gc.freeze()
    core = sorted(os.sched_getaffinity(0))[0]
    os.sched_setaffinity(0, {core})
    repeats = 50 if args.quick else args.repeats
    text = source_text(args.data_dir)
    history = (prompt_of(text, 1_000, offset=50_000), prompt_of(text, 1_000, offset=60_000))
    print(load_line("start"))
    print(
        f"{platform.processor() or platform.machine()}, pinned to core {core}; text model "
        f"{analyzer.model.model_version} with {len(analyzer.model.text_weights):,} non-zero "
        f"bucket weights; {repeats:,} timed calls per cell; microseconds"
    )
    recording = TextAnalyzer(analyzer.model, prior=analyzer.prior, record_text=True)
    analyzer.record_text = False
    table: list[list[str]] = []
    at_2000: Timing | None = None
    for size in SIZES:
        prompt = prompt_of(text, size, offset=size)
        tokens = f"{count_tokens_exact(prompt):,}"
        request = AnalysisRequest(prompt=prompt, history=history, tools=("browser",))
        cells = {
            "text": measure(partial(analyzer.analyze, request), repeats),
            "text + recording": measure(partial(recording.analyze, request), repeats),
            "feature model alone": measure(partial(analyzer.prior.analyze, request), repeats),
        }
        if size == 2_000:
            at_2000 = cells["text"]
        table += [[tokens, name, *timing.cells()] for name, timing in cells.items()]
    headers = ["tokens", "analyzer", "wall p50 / p95 / p99", "CPU p50 / p95 / p99",
               "preempted", "wall p99, not preempted"]  # fmt: skip
    print(tabulate(table, headers, tablefmt="github", disable_numparse=True))
    print(load_line("end"))
    assert at_2000 is not None
    cpu99 = Timing.pct(at_2000.cpu, 0.99)
    wall99 = Timing.pct(at_2000.wall, 0.99)
    load = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    wall_note = "meets < 2 ms" if wall99 < TARGET_US else "misses < 2 ms"
    if wall99 >= TARGET_US and load >= cores:
        wall_note += f"; load {load:.1f} on {cores} cores: see the preempted share"
    print(
        f"2,000 tokens, `text`: p99 CPU {cpu99:,.0f} us "
        f"({'meets' if cpu99 < TARGET_US else 'MISSES'} < 2 ms); "
        f"p99 wall {wall99:,.0f} us ({wall_note})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
