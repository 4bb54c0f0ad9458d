"""The fake Agent Zero behaves like the spec's §12 checklist (so plugin tests prove something)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakehost import FakeHost, bare_host, make_host

from agent_routing._litellm import litellm_module

__all__ = ["bare_host"]  # the fixture, re-exported for pytest

RESPOND = '{"thoughts": ["done"], "tool_name": "response", "tool_args": {"text": "%s"}}'


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def extension_file(class_name: str, body: str, *, is_async: bool = True) -> str:
    prefix = "async " if is_async else ""
    return (
        "from helpers.extension import Extension\n\n\n"
        f"class {class_name}(Extension):\n"
        f"    {prefix}def execute(self, **kwargs):\n"
        f"        {body}\n"
    )


def script_basic(host: FakeHost, *chat: str) -> None:
    host.provider.script("gpt-4o-mini", "Chat title", "memory fragments")
    host.provider.script("gpt-4o", *chat)


class Events:
    """Which litellm callbacks fired, per model, in order."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def kinds(self, model_suffix: str) -> list[str]:
        return [kind for kind, model in self.items if model.endswith(model_suffix)]


@pytest.fixture
def litellm_events() -> Iterator[Events]:
    """A CustomLogger in litellm.callbacks recording pre-call / success / failure events."""
    litellm = litellm_module()
    from litellm.integrations.custom_logger import CustomLogger

    events = Events()

    class Recorder(CustomLogger):  # type: ignore[misc]
        def log_pre_api_call(self, model: Any, messages: Any, kwargs: Any) -> None:
            events.items.append(("pre", str(model)))

        def log_success_event(
            self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
        ) -> None:
            events.items.append(("sync_success", str(kwargs.get("model"))))

        async def async_log_success_event(
            self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
        ) -> None:
            events.items.append(("async_success", str(kwargs.get("model"))))

    recorder = Recorder()
    litellm.callbacks.append(recorder)
    try:
        yield events
    finally:
        # litellm copies a CustomLogger into its per-event lists (deduplicated by class
        # name), so it must be removed from all of them or it shadows the next test's.
        for name in (
            "callbacks",
            "input_callback",
            "success_callback",
            "failure_callback",
            "_async_success_callback",
            "_async_failure_callback",
        ):
            setattr(litellm, name, [c for c in getattr(litellm, name) if c is not recorder])


# --- extension discovery and dispatch (§2) -----------------------------------------------------


async def test_first_root_wins_for_a_stem_and_stems_sort_across_roots(bare_host: FakeHost) -> None:
    """A usr/ file with a core stem replaces the core class; order is by stem across roots."""
    root = bare_host.root
    point = "extensions/python/message_loop_start"
    write(root / point / "_20_core.py", extension_file("Core", "ORDER.append('core20')"))
    write(
        root / "usr" / point / "_10_iteration_no.py",
        extension_file("Mine", "ORDER.append('usr10')"),
    )
    write(root / "usr" / point / "_30_usr.py", extension_file("Later", "ORDER.append('usr30')"))
    plugin = root / "usr" / "plugins" / "demo"
    write(plugin / "plugin.yaml", "name: demo\n")
    write(plugin / point / "_15_demo.py", extension_file("Demo", "ORDER.append('plugin15')"))
    order: list[str] = []
    import builtins

    builtins.ORDER = order  # type: ignore[attr-defined]
    try:
        await bare_host.extension.call_extensions_async("message_loop_start", None)
        assert order == ["usr10", "plugin15", "core20", "usr30"]
        (plugin / ".toggle-0").write_text("")
        bare_host.hot_reload()
        order.clear()
        await bare_host.extension.call_extensions_async("message_loop_start", None)
        assert order == ["usr10", "core20", "usr30"]
    finally:
        del builtins.ORDER  # type: ignore[attr-defined]


async def test_fresh_instance_per_call_and_module_reexecuted_on_reload(bare_host: FakeHost) -> None:
    """Instance attributes never survive; a cache refill re-executes the module's globals."""
    point = bare_host.root / "usr" / "extensions" / "python" / "job_loop"
    write(
        point / "_50_count.py",
        "import builtins\nfrom helpers.extension import Extension\n"
        "builtins.LOADS = getattr(builtins, 'LOADS', 0) + 1\n\n\n"
        "class Count(Extension):\n"
        "    def execute(self, seen=None, **kwargs):\n"
        "        seen.append(getattr(self, 'mark', None))\n"
        "        self.mark = 1\n",
    )
    import builtins

    seen: list[Any] = []
    try:
        await bare_host.extension.call_extensions_async("job_loop", None, seen=seen)
        await bare_host.extension.call_extensions_async("job_loop", None, seen=seen)
        assert seen == [None, None]
        assert builtins.LOADS == 1  # type: ignore[attr-defined]
        bare_host.hot_reload()
        await bare_host.extension.call_extensions_async("job_loop", None, seen=seen)
        assert builtins.LOADS == 2  # type: ignore[attr-defined]
    finally:
        del builtins.LOADS  # type: ignore[attr-defined]


def test_sync_point_refuses_an_async_extension(bare_host: FakeHost) -> None:
    """An awaitable returned at a sync point raises ValueError, as the host does."""
    write(
        bare_host.root / "usr/extensions/python/agent_init/_50_bad.py",
        extension_file("Bad", "return None"),
    )
    with pytest.raises(ValueError, match="returned awaitable in sync mode"):
        bare_host.new_context()


async def test_extension_exceptions_propagate(bare_host: FakeHost) -> None:
    """The dispatcher does not catch: an extension's exception reaches the caller."""
    write(
        bare_host.root / "usr/extensions/python/banners/_50_boom.py",
        extension_file("Boom", "raise RuntimeError('boom')"),
    )
    with pytest.raises(RuntimeError, match="boom"):
        await bare_host.extension.call_extensions_async("banners", None, banners=[])


# --- the loop, models and litellm (§3, §4, §5) --------------------------------------------------


async def test_loopdata_lifecycle_and_hook_order(bare_host: FakeHost) -> None:
    """Iteration counts from 0, params_temporary resets, extras_temporary clears after prompts."""
    trace = bare_host.root / "usr/extensions/python"
    for point in ("message_loop_start", "message_loop_prompts_after", "before_main_llm_call"):
        write(
            trace / point / "_50_trace.py",
            "from helpers.extension import Extension\n\n\n"
            "class Trace(Extension):\n"
            "    async def execute(self, loop_data=None, **kwargs):\n"
            f"        self.agent.data.setdefault('trace', []).append(('{point}', "
            "loop_data.iteration, dict(loop_data.params_temporary), "
            "dict(loop_data.extras_temporary)))\n"
            "        loop_data.params_temporary['seen'] = True\n"
            "        loop_data.extras_temporary['x'] = 1\n",
        )
    script_basic(bare_host, "no json here", RESPOND % "ok")
    context = bare_host.new_context()
    assert await bare_host.send(context, "hi") == "ok"
    trace_rows = context.agent0.data["trace"]
    assert [row[:2] for row in trace_rows] == [
        ("message_loop_start", 0),
        ("message_loop_prompts_after", 0),
        ("before_main_llm_call", 0),
        ("message_loop_start", 1),
        ("message_loop_prompts_after", 1),
        ("before_main_llm_call", 1),
    ]
    assert trace_rows[3][2] == {}  # params_temporary reset at the next iteration
    assert trace_rows[2][3] == {}  # extras_temporary cleared after the prompt build


async def test_main_call_stream_abandoned_at_first_complete_tool_json(
    bare_host: FakeHost, litellm_events: Events
) -> None:
    """v1.7: the stream stops at the first complete tool JSON; litellm fires only pre-call."""
    script_basic(bare_host, RESPOND % "first" + " and some trailing text the host never reads")
    context = bare_host.new_context()
    assert await bare_host.send(context, "hi") == "first"
    main_calls = [c for c in bare_host.provider.calls if c.model == "openai/gpt-4o"]
    assert len(main_calls) == 1
    assert main_calls[0].stream is True
    await asyncio.sleep(0.2)
    assert litellm_events.kinds("gpt-4o") == ["pre"]
    assert context.agent0.history.output()[1]["content"].endswith("}")


async def test_background_utility_call_gets_no_success_callback(
    bare_host: FakeHost, litellm_events: Events
) -> None:
    """Chat rename (foreground) gets pre-call + async success; memorisation, a utility call
    in a background task that ends after the turn, gets its pre-call hook and nothing else
    (as measured in Agent Zero v1.7), however long one waits."""
    script_basic(bare_host, RESPOND % "ok")
    context = bare_host.new_context()
    await bare_host.send(context, "hi")  # returns once the background task has finished
    assert [c.model for c in bare_host.provider.calls].count("openai/gpt-4o-mini") == 2
    events: list[str] = []
    for _ in range(100):  # the foreground call's callback may still be on its way
        events = litellm_events.kinds("gpt-4o-mini")
        if "async_success" in events:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.5)  # room for a late callback to show up if the fake let one through
    assert litellm_events.kinds("gpt-4o-mini") == ["pre", "async_success", "pre"]
    assert context.name == "Chat title"


async def test_embedding_fires_only_the_sync_success_callback(
    bare_host: FakeHost, litellm_events: Events
) -> None:
    """Every embedding call (memory probe, preload, recall) reports through the sync success
    callback only (no async, no pre-call)."""
    script_basic(bare_host, RESPOND % "ok")
    await bare_host.send(bare_host.new_context(), "remember this")
    calls = len(bare_host.provider.embedding_calls)
    for _ in range(50):
        if len(litellm_events.kinds("text-embedding-3-small")) >= calls:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
    assert litellm_events.kinds("text-embedding-3-small") == ["sync_success"] * calls
    assert calls == 3


async def test_call_data_is_read_back_after_the_hook(bare_host: FakeHost) -> None:
    """Replacing call_data['model'] at chat_model_call_before switches the model for that call."""
    write(
        bare_host.root / "usr/extensions/python/chat_model_call_before/_50_swap.py",
        "import models\nfrom helpers.extension import Extension\n\n\n"
        "class Swap(Extension):\n"
        "    async def execute(self, call_data=None, **kwargs):\n"
        "        call_data['model'] = models.get_chat_model(\n"
        "            'anthropic', 'claude-3-5-haiku-20241022')\n",
    )
    bare_host.provider.script("gpt-4o-mini", "title", "memories")
    bare_host.provider.script("claude-3-5-haiku-20241022", RESPOND % "swapped")
    assert await bare_host.send(bare_host.new_context(), "hi") == "swapped"
    assert "anthropic/claude-3-5-haiku-20241022" in {c.model for c in bare_host.provider.calls}


async def test_transient_error_is_retried_by_the_wrapper_before_any_chunk(
    bare_host: FakeHost,
) -> None:
    """A 429 before the first chunk is retried (a0_retry_attempts) with the same model."""
    bare_host.configure_models(
        chat_model={"provider": "openai", "name": "gpt-4o", "kwargs": {"a0_retry_delay_seconds": 0}}
    )
    script_basic(bare_host, "litellm.RateLimitError", RESPOND % "after retry")
    assert await bare_host.send(bare_host.new_context(), "hi") == "after retry"


# --- tools (§6) --------------------------------------------------------------------------------


async def test_misformatted_reply_adds_a_warning_and_the_loop_continues(
    bare_host: FakeHost,
) -> None:
    """A reply with no JSON object becomes a misformat warning, then the next iteration runs."""
    script_basic(bare_host, "I will just talk.", RESPOND % "ok")
    context = bare_host.new_context()
    assert await bare_host.send(context, "hi") == "ok"
    warnings = [m["content"] for m in context.agent0.history.output() if "system_warning" in str(m)]
    assert "misformatted" in str(warnings[0])


async def test_empty_tool_args_is_a_critical_error_retried_once_then_ends(
    bare_host: FakeHost,
) -> None:
    """G2 validation: empty tool_args raises ValueError; retried once, then the monologue ends."""
    bad = '{"tool_name": "response", "tool_args": {}}'
    script_basic(bare_host, bad, bad)
    context = bare_host.new_context()
    assert await bare_host.send(context, "hi") is None
    assert [item.type for item in context.log.logs if item.type in {"warning", "error"}] == [
        "warning",
        "error",
    ]


async def test_repeated_reply_gets_a_warning(bare_host: FakeHost) -> None:
    """The same reply twice in a row is stored with a 'same message again' warning."""
    same = '{"tool_name": "code_execution_tool", "tool_args": {"code": "1"}}'
    script_basic(bare_host, same, same, RESPOND % "ok")
    context = bare_host.new_context()
    assert await bare_host.send(context, "hi") == "ok"
    assert "same message again" in json.dumps(context.agent0.history.output())


async def test_subordinate_shares_the_context_and_runs_inside_the_tool(bare_host: FakeHost) -> None:
    """call_subordinate creates A1 on the same context; its reply becomes the tool result."""
    bare_host.provider.script("gpt-4o-mini", "title", "memories")
    bare_host.provider.script(
        "gpt-4o",
        '{"tool_name": "call_subordinate", "tool_args": {"message": "sub task"}}',
        RESPOND % "sub done",
        RESPOND % "all done",
    )
    context = bare_host.new_context()
    assert await bare_host.send(context, "hi") == "all done"
    sub = context.agent0.data["_subordinate"]
    assert sub.number == 1
    assert sub.context is context


# --- API (§7) ------------------------------------------------------------------------------------


async def test_api_handler_contract(bare_host: FakeHost) -> None:
    """dict -> 200 JSON; wrong method 405; missing CSRF 403; unknown 404; exception 500 text."""
    write(
        bare_host.root / "usr/plugins/demo/plugin.yaml",
        "name: demo\n",
    )
    write(
        bare_host.root / "usr/plugins/demo/api/echo.py",
        "from helpers.api import ApiHandler, Request, Response\n\n\n"
        "class Echo(ApiHandler):\n"
        "    @classmethod\n"
        "    def get_methods(cls):\n"
        "        return ['GET', 'POST']\n\n"
        "    async def process(self, input, request):\n"
        "        if request.args.get('fail'):\n"
        "            raise RuntimeError('bad')\n"
        "        return {'input': input, 'q': request.args.get('q')}\n",
    )
    api = bare_host.api
    ok = await api.dispatch("plugins/demo/echo", "POST", json_body={"a": 1}, args={"q": "x"})
    assert (ok.status_code, ok.get_json()) == (200, {"input": {"a": 1}, "q": "x"})
    assert (await api.dispatch("plugins/demo/echo", "DELETE")).status_code == 405
    assert (await api.dispatch("plugins/demo/echo", "GET", csrf=False)).status_code == 403
    assert (await api.dispatch("plugins/demo/nope", "GET")).status_code == 404
    failed = await api.dispatch("plugins/demo/echo", "GET", args={"fail": "1"})
    assert failed.status_code == 500
    assert failed.mimetype == "text/plain"


# --- persistence (§8.4) -----------------------------------------------------------------------


async def test_chat_persistence_drops_private_and_unserialisable_keys(bare_host: FakeHost) -> None:
    """Saved chats keep plain data keys, drop `_` keys and objects; load restores after init."""
    script_basic(bare_host, RESPOND % "ok")
    context = bare_host.new_context()
    context.set_data("plain", {"a": 1})
    context.set_data("_private", 1)
    context.set_data("object", object())
    await bare_host.send(context, "hi")
    from helpers import persist_chat

    loaded = persist_chat.load_tmp_chat(context.id)
    assert loaded.data == {"plain": {"a": 1}}
    assert loaded.agent0.data["iteration_no"] == 1


# --- v2 mode (agent-zero-host-v2.md §1-§3) --------------------------------------------------


@pytest.fixture
def v2_host(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[FakeHost]:
    """The fake Agent Zero WITHOUT the plugin, in the v2 mode given by `request.param`."""
    host = make_host(tmp_path, install=False, mode=request.param)
    try:
        yield host
    finally:
        host.close()


async def _main_events(host: FakeHost, events: Events, reply: str) -> tuple[Any, list[str]]:
    script_basic(host, reply)
    context = host.new_context()
    await host.send(context, "hi")
    await asyncio.sleep(0.3)  # room for any late callback
    return context, events.kinds("gpt-4o")


@pytest.mark.slow
@pytest.mark.parametrize("v2_host", ["v2-chat"], indirect=True)
async def test_v2_chat_turn_is_cut_at_the_tool_json_and_reports_no_usage(
    v2_host: FakeHost, litellm_events: Events
) -> None:
    """v2 at July 2026, Chat Completions: `unified_turn` returns an LLMResult, the stream is
    abandoned at the first tool JSON (pre-call hook only) and `usage` is empty."""
    reply = RESPOND % "first"
    context, kinds = await _main_events(v2_host, litellm_events, reply + " trailing text")
    result = context.agent0.last_llm_result
    assert (type(result).__name__, result.mode, result.response) == (
        "LLMResult",
        "chat_completions",
        reply,
    )
    assert result.usage == {}
    assert kinds == ["pre"]


@pytest.mark.slow
@pytest.mark.parametrize("v2_host", ["v2"], indirect=True)
async def test_v2_usage_drain_reads_the_stream_to_its_end(
    v2_host: FakeHost, litellm_events: Events
) -> None:
    """Later v2: `stream_options.include_usage` and the `_context_window` hooks on
    `unified_turn`: usage in the LLMResult, litellm's success callback, the tool JSON kept."""
    reply = RESPOND % "first"
    context, kinds = await _main_events(v2_host, litellm_events, reply + " trailing text")
    result = context.agent0.last_llm_result
    assert result.response == reply
    assert result.usage["prompt_tokens"] > 0
    assert result.usage["completion_tokens"] > 0
    assert kinds == ["pre", "async_success"]
    [main] = v2_host.provider.main_calls()
    assert main.kwargs["stream_options"] == {"include_usage": True}


@pytest.mark.slow
@pytest.mark.parametrize("v2_host", ["v2-responses"], indirect=True)
async def test_v2_responses_turns_continue_the_stored_response(
    v2_host: FakeHost, litellm_events: Events
) -> None:
    """Responses mode: `aresponses` read to its end (success callbacks, no pre-call hook),
    and the next step of the same model sends `previous_response_id`."""
    script_basic(v2_host, RESPOND.replace("response", "code_execution_tool") % "x", RESPOND % "ok")
    context = v2_host.new_context()
    assert await v2_host.send(context, "hi") == "ok"
    await asyncio.sleep(0.3)
    result = context.agent0.last_llm_result
    assert (result.mode, result.usage["input_tokens"] > 0) == ("responses", True)
    first, second = v2_host.provider.main_calls()
    assert first.kwargs["previous_response_id"] is None
    assert second.kwargs["previous_response_id"] == result.previous_response_id != ""
    assert "pre" not in litellm_events.kinds("gpt-4o")
    assert "async_success" in litellm_events.kinds("gpt-4o")


@pytest.mark.slow
@pytest.mark.parametrize("v2_host", ["v2"], indirect=True)
async def test_v2_has_no_browser_model_and_a_parallel_worker_names_its_parent(
    v2_host: FakeHost,
) -> None:
    """v2 removed `Agent.get_browser_model`; a `parallel` job runs in its own context whose
    data holds the parent chat id."""
    assert not hasattr(v2_host.agent.Agent, "get_browser_model")
    seen: list[Any] = []
    point = v2_host.root / "usr" / "extensions" / "python" / "tool_execute_before"
    write(
        point / "_50_seen.py",
        extension_file(
            "Seen",
            "import builtins; builtins.SEEN.append((self.agent.context.id, "
            "self.agent.context.get_data('_parallel_parent_context_id')))",
        ),
    )
    import builtins

    builtins.SEEN = seen  # type: ignore[attr-defined]
    try:
        job = {"tool_name": "code_execution_tool", "tool_args": {"code": "1"}}
        script_basic(v2_host, json.dumps({"tool_name": "parallel", "tool_args": {"jobs": [job]}}))
        v2_host.provider.script("gpt-4o", RESPOND % "ok")
        context = v2_host.new_context()
        assert await v2_host.send(context, "hi") == "ok"
    finally:
        del builtins.SEEN  # type: ignore[attr-defined]
    parent, worker, _final = seen
    assert parent == (context.id, None)
    assert worker[0] != context.id
    assert worker[1] == context.id


async def test_the_memory_plugin_embeds_at_monologue_start_with_its_own_shared_embedder(
    bare_host: FakeHost,
) -> None:
    """Probe and knowledge preload run once per process at the first `monologue_start`,
    through an embedder built by `models.get_embedding_model`, shared by later chats."""
    from plugins._memory.helpers.memory import Memory

    script_basic(bare_host, RESPOND % "one")
    await bare_host.send(bare_host.new_context(), "hi")
    embedder = Memory.embedder
    assert bare_host.provider.embedding_calls[:2] == [["example"], Memory.texts]
    bare_host.provider.script("gpt-4o-mini", "Another title", "memory fragments")
    bare_host.provider.script("gpt-4o", RESPOND % "two")
    await bare_host.send(bare_host.new_context(), "hello")
    assert Memory.embedder is embedder
    assert len(bare_host.provider.embedding_calls) == 4  # probe, preload, one recall per chat
