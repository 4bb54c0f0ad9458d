"""The plugin on both Agent Zero versions: v1.7 and v2 (both transports), fake host.

Each test says which host modes it runs on: `fake_host` runs v1.7 and v2 (later upstream:
Chat Completions with the usage drain); tests about a v2 transport build their own host.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakehost import (
    BOTH_VERSIONS,
    V2_TRANSPORTS,
    FakeHost,
    fake_host,
    make_host,
    respond,
    tool_call,
)

from agent_routing.records import Outcome, UsageSource

__all__ = ["fake_host"]

SIMPLE = "What is 2+2?"
HARD = (
    "Prove that there are infinitely many primes p such that p+2 is also prime, or explain "
    "precisely why this is open, then implement a concurrent lock-free skip list in Rust with "
    "memory reclamation via epochs and a formal linearizability argument."
)
ROUTER = {"router": {"thresholds": [0.45]}}


@pytest.fixture
def host_in(tmp_path: Path) -> Iterator[Any]:
    """`host_in(mode)`: a fake host playing `mode`, closed after the test."""
    made: list[FakeHost] = []

    def build(mode: str) -> FakeHost:
        host = make_host(tmp_path / f"host-{len(made)}", mode=mode)
        made.append(host)
        return host

    try:
        yield build
    finally:
        for host in made:
            host.close()


def main_models(host: FakeHost) -> list[str]:
    return [call.model for call in host.provider.main_calls()]


def host_llm_calls(host: FakeHost) -> int:
    """Every LLM request the host sent: completions/responses (failed ones too) + embeddings."""
    return len(host.provider.calls) + len(host.provider.embedding_calls)


async def test_a_main_step_routed_to_another_tier_returns_the_hops_result(
    fake_host: FakeHost,
) -> None:
    """A simple step goes to the cheap tier; the host gets that hop's own result (v2: its
    LLMResult, named after the hop's model) and the row names the hop's model."""
    fake_host.configure(ROUTER)
    reply = respond("4")
    fake_host.provider.script_main(reply)
    context = fake_host.new_context()
    assert await fake_host.send(context, SIMPLE) == "4"
    assert main_models(fake_host) == ["openai/gpt-4o-mini"]
    if fake_host.is_v2:
        from helpers.llm_result import LLMResult

        result = context.agent0.last_llm_result
        assert isinstance(result, LLMResult)
        assert (result.provider_model_key, result.response) == ("openai/gpt-4o-mini", reply)
    [row] = (await fake_host.ledger()).calls_of("chat")
    assert (row.model, row.tier, row.outcome) == ("openai/gpt-4o-mini", "utility", Outcome.OK)


def _timeout() -> Exception:
    import litellm

    return litellm.Timeout(message="mock timeout", model="gpt-4o-mini", llm_provider="openai")


def _connection() -> Exception:
    import litellm

    return litellm.APIConnectionError(
        message="mock connection reset", llm_provider="openai", model="gpt-4o-mini"
    )


def _unavailable() -> Exception:
    import litellm

    return litellm.ServiceUnavailableError(
        message="mock overloaded", llm_provider="openai", model="gpt-4o-mini"
    )


ERRORS = [
    ("litellm.RateLimitError", Outcome.RATE_LIMITED),
    ("litellm.InternalServerError", None),
    (_unavailable, None),
    (_timeout, None),
    (_connection, None),
]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["v1.7", "v2", "v2-responses"])
@pytest.mark.parametrize(("error", "outcome"), ERRORS, ids=lambda v: getattr(v, "__name__", v))
async def test_each_error_class_falls_back_to_the_next_tier(
    host_in: Any, mode: str, error: Any, outcome: Outcome | None
) -> None:
    """A failing cheap hop (429, 500, 503, timeout, connection) moves the main
    step to the next tier through the same method (v2: `unified_turn`); both hops are rows."""
    host = host_in(mode)
    host.configure(ROUTER)
    host.provider.script_main(error() if callable(error) else error, respond("4"))
    assert await host.send(host.new_context(), SIMPLE) == "4"
    assert main_models(host) == ["openai/gpt-4o-mini", "openai/gpt-4o"]
    first, second = (await host.ledger()).calls_of("chat")
    assert (first.model, first.attempt) == ("openai/gpt-4o-mini", 0)
    assert first.outcome not in {Outcome.OK, Outcome.PENDING}
    if outcome is not None and mode != "v2-responses":  # litellm's Responses mock reports
        assert first.outcome is outcome  # every failure as a server error (fake_a0/models.py)
    assert (second.model, second.attempt, second.outcome) == ("openai/gpt-4o", 1, Outcome.OK)
    assert first.decision_id == second.decision_id
    if host.is_v2:
        assert context_result_model(host) == "openai/gpt-4o"


def context_result_model(host: FakeHost) -> str:
    from agent import AgentContext

    agents = [ctx.agent0 for ctx in AgentContext._contexts.values()]
    return str(agents[-1].last_llm_result.provider_model_key)


@pytest.mark.slow
async def test_responses_continuation_is_kept_for_the_same_model_and_dropped_for_another(
    host_in: Any,
) -> None:
    """v2 Responses: a second step on the configured model continues its stored response;
    a step switched to another model sends no `previous_response_id` (and the full prompt)."""
    host = host_in("v2-responses")
    host.configure(ROUTER)
    host.provider.script_main(
        tool_call("code_execution_tool", code="cargo new skiplist"),
        tool_call("switch_model", tier="utility", reason="the rest is simple"),
        respond("done"),
    )
    assert await host.send(host.new_context(), HARD) == "done"
    main = host.provider.main_calls()
    assert [c.model for c in main] == ["openai/gpt-4o", "openai/gpt-4o", "openai/gpt-4o-mini"]
    first, second, third = (c.kwargs.get("previous_response_id") for c in main)
    assert first is None
    assert second  # kept: the same model continues its own conversation
    assert third is None  # dropped: gpt-4o-mini cannot continue gpt-4o's stored response


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["v2", "v2-responses"])
async def test_llm_result_usage_is_the_rows_provider_usage_with_cached_tokens_and_cost(
    host_in: Any, mode: str
) -> None:
    """`LLMResult.usage` (cached and reasoning tokens, `cost`) is the main row's provider
    usage and price; one row per call even when litellm's callback reports it too."""
    host = host_in(mode)
    host.configure({"router": {"enabled": False}})
    host.provider.script_main(respond("4"), respond("5"))
    host.provider.script_usage(
        {
            "prompt_tokens": 1500,
            "completion_tokens": 60,
            "prompt_tokens_details": {"cached_tokens": 1024},
            "completion_tokens_details": {"reasoning_tokens": 20},
            "cost": 0.0123,
        },
        {"input_tokens": 900, "output_tokens": 30, "cost": None},
    )
    context = host.new_context()
    await host.send(context, SIMPLE)
    await host.send(context, "And 2+3?")
    rows = (await host.ledger()).calls_of("chat")
    assert len(rows) == len(host.provider.main_calls()) == 2
    priced, unpriced = rows
    assert priced.usage_source is UsageSource.PROVIDER
    assert priced.usage is not None
    assert (priced.usage.input_tokens, priced.usage.output_tokens) == (1500, 60)
    assert (priced.usage.cached_read_tokens, priced.usage.reasoning_tokens) == (1024, 20)
    assert priced.cost_usd == pytest.approx(0.0123)
    assert unpriced.usage is not None
    assert (unpriced.usage.input_tokens, unpriced.usage.output_tokens) == (900, 30)
    assert unpriced.cost_usd == pytest.approx(900 * 2.5e-6 + 30 * 10e-6)  # from our table


async def test_the_first_embeddings_of_the_process_are_recorded_with_their_chat(
    fake_host: FakeHost,
) -> None:
    """The memory plugin's probe and knowledge preload (monologue_start, before any routing
    hook, through its own shared embedder) are rows of the chat that triggered them."""
    fake_host.provider.script_main(respond("ok"))
    context = fake_host.new_context()
    await fake_host.send(context, "Remember that my cat is called Miso.")
    rows = (await fake_host.ledger()).calls_of("embedding")
    assert len(rows) == len(fake_host.provider.embedding_calls) == 3  # probe, preload, recall
    assert {(r.conversation_id, r.agent_no, r.outcome) for r in rows} == {
        (context.id, 0, Outcome.OK)
    }
    first_decision = min(d.created_at for d in (await fake_host.ledger()).decisions)
    assert sorted(r.started_at for r in rows)[1] < first_decision


async def test_two_chats_in_one_process_never_swap_attribution(fake_host: FakeHost) -> None:
    """Two chats running at once on the host's loop (sharing the memory embedder) each get
    exactly their own rows: one main call, one title, one memorisation, their embeddings."""
    fake_host.provider.script_main(*[respond("ok")] * 2)
    first, second = fake_host.new_context(), fake_host.new_context()
    await asyncio.gather(fake_host.send(first, "Hello there."), fake_host.send(second, "Hi!"))
    ledger = await fake_host.ledger()
    assert len(ledger.calls) == host_llm_calls(fake_host)
    for context in (first, second):
        mine = [c for c in ledger.calls if c.conversation_id == context.id]
        kinds = sorted(c.call_kind for c in mine if c.call_kind != "embedding")
        assert kinds == ["chat", "memory", "title"]
        assert [c for c in mine if c.call_kind == "embedding"]  # at least its recall
    assert {c.conversation_id for c in ledger.calls} == {first.id, second.id}


@pytest.mark.slow
async def test_a_parallel_workers_calls_carry_the_parent_chat(host_in: Any) -> None:
    """v2 `parallel`: a document query run as a background job in its own worker context is
    recorded on the parent chat, with its tool, like any other call."""
    host = host_in("v2")
    host.configure(ROUTER)
    job = {"tool_name": "document_query", "tool_args": {"document": "a.pdf", "query": "sum?"}}
    host.provider.script_main(tool_call("parallel", jobs=[job, job]), respond("both done"))
    host.provider.script("gpt-4o", "It is 42.", "It is 42.")
    context = host.new_context()
    assert await host.send(context, SIMPLE) == "both done"
    ledger = await host.ledger()
    assert len(ledger.calls) == host_llm_calls(host)
    assert {c.conversation_id for c in ledger.calls} == {context.id}
    queries = ledger.calls_of("document_query")
    assert len(queries) == 4  # per job: the utility digest and the chat answer
    assert {c.tool for c in queries} == {"document_query"}


@pytest.mark.slow
async def test_a_parallel_subordinate_jobs_calls_are_subordinate_calls_of_the_parent(
    host_in: Any,
) -> None:
    """v2 `parallel` with `call_subordinate`: each job is an isolated child chat whose agent 0
    has no tool in progress; its calls are the parent chat's, kind subordinate, tool
    call_subordinate (found on a real v2 turn: they were recorded as the parent's own main
    `chat` calls with no tool)."""
    host = host_in("v2")
    job = {"tool_name": "call_subordinate", "tool_args": {"message": "2 + 2?"}}
    host.provider.script_main(
        tool_call("parallel", jobs=[job, job]), respond("4"), respond("4"), respond("both: 4")
    )
    context = host.new_context()
    assert await host.send(context, SIMPLE) == "both: 4"
    ledger = await host.ledger()
    assert len(ledger.calls) == host_llm_calls(host)
    assert {c.conversation_id for c in ledger.calls} == {context.id}
    main = [c for c in ledger.calls if c.call_kind in {"chat", "subordinate"}]
    assert sorted((c.call_kind, c.tool) for c in main) == [
        ("chat", None),
        ("chat", None),
        ("subordinate", "call_subordinate"),
        ("subordinate", "call_subordinate"),
    ]


async def test_no_plugin_hook_targets_a_function_the_host_lacks(
    fake_host: FakeHost, caplog: pytest.LogCaptureFixture
) -> None:
    """Every `_functions` hook the plugin installs names a function this host has (v2 has
    no `Agent.get_browser_model`), and a turn through every tool logs no plugin failure."""
    import importlib

    hooks = fake_host.plugin_dir / "extensions" / "python" / "_functions"
    for end in hooks.glob("**/*.py") if hooks.is_dir() else []:
        parts = end.relative_to(hooks).parts[:-2]  # module..., qualname..., start|end, file
        module = importlib.import_module(parts[0])
        target: Any = module
        for name in parts[1:]:
            target = getattr(target, name)
    fake_host.configure(ROUTER)
    fake_host.provider.script_main(
        tool_call("browser_agent", message="open example.com"),
        tool_call("memory_load", query="cat"),
        respond("done"),
    )
    context = fake_host.new_context()
    with caplog.at_level(logging.WARNING, logger="agent_routing"):
        assert await fake_host.send(context, SIMPLE) == "done"
    assert not [r for r in caplog.records if "failed" in r.getMessage()]
    assert not [item for item in context.log.logs if item.type == "error"]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["v1.7", *V2_TRANSPORTS])
async def test_a_real_style_turn_has_one_row_per_llm_call_the_host_made(
    host_in: Any, mode: str
) -> None:
    """Memory load, switch_model, response, with one rate-limited attempt: the ledger has
    exactly one row per request the host sent (failed attempts too), all on the chat, the
    memory search's embedding on its tool."""
    host = host_in(mode)
    host.configure(ROUTER)
    host.provider.script(
        "gpt-4o-mini", "litellm.RateLimitError"
    )  # the first call on the cheap tier (the chat's title) is refused once
    host.provider.script_main(
        tool_call("memory_load", query="cat name"),
        tool_call("switch_model", tier="chat", reason="needs care"),
        respond("Your cat is Miso."),
    )
    context = host.new_context()
    assert await host.send(context, "What is my cat called?") == "Your cat is Miso."
    ledger = await host.ledger()
    assert len(ledger.calls) == host_llm_calls(host)
    assert {c.conversation_id for c in ledger.calls} == {context.id}
    # litellm's Responses mock reports every failure as a server error (fake_a0/models.py)
    refused = Outcome.ERROR if mode == "v2-responses" else Outcome.RATE_LIMITED
    assert [c.outcome for c in ledger.calls if c.outcome is not Outcome.OK] == [refused]
    assert all(c.usage is not None for c in ledger.calls)
    kinds = {c.call_kind for c in ledger.calls}
    assert {"chat", "title", "memory", "embedding"} <= kinds
    searches = [c for c in ledger.calls_of("embedding") if c.tool == "memory_load"]
    assert len(searches) == 1  # the memory tool's own embedding, attributed to the tool
    assert main_models(host)[-1] == "openai/gpt-4o"  # switch_model took effect


@pytest.mark.parametrize("mode", BOTH_VERSIONS)
def test_both_versions_are_what_the_fake_host_plays(host_in: Any, mode: str) -> None:
    """Guard: the parametrized host really is v1.7 (no unified_turn) or v2 (no browser model)."""
    host = host_in(mode)
    wrapper = host.models.LiteLLMChatWrapper
    assert hasattr(wrapper, "unified_turn") is host.is_v2
    assert hasattr(host.agent.Agent, "get_browser_model") is not host.is_v2


SONNET = "anthropic/claude-sonnet-4-20250514"
HAIKU = "anthropic/claude-haiku-4-5-20251001"


@pytest.mark.slow
@pytest.mark.parametrize(("mode", "second_model"), [("v2-responses", SONNET), ("v2-chat", HAIKU)])
async def test_a_chat_holding_provider_state_stays_on_its_tier_unless_switching_pays(
    host_in: Any, mode: str, second_model: str
) -> None:
    """Responses mode: after a step on the configured model (its conversation stored at the
    provider), a simple follow-up stays there, because haiku's full uncached resend costs
    more than sonnet continuing from cached context; in Chat mode it moves to haiku."""
    host = host_in(mode)
    host.configure_models(chat_model={"provider": "anthropic", "name": SONNET.split("/")[1]})
    host.configure(
        {
            **ROUTER,
            "tiers": [{"name": "cheap", "model": HAIKU}, {"name": "strong", "model": SONNET}],
            "reservation": {"output_estimate_tokens": 20},
        }
    )
    host.provider.script_main(respond("a proof sketch"), respond("4"))
    context = host.new_context()
    await host.send(context, HARD)
    await host.send(context, SIMPLE)
    assert main_models(host) == [SONNET, second_model]
    decisions = [d for d in (await host.ledger()).decisions if d.call_kind == "chat"]
    held = "provider state on strong: staying" in decisions[-1].reason
    assert held is (mode == "v2-responses")


@pytest.mark.slow
async def test_a_responses_chat_moves_down_when_the_full_resend_still_pays(host_in: Any) -> None:
    """With the host's own tiers (gpt-4o and gpt-4o-mini) the cheap model's full resend is
    cheaper than gpt-4o's cached continuation: the simple follow-up moves down."""
    host = host_in("v2-responses")
    host.configure(ROUTER)
    host.provider.script_main(respond("a proof sketch"), respond("4"))
    context = host.new_context()
    await host.send(context, HARD)
    await host.send(context, SIMPLE)
    assert main_models(host) == ["openai/gpt-4o", "openai/gpt-4o-mini"]
    decisions = [d for d in (await host.ledger()).decisions if d.call_kind == "chat"]
    assert "switching pays" in decisions[-1].reason


@pytest.mark.slow
@pytest.mark.parametrize(("mode", "compressed"), [("v2-responses", False), ("v2-chat", True)])
async def test_a_step_continuing_a_stored_conversation_is_not_compressed(
    host_in: Any, mode: str, compressed: bool
) -> None:
    """Responses mode: the provider bills its stored context, so a continued step's local
    prompt is left alone (no savings claimed); Chat Completions compresses as usual."""
    host = host_in(mode)
    host.configure_models(chat_model={"provider": "openai", "name": "gpt-4"})  # 8k, no cache
    host.configure(
        {
            "router": {"enabled": False},
            "compression": {"target_fullness": 0.3, "keep_recent_turns": 1},
        }
    )
    host.provider.script_main(
        tool_call("code_execution_tool", code="dump 400"),
        respond("the log is fine"),
        respond("still fine"),
    )
    context = host.new_context()
    await host.send(context, "Check the worker log.")
    await host.send(context, "And now?")
    third = (await host.ledger()).calls_of("chat")[2]
    assert (third.tokens_saved is not None) is compressed
