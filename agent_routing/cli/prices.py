"""`agent-routing prices MODEL...`: what a model costs per token class, and its limits.

`--host-defaults` prices the models Agent Zero itself configures by default (v1.7 and
v2: the default chat and utility models and the model presets); `--update-snapshot FILE`
refreshes the price snapshot shipped in the package from a litellm wheel or map file.
"""

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
from agent_routing.cli._formatting import money
from agent_routing.config import PriceOverride

PER_MILLION = 1_000_000

# The models Agent Zero configures out of the box (plugins/_model_config default_config.yaml
# and default_presets.yaml), as litellm names them (`<provider>/<name>`).
HOST_DEFAULT_MODELS: tuple[tuple[str, str], ...] = (
    ("v1.7 chat", "openrouter/anthropic/claude-sonnet-4.6"),
    ("v1.7/v2 utility", "openrouter/google/gemini-3.1-flash-lite-preview"),
    ("v2 chat", "openrouter/anthropic/claude-sonnet-5"),
    ("preset Max Power chat", "openrouter/anthropic/claude-opus-4.6"),
    ("preset Max Power utility", "openrouter/openai/gpt-5.4-mini"),
    ("preset Cost Efficient chat", "openrouter/moonshotai/kimi-k2.5"),
    ("preset Cost Efficient utility", "openrouter/openai/gpt-5.4-nano"),
)


@dataclass(frozen=True, slots=True)
class _ModelPrices:
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
    source: str | None = None  # "litellm" (installed map), "snapshot" or "override"
    map_key: str | None = None
    map_version: str | None = None  # the litellm release of the map that priced it
    upstream: bool = False  # priced as the upstream model of a pass-through router


def _model_prices(model: str, overrides: Mapping[str, PriceOverride]) -> _ModelPrices:
    """Prices and limits of `model` as capture would apply them."""
    from agent_routing import pricing

    prices = pricing.unit_prices(model, overrides)
    if prices is None:
        return _ModelPrices(model=model, known=False, provider=pricing.provider_of(model))
    choice = pricing.price_choice(model) if prices.source != "override" else None

    def per_million(value: float | None) -> float | None:
        return None if value is None else value * PER_MILLION

    return _ModelPrices(
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
        map_key=prices.model_key if prices.source != "override" else None,
        map_version=prices.version or None,
        upstream=choice is not None and choice.upstream,
    )


def _dollars(value: float | None, base: str) -> str:
    """A price per 1M tokens (`$2.50`, `$0.075`); None reads `(input)` / `(output)`."""
    return f"({base})" if value is None else money(value)


def _source(row: _ModelPrices) -> str:
    if row.source == "override":
        return "override"
    where = "litellm map" if row.source == "litellm" else "snapshot"
    upstream = " (upstream)" if row.upstream else ""
    return f"{where} {row.map_version} '{row.map_key}'{upstream}"


def render(rows: Sequence[_ModelPrices]) -> str:
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
            _source(row),
        ]
        for row in rows
        if row.known
    ]
    return format_table(headers, cells, numeric=range(1, 8))


@click.command("prices")
@click.argument("models", nargs=-1)
@click.option(
    "--host-defaults",
    is_flag=True,
    help="Also price Agent Zero's own default models (v1.7 and v2, presets included).",
)
@click.option(
    "--update-snapshot",
    "snapshot_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Refresh the shipped price snapshot from a litellm wheel (.whl) or a litellm "
    "price map (.json / .json.gz, with --litellm-version).",
)
@click.option("--litellm-version", help="The litellm release a map file comes from.")
@config_option
@json_option
@handle_errors
def command(
    *,
    models: tuple[str, ...],
    host_defaults: bool,
    snapshot_file: Path | None,
    litellm_version: str | None,
    config_path: Path | None,
    as_json: bool,
) -> None:
    """Show per-token prices (USD per 1M tokens), context window and max output of MODELS.

    Each model is priced from the newer of the installed litellm's offline price map and
    the snapshot of a newer litellm map shipped in this package, or from 'prices:'
    overrides in the configuration, which win. A router that passes the upstream price
    through (openrouter/anthropic/claude-sonnet-4.6) is priced as the upstream model. A
    price shown as (input) or (output) means those tokens are billed at the input or
    output price. Exit code 2 names any unknown model.
    """
    from agent_routing.config import load_settings

    if snapshot_file is not None:
        _update_snapshot(snapshot_file, litellm_version, as_json)
        if not models and not host_defaults:
            return
    names = [*(model for _, model in HOST_DEFAULT_MODELS if host_defaults), *models]
    if not names:
        fail("models: name at least one model (or use --host-defaults)", EXIT_BAD_INPUT)
    settings = load_settings(config_path, validate_models=False)
    rows = [_model_prices(model, settings.prices) for model in dict.fromkeys(names)]
    unknown = [row.model for row in rows if not row.known]
    if as_json:
        payload: list[dict[str, Any]] = [asdict(row) for row in rows]
        emit_json({"unit": "USD per 1M tokens", "models": payload})
    elif len(unknown) < len(rows):
        click.echo(render(rows))
    if unknown:
        names_text = ", ".join(repr(model) for model in unknown)
        fail(
            f"models: unknown model {names_text}: in neither litellm's local price map nor "
            "the price snapshot; add it under 'prices:' in the configuration "
            "(input_cost_per_token, output_cost_per_token) to use a custom or local model",
            EXIT_BAD_INPUT,
        )


def _update_snapshot(path: Path, version: str | None, as_json: bool) -> None:
    from agent_routing import pricing
    from agent_routing.pricing import snapshot as price_snapshot

    raw, found_version, license_text = price_snapshot.read_map(path, version)
    written = price_snapshot.write_snapshot(raw, found_version, license_text)
    pricing.clear_caches()
    message = (
        f"price snapshot updated: litellm {written.litellm_version}, {written.entries:,} "
        f"entries, from {path.name} ({price_snapshot.DATA_DIR})"
    )
    if as_json:
        click.echo(message, err=True)
    else:
        click.echo(message)
