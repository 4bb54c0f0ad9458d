"""`agent-routing costs`: what LLM calls cost, broken down, from the ledger."""

from __future__ import annotations

from collections.abc import Sequence
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

__all__ = ["command", "money", "percent", "render_report"]

if TYPE_CHECKING:
    from agent_routing.reports import CostReport, GroupStats

_GROUP_CHOICES = "model|conversation|tool|kind|tier|day"


def _stats_table(first_header: str, groups: Sequence[GroupStats]) -> str:
    headers = [
        first_header,
        "calls",
        "ok",
        "error %",
        "retry %",
        "input tok",
        "output tok",
        "cached %",
        "cost",
        "unpriced",
        "p50 ms",
        "p95 ms",
        "saved tok",
        "saved $",
    ]
    rows = [
        [
            group.key,
            f"{group.calls:,}",
            f"{group.ok:,}",
            percent(group.error_rate),
            percent(group.retry_rate),
            f"{group.input_tokens:,}",
            f"{group.output_tokens:,}",
            percent(group.cached_share),
            money(group.cost_usd, unpriced=group.unpriced_calls > 0),
            f"{group.unpriced_calls:,}",
            "-" if group.latency_p50_ms is None else f"{group.latency_p50_ms:,.0f}",
            "-" if group.latency_p95_ms is None else f"{group.latency_p95_ms:,.0f}",
            f"{group.tokens_saved:,}",
            money(group.usd_saved),
        ]
        for group in groups
    ]
    return format_table(headers, rows, numeric=range(1, len(headers)))


def render_report(report: CostReport) -> str:
    """The human-readable form of a report."""
    span = f"{report.since or 'the beginning'} to {report.until or 'now'}"
    lines = [f"Costs by {report.by}, {span} ({report.timezone})", ""]
    if report.totals.calls == 0:
        lines.append("No calls recorded in this range.")
        return "\n".join(lines)
    other = [report.other] if report.other is not None else []
    lines.append(_stats_table(report.by, [*report.groups, *other, report.totals]))
    lines.append("")
    totals = report.totals
    lines.append(
        f"Total: {totals.calls:,} calls, {money(totals.cost_usd, unpriced=True)} "
        f"({totals.priced_calls:,} priced)"
    )
    if report.unpriced.calls:
        models = ", ".join(f"{model} x{count}" for model, count in report.unpriced.models.items())
        lines.append(
            f"Unpriced: {report.unpriced.calls:,} served call(s) with no known cost ({models}); "
            "add them under 'prices:' in the configuration"
        )
    tasks = report.tasks
    if tasks.tasks:
        per_task = money(tasks.cost_per_successful_task_usd)
        tokens = "-" if tasks.tokens_per_task is None else f"{tasks.tokens_per_task:,.0f}"
        lines.append(
            f"Tasks: {tasks.tasks:,} ({tasks.successful:,} successful), {per_task} per "
            f"successful task, {tokens} tokens per task"
        )
    if totals.tokens_saved or totals.usd_saved:
        lines.append(
            f"Compression saved {totals.tokens_saved:,} input tokens ({money(totals.usd_saved)})"
        )
    if report.top_conversations and report.by != "conversation":
        lines += ["", "Top conversations:", _stats_table("conversation", report.top_conversations)]
    return "\n".join(lines)


@click.command("costs")
@click.option(
    "--by",
    default="model",
    show_default=True,
    metavar=f"[{_GROUP_CHOICES}]",
    help="Break the costs down by this.",
)
@click.option("--since", default=None, help="Start (YYYY-MM-DD or ISO 8601), inclusive.")
@click.option(
    "--until", default=None, help="End, exclusive; a date YYYY-MM-DD includes that whole day."
)
@click.option(
    "--tz", default=None, help="Time zone for dates and days. Default: ledger.timezone (UTC)."
)
@click.option(
    "--top",
    default=10,
    show_default=True,
    help="How many top conversations to list (--by conversation: the rest summed in one row).",
)
@db_option
@config_option
@json_option
@handle_errors
def command(
    *,
    by: str,
    since: str | None,
    until: str | None,
    tz: str | None,
    top: int,
    db_path: str | None,
    config_path: Path | None,
    as_json: bool,
) -> None:
    """Show what LLM calls cost: totals, a breakdown, tasks, errors, latency and savings.

    Calls of unpriced models are counted separately and never shown as $0.
    Exit code 2 on a bad --by, date or time zone (nothing is read or written).
    """
    from agent_routing.config import load_settings
    from agent_routing.ledger import ledger_for, opened, run_sync
    from agent_routing.reports import build_report, prepare_query, to_jsonable

    settings = load_settings(config_path, validate_models=False)
    query = prepare_query(
        by=by, since=since, until=until, tz=tz or settings.ledger.timezone, top=top
    )
    where = existing_ledger(settings, db_path)  # a read command never creates a file
    ledger = ledger_for(settings.ledger, db_path)

    async def run() -> CostReport:
        async with opened(ledger):
            return await build_report(ledger, query)

    report = run_sync(run())
    if as_json:
        payload: Any = to_jsonable(report)
        emit_json(payload)
    else:
        click.echo(render_report(report))
        click.echo(f"\nLedger: {where}")
