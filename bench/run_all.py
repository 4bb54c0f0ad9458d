"""Run every benchmark in one go, one after the other, and print their tables in order.

    .venv/bin/python bench/run_all.py [--quick] [--only NAME[,NAME...]] [--data-dir DIR]

The benchmarks run as separate processes (each pins its own CPU core, opens its own
temporary ledgers, and must not inherit another's warm caches), sequentially so that no two
compete for the machine. Every figure in the README comes from one of these scripts; each
prints its measurement beside its baseline in the same run. `--quick` passes `--quick` to
each (a smoke run: small sizes, few repeats; not for figures). `eval_heldout` writes its
models and evaluation files to a temporary directory that is removed afterwards.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent

# name -> (script, takes --data-dir, what it measures)
BENCHES: dict[str, tuple[str, str | None, str]] = {
    "ledger": ("bench_ledger.py", None, "ledger throughput (1 and 8 writers), submit latency"),
    "capture": ("bench_capture.py", None, "capture hook latency, price lookup, token counting"),
    "analyzer": ("bench_analyzer.py", "--data-dir", "analyzer latency beside token counting"),
    "router": ("bench_router.py", "--data-dir", "router decision latency beside the analyzer"),
    "eval": ("eval_heldout.py", "--data-dir", "routing quality (APGR/CPT) on held-out data"),
    "compression": ("bench_compression.py", "--data", "compression beside two baselines"),
    "plugin": ("bench_plugin.py", None, "Agent Zero plugin overhead and coverage"),
}


def _command(name: str, quick: bool, data_dir: Path | None, scratch: Path) -> list[str]:
    script, data_flag, _ = BENCHES[name]
    command = [sys.executable, str(BENCH_DIR / script)]
    if quick:
        command.append("--quick")
    if data_dir is not None and data_flag is not None:
        target = data_dir / "agent_transcripts" if data_flag == "--data" else data_dir
        command += [data_flag, str(target)]
    if name == "eval":
        command += ["--out", str(scratch / "heldout"), "--seed", "0"]
    return command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run of every benchmark")
    parser.add_argument(
        "--only", default="", help=f"comma-separated subset of: {', '.join(BENCHES)}"
    )
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="shared data (default: each script's own)"
    )
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.only.split(",") if name.strip()] or list(BENCHES)
    unknown = [name for name in names if name not in BENCHES]
    if unknown:
        parser.error(f"--only: unknown benchmark(s) {unknown}; choose from {list(BENCHES)}")

    failed: list[str] = []
    timings: list[tuple[str, float, int]] = []
    with tempfile.TemporaryDirectory(prefix="agent-routing-bench-") as scratch:
        for name in names:
            command = _command(name, args.quick, args.data_dir, Path(scratch))
            print(f"\n{'=' * 78}\n== {name}: {BENCHES[name][2]}\n== $ {' '.join(command)}")
            print(f"== load average before: {os.getloadavg()[0]:.2f}\n{'=' * 78}", flush=True)
            started = time.perf_counter()
            code = subprocess.call(command, cwd=BENCH_DIR.parent)
            timings.append((name, time.perf_counter() - started, code))
            if code != 0:
                failed.append(name)

    print(f"\n{'=' * 78}\nbenchmark        seconds  exit")
    for name, seconds, code in timings:
        print(f"{name:<15} {seconds:8.1f}  {code:4d}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
