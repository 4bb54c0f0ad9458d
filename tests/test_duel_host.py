"""Duel mode in the fake Agent Zero: a cheap main step is also answered by the strong tier."""

from __future__ import annotations

import asyncio
from typing import Any

import litellm
import pytest
from fakehost import FakeHost, fake_host, respond, tool_call

from agent_routing.host import _duel as host_duel

__all__ = ["fake_host"]

SIMPLE = "What is 2+2?"


async def test_duel_runs_the_strong_tier_and_records_both_outcomes(
    fake_host: FakeHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With share 1 every cheap main step is dueled: strong answer recorded, never executed."""
    seen: list[dict[str, Any]] = []

    async def mocked(**kwargs: Any) -> Any:
        seen.append(kwargs)
        reply = '{"tool_name": "response", "tool_args": {"text": "4"}}'
        return await litellm.acompletion(mock_response=reply, **kwargs)

    monkeypatch.setattr(host_duel, "COMPLETION", mocked)
    fake_host.configure(
        {"router": {"analyzer": "text", "thresholds": [0.99],
                    "duel": {"enabled": True, "share": 1.0, "budget_usd": 5.0}}}
    )  # fmt: skip
    fake_host.provider.script_main(
        tool_call("code_execution_tool", code="print(2+2)"), respond("4")
    )
    assert await fake_host.send(fake_host.new_context(), SIMPLE) == "4"
    for _ in range(400):  # the duels run on the host's loop thread: wait up to 20 s
        if not host_duel._TASKS:
            break
        await asyncio.sleep(0.05)
    ledger = await fake_host.ledger()
    duels = [d for d in ledger.decisions if d.strategy == "duel"]
    routed = {d.id: d for d in ledger.decisions if d.call_kind == "chat" and d.strategy != "duel"}
    assert len(duels) == 2  # both main steps went to the cheap tier and were dueled
    assert seen
    assert all(call["model"] == "openai/gpt-4o" for call in seen)  # the strongest tier
    for record in duels:
        assert record.extra["duel_of"] in routed
        assert record.extra["cheap"]["model"] == routed[record.extra["duel_of"]].chosen_model
        assert record.extra["strong"]["model"] == "openai/gpt-4o"
        assert record.extra["strong"]["tool_call_parsed"] is True
        assert record.extra["cheap"]["tool_call_parsed"] is True
        assert record.extra["verdict"]["judged_by"] == "signals"
        assert record.extra["benefit"] == 0  # the cheap step's tool call parsed and succeeded
    assert len(ledger.calls_of("duel")) == 2
    assert len(fake_host.provider.main_calls()) == 2  # the strong answers were not executed


async def test_the_agent_profile_reaches_the_text_analyzer(fake_host: FakeHost) -> None:
    """The host passes the agent's profile, so the text analyzer can learn a rate per profile."""
    fake_host.configure({"router": {"analyzer": "text"}})
    fake_host.provider.script_main(respond("4"))
    assert await fake_host.send(fake_host.new_context(), SIMPLE) == "4"
    ledger = await fake_host.ledger()
    (chat,) = [d for d in ledger.decisions if d.call_kind == "chat"]
    profiles = [k for k in chat.extra["features"] if k.startswith("cat:profile=")]
    assert profiles == ["cat:profile=agent0"]
