"""The plugin's small translations from host objects, checked one by one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from agent_routing.config import CallKind, Settings, TierConfig
from agent_routing.errors import BudgetBlockedError
from agent_routing.host import _attribution as attribution
from agent_routing.host._messages import (
    content_text,
    is_tool_request,
    looks_like_tool_error,
    to_litellm_messages,
    unified_call_messages,
)
from agent_routing.host._tiers import effective_tiers, host_tiers, split_model
from agent_routing.host.failures import block_message, budget_block, is_budget_stop


@dataclass
class Msg:
    type: str
    content: Any


@dataclass
class Ctx:
    id: str = "chat1234"
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class AgentStub:
    number: int = 0
    data: dict[str, Any] = field(default_factory=dict)
    context: Ctx = field(default_factory=Ctx)


@dataclass
class ModelStub:
    model_name: str


def test_the_tool_of_a_call_is_the_innermost_one_up_the_superior_chain() -> None:
    """A subordinate's call carries its own tool, else the superior's tool in progress."""
    parent = AgentStub()
    child = AgentStub(number=1, data={"_superior": parent})
    attribution.set_current_tool(parent, "call_subordinate")
    assert attribution.current_tool(child) == "call_subordinate"
    attribution.set_current_tool(child, "document_query")
    assert attribution.current_tool(child) == "document_query"
    attribution.set_current_tool(child, None)
    attribution.set_current_tool(parent, None)
    assert attribution.current_tool(child) is None


@pytest.mark.parametrize(
    ("system", "message", "kind"),
    [
        ("Create a short chat title for this conversation.", "hi", CallKind.TITLE),
        ("Summarize the following messages.", "...", CallKind.SUMMARIZATION),
        ("Extract memories worth keeping.", "...", CallKind.MEMORY),
        ("You are a helpful assistant.", "Please summarize this.", CallKind.SUMMARIZATION),
        ("You are a helpful assistant.", "Translate to French.", CallKind.UTILITY),
    ],
)
def test_utility_purpose_is_read_from_the_prompt(system: str, message: str, kind: CallKind) -> None:
    """Title, memory and summarisation calls are recognised from their system or message text."""
    assert attribution.utility_call_kind(AgentStub(), system, message) is kind


def test_main_call_kinds() -> None:
    """Agent 0 makes chat calls, subordinates subordinate calls, task contexts scheduled ones."""

    @dataclass
    class TaskType:
        value: str = "task"

    @dataclass
    class TaskCtx(Ctx):
        type: TaskType = field(default_factory=TaskType)

    assert attribution.main_call_kind(AgentStub()) is CallKind.CHAT
    assert attribution.main_call_kind(AgentStub(number=2)) is CallKind.SUBORDINATE
    assert attribution.main_call_kind(AgentStub(context=TaskCtx())) is CallKind.SCHEDULED


def test_messages_convert_like_the_host_sends_them() -> None:
    """LangChain roles map to litellm roles; list contents keep their text parts."""
    messages = [
        Msg("system", "sys"),
        Msg("human", [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": "x"}]),
        Msg("ai", "answer"),
    ]
    assert to_litellm_messages(messages) == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "look"},
        {"role": "assistant", "content": "answer"},
    ]
    assert unified_call_messages({"system_message": "s", "user_message": "u"}) == [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "u"},
    ]
    assert content_text({"raw_content": b"...", "preview": "an image"}) == "an image"


def test_tool_request_and_tool_error_detection() -> None:
    """A reply is a tool call only with a name and non-empty args; tracebacks are errors."""
    assert is_tool_request('sure: {"tool_name": "response", "tool_args": {"text": "hi"}}')
    assert not is_tool_request('{"tool_name": "response", "tool_args": {}}')
    assert not is_tool_request("I will answer in prose.")
    assert looks_like_tool_error("Traceback (most recent call last):\n  ...")
    assert looks_like_tool_error("Tool foo not found. Available tools: ...")
    assert not looks_like_tool_error("ran: print(1)")


def test_host_models_are_the_default_tiers() -> None:
    """No tiers configured: utility (cheap) then chat (strong); configured tiers win."""
    chat, utility = ModelStub("openai/gpt-4o"), ModelStub("openai/gpt-4o-mini")
    assert [(t.name, t.model) for t in host_tiers(chat, utility)] == [
        ("utility", "openai/gpt-4o-mini"),
        ("chat", "openai/gpt-4o"),
    ]
    assert [t.name for t in host_tiers(chat, ModelStub("openai/gpt-4o"))] == ["chat"]
    configured = Settings(tiers=[TierConfig(name="only", model="gpt-4o-mini")])
    assert [t.name for t in effective_tiers(configured, chat, utility)] == ["only"]


@pytest.mark.parametrize(
    ("tier", "expected"),
    [
        (TierConfig(name="a", model="gpt-4o-mini"), ("openai", "gpt-4o-mini")),
        (
            TierConfig(name="b", model="anthropic/claude-3-5-haiku-20241022"),
            ("anthropic", "claude-3-5-haiku-20241022"),
        ),
        (
            TierConfig(name="c", model="openrouter/anthropic/claude-3.5-sonnet"),
            ("openrouter", "anthropic/claude-3.5-sonnet"),
        ),
        (TierConfig(name="d", model="my-model", provider="other"), ("other", "my-model")),
    ],
)
def test_tiers_map_to_agent_zero_provider_and_name(
    tier: TierConfig, expected: tuple[str, str]
) -> None:
    """A tier's litellm id splits into the (provider, name) the host's model factory takes."""
    assert split_model(tier) == expected


def test_a_budget_block_outside_the_host_is_still_a_stop() -> None:
    """Without a host HandledException the block itself is raised, marked as the stop."""
    blocked = BudgetBlockedError(
        "budget daily:* blocks gpt-4o", budget="daily:*", remaining_usd=0.0
    )
    logged: list[tuple[str, str]] = []

    class Log:
        def log(self, type: str, heading: str, content: str) -> None:
            logged.append((heading, content))

    @dataclass
    class LoggingCtx(Ctx):
        log: Log = field(default_factory=Log)
        last_message: float = 1.0

    agent = AgentStub(context=LoggingCtx())
    stop = budget_block(agent, blocked)
    assert is_budget_stop(stop)
    budget_block(agent, blocked)  # a second block in the same turn is not shown again
    assert logged == [("Budget limit reached: this task was stopped", block_message(blocked))]
    assert "Raise the limit" in logged[0][1]


class TurnModel:
    """A host model double for v2: records the kwargs its `unified_turn` receives."""

    def __init__(self, model_name: str) -> None:
        self.model_name, self.provider, self.kwargs = model_name, "openai", {}
        self.seen: dict[str, Any] = {}

    async def unified_turn(self, **kwargs: Any) -> Any:
        from types import SimpleNamespace

        self.seen = kwargs
        return SimpleNamespace(response="ok", reasoning="", usage={}, model=self.model_name)


TURN_KWARGS = {
    "messages": [],
    "previous_response_id": "resp_1",
    "responses_input_items": [{"role": "user", "content": "new"}],
    "responses_local_input_items": [{"role": "user", "content": "all"}],
    "a0_responses_function_tools": [{"type": "function", "name": "response"}],
    "explicit_caching": True,
}


@pytest.mark.parametrize(
    ("hop_model", "continued"), [("openai/gpt-4o", True), ("openai/gpt-4o-mini", False)]
)
async def test_a_turn_hop_keeps_the_continuation_only_for_the_configured_model(
    hop_model: str, continued: bool
) -> None:
    """`previous_response_id`/`responses_input_items` reach a hop of the configured model
    only; every other turn kwarg always passes; the hop's result object comes back as is."""
    from agent_routing.host._routed_model import CallPlan, RoutedChatModel
    from agent_routing.host._tiers import HopModels
    from agent_routing.ids import new_id
    from agent_routing.router import HopCall

    configured = TurnModel("openai/gpt-4o")
    hop = configured if hop_model == configured.model_name else TurnModel(hop_model)
    plan = CallPlan(
        router=None,
        decision=None,
        hops=HopModels({"cheap": lambda: hop}),
        kind=CallKind.CHAT,
        conversation_id="chat-1",
        agent_no=0,
        tool=None,
        on_blocked=lambda blocked: blocked,
    )
    routed = RoutedChatModel(configured, plan)
    call = HopCall(TierConfig(name="cheap", model=hop_model), 0, new_id(), None, {})
    result = await routed._attempt(call, "unified_turn", dict(TURN_KWARGS))
    assert result.model == hop_model
    kept = {name for name in TURN_KWARGS if name in hop.seen}
    continuation = {"previous_response_id", "responses_input_items"}
    assert kept == (set(TURN_KWARGS) if continued else set(TURN_KWARGS) - continuation)


def test_the_routed_model_answers_for_the_configured_one_where_it_adds_nothing() -> None:
    """Host code reading another attribute of `call_data["model"]` gets the configured
    model's; what the configured model lacks is still an AttributeError."""
    from agent_routing.host._routed_model import CallPlan, RoutedChatModel
    from agent_routing.host._tiers import HopModels

    configured = TurnModel("openai/gpt-4o")
    configured.ctx_length = 128000  # type: ignore[attr-defined]
    plan = CallPlan(
        router=None,
        decision=None,
        hops=HopModels({}),
        kind=CallKind.CHAT,
        conversation_id=None,
        agent_no=None,
        tool=None,
        on_blocked=lambda blocked: blocked,
    )
    routed = RoutedChatModel(configured, plan)
    assert routed.ctx_length == 128000
    assert routed.model_name == "openai/gpt-4o"
    with pytest.raises(AttributeError):
        _ = routed.no_such_thing
