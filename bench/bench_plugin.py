"""The Agent Zero plugin in the fake host: what it adds per agent step, and what it records.

    .venv/bin/python bench/bench_plugin.py [--quick] [--tool-lines N]

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

`--tool-lines N` makes every tool step print an N-line log instead of one line, so the
histories grow long (400 lines: about 5k tokens per step): the per-step cost of anything
that scales with the prompt (token counts, compression checks) shows up.
"""

from __future__ import annotations

import argparse
import asyncio
import os
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


def _script(host: Any, chats: int, tool_lines: int) -> None:
    from fakehost import respond, tool_call

    for _ in range(chats):
        for number, task in enumerate(("simple", "hard")):
            for step in range(STEPS_PER_TASK):
                code = (
                    f"dump {tool_lines + number * STEPS_PER_TASK + step}"  # distinct: no repeats
                    if tool_lines
                    else f"{task} {step}"
                )
                host.provider.script_main(tool_call("code_execution_tool", code=code))
            host.provider.script_main(respond(f"{task} done"))


def _timed_routing_hook() -> tuple[list[float], Any]:
    """Time every `message_loop_start` routing hook (this thread's CPU); returns the undo."""
    from agent_routing.host import routing

    original = routing.route_iteration
    times: list[float] = []

    async def timed(agent: Any, loop_data: Any) -> None:
        started = time.thread_time()
        try:
            await original(agent, loop_data)
        finally:
            times.append(time.thread_time() - started)

    routing.route_iteration = timed

    def undo() -> None:
        routing.route_iteration = original

    return times, undo


async def _session(
    mode: str, chats: int, workdir: Path, tool_lines: int = 0, host_mode: str = "v1.7"
) -> dict[str, Any]:
    from fakehost import make_host

    os.environ["AGENT_ROUTING_HOME"] = str(workdir / "home")
    host = make_host(workdir, install=mode != "no plugin", mode=host_mode)
    hook_times, undo = _timed_routing_hook()
    try:
        if mode == "plugin, router off":
            host.configure({"router": {"enabled": False}})
        _script(host, chats, tool_lines)
        step_times: list[float] = []
        cpu_times: list[float] = []
        for _ in range(chats):
            context = host.new_context()
            for prompt in (SIMPLE, HARD):
                started, cpu_started = time.perf_counter(), time.process_time()
                await host.send(context, prompt, wait_background=False)  # the turn itself
                step_times.append((time.perf_counter() - started) / (STEPS_PER_TASK + 1))
                cpu_times.append((time.process_time() - cpu_started) / (STEPS_PER_TASK + 1))
                # memorisation runs after the turn, as in the host; untimed, but finished
                # before the next turn so the chats do not overlap
                await asyncio.to_thread(context.wait_background)
        result: dict[str, Any] = {
            "ms_per_step": statistics.median(step_times) * 1000,
            "cpu_ms_per_step": statistics.median(cpu_times) * 1000,
            "provider_calls": len(host.provider.calls) + len(host.provider.embedding_calls),
            "route_hook_ms": statistics.median(hook_times) * 1000 if hook_times else None,
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
        undo()
        host.close()


def main() -> None:
    """Run the three sessions and print them side by side."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one chat per mode (smoke run)")
    parser.add_argument(
        "--tool-lines",
        type=int,
        default=0,
        metavar="N",
        help="each tool step prints an N-line log (long histories); default: one line",
    )
    parser.add_argument(
        "--host",
        default="v1.7",
        choices=("v1.7", "v2", "v2-chat", "v2-responses"),
        help="which Agent Zero the fake host plays (tests/fakehost.py HOST_MODES)",
    )
    args = parser.parse_args()
    chats = 1 if args.quick else 5
    modes = ("no plugin", "plugin, router off", "plugin, routing")
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for index, mode in enumerate(modes):  # warm-up: imports, analyzer model, first ledger
            asyncio.run(_session(mode, 1, Path(scratch) / f"warm{index}", host_mode=args.host))
        for index, mode in enumerate(modes):
            results[mode] = asyncio.run(
                _session(mode, chats, Path(scratch) / str(index), args.tool_lines, args.host)
            )

    base = results["no plugin"]["ms_per_step"]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"fake host: Agent Zero {args.host}")
    print(
        f"{chats} chat(s) x 2 tasks x {STEPS_PER_TASK + 1} steps per mode (median per step); "
        f"load average {load:.1f} on {os.cpu_count()} CPUs"
    )
    if args.tool_lines:
        print(f"each tool step prints {args.tool_lines}+ lines")
    print(
        f"{'mode':<22}{'ms/step':>10}{'vs bare':>10}{'cpu ms/step':>13}{'route hook cpu ms':>19}"
        f"{'calls':>8}{'rows':>7}{'provider usage':>16}"
    )
    for mode in modes:
        r = results[mode]
        rows = r.get("rows", "-")
        usage = f"{r['provider_usage']}/{r['rows']}" if "rows" in r else "-"
        hook = f"{r['route_hook_ms']:.2f}" if r["route_hook_ms"] is not None else "-"
        print(
            f"{mode:<22}{r['ms_per_step']:>10.1f}{r['ms_per_step'] / base:>9.2f}x"
            f"{r['cpu_ms_per_step']:>13.1f}{hook:>19}{r['provider_calls']:>8}{rows!s:>7}"
            f"{usage:>16}"
        )
    off, routed = results["plugin, router off"], results["plugin, routing"]
    print()
    print(f"{'session cost (litellm prices)':<32}{'USD':>12}")
    print(f"{'router off (host models)':<32}{off['cost_usd']:>12.6f}")
    print(f"{'routing (default tiers)':<32}{routed['cost_usd']:>12.6f}")
    ratio = routed["cost_usd"] / off["cost_usd"] if off["cost_usd"] else float("nan")
    print(f"{'routed / unrouted':<32}{ratio:>12.2f}")
    print(
        f"main steps on the cheap tier: {routed['main_on_cheap']} of {routed['main_calls']} "
        f"(router off: {off['main_on_cheap']} of {off['main_calls']})"
    )


if __name__ == "__main__":
    main()
