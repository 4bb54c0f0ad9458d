"""`agent-routing route PROMPT`: show which tier a prompt would get, and why.

A dry run of the same :class:`~agent_routing.router.Router` the Agent Zero plugin uses:
nothing is recorded and no budget money stays reserved. Budgets and quotas are consulted
when the ledger file exists (`--db`, `ledger.path`, `$AGENT_ROUTING_DB` or the default);
a missing ledger is not created.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from agent_routing.cli._common import (
    config_option,
    db_option,
    emit_json,
    format_table,
    handle_errors,
    json_option,
)
from agent_routing.config import CallKind

if TYPE_CHECKING:
    from agent_routing.router import RoutingDecision


@click.command(name="route")
@click.argument("prompt")
@click.option(
    "--kind",
    type=click.Choice([kind.value for kind in CallKind]),
    default=CallKind.CHAT.value,
    show_default=True,
    help="What the call is for (rules and output caps key on it).",
)
@json_option
@config_option
@db_option
@handle_errors
def command(
    prompt: str, kind: str, as_json: bool, config_path: Path | None, db_path: str | None
) -> None:
    """Show the routing decision for PROMPT: tier, model, score, features, candidates, reason.

    Example: agent-routing route "Prove that sqrt(2) is irrational" --kind chat
    """
    from agent_routing.ledger import run_sync

    summary = run_sync(decide(prompt, CallKind(kind), config_path, db_path)).summary()
    if as_json:
        emit_json(summary)
    else:
        click.echo(render(summary))


async def decide(
    prompt: str, kind: CallKind, config_path: Path | None, db_path: str | None
) -> RoutingDecision:
    """Build the router from the configuration and route `prompt` as a dry run."""
    from agent_routing.config import load_settings
    from agent_routing.router import Router, RouteRequest

    settings = load_settings(config_path)
    from agent_routing.ledger.registry import resolve

    target = resolve(settings.ledger, db_path)  # a path or a URL, through the registry
    if target.path is not None and not target.path.exists():
        return await Router(settings).route(RouteRequest(prompt, kind), dry_run=True)
    from agent_routing.budgets import Budgets
    from agent_routing.ledger import ledger_for

    ledger = ledger_for(settings.ledger, target)
    await ledger.open()
    try:
        router = Router(settings, budgets=Budgets(ledger, settings))
        return await router.route(RouteRequest(prompt, kind), dry_run=True)
    finally:
        await ledger.close()


def render(summary: dict[str, Any]) -> str:
    """The decision as text: the choice, the reason, the features and the candidates."""
    score = summary["score"]
    lines = [
        f"tier:      {summary['tier'] or '-'} ({summary['model']})",
        f"score:     {'-' if score is None else f'{score:.3f}'}"
        f"   strategy: {summary['strategy'] or '-'}",
        f"reason:    {summary['reason']}",
    ]
    if summary["max_tokens"] is not None:
        lines.append(f"max_tokens: {summary['max_tokens']}")
    if summary["compress_to_tokens"] is not None:
        lines.append(f"compress to: {summary['compress_to_tokens']} tokens")
    if summary["top_features"]:
        lines += ["", "top features (signed contribution to the score):"]
        lines += [f"  {name:<28} {value:+.3f}" for name, value in summary["top_features"]]
    if summary["candidates"]:
        headers = ["tier", "model", "est. cost USD", "fits", "available", "budget", "chosen"]
        rows = [
            [
                c["tier"],
                c["model"],
                c["estimated_cost_usd"],
                c["fit"],
                {True: "yes", False: "no"}.get(c["available"], "-"),
                c["budget"] or "-",
                "*" if c["chosen"] else "",
            ]
            for c in summary["candidates"]
        ]
        lines += ["", f"candidates ({summary['input_tokens']} input tokens):"]
        lines.append(format_table(headers, rows))
    return "\n".join(lines)
