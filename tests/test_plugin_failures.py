"""Every adapter contains its own failures: an exception inside it never stops the agent."""

from __future__ import annotations

import inspect
import logging
from typing import Any

import pytest
from fakehost import FakeHost, fake_host, respond, tool_call

from agent_routing.host import call_scope, compress, prompts, routing, signals, switch

__all__ = ["fake_host"]

# (module, function) called by each extension file (and the switch_model tool).
ADAPTER_CALLS = [
    (routing, "route_iteration"),
    (routing, "mark_main_call"),
    (routing, "route_chat_call"),
    (routing, "route_utility_call"),
    (signals, "observe_reply"),
    (signals, "tool_started"),
    (signals, "tool_finished"),
    (signals, "iteration_ended"),
    (signals, "monologue_ended"),
    (compress, "compress_prompt"),
    (prompts, "register_tool_prompt"),
    (prompts, "add_budget_line"),
    (call_scope, "start_capture"),
    (call_scope, "monologue_started"),
    (call_scope, "enter_agent"),
    (switch, "switch_model"),
]


def _raiser(original: Any) -> Any:
    if inspect.iscoroutinefunction(original):

        async def failing_async(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("injected failure")

        return failing_async

    def failing(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("injected failure")

    return failing


@pytest.mark.parametrize(("module", "name"), ADAPTER_CALLS, ids=[n for _, n in ADAPTER_CALLS])
async def test_the_loop_completes_when_an_adapter_raises(
    fake_host: FakeHost,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    module: Any,
    name: str,
) -> None:
    """With one adapter failing on every call, the chat still reaches its final answer."""
    monkeypatch.setattr(module, name, _raiser(getattr(module, name)))
    fake_host.configure({"budget_in_system_prompt": True})
    fake_host.provider.script_main(
        tool_call("switch_model", tier="chat", reason="test"),
        tool_call("browser_agent", message="open example.com"),
        respond("done"),
    )
    context = fake_host.new_context()
    with caplog.at_level(logging.ERROR, logger="agent_routing.host"):
        assert await fake_host.send(context, "What is 2+2?") == "done"
    assert any("(the agent continues)" in r.getMessage() for r in caplog.records)
    assert not [item for item in context.log.logs if item.type == "error"]
