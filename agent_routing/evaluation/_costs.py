"""Per-prompt costs from a price table, for evaluation files that carry no cost columns.

Each prompt's input tokens are counted with the model's own tokenizer family
(:func:`agent_routing.tokens.count_text_tokens`) and priced, together with a fixed number of
output tokens (the file has no answers to measure), by
:func:`agent_routing.pricing.estimate_cost_usd`. The fixed output size is an assumption and
the report says so in its cost basis.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from agent_routing.config import PriceOverride
from agent_routing.errors import ConfigError, UnknownModelError
from agent_routing.evaluation._data import EvalData

DEFAULT_OUTPUT_TOKENS = 256


def _costs(
    prompts: tuple[str, ...],
    model: str,
    field: str,
    output_tokens: int,
    overrides: Mapping[str, PriceOverride] | None,
) -> np.ndarray:
    from agent_routing.pricing import estimate_cost_usd
    from agent_routing.tokens import count_text_tokens

    costs = np.empty(len(prompts), dtype=np.float64)
    for index, prompt in enumerate(prompts):
        cost = estimate_cost_usd(model, count_text_tokens(prompt, model), output_tokens, overrides)
        if cost is None:
            raise UnknownModelError(model, field=field)
        costs[index] = cost
    return costs


def with_price_table_costs(
    data: EvalData,
    weak_model: str,
    strong_model: str,
    *,
    output_tokens: int = DEFAULT_OUTPUT_TOKENS,
    overrides: Mapping[str, PriceOverride] | None = None,
) -> tuple[EvalData, str]:
    """`data` with costs priced for the two models, and a sentence stating the cost basis."""
    if data.has_costs:
        raise ConfigError.single(
            "weak_model",
            f"{data.source!r} already has weak_cost/strong_cost columns; "
            "give costs either as columns or as --weak-model/--strong-model",
        )
    if output_tokens < 0:
        raise ConfigError.single("output_tokens", f"must be 0 or more, got {output_tokens}")
    priced = dataclasses.replace(
        data,
        weak_cost=_costs(data.prompts, weak_model, "weak_model", output_tokens, overrides),
        strong_cost=_costs(data.prompts, strong_model, "strong_model", output_tokens, overrides),
    )
    basis = (
        f"price table: {weak_model} (weak) and {strong_model} (strong), each prompt's "
        f"input tokens plus {output_tokens} output tokens"
    )
    return priced, basis
