"""What the agent is told: the `switch_model` tool's tier list and the budget line.

The tool's prompt file (`prompts/agent.system.tool.switch_model.md`) holds Agent Zero
placeholders; the core fills them: a `system_prompt` extension that runs before the host's
tool-prompt collector registers them in `agent.data["_tool_prompt_kwargs"]` (§6.3), with
the tier list rendered here by jinja2 from the tiers in force, their prices and their use.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from agent_routing.budgets.rules import format_usd
from agent_routing.config import TierConfig
from agent_routing.host import _attribution as attribution
from agent_routing.host import _state as state
from agent_routing.host._runtime import get_runtime
from agent_routing.host._tiers import effective_tiers

if TYPE_CHECKING:
    import jinja2

TOOL_PROMPT_FILE = "agent.system.tool.switch_model.md"
TOOL_PROMPT_KWARGS_KEY = "_tool_prompt_kwargs"

TIERS_TEMPLATE = """\
tiers, cheapest first (USD per 1M input / output tokens):
{% for tier in tiers -%}
- "{{ tier.name }}": {{ tier.model }} ({{ tier.price }})
  {%- if tier.use_for %}: {{ tier.use_for }}{% endif %}
{% endfor -%}
now: {% if current -%}
"{{ current.tier }}", chosen by you ({{ current.reason or "no reason given" }})
{%- else -%}
"auto" (the router picks a tier for each step)
{%- endif %}"""


@functools.cache
def _template() -> jinja2.Template:
    import jinja2

    environment = jinja2.Environment(autoescape=False, keep_trailing_newline=False)  # noqa: S701 - plain text for an LLM, not HTML
    return environment.from_string(TIERS_TEMPLATE)


def _price_text(tier: TierConfig, prices: Any) -> str:
    """`$in / $out` per million tokens, or `price unknown`."""
    from agent_routing.pricing import unit_prices

    try:
        found = unit_prices(tier.model, prices)
    except Exception:
        found = None
    if found is None:
        return "price unknown"
    return f"${found.input * 1e6:.2f} / ${found.output * 1e6:.2f}"


def render_tiers(tiers: list[TierConfig], prices: Any, current: dict[str, Any] | None) -> str:
    """The tier list the agent reads in the tool's description."""
    rows = [
        {"name": t.name, "model": t.model, "price": _price_text(t, prices), "use_for": t.use_for}
        for t in tiers
    ]
    return _template().render(tiers=rows, current=current)


def register_tool_prompt(agent: Any) -> None:
    """`system_prompt` (before the tool collector): fill the switch_model prompt's kwargs."""
    runtime = get_runtime(agent)
    tiers = effective_tiers(runtime.settings, agent.get_chat_model(), agent.get_utility_model())
    text = render_tiers(tiers, runtime.settings.prices, state.override_of(agent))
    table = agent.data.get(TOOL_PROMPT_KWARGS_KEY)
    if not isinstance(table, dict):
        table = {}
        agent.data[TOOL_PROMPT_KWARGS_KEY] = table
    table[TOOL_PROMPT_FILE] = {
        "tiers": text,
        "tier_names": ", ".join(t.name for t in tiers),
        "strongest_tier": tiers[-1].name if tiers else "auto",
    }


async def _budget_line(agent: Any) -> str | None:
    """One line with the tightest remaining budget, or None when no budget applies."""
    runtime = get_runtime(agent)
    if not runtime.settings.budget_in_system_prompt:
        return None
    statuses = await runtime.budgets.status(attribution.conversation_id(agent))
    known = [s for s in statuses if s.remaining_usd is not None]
    if not known:
        return None
    tightest = min(known, key=lambda s: s.remaining_usd or 0.0)
    remaining = max(tightest.remaining_usd or 0.0, 0.0)
    return (
        f"Budget: {format_usd(remaining)} left of {format_usd(tightest.limit_usd)} "
        f"({tightest.scope}"
        f"{' for ' + tightest.model if tightest.model else ''}). Prefer cheaper tiers and "
        "fewer steps as it runs low."
    )


async def add_budget_line(agent: Any, system_prompt: list[str]) -> None:
    """`system_prompt`: append the budget line when enabled (opt-in)."""
    line = await _budget_line(agent)
    if line:
        system_prompt.append(line)
