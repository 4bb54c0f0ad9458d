"""The plugin routes Agent Zero's calls end to end (fake host, real litellm mock calls)."""

from __future__ import annotations

from fakehost import FakeHost, fake_host, respond, tool_call

from agent_routing.records import Outcome
from agent_routing.reports import prepare_query, summarize

__all__ = ["fake_host"]

SIMPLE = "What is 2+2?"
HARD = (
    "Prove that there are infinitely many primes p such that p+2 is also prime, or explain "
    "precisely why this is open, then implement a concurrent lock-free skip list in Rust with "
    "memory reclamation via epochs and a formal linearizability argument."
)
# An explicit cut makes the tier boundary independent of the strategy's calibration.
ROUTER = {"router": {"thresholds": [0.45]}}


def main_models(host: FakeHost) -> list[str]:
    return [call.model for call in host.provider.main_calls()]


async def test_simple_steps_go_to_the_utility_model_and_hard_ones_to_the_chat_model(
    fake_host: FakeHost,
) -> None:
    """With no tiers configured, the host's utility model is cheap and its chat model strong."""
    fake_host.configure(ROUTER)
    fake_host.provider.script_main(
        tool_call("code_execution_tool", code="print(2+2)"),
        respond("4"),
        tool_call("code_execution_tool", code="cargo new skiplist"),
        respond("done"),
    )
    context = fake_host.new_context()
    assert await fake_host.send(context, SIMPLE) == "4"
    assert await fake_host.send(context, HARD) == "done"
    assert main_models(fake_host) == ["openai/gpt-4o-mini"] * 2 + ["openai/gpt-4o"] * 2
    ledger = await fake_host.ledger()
    chat_decisions = [d for d in ledger.decisions if d.call_kind == "chat"]
    assert [d.chosen_tier for d in chat_decisions] == ["utility", "utility", "chat", "chat"]
    assert all(d.conversation_id == context.id for d in chat_decisions)


async def test_configured_tiers_replace_the_host_models(fake_host: FakeHost) -> None:
    """Configured tiers are served through models.get_chat_model with their own provider."""
    fake_host.configure(
        {
            **ROUTER,
            "tiers": [
                {"name": "cheap", "model": "anthropic/claude-haiku-4-5-20251001"},
                {"name": "strong", "model": "openai/gpt-4o"},
            ],
        }
    )
    fake_host.provider.script_main(respond("4"))
    await fake_host.send(fake_host.new_context(), SIMPLE)
    assert main_models(fake_host) == ["anthropic/claude-haiku-4-5-20251001"]
    ledger = await fake_host.ledger()
    main = ledger.calls_of("chat")
    assert [(c.model, c.tier) for c in main] == [("anthropic/claude-haiku-4-5-20251001", "cheap")]
    # utility calls follow the default rule: the cheapest configured tier
    assert {c.tier for c in ledger.calls_of("title")} == {"cheap"}


async def test_every_call_lands_in_the_ledger_with_chat_agent_tool_and_decision(
    fake_host: FakeHost,
) -> None:
    """Chat, utility, subordinate, document-query, browser and embedding calls are all rows."""
    fake_host.configure(ROUTER)
    fake_host.provider.script_main(
        tool_call("document_query", document="report.pdf", query="total?"),
        tool_call("call_subordinate", message="Say hello."),
        respond("hello"),  # A1's answer
        tool_call("browser_agent", message="open example.com"),
        respond("all done"),
    )
    # The chat call inside document_query gets the fake provider's default document answer (a
    # model-keyed script would be taken by whichever call reaches that model first: the
    # sub-agent's first step now routes to the strong tier, #13 step priors).
    context = fake_host.new_context()
    assert await fake_host.send(context, SIMPLE) == "all done"
    ledger = await fake_host.ledger()

    provider = fake_host.provider
    assert len(ledger.calls) == len(provider.calls) + len(provider.embedding_calls)
    assert all(c.conversation_id == context.id for c in ledger.calls)
    decision_ids = {d.id for d in ledger.decisions}
    routed = [c for c in ledger.calls if c.call_kind not in {"embedding", "browser"}]
    assert all(c.decision_id in decision_ids for c in routed)
    by_kind = {c.call_kind: c for c in ledger.calls}
    expected = {"chat", "title", "memory", "document_query", "subordinate", "embedding"}
    if not fake_host.is_v2:  # v2 has no browser model (the browser is a main-agent tool)
        expected.add("browser")
        assert by_kind["browser"].tool == "browser_agent"
    assert expected <= set(by_kind)
    assert {c.tool for c in ledger.calls_of("document_query")} == {"document_query"}
    assert [(c.agent_no, c.tool) for c in ledger.calls_of("subordinate")] == [
        (1, "call_subordinate")
    ]
    assert {c.agent_no for c in ledger.calls_of("chat")} == {0}
    assert {c.tool for c in ledger.calls_of("chat")} == {None}


async def test_a_subordinates_background_memorisation_keeps_the_tool_it_started_in(
    fake_host: FakeHost,
) -> None:
    """A1 memorises after call_subordinate returned: its memory row still says that tool.

    Found on a real Agent Zero v2 turn: the utility row took the tool from the agents' state
    (cleared when the tool ended) while the embeddings of the same background task took it
    from the calling context, so one task's rows disagreed.
    """
    fake_host.provider.script_main(
        tool_call("call_subordinate", message="Say hello."), respond("hello"), respond("done")
    )
    assert await fake_host.send(fake_host.new_context(), SIMPLE) == "done"
    memory = (await fake_host.ledger()).calls_of("memory")
    assert sorted((c.agent_no, c.tool) for c in memory) == [(0, None), (1, "call_subordinate")]


async def test_configured_tiers_naming_the_hosts_models_keep_the_hosts_model_settings(
    fake_host: FakeHost,
) -> None:
    """A tier that names Agent Zero's chat or utility model is served with that model's
    settings (its `kwargs`: API mode, temperature...), not a bare model of the same name.

    Found on a real Agent Zero v2 turn: tiers naming the host's models with
    `a0_api_mode: chat_completions` first tried the Responses API on each tier (a refused
    request and an error row per tier model) because the tier's model was built without them.
    """
    fake_host.configure_models(
        chat_model={"provider": "openai", "name": "gpt-4o", "kwargs": {"temperature": 0.2}},
        utility_model={"provider": "openai", "name": "gpt-4o-mini", "kwargs": {"temperature": 0.7}},
    )
    fake_host.configure(
        {
            "tiers": [
                {"name": "cheap", "model": "openai/gpt-4o-mini"},
                {"name": "strong", "model": "openai/gpt-4o"},
                {"name": "other", "model": "anthropic/claude-3-5-haiku-20241022"},
            ]
        }
    )
    fake_host.provider.script_main(
        tool_call("switch_model", tier="strong", reason="check"),
        tool_call("switch_model", tier="other", reason="check"),
        respond("4"),
    )
    assert await fake_host.send(fake_host.new_context(), SIMPLE) == "4"
    main = fake_host.provider.main_calls()
    assert [(c.model, c.kwargs.get("temperature")) for c in main] == [
        ("openai/gpt-4o-mini", 0.7),
        ("openai/gpt-4o", 0.2),
        ("anthropic/claude-3-5-haiku-20241022", None),  # no host model of that name
    ]


async def test_a_rate_limited_model_falls_back_to_the_next_tier(fake_host: FakeHost) -> None:
    """A 429 on the cheap tier is not retried by the host: the call moves to the next tier,
    whose row is attempt 1 of the same decision, so the report shows a retry rate."""
    fake_host.configure(ROUTER)
    fake_host.provider.script_main("litellm.RateLimitError", respond("4"))
    assert await fake_host.send(fake_host.new_context(), SIMPLE) == "4"
    assert main_models(fake_host) == ["openai/gpt-4o-mini", "openai/gpt-4o"]
    main = (await fake_host.ledger()).calls_of("chat")
    assert [(c.model, c.outcome, c.attempt) for c in main] == [
        ("openai/gpt-4o-mini", Outcome.RATE_LIMITED, 0),
        ("openai/gpt-4o", Outcome.OK, 1),
    ]
    assert main[0].decision_id == main[1].decision_id
    assert [c.tier for c in main] == ["utility", "chat"]
    by_model = {group.key: group for group in summarize(main, prepare_query()).groups}
    assert by_model["openai/gpt-4o"].retry_rate == 1.0
    assert by_model["openai/gpt-4o-mini"].retry_rate == 0.0
    assert summarize(main, prepare_query()).totals.retry_rate == 0.5


async def test_a_misformatted_cheap_reply_escalates_the_next_iteration(fake_host: FakeHost) -> None:
    """No tool JSON from the cheap model: a misformat signal moves the next step up a tier."""
    fake_host.configure({"router": {"thresholds": [0.8]}})  # the score alone never picks strong
    fake_host.provider.script_main("The answer is four, I think.", respond("4"))
    assert await fake_host.send(fake_host.new_context(), SIMPLE) == "4"
    assert main_models(fake_host) == ["openai/gpt-4o-mini", "openai/gpt-4o"]
    ledger = await fake_host.ledger()
    first, second = [d for d in ledger.decisions if d.call_kind == "chat"]
    assert [(s.decision_id, s.kind) for s in ledger.signals if s.kind != "success"] == [
        (first.id, "misformat")
    ]
    assert "cascade" in second.reason
    assert [s.kind for s in ledger.signals if s.decision_id == second.id] == ["success"]


async def test_a_new_task_starts_from_the_score_again(fake_host: FakeHost) -> None:
    """The cascade floor is per task: the next user message is routed by its score again."""
    fake_host.configure(ROUTER)
    fake_host.provider.script_main("no json", respond("4"), respond("hi"))
    context = fake_host.new_context()
    await fake_host.send(context, SIMPLE)
    await fake_host.send(context, "Say hello.")
    assert main_models(fake_host) == ["openai/gpt-4o-mini", "openai/gpt-4o", "openai/gpt-4o-mini"]


async def test_a_failing_tool_is_a_tool_error_signal_and_escalates(fake_host: FakeHost) -> None:
    """A traceback from a tool escalates; a tool that raises is caught at message_loop_end."""
    fake_host.configure(ROUTER)
    fake_host.provider.script_main(
        tool_call("code_execution_tool", code="error"),
        tool_call("code_execution_tool", code="raise"),
        respond("gave up"),
    )
    assert await fake_host.send(fake_host.new_context(), SIMPLE) == "gave up"
    ledger = await fake_host.ledger()
    tool_errors = [s for s in ledger.signals if s.kind == "tool_error"]
    assert len(tool_errors) == 2
    assert "raised" in tool_errors[1].detail
    assert main_models(fake_host)[1:] == ["openai/gpt-4o", "openai/gpt-4o"]


async def test_state_survives_extension_hot_reload(fake_host: FakeHost) -> None:
    """Re-executed extension modules find the same runtime: one capture logger, no lost rows."""
    from agent_routing._litellm import litellm_module
    from agent_routing.capture._logger import find_logger

    fake_host.configure(ROUTER)
    fake_host.provider.script_main("no json", respond("4"))
    context = fake_host.new_context()
    fake_host.hot_reload()
    await fake_host.send(context, SIMPLE)
    fake_host.hot_reload()
    fake_host.provider.script_main(respond("again"))
    await fake_host.send(context, SIMPLE)
    litellm = litellm_module()
    loggers = [c for c in litellm.callbacks if c is find_logger(litellm)]
    assert len(loggers) == 1
    ledger = await fake_host.ledger()
    assert len(ledger.calls_of("chat")) == 3


async def test_router_disabled_keeps_the_host_model_and_still_records(fake_host: FakeHost) -> None:
    """With the router off every call stays on the host's model and is still in the ledger."""
    fake_host.configure({"router": {"enabled": False}})
    fake_host.provider.script_main(respond("4"))
    await fake_host.send(fake_host.new_context(), SIMPLE)
    assert main_models(fake_host) == ["openai/gpt-4o"]
    ledger = await fake_host.ledger()
    assert [c.model for c in ledger.calls_of("chat")] == ["openai/gpt-4o"]
    assert ledger.decisions == []


async def test_an_unroutable_local_model_keeps_working_and_is_still_recorded(
    fake_host: FakeHost,
) -> None:
    """A chat model litellm cannot price turns routing off, not recording: rows are unpriced."""
    fake_host.configure_models(chat_model={"provider": "ollama", "name": "my-local-llm"})
    fake_host.provider.script_main(tool_call("code_execution_tool", code="1"), respond("4"))
    context = fake_host.new_context()
    assert await fake_host.send(context, SIMPLE) == "4"
    assert main_models(fake_host) == ["ollama/my-local-llm"] * 2
    ledger = await fake_host.ledger()
    main = ledger.calls_of("chat")
    assert [(c.model, c.conversation_id, c.agent_no, c.outcome) for c in main] == [
        ("ollama/my-local-llm", context.id, 0, Outcome.OK)
    ] * 2
    assert all(c.cost_usd is None and c.decision_id is None for c in main)
    assert ledger.decisions == []
