"""Dashboard benchmark: server time of each dashboard section and of the chat element with
100,000 calls in the ledger (the seeded ledger of the browser tests, tests/ui/seed.py),
measured inside the fake Agent Zero (tests/fake_a0) as the plugin's API handlers run.

Run: `.venv/bin/python bench/bench_dashboard.py` (`--calls N`, `--days D` of data, `--range R`
days shown, `--db PATH` to reuse a seeded file). Each section is one request from the page,
fired in parallel by the browser; the page shows each as it arrives and stays responsive
(the work is server-side).
Sections go through the public report functions (`reports.build_report`), so they speed up
with them; `daily` runs one report per day of the range.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path[:0] = [str(TESTS), str(TESTS / "ui")]

CASES = [
    ("summary", {"by": "model"}),
    ("breakdown", {"by": "tool"}),
    ("daily", {"stack": "model"}),
    ("budgets", {}),
    ("routing", {}),
    ("calls", {"page": 0, "page_size": 25}),
    ("calls (page 40)", {"page": 40, "page_size": 100}),
]


async def measure(days: int) -> list[tuple[str, float, int]]:
    from agent_routing.host.ui_api import handle

    until = time.strftime("%Y-%m-%d", time.gmtime())
    since = time.strftime("%Y-%m-%d", time.gmtime(time.time() - (days - 1) * 86_400))
    results = []
    for name, extra in CASES:
        body = {"section": name.split(" ")[0], "tz": "UTC", **extra}
        if body["section"] != "budgets":
            body |= {"since": since, "until": until}
        start = time.perf_counter()
        result = await handle("ui_dashboard", body)
        results.append((name, time.perf_counter() - start, result.status))
    start = time.perf_counter()
    result = await handle("ui_chat", {"context": "chat0001"})
    results.append(("chat element (ui_chat)", time.perf_counter() - start, result.status))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--db", type=Path, default=None)
    parser.add_argument("--range", type=int, default=None, help="days shown (default: --days)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        db = args.db or Path(scratch) / "ledger.db"
        os.environ["AGENT_ROUTING_DB"] = str(db)
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        if not db.exists():
            from seed import seed_ledger

            start = time.perf_counter()
            seed_ledger(db, calls=args.calls, days=args.days, chats=400)
            print(f"seeded {args.calls:,} calls over {args.days} days in "
                  f"{time.perf_counter() - start:.1f}s")  # fmt: skip
        from fakehost import make_host  # the handlers run inside the fake Agent Zero

        host = make_host(Path(scratch) / "host")
        try:
            rows = asyncio.run(measure(args.range or args.days))
        finally:
            host.close()
    print(f"range: last {args.range or args.days} days")
    print(f"{'section':<26}{'seconds':>9}  status")
    for name, seconds, status in rows:
        print(f"{name:<26}{seconds:>9.2f}  {status}")


if __name__ == "__main__":
    main()
