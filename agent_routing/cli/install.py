"""`agent-routing install PATH`: put the plugin into an Agent Zero checkout (or take it out)."""

from __future__ import annotations

from pathlib import Path

import click

from agent_routing.cli._common import emit_json, handle_errors, json_option

_VERBS = {
    "create": "add",
    "update": "update",
    "unchanged": "same",
    "keep-edited": "KEEP (edited by you)",
    "keep-user": "KEEP (not ours)",
    "remove": "remove",
}


@click.command("install")
@click.argument("agent_zero_root", type=click.Path(path_type=Path, file_okay=False))
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@click.option("--uninstall", is_flag=True, help="Remove the files a previous install wrote.")
@json_option
@handle_errors
def command(agent_zero_root: Path, dry_run: bool, uninstall: bool, as_json: bool) -> None:
    """Install the Agent Zero plugin into AGENT_ZERO_ROOT (in Docker: /a0).

    Writes usr/plugins/agent_routing/ plus a manifest of what it wrote. Running it again
    updates unedited files and keeps the ones you changed; --uninstall removes exactly
    what was installed. Exit code 2 if AGENT_ZERO_ROOT is not a supported Agent Zero.
    """
    from agent_routing import installer

    if uninstall:
        report = installer.uninstall(agent_zero_root, dry_run=dry_run)
    else:
        report = installer.install(agent_zero_root, dry_run=dry_run)
    if as_json:
        emit_json(
            {
                "root": str(report.root),
                "layout": report.layout.value,
                "plugin_dir": str(report.plugin_dir),
                "dry_run": report.dry_run,
                "actions": [{"path": a.path, "action": a.action.value} for a in report.actions],
                "next_steps": report.next_steps,
            }
        )
        return
    verb = "Would change" if dry_run else ("Uninstalled from" if uninstall else "Installed into")
    click.echo(f"{verb} {report.plugin_dir} (Agent Zero layout {report.layout.value})")
    for item in report.actions:
        if item.action.value != "unchanged":
            click.echo(f"  {_VERBS[item.action.value]:<20} {item.path}")
    unchanged = sum(1 for a in report.actions if a.action.value == "unchanged")
    if unchanged:
        click.echo(f"  ({unchanged} file(s) already up to date)")
    if report.next_steps:
        click.echo("\nNext:")
        for step in report.next_steps:
            click.echo(f"  - {step}")
