"""Budgets inside Agent Zero: a block ends the turn cleanly; the agent can be told what is left."""

from __future__ import annotations

from fakehost import FakeHost, fake_host, respond, tool_call

from agent_routing.host.failures import BLOCK_HEADING

__all__ = ["fake_host"]


async def test_a_block_budget_ends_the_turn_with_a_message(fake_host: FakeHost) -> None:
    """Over a daily block budget no call reaches the provider and the user sees why."""
    fake_host.configure(
        {"budgets": [{"scope": "daily", "limit_usd": 1e-9, "enforcement": "block"}]}
    )
    fake_host.provider.script_main(respond("never sent"))
    context = fake_host.new_context()
    assert await fake_host.send(context, "What is 2+2?") is None
    assert fake_host.provider.calls == []
    errors = [item for item in context.log.logs if item.type == "error"]
    assert [item.heading for item in errors] == [BLOCK_HEADING]
    assert "budget daily:*" in errors[0].content
    assert "Raise the limit" in errors[0].content
    assert not [item for item in context.log.logs if item.heading.startswith("Critical error")]


async def test_a_block_mid_task_stops_before_the_next_call(fake_host: FakeHost) -> None:
    """A budget exhausted by earlier calls stops the task at the next call, not later."""
    fake_host.configure(
        {"budgets": [{"scope": "conversation", "limit_usd": 0.004, "enforcement": "block"}]}
    )
    fake_host.provider.script_main(
        *[tool_call("code_execution_tool", code="dump 300") for _ in range(8)],
        respond("finished"),
    )
    context = fake_host.new_context()
    assert await fake_host.send(context, "Do the long job.") is None
    made = len(fake_host.provider.main_calls())
    assert 2 <= made < 9  # some steps ran, then the budget stopped the task
    ledger = await fake_host.ledger()
    spent = sum(c.cost_usd or 0.0 for c in ledger.calls if c.conversation_id == context.id)
    assert spent <= 0.004
    assert [item.heading for item in context.log.logs if item.type == "error"] == [BLOCK_HEADING]


async def test_the_remaining_budget_can_be_shown_in_the_system_prompt(fake_host: FakeHost) -> None:
    """budget_in_system_prompt adds one line with the tightest remaining budget."""
    fake_host.configure(
        {
            "budget_in_system_prompt": True,
            "budgets": [
                {"scope": "daily", "limit_usd": 5.0, "enforcement": "warn"},
                {"scope": "monthly", "limit_usd": 50.0, "enforcement": "block"},
            ],
        }
    )
    fake_host.provider.script_main(respond("ok"))
    await fake_host.send(fake_host.new_context(), "What is 2+2?")
    system = fake_host.provider.main_calls()[0].messages[0]["content"]
    lines = [line for line in system.splitlines() if line.startswith("Budget: $")]
    assert len(lines) == 1
    assert "of $5.00 (daily)" in lines[0]


async def test_no_budget_line_unless_asked(fake_host: FakeHost) -> None:
    """The budget line is opt-in: with budgets but the flag off, the prompt has none."""
    fake_host.configure({"budgets": [{"scope": "daily", "limit_usd": 5.0}]})
    fake_host.provider.script_main(respond("ok"))
    await fake_host.send(fake_host.new_context(), "What is 2+2?")
    assert "Budget: $" not in fake_host.provider.main_calls()[0].messages[0]["content"]


async def test_an_unpriced_model_cannot_pass_a_block_budget(fake_host: FakeHost) -> None:
    """Routing is off for a model litellm cannot price, but a block budget still refuses it."""
    fake_host.configure_models(chat_model={"provider": "ollama", "name": "my-local-llm"})
    fake_host.configure(
        {"budgets": [{"scope": "daily", "limit_usd": 100.0, "enforcement": "block"}]}
    )
    fake_host.provider.script_main(respond("never sent"))
    context = fake_host.new_context()
    assert await fake_host.send(context, "What is 2+2?") is None
    assert fake_host.provider.main_calls() == []
    assert [item.heading for item in context.log.logs if item.type == "error"] == [BLOCK_HEADING]
