"""The router gets the main prompt's size from the host's own counts, not a recount."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from fakehost import FakeHost, fake_host, respond, tool_call

from agent_routing.host._context_size import MARK_KEY, host_input_tokens

__all__ = ["fake_host"]


class PromptSizes:
    """Wraps the host's `prepare_prompt` to note each prompt's ctx_window tokens and counter."""

    def __init__(self, host: FakeHost, monkeypatch: pytest.MonkeyPatch) -> None:
        self.seen: list[tuple[int, int]] = []  # (ctx_window tokens, history.counter)
        original = host.agent.Agent.prepare_prompt

        async def prepare_prompt(agent: Any, loop_data: Any) -> Any:
            prompt = await original(agent, loop_data)
            self.seen.append((agent.get_data("ctx_window")["tokens"], agent.history.counter))
            return prompt

        monkeypatch.setattr(host.agent.Agent, "prepare_prompt", prepare_prompt)


def stored_tokens(agent: Any) -> list[int]:
    """`Message.tokens` of every stored message, oldest first (the fake never compresses)."""
    history = agent.history
    return [m.tokens for topic in [*history.topics, history.current] for m in topic.messages]


async def test_each_step_after_the_first_is_sized_from_the_hosts_counts(
    fake_host: FakeHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Step n's input = the previous prompt's ctx_window tokens + the messages stored since.

    This holds across a second user message (a new monologue) too; only the chat's very
    first step, with no previous prompt, is counted by the router as before.
    """
    sizes = PromptSizes(fake_host, monkeypatch)
    fake_host.provider.script_main(
        tool_call("code_execution_tool", code="dump 50"),
        respond("first done"),
        tool_call("code_execution_tool", code="print(2)"),
        respond("second done"),
    )
    context = fake_host.new_context()
    await fake_host.send(context, "Check the worker log.")
    await fake_host.send(context, "And print two.")

    tokens = stored_tokens(context.agent0)
    expected = [
        window + sum(tokens[counter : sizes.seen[step + 1][1]])
        for step, (window, counter) in enumerate(sizes.seen[:-1])
    ]
    decisions = [d for d in (await fake_host.ledger()).decisions if d.call_kind == "chat"]
    routed = [d.extra["input_tokens"] for d in decisions]
    assert len(routed) == len(sizes.seen) == 4
    assert routed[1:] == expected
    assert routed[0] > 0  # counted: no previous prompt to start from
    assert expected[0] > sizes.seen[0][0] + 500  # the 50-line tool output was added


def fake_agent(counter: int, window: Any, messages: list[int]) -> Any:
    """An agent with a history of messages of the given token counts and a ctx_window."""
    topic = SimpleNamespace(messages=[SimpleNamespace(tokens=t) for t in messages])
    history = SimpleNamespace(topics=[], current=topic, counter=counter)
    return SimpleNamespace(history=history, data={"ctx_window": window})


def test_no_host_figure_means_the_router_counts() -> None:
    """First step, no prompt built since the last step, or a history that shrank: None."""
    agent = fake_agent(2, {"text": "x", "tokens": 100}, [10, 20])
    assert host_input_tokens(agent) is None  # nothing to measure from yet
    assert host_input_tokens(agent) is None  # same ctx_window object: no prompt was built
    agent.data["ctx_window"] = {"text": "y", "tokens": 150}
    agent.history.current.messages.append(SimpleNamespace(tokens=7))
    agent.history.counter = 3
    assert host_input_tokens(agent) == 157
    agent.data["ctx_window"] = {"text": "z", "tokens": 160}
    agent.history.counter = 1  # the history was replaced (chat reset)
    assert host_input_tokens(agent) is None
    agent.data["ctx_window"] = {"text": "w", "tokens": "many"}
    agent.history.counter = 2
    assert host_input_tokens(agent) is None  # not a count
    assert isinstance(agent.data[MARK_KEY].counter, int)
