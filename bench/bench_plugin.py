"""The Agent Zero plugin in the fake host: what it adds per agent step, and what it records.

    .venv/bin/python bench/bench_plugin.py [--quick]

Runs the same scripted chats (a simple and a hard task, each a few tool steps, with the
host's own chat renaming, memory recall and background memorisation) in the fake Agent
Zero of `tests/fake_a0`, installed by the real installer, three ways:

- `no plugin`: the bare host;
- `plugin, router off`: capture, budgets bookkeeping and compression only;
- `plugin, routing`: the default tiers (the host's utility model cheap, chat model strong).

Model calls are real `litellm.acompletion` calls with `mock_response` (no network), so
the milliseconds are the host + litellm + plugin, never a provider. It prints the wall time
per agent step side by side with the overhead ratio, the ledger's coverage (rows vs calls
actually made) and usage sources, and what the session cost with and without routing at
litellm's prices. The cost figures describe this scripted session only. Each mode runs
once untimed first (imports, the analyzer's model, the first ledger file).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

SIMPLE = "What is 2+2? Check it with a quick calculation."
HARD = (
    "Prove that there are infinitely many primes p such that p+2 is also prime, or explain "
    "precisely why this is open, then implement a concurrent lock-free skip list in Rust with "
    "memory reclamation via epochs and a formal linearizability argument."
)
STEPS_PER_TASK = 3  # tool steps before the final answer


def _script(host: Any, chats: int) -> None:
    from fakehost import respond, tool_call

    for _ in range(chats):
        for task in ("simple", "hard"):
            for step in range(STEPS_PER_TASK):
                host.provider.script_main(tool_call("code_execution_tool", code=f"{task} {step}"))
            host.provider.script_main(respond(f"{task} done"))


async def _session(mode: str, chats: int, workdir: Path) -> dict[str, Any]:
    import os

    from fakehost import make_host

    os.environ["AGENT_ROUTING_HOME"] = str(workdir / "home")
    host = make_host(workdir, install=mode != "no plugin")
    try:
        if mode == "plugin, router off":
            host.configure({"router": {"enabled": False}})
        _script(host, chats)
        step_times: list[float] = []
        for _ in range(chats):
            context = host.new_context()
            for prompt in (SIMPLE, HARD):
                started = time.perf_counter()
                await host.send(context, prompt)
                step_times.append((time.perf_counter() - started) / (STEPS_PER_TASK + 1))
        result: dict[str, Any] = {
            "ms_per_step": statistics.median(step_times) * 1000,
            "provider_calls": len(host.provider.calls) + len(host.provider.embeddings),
        }
        if mode != "no plugin":
            ledger = await host.ledger()
            result["rows"] = len(ledger.calls)
            result["provider_usage"] = sum(1 for c in ledger.calls if c.usage_source == "provider")
            result["cost_usd"] = sum(c.cost_usd or 0.0 for c in ledger.calls)
            main = [c for c in ledger.calls if c.call_kind == "chat"]
            result["main_on_cheap"] = sum(1 for c in main if c.model.endswith("gpt-4o-mini"))
            result["main_calls"] = len(main)
        return result
    finally:
        host.close()


def main() -> None:
    """Run the three sessions and print them side by side."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one chat per mode (smoke run)")
    args = parser.parse_args()
    chats = 1 if args.quick else 5
    modes = ("no plugin", "plugin, router off", "plugin, routing")
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for index, mode in enumerate(modes):  # warm-up: imports, analyzer model, first ledger
            asyncio.run(_session(mode, 1, Path(scratch) / f"warm{index}"))
        for index, mode in enumerate(modes):
            results[mode] = asyncio.run(_session(mode, chats, Path(scratch) / str(index)))

    base = results["no plugin"]["ms_per_step"]
    print(f"{chats} chat(s) x 2 tasks x {STEPS_PER_TASK + 1} steps per mode (median per step)")
    print(
        f"{'mode':<22}{'ms/step':>10}{'vs bare':>10}{'calls':>8}{'rows':>7}{'provider usage':>16}"
    )
    for mode in modes:
        r = results[mode]
        rows = r.get("rows", "-")
        usage = f"{r['provider_usage']}/{r['rows']}" if "rows" in r else "-"
        print(
            f"{mode:<22}{r['ms_per_step']:>10.1f}{r['ms_per_step'] / base:>9.2f}x"
            f"{r['provider_calls']:>8}{rows!s:>7}{usage:>16}"
        )
    off, routed = results["plugin, router off"], results["plugin, routing"]
    print()
    print(f"{'session cost (litellm prices)':<32}{'USD':>12}")
    print(f"{'router off (host models)':<32}{off['cost_usd']:>12.6f}")
    print(f"{'routing (default tiers)':<32}{routed['cost_usd']:>12.6f}")
    print(f"{'routed / unrouted':<32}{routed['cost_usd'] / off['cost_usd']:>12.2f}")
    print(
        f"main steps on the cheap tier: {routed['main_on_cheap']} of {routed['main_calls']} "
        f"(router off: {off['main_on_cheap']} of {off['main_calls']})"
    )


if __name__ == "__main__":
    main()
