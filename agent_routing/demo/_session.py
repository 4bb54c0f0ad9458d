"""The scripted, offline agent session behind `agent-routing demo`.

It plays what Agent Zero does during one chat — a chat title, main steps whose streams are
abandoned at the first complete tool JSON, a provider rate limit, a misformatted cheap
reply, memorisation in a background task, an embedding — through the real parts: the
router, the budgets, litellm (with `mock_response`, so no network and no key), capture and
the SQLite ledger. The report printed afterwards is read back from that ledger.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from agent_routing.config import BudgetConfig, CallKind, Settings
from agent_routing.errors import ConfigError
from agent_routing.ids import new_id
from agent_routing.records import SignalKind

SYSTEM_PROMPT = (
    "You are Agent Zero, an autonomous agent. Reply with exactly one JSON object "
    '{"thoughts": [...], "headline": "...", "tool_name": "...", "tool_args": {...}}. '
    "Tools: response (final answer), code_execution_tool (run python/terminal), "
    "search_engine, memory_load, memory_save, call_subordinate. Think step by step, verify "
    "results, prefer small tested changes, and report what you did.\n"
) * 6


TOOL_RUN_S = 1.2  # scripted tool run time; longer than the demo's provider cooldown


@dataclass(frozen=True, slots=True)
class Step:
    """One scripted LLM call: what is asked, what the mock provider answers, and quirks."""

    label: str
    kind: CallKind
    prompt: str
    reply: str
    stream: bool = True
    rate_limit_first: bool = False  # the first hop fails with a provider rate limit
    signal: SignalKind | None = None  # outcome signal the agent raises after this step
    background: bool = False  # runs in a task nobody awaits to the end (memorisation)


def _tool_json(tool: str, text: str) -> str:
    return json.dumps(
        {"thoughts": ["..."], "headline": text[:40], "tool_name": tool, "tool_args": {"text": text}}
    )


HARD_TASK = (
    "Our CSV importer is flaky. Here is the module:\n```python\n"
    + "\n".join(
        f"def parse_row_{i}(line, schema):\n    fields = line.split(',')\n"
        f"    return {{k: cast(v) for k, v in zip(schema, fields)}}  # TODO quoting, step {i}"
        for i in range(25)
    )
    + "\n```\nFind why quoted fields with commas break, prove the fix handles escaped quotes, "
    "then refactor all parse_row_* into one function, write pytest cases for edge cases "
    "(empty lines, BOM, CRLF), and explain the complexity of your solution step by step."
)

SCRIPT: tuple[Step, ...] = (
    Step(
        "chat title",
        CallKind.TITLE,
        "Give this chat a short title: 'hi, capital of France?'",
        "Capital of France",
        stream=False,
    ),
    Step(
        "simple question",
        CallKind.CHAT,
        "What is the capital of France?",
        _tool_json("response", "Paris.") + "\nextra text the agent never reads",
    ),
    Step(
        "hard coding task",
        CallKind.CHAT,
        HARD_TASK,
        _tool_json("code_execution_tool", "import csv; ..."),
        rate_limit_first=True,
    ),
    Step(
        "follow-up on cheap tier",
        CallKind.CHAT,
        "Now rename the file to importer.py.",
        "Sure, I renamed it.",
        signal="misformat",
    ),
    Step(
        "retry after misformat",
        CallKind.CHAT,
        "Now rename the file to importer.py.",
        _tool_json("code_execution_tool", "mv csv_import.py importer.py"),
    ),
    Step(
        "final answer",
        CallKind.CHAT,
        "Report the result to the user.",
        _tool_json("response", "Fixed quoting, merged parsers, added 6 tests."),
    ),
    Step(
        "memorise solution",
        CallKind.MEMORY,
        "Extract reusable solutions from this chat.",
        "Use csv.reader for quoted CSV fields.",
        background=True,
    ),
)


@dataclass(slots=True)
class DemoStep:
    """What happened at one step, for the narrative."""

    label: str
    kind: str
    tier: str | None
    model: str  # the decided model; "a -> b" when a fallback hop served the step
    score: float | None
    reason: str
    hops: int = 1


@dataclass(slots=True)
class DemoResult:
    """The session's narrative plus where its ledger is."""

    db_path: Path
    conversation_id: str
    steps: list[DemoStep] = field(default_factory=list)
    embedding_calls: int = 0


def demo_settings(base: Settings | None = None) -> Settings:
    """The embedded defaults plus two budgets, so the report shows budget status and alerts."""
    settings = (base or Settings()).model_copy(deep=True)
    if not settings.budgets:
        settings.budgets = [
            BudgetConfig(scope="conversation", limit_usd=0.05, enforcement="downgrade"),
            BudgetConfig(scope="daily", limit_usd=5.0, enforcement="block"),
        ]
    # A scripted session runs in seconds; a 1 s cooldown keeps the rate-limited model out
    # of the next call without stalling the script for the default 60 s.
    settings.router.fallback.cooldown_s = 1.0
    return settings


async def _read_until_tool_json(stream: Any) -> str:
    """Read a streamed reply the way Agent Zero v1.7 does: stop at the first complete JSON."""
    text = ""
    depth = 0
    seen_object = False
    async for chunk in stream:
        delta = chunk.choices[0].delta.content or ""
        for char in delta:
            text += char
            if char == "{":
                depth += 1
                seen_object = True
            elif char == "}":
                depth -= 1
                if seen_object and depth == 0:
                    return text  # abandon the stream here; litellm fires no success callback
    return text


def _scripted_attempt(
    step: Step, messages: Sequence[Any], hops: list[str]
) -> Callable[[Any], Awaitable[str]]:
    """One hop of a scripted call: litellm with a mock reply, streamed like Agent Zero."""
    from agent_routing._litellm import litellm_module
    from agent_routing.capture import end_call

    litellm = litellm_module()

    async def attempt(call: Any) -> str:  # call: router.HopCall
        hops.append(call.tier.model)  # one entry per hop: the model tried
        mock: Any = step.reply
        if step.rate_limit_first and call.number == 0:
            mock = litellm.RateLimitError(
                "rate limited (demo)", llm_provider="openai", model=call.tier.model
            )
        response = await litellm.acompletion(
            messages=list(messages), stream=step.stream, mock_response=mock, **call.merged({})
        )
        if not step.stream:
            return str(response.choices[0].message.content or "")
        text = await _read_until_tool_json(response)
        end_call(call.call_id, response_text=text)
        return text

    return attempt


DEMO_MARK = ("agent_routing", "demo_ledger")
"""The `kv_cache` (namespace, key) a ledger made by the demo carries: only such a file is
ever deleted to start the demo afresh."""


def is_demo_ledger(path: Path) -> bool:
    """Whether `path` is a ledger the demo created (read-only look): it carries the mark,
    or (made before the mark existed) holds only the demo's calls and no stored budget.
    False for anything else: another ledger, a text file, a file that cannot be read."""
    try:
        uri = f"file:{quote(str(path.resolve()))}?mode=ro"
        db = sqlite3.connect(uri, uri=True, timeout=1.0)
        try:
            row = db.execute(
                "SELECT value FROM kv_cache WHERE namespace = ? AND key = ?", DEMO_MARK
            ).fetchone()
            if row is None:  # made by a demo before the mark existed: only demo calls
                row = db.execute(
                    "SELECT 1 FROM calls WHERE conversation_id LIKE 'demo-%' "
                    "AND NOT EXISTS (SELECT 1 FROM calls WHERE conversation_id IS NULL "
                    "OR conversation_id NOT LIKE 'demo-%') "
                    "AND NOT EXISTS (SELECT 1 FROM budget_overrides) LIMIT 1"
                ).fetchone()
        finally:
            db.close()
    except (sqlite3.Error, OSError):
        return False
    return row is not None


def fresh_demo_ledger(path: Path) -> None:
    """Make `path` a new, empty, marked demo ledger. An existing file there is deleted
    (with its -wal/-shm) only when an earlier demo made it; otherwise ConfigError names
    it and nothing is changed."""
    companions = [Path(f"{path}{suffix}") for suffix in ("-wal", "-shm")]
    if path.exists() or path.is_symlink():
        if not path.is_file() or not is_demo_ledger(path):
            raise ConfigError.single(
                "db",
                f"{str(path)!r} exists and is not a ledger made by the demo; the demo "
                "replaces only its own file, so pick another --db path (or remove it "
                "yourself)",
            )
    else:
        stray = [companion for companion in companions if companion.exists()]
        if stray:
            raise ConfigError.single(
                "db",
                f"{str(stray[0])!r} exists without its ledger; the demo does not delete "
                "files it did not create, so pick another --db path",
            )
    for file in (path, *companions):
        file.unlink(missing_ok=True)

    async def mark() -> None:
        from agent_routing.ledger import SQLiteLedger

        async with SQLiteLedger(path) as ledger:
            await ledger.cache_put(*DEMO_MARK, "1")

    asyncio.run(mark())


async def run_demo(db_path: Path, settings: Settings | None = None) -> DemoResult:
    """Play the scripted session into the ledger at `db_path` and return its narrative."""
    from agent_routing._litellm import litellm_module
    from agent_routing.budgets import Budgets
    from agent_routing.capture import capture_metadata, enable_capture
    from agent_routing.ledger import get_writer, ledger_for
    from agent_routing.router import CascadeState, Router, RouteRequest

    litellm = litellm_module()
    settings = demo_settings(settings)
    capture = enable_capture(db_path, settings=settings)
    writer = get_writer(
        db_path, settings.ledger, abandoned_after_s=settings.capture.abandoned_after_s
    )
    ledger = ledger_for(settings.ledger, db_path)
    await ledger.open()
    result = DemoResult(db_path=db_path, conversation_id="demo-" + new_id()[-8:].lower())
    try:
        budgets = Budgets(ledger, settings)
        router = Router(settings, budgets=budgets, sink=writer)
        cascade = CascadeState()
        history: list[dict[str, str]] = []
        background: list[asyncio.Task[Any]] = []
        for iteration, step in enumerate(SCRIPT):
            messages = [{"role": "system", "content": SYSTEM_PROMPT}, *history]
            messages.append({"role": "user", "content": step.prompt})
            decision = await router.route(
                RouteRequest(
                    prompt=step.prompt,
                    call_kind=step.kind,
                    messages=tuple(messages),
                    history=tuple(m["content"] for m in history[-6:]),
                    iteration=iteration,
                    conversation_id=result.conversation_id,
                    agent_no=0,
                    cascade=cascade if step.kind is CallKind.CHAT else None,
                )
            )
            hops: list[str] = []

            attempt = _scripted_attempt(step, messages, hops)
            if step.background:
                background.append(asyncio.ensure_future(router.run_decision(decision, attempt)))
                reply = ""
            else:
                reply = await router.run_decision(decision, attempt)
            if step.rate_limit_first:
                await asyncio.sleep(TOOL_RUN_S)  # the tool runs; the provider's cooldown passes
            if step.signal and decision.decision_id:
                router.record_signal(decision.decision_id, step.signal, cascade=cascade)
            if step.kind is CallKind.CHAT:
                history += [
                    {"role": "user", "content": step.prompt},
                    {"role": "assistant", "content": reply},
                ]
            result.steps.append(
                DemoStep(
                    step.label,
                    step.kind.value,
                    decision.tier.name if decision.tier else None,
                    " -> ".join(hops) if len(hops) > 1 else decision.model,
                    decision.score,
                    decision.reason,
                    max(1, len(hops)),
                )
            )
        await asyncio.gather(*background)
        # Agent Zero embeds synchronously (litellm fires only the sync callback for it).
        await asyncio.to_thread(
            litellm.embedding,
            model="text-embedding-3-small",
            input=["csv quoting fix"],
            mock_response=[0.1, 0.2, 0.3],
            metadata=capture_metadata(
                conversation_id=result.conversation_id, kind="embedding", agent_no=0
            ),
        )
        result.embedding_calls = 1
    finally:
        await capture.aflush(30)  # waits for litellm's callbacks too (same loop)
        writer.flush(30)
        await ledger.close()
    return result
