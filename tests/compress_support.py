"""Builders of agent conversations for the compression tests (no tests in this module).

Conversations are made, not copied from the shared data: each turn is an assistant tool call
and a tool output of many lines holding paths, identifiers, numbers and an error, like a
terminal session of a coding agent.
"""

from __future__ import annotations

import json
from typing import Any

from agent_routing.config import PriceOverride, Settings

SYSTEM = "You are a careful coding agent. Use the tools to fix the bug, then reply."
TASK = "Fix the failing test in src/calc/divide.py: ZeroDivisionError in divide_numbers."


def tool_output(turn: int, lines: int = 60) -> str:
    """A long, distinct terminal output for `turn`."""
    rows = [f"$ pytest tests/test_calc_{turn}.py -q"]
    for index in range(lines):
        rows.append(
            f"tests/test_calc_{turn}.py::test_case_{index} PASSED "
            f"[value_{turn}_{index} = {1000 + turn * 100 + index}]"
        )
    rows.insert(lines // 2, f"E   ZeroDivisionError: division by zero in divide_numbers_{turn}")
    rows.append(f"{lines} passed, 1 failed in {turn}.42s")
    return "\n".join(rows)


def chat_conversation(turns: int, lines: int = 60) -> list[dict[str, Any]]:
    """OpenAI-style messages: system, task, then `turns` tool-call turns."""
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": TASK},
    ]
    for turn in range(turns):
        call_id = f"call_{turn:04d}"
        messages.append(
            {
                "role": "assistant",
                "content": f"<think>Turn {turn}: I should run the tests again.</think>"
                f"Running the tests for step {turn}.",
                "tool_calls": [
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {
                            "name": "bash",
                            "arguments": json.dumps({"cmd": f"pytest tests/test_calc_{turn}.py"}),
                        },
                    }
                ],
            }
        )
        messages.append(
            {"role": "tool", "tool_call_id": call_id, "content": tool_output(turn, lines)}
        )
    return messages


def a0_reply(turn: int) -> str:
    """An Agent Zero assistant reply: JSON with thoughts, headline, tool name and args."""
    return json.dumps(
        {
            "thoughts": [f"Step {turn}: the tests still fail", "I will run them again"],
            "headline": f"Running tests, step {turn}",
            "tool_name": "code_execution_tool",
            "tool_args": {"runtime": "terminal", "code": f"pytest tests/test_calc_{turn}.py"},
        },
        indent=4,
    )


def a0_history(turns: int, lines: int = 60) -> list[dict[str, Any]]:
    """Agent Zero `history_output`: the task, then AI replies and tool-result dicts."""
    history: list[dict[str, Any]] = [{"ai": False, "content": {"user_message": TASK}}]
    for turn in range(turns):
        history.append({"ai": True, "content": a0_reply(turn)})
        history.append(
            {
                "ai": False,
                "content": {
                    "tool_name": "code_execution_tool",
                    "tool_result": tool_output(turn, lines),
                    "meta": {"exit_code": 1, "nested": [turn, {"deep": "value"}]},
                },
            }
        )
    return history


def priced_settings(
    *,
    input_per_mtok: float = 3.0,
    window: int = 20_000,
    cache_read_per_mtok: float | None = 0.3,
    **compression: Any,
) -> Settings:
    """Settings pricing the model "test/dear" as given (a price override, not litellm's map)."""
    override = PriceOverride(
        input_cost_per_token=input_per_mtok / 1e6,
        output_cost_per_token=input_per_mtok * 5 / 1e6,
        cache_read_input_token_cost=None
        if cache_read_per_mtok is None
        else cache_read_per_mtok / 1e6,
        max_input_tokens=window,
    )
    return Settings.model_validate(
        {"prices": {"test/dear": override.model_dump()}, "compression": compression}
    )
