"""An invalid plugin configuration changes as little as it can, and never unlocks money."""

from __future__ import annotations

import pytest
from fakehost import FakeHost, fake_host, respond

from agent_routing.config import Settings
from agent_routing.host._runtime import _resolve, _Resolved
from agent_routing.host.failures import BLOCK_HEADING

__all__ = ["fake_host"]

DAILY_BLOCK = {"scope": "daily", "limit_usd": 2.0, "enforcement": "block"}
BAD_COMPRESSION = {"target_ratio": 1.5}  # a share above 1


def test_a_valid_configuration_is_used_as_is() -> None:
    """Nothing to salvage: no problem, no refusal."""
    resolved = _resolve({"budgets": [DAILY_BLOCK]}, None)
    assert resolved.problem is None
    assert resolved.refusal is None
    assert [b.limit_usd for b in resolved.settings.budgets] == [2.0]


def test_a_bad_section_at_start_takes_its_default_and_keeps_the_budgets() -> None:
    """A bad compression section must not drop the budgets beside it (they still bind)."""
    resolved = _resolve({"budgets": [DAILY_BLOCK], "compression": BAD_COMPRESSION}, None)
    assert resolved.problem is not None
    assert "compression.target_ratio" in resolved.problem
    assert resolved.refusal is None
    assert [b.limit_usd for b in resolved.settings.budgets] == [2.0]
    assert resolved.settings.compression == Settings().compression


@pytest.mark.parametrize(
    "config",
    [
        {"budgets": [{"scope": "daily", "limit_usd": -5, "enforcement": "block"}]},
        {"budgets": [DAILY_BLOCK], "quotas": [{"model": "gpt-4o", "unit": "tokens"}]},
    ],
)
def test_bad_budgets_or_quotas_at_start_refuse_every_call(config: dict[str, object]) -> None:
    """Limits nobody can read are not silently dropped: every call is refused, naming why."""
    resolved = _resolve(config, None)
    assert resolved.refusal is not None
    assert ("budgets.0.limit_usd" in resolved.refusal) or ("quotas.0.period" in resolved.refusal)


def test_an_invalid_edit_keeps_the_configuration_in_force() -> None:
    """Editing a working file into an invalid one changes nothing until it is fixed."""
    in_force = _resolve({"budgets": [DAILY_BLOCK], "router": {"strategy": "quality_first"}}, None)
    edited = _resolve({"router": {"strategy": "fastest"}}, in_force)
    assert edited.settings is in_force.settings
    assert edited.problem is not None
    assert "router.strategy" in edited.problem
    assert edited.refusal is None
    still_refusing = _resolve({"router": {"strategy": "fastest"}}, _Resolved(Settings(), "x", "no"))
    assert still_refusing.refusal == "no"


async def test_invalid_budgets_stop_the_turn_with_the_field_named(fake_host: FakeHost) -> None:
    """In Agent Zero, a config.json whose budgets are invalid makes no LLM call; the user
    sees the budget stop, with the bad field and value, and the loop ends cleanly."""
    fake_host.configure({"budgets": [{"scope": "weekly", "limit_usd": 5}]})
    fake_host.provider.script_main(respond("never sent"))
    context = fake_host.new_context()
    assert await fake_host.send(context, "What is 2+2?") is None
    assert fake_host.provider.main_calls() == []
    errors = [item for item in context.log.logs if item.type == "error"]
    assert [item.heading for item in errors] == [BLOCK_HEADING]
    assert "budgets.0.scope" in errors[0].content
    assert "'weekly'" in errors[0].content


async def test_a_bad_compression_section_keeps_the_budgets_in_force(fake_host: FakeHost) -> None:
    """The old example file (compression 0.3 / 0.5) still enforces its block budget."""
    fake_host.configure(
        {
            "budgets": [{"scope": "daily", "limit_usd": 1e-9, "enforcement": "block"}],
            "compression": BAD_COMPRESSION,
        }
    )
    fake_host.provider.script_main(respond("never sent"))
    context = fake_host.new_context()
    assert await fake_host.send(context, "What is 2+2?") is None
    assert fake_host.provider.main_calls() == []
    errors = [item for item in context.log.logs if item.type == "error"]
    assert "budget daily:*" in errors[0].content
