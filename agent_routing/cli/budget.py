"""`agent-routing budget show|set|remove`: spending limits and where they stand."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from agent_routing.cli._common import (
    config_option,
    db_option,
    emit_json,
    existing_ledger,
    format_table,
    handle_errors,
    json_option,
)
from agent_routing.cli._formatting import money, percent

if TYPE_CHECKING:
    from agent_routing.budgets import Budgets, BudgetStatus, QuotaStatus
    from agent_routing.config import Settings


def _when(moment: float | None, zone: Any) -> str:
    if moment is None:
        return "-"
    return datetime.fromtimestamp(moment, zone or UTC).strftime("%Y-%m-%d %H:%M")


def _budgets(
    config_path: Path | None, db_path: str | None, *, read_only: bool = False
) -> tuple[Settings, Budgets]:
    """Settings and Budgets over the ledger; `read_only` refuses a ledger file that does not
    exist (saying so) instead of creating it."""
    from agent_routing.budgets import Budgets
    from agent_routing.config import load_settings
    from agent_routing.ledger import ledger_for

    settings = load_settings(config_path, validate_models=False)
    if read_only:
        existing_ledger(settings, db_path)  # exits 1 naming a missing ledger file
    return settings, Budgets(ledger_for(settings.ledger, db_path), settings)


def _run(budgets: Budgets, action: Any) -> Any:
    """Open the ledger, await `action()`, close it."""
    from agent_routing.ledger import opened, run_sync

    async def run() -> Any:
        async with opened(budgets.ledger):
            return await action()

    return run_sync(run())


def _render_status(
    statuses: list[BudgetStatus], quotas: list[QuotaStatus], zone: Any, zone_name: str
) -> str:
    """Budgets and quotas as tables."""
    lines: list[str] = []
    if statuses:
        headers = ["budget", "enforcement", "limit", "spent", "remaining", "used", "period", "from"]
        rows = [
            [
                status.key + (f" [{status.conversation_id}]" if status.conversation_id else ""),
                status.enforcement,
                money(status.limit_usd),
                money(status.spent_usd),
                money(status.remaining_usd),
                percent(status.fraction),
                _period(status, zone),
                status.source,
            ]
            for status in statuses
        ]
        lines += [
            f"Budgets (periods in {zone_name})",
            format_table(headers, rows, numeric={2, 3, 4, 5}),
        ]
    else:
        lines.append("No budgets configured (set one with `agent-routing budget set`).")
    if quotas:
        headers = ["quota", "used", "limit", "remaining", "window"]
        rows = [
            [
                quota.key,
                f"{quota.used:,}",
                f"{quota.limit:,}",
                f"{quota.remaining:,}",
                "last 60 s" if quota.period == "minute" else _when(quota.window_start, zone)[:10],
            ]
            for quota in quotas
        ]
        lines += ["", "Quotas", format_table(headers, rows, numeric={1, 2, 3})]
    return "\n".join(lines)


def _period(status: BudgetStatus, zone: Any) -> str:
    if status.scope == "call":
        return "per call"
    if status.scope == "conversation":
        return "per conversation" if status.conversation_id else "pass --conversation"
    return f"{_when(status.period_start, zone)} to {_when(status.period_end, zone)}"


def _refuse_unknown_model(settings: Settings, budget: Any) -> None:
    """A budget on a model nothing knows would limit nothing: ConfigError naming `model`."""
    from agent_routing.config import unknown_budget_models
    from agent_routing.errors import ConfigError

    problems = unknown_budget_models(settings, [budget])
    if problems:
        raise ConfigError(problems)


@click.group("budget")
def command() -> None:
    """Show, set and remove spending limits (daily, monthly, per conversation, per call)."""


@command.command("show")
@click.option("--conversation", "conversation_id", default=None, help="Include this conversation.")
@db_option
@config_option
@json_option
@handle_errors
def show(
    conversation_id: str | None, db_path: str | None, config_path: Path | None, as_json: bool
) -> None:
    """Show every budget (config and stored) with its spend in the current period.

    Spend counts settled calls plus money reserved by calls still running.
    """
    from agent_routing.reports import to_jsonable

    settings, budgets = _budgets(config_path, db_path, read_only=True)

    async def gather() -> tuple[list[BudgetStatus], list[QuotaStatus]]:
        return await budgets.status(conversation_id), await budgets.quota_status()

    statuses, quotas = _run(budgets, gather)
    if as_json:
        emit_json(
            {
                "timezone": settings.ledger.timezone,
                **to_jsonable({"budgets": statuses, "quotas": quotas}),
            }
        )
        return
    click.echo(_render_status(statuses, quotas, budgets.zone, settings.ledger.timezone))


@command.command("set")
@click.option(
    "--scope", required=True, metavar="[call|conversation|daily|monthly]", help="Budget period."
)
@click.option("--limit-usd", "limit_usd", required=True, type=float, help="Limit in US dollars.")
@click.option("--model", default=None, help="Limit only this model's spend (exact litellm id).")
@click.option(
    "--enforcement",
    default="block",
    show_default=True,
    metavar="[warn|downgrade|block]",
    help="What happens when a call would exceed the limit.",
)
@click.option(
    "--alert",
    "alerts",
    multiple=True,
    type=float,
    help="Alert at this fraction of the limit (repeat; default 0.5 0.8 1.0).",
)
@db_option
@config_option
@json_option
@handle_errors
def set_(
    *,
    scope: str,
    limit_usd: float,
    model: str | None,
    enforcement: str,
    alerts: tuple[float, ...],
    db_path: str | None,
    config_path: Path | None,
    as_json: bool,
) -> None:
    """Store a budget in the ledger; it replaces a configured budget with the same key.

    The key is SCOPE:MODEL (MODEL is * without --model). Running agents apply it on
    their next call. Exit code 2 on a bad value (the message names the field; nothing is
    written).
    """
    from agent_routing.budgets import budget_from_mapping

    data: dict[str, Any] = {
        "scope": scope,
        "limit_usd": limit_usd,
        "model": model,
        "enforcement": enforcement,
    }
    if alerts:
        data["alert_thresholds"] = list(alerts)
    budget = budget_from_mapping(data)
    settings, budgets = _budgets(config_path, db_path)
    _refuse_unknown_model(settings, budget)
    _run(budgets, lambda: budgets.set_budget(budget))
    if as_json:
        emit_json({"stored": budget.key, "budget": budget.model_dump()})
    else:
        click.echo(
            f"Stored budget {budget.key}: {money(budget.limit_usd)} ({budget.enforcement}), "
            f"alerts at {', '.join(f'{t:.0%}' for t in budget.alert_thresholds)}"
        )


@command.command("remove")
@click.argument("key")
@db_option
@config_option
@json_option
@handle_errors
def remove(key: str, db_path: str | None, config_path: Path | None, as_json: bool) -> None:
    """Remove the stored budget KEY (e.g. daily:*). A configured budget with that key
    applies again. Exit code 1 if no budget with that key is stored."""
    from agent_routing.cli._common import EXIT_FAILURE, fail

    _, budgets = _budgets(config_path, db_path)
    removed = _run(budgets, lambda: budgets.remove_budget(key))
    if as_json:
        emit_json({"removed": key if removed else None})
    if not removed:
        fail(f"no stored budget with key {key!r}", EXIT_FAILURE)
    if not as_json:
        click.echo(f"Removed stored budget {key}")
