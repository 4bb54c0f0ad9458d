"""Helpers shared by the CLI commands: options, output, error handling, exit codes."""

from __future__ import annotations

import functools
import json
import re
import sys
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import click

from agent_routing.errors import (
    AgentRoutingError,
    BudgetBlockedError,
    ConfigError,
    UnknownModelError,
)

if TYPE_CHECKING:
    from agent_routing.config import Settings

P = ParamSpec("P")
R = TypeVar("R")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_BLOCKED = 3

DEMO_LEDGER = "demo.db"  # `agent-routing demo` writes here, in the data directory

json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Configuration file (YAML/JSON). Default: $AGENT_ROUTING_CONFIG or built-in defaults.",
)
db_option = click.option(
    "--db",
    "db_path",
    type=str,  # a path or a ledger URL (sqlite:///..., postgresql://...): kept as given
    default=None,
    help="Ledger: a file path, sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DB. "
    "Default: ledger.url / ledger.path from config, $AGENT_ROUTING_DB, or ledger.db in the "
    "data directory ($AGENT_ROUTING_HOME, else the user data folder).",
)


def fail(message: str, code: int = EXIT_BAD_INPUT) -> None:
    """Print `Error: message` to stderr and exit with `code`."""
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn the package's errors into a clear message and the documented exit code."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except ConfigError as error:
            fail(describe_config_error(error), EXIT_BAD_INPUT)
        except UnknownModelError as error:
            fail(str(error), EXIT_BAD_INPUT)
        except BudgetBlockedError as error:
            fail(str(error), EXIT_BLOCKED)
        except AgentRoutingError as error:
            fail(str(error), EXIT_FAILURE)
        raise AssertionError("unreachable")  # pragma: no cover

    return wrapper


def describe_config_error(error: ConfigError) -> str:
    """The message for a ConfigError. When every problem is about an option or argument of
    the running command (`--since`, `--data`, FILES), it is bad input, not configuration:
    it says `invalid input` and names the option as typed."""
    context = click.get_current_context(silent=True)
    names: dict[str, str] = {}
    if context is not None:
        for param in context.command.params:
            if param.name is None:
                continue
            shown = param.opts[0] if isinstance(param, click.Option) else param.name.upper()
            names[param.name] = shown
            names[shown] = shown  # a field already named `--budget`
    roots = [re.split(r"[.\[]", field, maxsplit=1)[0] for field, _ in error.problems]
    if not error.problems or not all(root in names for root in roots):
        return str(error)
    lines = [
        f"{names[root]}{field[len(root) :]}: {message}"
        for root, (field, message) in zip(roots, error.problems, strict=True)
    ]
    return "invalid input:\n  " + "\n  ".join(lines)


def existing_ledger(settings: Settings, db_path: str | Path | None) -> str:
    """Where a read command reads (shown to the user). A SQLite file that does not exist
    is not created: exit 1 saying which file that is, that nothing was created, and where
    the demo's ledger is if there is one. A server ledger (PostgreSQL) is not checked here."""
    from agent_routing.config import data_home
    from agent_routing.ledger.registry import resolve

    target = resolve(settings.ledger, db_path)
    if target.path is None or target.path.exists():
        return target.redacted()
    path = target.path
    message = [f"no ledger at {path}: nothing has been recorded there (nothing was created)."]
    demo = data_home() / DEMO_LEDGER
    if demo.exists() and demo != path:
        message.append(f"The demo's ledger is {demo}: add --db {demo}")
    else:
        message.append(
            "Agent Zero's calls are recorded where ledger.path points; pass that file with --db."
        )
    fail("\n".join(message), EXIT_FAILURE)
    raise AssertionError("unreachable")  # pragma: no cover


def emit_json(payload: Any) -> None:
    """Print `payload` as one JSON document."""
    click.echo(json.dumps(payload, indent=2, sort_keys=False, default=str))


def format_table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], *, numeric: Collection[int] | None = None
) -> str:
    """An aligned text table that fits the terminal (see :mod:`agent_routing.cli._formatting`)."""
    from agent_routing.cli._formatting import table

    return table(headers, rows, numeric=numeric)
