"""Streamed Chat Completions calls ask for the provider's usage (`capture.stream_usage`).

Agent Zero never sets `stream_options`; the plugin adds `{"include_usage": True}` to a
streamed Chat Completions hop when litellm says the provider supports it, reads the stream
past the host's cut at the tool JSON so the usage chunk arrives, and the ledger then holds
the provider's usage (cached prompt tokens included) priced at cache-read rates.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakehost import FakeHost, make_host, respond

from agent_routing.host._stream_usage import StreamDrain, with_stream_usage
from agent_routing.records import UsageSource

USAGE = {
    "prompt_tokens": 3000,
    "completion_tokens": 40,
    "total_tokens": 3040,
    "prompt_tokens_details": {"cached_tokens": 2048},
}
INCLUDE = {"include_usage": True}
OFF = {"router": {"enabled": False}}


@pytest.fixture(params=["v1.7", pytest.param("v2-chat", marks=pytest.mark.slow)])
def fake_host(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[FakeHost]:
    """The hosts that cut a main step's stream at its tool JSON and never ask for usage:
    v1.7 and v2 as of July 2026 in Chat Completions mode (the real trees measured)."""
    host = make_host(tmp_path, mode=request.param)
    try:
        yield host
    finally:
        host.close()


def chat_mode(host: FakeHost, **model: Any) -> None:
    """Chat Completions for the main model on either version (v2 needs `a0_api_mode`)."""
    kwargs = {"a0_api_mode": "chat_completions"} if host.is_v2 else {}
    host.configure_models(
        chat_model={"provider": "openai", "name": "gpt-4o", "kwargs": kwargs, **model}
    )


async def test_streamed_main_step_records_provider_usage_with_cached_tokens(
    fake_host: FakeHost,
) -> None:
    """A streamed main step cut at its tool JSON gets include_usage, is read to its end,
    answers as before, and its row holds the provider's usage priced at cache-read rates."""
    chat_mode(fake_host)
    fake_host.configure(OFF)
    fake_host.provider.script_main(respond("4") + " and words after the tool JSON")
    fake_host.provider.script_stream_usage(USAGE)
    assert await fake_host.send(fake_host.new_context(), "What is 2+2?") == "4"
    (main,) = fake_host.provider.main_calls()
    assert main.kwargs.get("stream_options") == INCLUDE
    (row,) = (await fake_host.ledger()).calls_of("chat")
    assert row.usage_source is UsageSource.PROVIDER
    assert row.usage is not None
    assert (row.usage.input_tokens, row.usage.cached_read_tokens) == (3000, 2048)
    # gpt-4o: $2.50 / M input, $1.25 / M cached input, $10 / M output
    assert row.cost_usd == pytest.approx(952 * 2.5e-6 + 2048 * 1.25e-6 + 40 * 10e-6)


async def test_the_tool_call_after_a_drained_step_still_runs(fake_host: FakeHost) -> None:
    """Reading past the tool JSON changes nothing the agent sees: the tool runs, the next
    step answers, and each main row has the provider's usage."""
    chat_mode(fake_host)
    fake_host.configure(OFF)
    fake_host.provider.script_main(
        respond("first"),
    )
    fake_host.provider.script_stream_usage(USAGE)
    context = fake_host.new_context()
    assert await fake_host.send(context, "Say first.") == "first"
    fake_host.provider.script_main(respond("second"))
    fake_host.provider.script_stream_usage({**USAGE, "prompt_tokens": 3100})
    assert await fake_host.send(context, "Say second.") == "second"
    rows = (await fake_host.ledger()).calls_of("chat")
    assert [r.usage.input_tokens for r in rows if r.usage] == [3000, 3100]


async def test_setting_off_leaves_the_call_as_the_host_built_it(fake_host: FakeHost) -> None:
    """With `capture.stream_usage: false` no stream_options is sent and the row is litellm's
    own count, without cached tokens."""
    chat_mode(fake_host)
    fake_host.configure({**OFF, "capture": {"stream_usage": False}})
    fake_host.provider.script_main(respond("4"))
    fake_host.provider.script_stream_usage(USAGE)
    assert await fake_host.send(fake_host.new_context(), "What is 2+2?") == "4"
    (main,) = fake_host.provider.main_calls()
    assert "stream_options" not in main.kwargs
    (row,) = (await fake_host.ledger()).calls_of("chat")
    assert row.usage is None or row.usage.cached_read_tokens == 0


async def test_caller_stream_options_are_untouched(fake_host: FakeHost) -> None:
    """A model whose own kwargs set stream_options keeps exactly that value."""
    chat_mode(fake_host)
    kwargs = {"stream_options": {"include_usage": False}}
    if fake_host.is_v2:
        kwargs["a0_api_mode"] = "chat_completions"
    fake_host.configure_models(
        chat_model={"provider": "openai", "name": "gpt-4o", "kwargs": kwargs}
    )
    fake_host.configure(OFF)
    fake_host.provider.script_main(respond("4"))
    assert await fake_host.send(fake_host.new_context(), "What is 2+2?") == "4"
    (main,) = fake_host.provider.main_calls()
    assert main.kwargs.get("stream_options") == {"include_usage": False}


async def test_provider_without_stream_options_gets_no_such_kwarg(fake_host: FakeHost) -> None:
    """Anthropic (litellm lists no stream_options for it) is called as the host built it."""
    kwargs = {"a0_api_mode": "chat_completions"} if fake_host.is_v2 else {}
    fake_host.configure_models(
        chat_model={"provider": "anthropic", "name": "claude-sonnet-4-20250514", "kwargs": kwargs}
    )
    fake_host.configure(OFF)
    fake_host.provider.script_main(respond("4"))
    assert await fake_host.send(fake_host.new_context(), "What is 2+2?") == "4"
    (main,) = fake_host.provider.main_calls()
    assert main.model.startswith("anthropic/")
    assert "stream_options" not in main.kwargs


@pytest.mark.slow
async def test_responses_mode_never_gets_stream_options(tmp_path: Path) -> None:
    """v2's Responses API transport (its default) is never sent stream_options."""
    host = make_host(tmp_path, mode="v2-responses")
    try:
        host.configure(OFF)
        host.provider.script_main(respond("4"))
        assert await host.send(host.new_context(), "What is 2+2?") == "4"
        (main,) = host.provider.main_calls()
        assert "stream_options" not in main.kwargs
    finally:
        host.close()


class _Model:
    """A host model as the plugin sees it (name, provider, kwargs)."""

    def __init__(self, name: str, provider: str, **kwargs: Any) -> None:
        self.model_name, self.provider, self.kwargs = name, provider, kwargs


async def _noop(*args: Any) -> None:
    return None


def test_a_failure_while_deciding_sends_the_call_unchanged() -> None:
    """A model whose name breaks litellm's lookup gets its kwargs back, the same object."""

    class Broken(_Model):
        @property
        def model_name(self) -> str:  # type: ignore[override]
            raise RuntimeError("boom")

        @model_name.setter
        def model_name(self, value: str) -> None:
            pass

    kwargs: dict[str, Any] = {"response_callback": _noop}
    assert with_stream_usage(Broken("x", "openai"), "unified_call", kwargs) is kwargs
    good = with_stream_usage(_Model("openai/gpt-4o", "openai"), "unified_call", kwargs)
    assert good == {**kwargs, "stream_options": INCLUDE}


def test_unstreamed_calls_are_left_alone() -> None:
    """A call without stream callbacks carries its usage already: nothing is added."""
    kwargs: dict[str, Any] = {"response_callback": None}
    assert with_stream_usage(_Model("openai/gpt-4o", "openai"), "unified_call", kwargs) is kwargs


async def test_the_drain_hides_everything_after_the_accepted_answer() -> None:
    """After the host's callback accepts an answer, later deltas never reach the host and
    the result carries the accepted answer, not the text read after it."""
    seen: list[str] = []

    async def host_callback(delta: str, full: str) -> str | None:
        seen.append(delta)
        return "accepted" if "}" in delta else None

    drain = StreamDrain()
    wrapped = drain.wrap({"response_callback": host_callback})["response_callback"]
    assert [await wrapped(d, "") for d in ("{a", "b}", "tail")] == [None, None, None]
    assert seen == ["{a", "b}"]
    assert drain.restore("unified_call", ("{ab}tail", "why")) == ("accepted", "why")


@pytest.mark.slow
async def test_a_host_that_drains_itself_still_gets_the_accepted_answer(tmp_path: Path) -> None:
    """Later v2 (its `_context_window` also reads the stream to its end) with the plugin's
    drain inside it: the step answers the accepted text and the row has the usage."""
    host = make_host(tmp_path, mode="v2")
    try:
        chat_mode(host)
        host.configure(OFF)
        host.provider.script_main(respond("4") + " trailing words after the tool JSON")
        host.provider.script_stream_usage(USAGE)
        assert await host.send(host.new_context(), "What is 2+2?") == "4"
        (main,) = host.provider.main_calls()
        assert main.kwargs.get("stream_options") == INCLUDE
        (row,) = (await host.ledger()).calls_of("chat")
        assert row.usage is not None
        assert row.usage.cached_read_tokens == 2048
    finally:
        host.close()


class _BreakingStream:
    """A v1.7 host model double whose stream shows reasoning and a tool JSON, then breaks
    (the connection drops while the plugin reads on for the usage chunk)."""

    def __init__(self, accept: bool) -> None:
        self.model_name, self.provider, self.kwargs = "openai/gpt-4o", "openai", {}
        self.accept = accept
        self.seen: dict[str, Any] = {}

    async def unified_call(self, **kwargs: Any) -> tuple[str, str]:
        self.seen = kwargs
        await kwargs["reasoning_callback"]("why", "why")
        full = ""
        for delta in ('{"tool_name": "response"', "}" if self.accept else " ..."):
            full += delta
            await kwargs["response_callback"](delta, full)
        raise ConnectionError("connection reset by peer")


@pytest.mark.parametrize("accept", [True, False])
async def test_a_stream_broken_after_the_accepted_answer_still_answers(accept: bool) -> None:
    """Read on only for its usage, a stream that breaks after the host accepted its answer
    returns that answer (and its reasoning) as Agent Zero would have; one that breaks
    before any answer was accepted is still the step's error."""
    from agent_routing.config import CallKind, TierConfig
    from agent_routing.host._routed_model import CallPlan, RoutedChatModel
    from agent_routing.host._tiers import HopModels
    from agent_routing.ids import new_id
    from agent_routing.router import HopCall

    model = _BreakingStream(accept)
    plan = CallPlan(
        router=None,
        decision=None,
        hops=HopModels({"main": lambda: model}),
        kind=CallKind.CHAT,
        conversation_id="chat-1",
        agent_no=0,
        tool=None,
        on_blocked=lambda blocked: blocked,
    )

    async def host_callback(delta: str, full: str) -> str | None:
        return full if full.endswith("}") else None

    async def reasoning_callback(delta: str, full: str) -> None:
        return None

    kwargs = {"messages": [], "response_callback": host_callback}
    kwargs["reasoning_callback"] = reasoning_callback
    call = HopCall(TierConfig(name="main", model="openai/gpt-4o"), 0, new_id(), None, {})
    attempt = RoutedChatModel(model, plan)._attempt(call, "unified_call", kwargs)
    if accept:
        assert await attempt == ('{"tool_name": "response"}', "why")
        assert model.seen["stream_options"] == INCLUDE
    else:
        with pytest.raises(Exception, match="connection reset"):
            await attempt
