"""`agent-routing demo`: the main job on embedded defaults, offline, then the cost report."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import click

from agent_routing.cli._common import (
    DEMO_LEDGER,
    config_option,
    db_option,
    emit_json,
    format_table,
    handle_errors,
    json_option,
)
from agent_routing.cli._formatting import money, percent
from agent_routing.cli.costs import render_report
from agent_routing.config import data_home, load_settings

if TYPE_CHECKING:
    from agent_routing.demo import DemoReport


@click.command("demo")
@db_option
@config_option
@json_option
@handle_errors
def command(db_path: str | None, config_path: Path | None, as_json: bool) -> None:
    """Play a scripted multi-step agent session offline and print its cost report.

    Every call goes through the router, the budgets, litellm (mock responses: no network,
    no API key), capture and the SQLite ledger; the report is read back from the ledger.
    The ledger is a fresh demo file (default: demo.db in the data directory) so your real
    ledger is never touched; inspect it afterwards with `agent-routing costs --db PATH`.
    A file at --db is replaced only if an earlier demo created it (the demo marks its
    ledger); any other file is refused with exit code 2 and left as it is.
    """
    from agent_routing.demo import build_demo_report, fresh_demo_ledger, run_demo

    settings = load_settings(config_path)
    path = _demo_file(db_path) or data_home() / DEMO_LEDGER
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh_demo_ledger(path)  # refuses (exit 2) a file the demo did not create
    result = asyncio.run(run_demo(path, settings))
    report = asyncio.run(build_demo_report(result, settings))
    if as_json:
        emit_json(report.as_json())
    else:
        click.echo(_render_demo_report(report))


def _demo_file(db_path: str | None) -> Path | None:
    """The demo always writes a local SQLite file of its own; a server URL is refused."""
    if db_path is None:
        return None
    from agent_routing.ledger.urls import parse_ledger_url

    target = parse_ledger_url(db_path, "db")
    if target.path is None:
        from agent_routing.errors import ConfigError

        raise ConfigError.single(
            "db", f"the demo writes a fresh local SQLite file, not {target.redacted()}"
        )
    return target.path


def _render_demo_report(report: DemoReport) -> str:
    """The human-readable demo output: narrative, cost tables, budgets, saving."""
    result = report.result
    lines = [
        f"Scripted agent session {result.conversation_id} (offline: litellm mock responses)",
        "",
        format_table(
            ["step", "kind", "tier", "model", "score", "hops", "why"],
            [
                [
                    step.label,
                    step.kind,
                    step.tier or "-",
                    step.model,
                    "-" if step.score is None else f"{step.score:.2f}",
                    step.hops,
                    step.reason,
                ]
                for step in result.steps
            ],
        ),
        "",
        render_report(report.by_model),
        "",
        render_report(report.by_kind).split("\n\nTotal:")[0],
        "",
        "Budgets:",
        format_table(
            ["budget", "enforcement", "limit", "spent", "used"],
            [
                [
                    status.key,
                    status.enforcement,
                    money(status.limit_usd),
                    money(status.spent_usd),
                    percent(status.fraction),
                ]
                for status in report.budgets
            ],
        ),
        "",
    ]
    if report.saving is not None and report.all_strong_cost_usd is not None:
        lines.append(
            f"Routed cost {money(report.routed_cost_usd)} vs {money(report.all_strong_cost_usd)} "
            f"with every call on {report.strongest_model}: {report.saving:.0%} saved "
            "(same recorded tokens, priced from litellm's map)."
        )
    lines.append(f"Ledger: {result.db_path}  (try: agent-routing costs --db {result.db_path})")
    return "\n".join(lines)
