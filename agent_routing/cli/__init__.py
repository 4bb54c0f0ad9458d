"""`agent-routing` command line: a click group whose subcommands load lazily.

Each subcommand lives in its own module (`agent_routing/cli/<module>.py`) as a click
command named `command`; importing the group imports none of them, so `--help` stays fast
and litellm / scikit-learn load only for the commands that need them.

Public: :func:`main` (the `agent-routing` entry point) and :data:`COMMANDS`, the registry
of command modules (each named after its command); `reference` regenerates the README's
command reference (`python -m agent_routing.cli.reference --update README.md`). Internal:
`_common` (options, errors, exit codes) and `_formatting` (tables, money, percentages).
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import click

__all__ = ["COMMANDS", "main"]

# command name -> module under agent_routing.cli (attribute: `command`)
COMMANDS: dict[str, str] = {
    "costs": "costs",
    "budget": "budget",
    "prices": "prices",
    "doctor": "doctor",
    "demo": "demo",
    "route": "route",
    "eval": "evaluate",
    "calibrate": "calibrate",
    "train": "train",
    "compress": "compress",
    "install": "install",
}


class LazyGroup(click.Group):
    """A group that imports a subcommand's module only when that subcommand is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name, module in COMMANDS.items() if _module_exists(module))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module_name = COMMANDS.get(cmd_name)
        if module_name is None or not _module_exists(module_name):
            return None
        module = importlib.import_module(f"agent_routing.cli.{module_name}")
        command: Any = module.command
        assert isinstance(command, click.Command)
        return command


def _module_exists(module: str) -> bool:
    return importlib.util.find_spec(f"agent_routing.cli.{module}") is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="agent-routing")
def main() -> None:
    """Cost tracking, budgets, model routing and compression for Agent Zero.

    Exit codes: 0 success, 1 runtime failure, 2 bad input (the message names the field),
    3 refused by a budget.
    """
