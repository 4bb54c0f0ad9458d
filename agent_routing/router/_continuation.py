"""Provider-side conversation state (the Responses API) and what leaving it costs.

With the Responses API the provider stores the conversation: a follow-up step sends only
the new input with `previous_response_id`, and the stored prefix is billed as cached input.
A step moved to another model cannot continue that conversation, so it resends and pays
the whole prompt, uncached. So a *cheaper* tier is only worth switching to when that full
resend still costs less than continuing; otherwise the chat stays on the tier that holds
its state. Moving up (a harder step, a failed answer, the agent's own `switch_model`) is
about quality and is never held back here.
"""

from __future__ import annotations

from collections.abc import Mapping

from agent_routing.config import PriceOverride
from agent_routing.pricing import cost_usd, unit_prices
from agent_routing.records import Usage
from agent_routing.router._policy import Preference
from agent_routing.router._tiers import TierTable


def _cost(
    model: str,
    input_tokens: int,
    output_tokens: int,
    overrides: Mapping[str, PriceOverride] | None,
    *,
    cached: bool,
) -> float | None:
    prices = unit_prices(model, overrides, input_tokens=input_tokens)
    if prices is None:
        return None
    usage = Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cached_read_tokens=input_tokens if cached else 0,
    )
    return cost_usd(usage, prices)


def hold_for_provider_state(
    preference: Preference,
    tiers: TierTable,
    *,
    state_model: str | None,
    forced: bool,
    input_tokens: int,
    output_tokens: int,
    overrides: Mapping[str, PriceOverride] | None = None,
) -> None:
    """Keep `preference` on the tier holding the provider state unless leaving it pays.

    Applies only to a move to a cheaper tier that nobody forced. The cost of staying is
    the whole prompt at the stored-context (cached) price; the cost of switching is the
    whole prompt at the new model's full input price. Unpriced models change nothing.
    """
    if not state_model or forced:
        return
    current = tiers.find(state_model)
    if current is None or preference.index >= current.index or current.index > preference.cap:
        return
    target = tiers[preference.index]
    stay = _cost(current.model, input_tokens, output_tokens, overrides, cached=True)
    switch = _cost(target.model, input_tokens, output_tokens, overrides, cached=False)
    if stay is None or switch is None:
        return
    if switch < stay:
        preference.steps.append(
            f"provider state on {current.name}: switching pays "
            f"(full resend ${switch:.6f} < continuing ${stay:.6f})"
        )
        return
    preference.index = current.index
    preference.steps.append(
        f"provider state on {current.name}: staying (switching to {target.name} resends the "
        f"whole prompt uncached: ${switch:.6f} >= continuing ${stay:.6f})"
    )
