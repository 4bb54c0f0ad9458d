"""Capture benchmark: hook latency, end-to-end overhead, price lookups, token counting.

Run: `.venv/bin/python bench/bench_capture.py` (or `--quick` for a smoke run).

1. Hook time on the caller's thread: each capture hook called with the exact arguments
   litellm 1.79.3 passes (recorded from a real mock call), beside litellm's own no-op
   `CustomLogger` hook (the floor for any registered logger).
2. End-to-end: `litellm.acompletion(mock_response=...)` latency on an event loop with the
   capture logger registered vs not, in alternating blocks so drift hits both equally.
3. Worker: calls recorded per second end to end (pre-call, end report, success) into a
   sink that keeps nothing.
4. Prices: `unit_prices` cold (first lookup of a model, probing litellm) and cached, with a
   prompt size (the tier lookup capture makes for every row), and `cost_usd` beside
   `litellm.completion_cost` for the same usage.
5. Tokens: `count_text_tokens` / `count_message_tokens` on 2k- and 8k-token prompts made
   from real agent transcripts (/work/shared/data/agent_transcripts).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import queue
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from agent_routing import pricing
from agent_routing._litellm import litellm_module
from agent_routing.capture import begin_call, enable_capture, end_call
from agent_routing.capture._logger import find_logger, make_logger, unregister
from agent_routing.capture._recorder import CaptureRecorder, CaptureStats
from agent_routing.config import Settings
from agent_routing.records import CallRecord, DecisionRecord, OutcomeSignal, Usage
from agent_routing.tokens import count_message_tokens, count_text_tokens

TRANSCRIPTS = Path("/work/shared/data/agent_transcripts/swe_agent.jsonl")
# One event loop for the whole run: litellm 1.79.3 binds its global logging worker's queue
# to the first loop that uses it, so a second loop would lose async success callbacks.
LOOP = asyncio.new_event_loop()
MESSAGES = [
    {"role": "system", "content": "You are Agent Zero, an autonomous agent. Reply in JSON."},
    {"role": "user", "content": "List the files in the current directory and summarise them."},
]


class DropSink:
    """A CallSink that keeps nothing (measures capture, not storage)."""

    def submit(self, record: CallRecord) -> None:
        pass

    def submit_decision(self, decision: DecisionRecord) -> None:
        pass

    def submit_signal(self, signal: OutcomeSignal) -> None:
        pass

    def flush(self, timeout: float | None = None) -> bool:
        return True


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def line(label: str, samples_us: list[float], extra: str = "") -> None:
    print(
        f"  {label:<44} p50 {pct(samples_us, 0.5):8.2f} us   p99 {pct(samples_us, 0.99):8.2f} us"
        f"{extra}"
    )


def timed(function: Callable[[], Any], n: int) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter_ns()
        function()
        samples.append((time.perf_counter_ns() - start) / 1000)
    return samples


def recorded_hook_arguments() -> dict[str, Any]:
    """The exact arguments litellm passes to each hook, from one real mock call."""
    litellm = litellm_module()
    custom_logger = litellm.integrations.custom_logger.CustomLogger
    seen: dict[str, Any] = {}

    class Spy(custom_logger):  # type: ignore[misc, valid-type]
        def log_pre_api_call(self, model: Any, messages: Any, kwargs: Any) -> None:
            seen["pre"] = {"model": model, "messages": messages, "kwargs": kwargs}

        async def async_log_success_event(
            self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
        ) -> None:
            seen["success"] = {
                "kwargs": kwargs,
                "response_obj": response_obj,
                "start_time": start_time,
                "end_time": end_time,
            }

    spy = Spy()
    litellm.callbacks.append(spy)

    async def call() -> None:
        await litellm.acompletion(
            model="gpt-4o-mini", messages=MESSAGES, mock_response="ok", metadata={}
        )
        for _ in range(100):
            if "success" in seen:
                return
            await asyncio.sleep(0.01)

    LOOP.run_until_complete(call())
    unregister(litellm, spy)
    return seen


class QueueOnlyRecorder:
    """What a hook sees of the recorder (`post`, `stats`), without the worker thread, so
    the timings are the hook's own and not the GIL shared with a busy worker."""

    def __init__(self) -> None:
        self.events: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.stats = CaptureStats()

    def post(self, event: Any) -> None:
        self.events.put(event)


def bench_hooks(n: int) -> None:
    print(f"1. Hook time on the caller's thread ({n:,} calls each)")
    litellm = litellm_module()
    args = recorded_hook_arguments()
    ours = make_logger(QueueOnlyRecorder())  # type: ignore[arg-type]
    floor = litellm.integrations.custom_logger.CustomLogger()
    pre, success = args["pre"], args["success"]
    line("no-op CustomLogger.log_pre_api_call", timed(lambda: floor.log_pre_api_call(**pre), n))
    ours_pre = timed(lambda: ours.log_pre_api_call(**pre), n)
    line("capture log_pre_api_call", ours_pre)

    def step(coroutine: Any) -> None:
        with contextlib.suppress(StopIteration):
            coroutine.send(None)  # the hooks never await: one step runs them to the end

    line(
        "no-op async_log_success_event",
        timed(lambda: step(floor.async_log_success_event(**success)), n),
    )
    ours_success = timed(lambda: step(ours.async_log_success_event(**success)), n)
    line("capture async_log_success_event", ours_success)
    handle = enable_capture(sink=DropSink(), settings=Settings())
    begin = timed(lambda: begin_call(model="gpt-4o-mini", messages=MESSAGES), n)
    line("begin_call (caller reports itself)", begin)
    end = timed(lambda: end_call("01BENCHCALLID0000000000000", response_text="ok"), n)
    line("end_call", end)
    assert handle.flush(120)
    handle.close(30)
    worst = max(pct(samples, 0.99) for samples in (ours_pre, ours_success, end))
    print(f"  goal p99 < 200 us per hook: worst capture hook p99 = {worst:.1f} us")


def bench_end_to_end(n: int) -> None:
    print(f"\n2. acompletion(mock_response) latency on one event loop ({n:,} calls each way)")
    litellm = litellm_module()
    recorder = CaptureRecorder(DropSink(), Settings())
    loggers: dict[str, Any] = {
        "no logger": None,
        "no-op CustomLogger": litellm.integrations.custom_logger.CustomLogger(),
        "capture": make_logger(recorder),
    }
    names = list(loggers)
    samples: dict[str, list[float]] = {name: [] for name in names}

    async def one(name: str) -> float:
        logger = loggers[name]
        if logger is not None:
            litellm.callbacks.append(logger)
        start = time.perf_counter_ns()
        await litellm.acompletion(model="gpt-4o-mini", messages=MESSAGES, mock_response="ok")
        elapsed = (time.perf_counter_ns() - start) / 1000
        if logger is not None:
            unregister(litellm, logger)
        await asyncio.sleep(0.002)  # litellm's logging tasks for this call run here
        return elapsed

    async def run() -> None:
        for _ in range(20):
            await one("no logger")  # warm up litellm's lazy imports and caches
        for index in range(n):
            # every round runs each variant once, in rotating order: load spikes on this
            # shared machine hit all three alike, and the rounds give paired differences
            for shift in range(len(names)):
                name = names[(index + shift) % len(names)]
                samples[name].append(await one(name))

    LOOP.run_until_complete(run())
    recorder.close(30)
    for name in names:
        line(name, samples[name])
    paired = [c - b for b, c in zip(samples["no logger"], samples["capture"], strict=True)]
    over_noop = [
        c - b for b, c in zip(samples["no-op CustomLogger"], samples["capture"], strict=True)
    ]
    print(
        f"  median paired difference: capture vs no logger {statistics.median(paired):+.0f} us, "
        f"capture vs no-op logger {statistics.median(over_noop):+.0f} us"
    )


def bench_worker(n: int) -> None:
    print(f"\n3. Worker throughput ({n:,} calls: open, end report, flush)")
    sink = DropSink()
    handle = enable_capture(sink=sink, settings=Settings())
    start = time.perf_counter()
    for _ in range(n):
        call_id = begin_call(model="gpt-4o-mini", messages=MESSAGES)
        end_call(call_id, response_text="A short answer of a few tokens.")
    assert handle.flush(120)
    elapsed = time.perf_counter() - start
    handle.close(30)
    print(f"  {n / elapsed:,.0f} calls/s recorded (token counting and pricing included)")


def chat_models(limit: int) -> list[str]:
    cost_map = litellm_module().model_cost
    keys = [
        key
        for key, entry in sorted(cost_map.items())
        if entry.get("mode") == "chat" and isinstance(entry.get("input_cost_per_token"), float)
    ]
    step = max(1, len(keys) // limit)
    return keys[::step][:limit]


def tiered_models() -> list[str]:
    """Chat entries with long-prompt price tiers (`input_cost_per_token_above_*`)."""
    return [
        key
        for key, entry in sorted(litellm_module().model_cost.items())
        if entry.get("mode") == "chat"
        and any(name.startswith("input_cost_per_token_above_") for name in entry)
    ]


def bench_prices(models: int, repeats: int) -> None:
    print(f"\n4. Prices ({models} models)")
    litellm = litellm_module()
    keys = chat_models(models)
    pricing.clear_caches()
    cold = timed_each(keys, pricing.unit_prices)
    cached = timed_each(keys * repeats, pricing.unit_prices)
    line("unit_prices, cold (first lookup of a model)", cold)
    line(
        "unit_prices, cached",
        cached,
        f"   ({statistics.median(cold) / statistics.median(cached):,.0f}x)",
    )
    sized = timed_each(keys * repeats, lambda key: pricing.unit_prices(key, input_tokens=12_000))
    line("unit_prices(input_tokens=12k), cached", sized, "   (capture's path: tier selected)")
    tiered = tiered_models()
    for key in tiered:  # warm: the first lookup of a tier probes litellm like a cold model
        pricing.unit_prices(key, input_tokens=250_000)
    above = timed_each(tiered * repeats, lambda key: pricing.unit_prices(key, input_tokens=250_000))
    line(f"  same, 250k prompt on {len(tiered)} tiered models", above)
    usage = Usage(input_tokens=12_000, output_tokens=800, cached_read_tokens=8_000)
    prices = {key: pricing.unit_prices(key) for key in keys}
    ours = timed_each(keys * repeats, lambda key: pricing.cost_usd(usage, prices[key]))
    response = {
        key: litellm.ModelResponse(usage=pricing.litellm_usage(usage, pricing.provider_of(key)))
        for key in keys
    }

    def litellm_cost(key: str) -> float | None:
        try:
            return float(litellm.completion_cost(completion_response=response[key], model=key))
        except Exception:  # keys litellm cannot resolve by name (see the parity test)
            return None

    comparable = [key for key in keys if litellm_cost(key) is not None]
    theirs = timed_each(comparable, litellm_cost)
    line("cost_usd(usage, prices)", ours)
    line(
        "litellm.completion_cost (same usage)",
        theirs,
        f"   ({statistics.median(theirs) / statistics.median(ours):,.0f}x slower)",
    )


def timed_each(items: list[Any], function: Callable[[Any], Any]) -> list[float]:
    samples = []
    for item in items:
        start = time.perf_counter_ns()
        function(item)
        samples.append((time.perf_counter_ns() - start) / 1000)
    return samples


def transcript_messages(target_tokens: int) -> list[dict[str, Any]]:
    """Real transcript messages until about `target_tokens` tokens (text fields only)."""
    messages: list[dict[str, Any]] = []
    total = 0
    with TRANSCRIPTS.open(encoding="utf-8") as lines:
        for raw in lines:
            for message in json.loads(raw)["messages"]:
                kept = {
                    k: v
                    for k, v in message.items()
                    if k in {"role", "content", "name", "tool_calls", "tool_call_id"}
                }
                messages.append(kept)
                total = count_message_tokens(messages, "gpt-4o")
                if total >= target_tokens:
                    return messages
    return messages


def bench_tokens(repeats: int) -> None:
    print(f"\n5. Token counting ({repeats} runs each)")
    for target in (2_000, 8_000):
        messages = transcript_messages(target)
        text = "\n".join(str(m.get("content") or "") for m in messages)
        for model in ("gpt-4o", "anthropic/claude-sonnet-4-20250514"):
            count = count_message_tokens(messages, model)
            samples = timed(lambda m=model, ms=messages: count_message_tokens(ms, m), repeats)
            line(f"messages {count:>5,} tok, {model[:24]}", samples)
        samples = timed(lambda t=text: count_text_tokens(t, "gpt-4o"), repeats)
        line(f"text     {count_text_tokens(text, 'gpt-4o'):>5,} tok, gpt-4o", samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    quick = parser.parse_args().quick
    started = time.perf_counter()
    litellm_module()
    assert find_logger(litellm_module()) is None
    bench_hooks(2_000 if quick else 20_000)
    bench_end_to_end(50 if quick else 500)
    bench_worker(300 if quick else 5_000)
    bench_prices(20 if quick else 200, 5 if quick else 20)
    bench_tokens(5 if quick else 50)
    print(f"\n(done in {time.perf_counter() - started:.1f} s; {'quick' if quick else 'full'} run)")


if __name__ == "__main__":
    main()
