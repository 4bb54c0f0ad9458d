"""Helpers shared by the CLI commands: options, output, error handling, exit codes."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

from agent_routing.errors import (
    AgentRoutingError,
    BudgetBlockedError,
    ConfigError,
    UnknownModelError,
)

P = ParamSpec("P")
R = TypeVar("R")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_BLOCKED = 3

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
        except (ConfigError, UnknownModelError) as error:
            fail(str(error), EXIT_BAD_INPUT)
        except BudgetBlockedError as error:
            fail(str(error), EXIT_BLOCKED)
        except AgentRoutingError as error:
            fail(str(error), EXIT_FAILURE)
        raise AssertionError("unreachable")  # pragma: no cover

    return wrapper


def emit_json(payload: Any) -> None:
    """Print `payload` as one JSON document."""
    click.echo(json.dumps(payload, indent=2, sort_keys=False, default=str))


def format_table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], *, numeric: Collection[int] | None = None
) -> str:
    """An aligned text table that fits the terminal (see :mod:`agent_routing.cli.formatting`)."""
    from agent_routing.cli.formatting import table

    return table(headers, rows, numeric=numeric)
