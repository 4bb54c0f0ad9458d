"""`agent-routing prices MODEL...`: what a model costs per token class, and its limits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import click

from agent_routing.cli._common import (
    EXIT_BAD_INPUT,
    config_option,
    emit_json,
    fail,
    format_table,
    handle_errors,
    json_option,
)
from agent_routing.config import PriceOverride

PER_MILLION = 1_000_000


@dataclass(frozen=True, slots=True)
class ModelPrices:
    """One model's prices in USD per 1M tokens (None: billed at the input/output price)."""

    model: str
    known: bool
    input: float | None = None
    output: float | None = None
    cache_read: float | None = None
    cache_creation: float | None = None
    reasoning: float | None = None
    context_window: int | None = None
    max_output_tokens: int | None = None
    provider: str | None = None
    source: str | None = None  # "litellm" or "override"
    map_key: str | None = None


def model_prices(model: str, overrides: Mapping[str, PriceOverride]) -> ModelPrices:
    """Prices and limits of `model` as capture would apply them."""
    from agent_routing import pricing

    prices = pricing.unit_prices(model, overrides)
    if prices is None:
        return ModelPrices(model=model, known=False, provider=pricing.provider_of(model))

    def per_million(value: float | None) -> float | None:
        return None if value is None else value * PER_MILLION

    return ModelPrices(
        model=model,
        known=True,
        input=per_million(prices.input),
        output=per_million(prices.output),
        cache_read=per_million(prices.cache_read),
        cache_creation=per_million(prices.cache_creation),
        reasoning=per_million(prices.reasoning),
        context_window=pricing.context_window(model, overrides),
        max_output_tokens=pricing.max_output_tokens(model, overrides),
        provider=pricing.provider_of(model),
        source=prices.source,
        map_key=prices.model_key if prices.source == "litellm" else None,
    )


def _dollars(value: float | None, base: str) -> str:
    """`$2.50`, `$0.075`, `$0.000125`: at least cents, as many digits as the price has."""
    if value is None:
        return f"({base})"
    whole, _, decimals = f"{value:,.6f}".partition(".")
    return f"${whole}.{decimals.rstrip('0').ljust(2, '0')}"


def render(rows: Sequence[ModelPrices]) -> str:
    """A table of known models; None prices read '(input)' / '(output)'."""
    headers = [
        "model",
        "input $/1M",
        "output $/1M",
        "cache read",
        "cache write",
        "reasoning",
        "context",
        "max out",
        "source",
    ]
    cells = [
        [
            row.model,
            _dollars(row.input, "-"),
            _dollars(row.output, "-"),
            _dollars(row.cache_read, "input"),
            _dollars(row.cache_creation, "input"),
            _dollars(row.reasoning, "output"),
            "-" if row.context_window is None else f"{row.context_window:,}",
            "-" if row.max_output_tokens is None else f"{row.max_output_tokens:,}",
            f"litellm map '{row.map_key}'" if row.source == "litellm" else "override",
        ]
        for row in rows
        if row.known
    ]
    return format_table(headers, cells)


@click.command("prices")
@click.argument("models", nargs=-1, required=True)
@config_option
@json_option
@handle_errors
def command(*, models: tuple[str, ...], config_path: Path | None, as_json: bool) -> None:
    """Show per-token prices (USD per 1M tokens), context window and max output of MODELS.

    Prices come from litellm's offline price map, or from 'prices:' overrides in the
    configuration, which win. A price shown as (input) or (output) means those tokens are
    billed at the input or output price. Exit code 2 names any unknown model.
    """
    from agent_routing.config import load_settings

    settings = load_settings(config_path, validate_models=False)
    rows = [model_prices(model, settings.prices) for model in models]
    unknown = [row.model for row in rows if not row.known]
    if as_json:
        payload: list[dict[str, Any]] = [asdict(row) for row in rows]
        emit_json({"unit": "USD per 1M tokens", "models": payload})
    elif len(unknown) < len(rows):
        click.echo(render(rows))
    if unknown:
        names = ", ".join(repr(model) for model in unknown)
        fail(
            f"models: unknown model {names}: not in litellm's local price map; add it under "
            "'prices:' in the configuration to use a custom or local model",
            EXIT_BAD_INPUT,
        )
