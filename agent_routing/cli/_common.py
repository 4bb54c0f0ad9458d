"""Helpers shared by the CLI commands: options, output, error handling, exit codes."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
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
    "Default: ledger.url / ledger.path from config, $AGENT_ROUTING_DB, "
    "or ~/.agent-routing/ledger.db.",
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


def parse_when(value: str | None, field: str, *, end_of_day: bool = False) -> float | None:
    """Parse an ISO date or datetime (naive = UTC) into Unix seconds; ConfigError names `field`."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            if end_of_day:
                moment = moment.replace(hour=23, minute=59, second=59, microsecond=999999)
        else:
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
    except ValueError:
        raise ConfigError.single(
            field, f"not a date or datetime {value!r} (use YYYY-MM-DD or ISO 8601)"
        ) from None
    return moment.timestamp()


def emit_json(payload: Any) -> None:
    """Print `payload` as one JSON document."""
    click.echo(json.dumps(payload, indent=2, sort_keys=False, default=str))


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain aligned text table (numbers right-aligned)."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for index, text in enumerate(row):
            widths[index] = max(widths[index], len(text))
    numeric = [
        all(isinstance(row[i], int | float) or row[i] is None for row in rows) and bool(rows)
        for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            value.rjust(widths[i]) if numeric[i] else value.ljust(widths[i])
            for i, value in enumerate(values)
        ]
        return "  ".join(parts).rstrip()

    out = [line(list(headers)), line(["-" * w for w in widths])]
    out.extend(line(row) for row in cells)
    return "\n".join(out)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6f}" if abs(value) < 1 else f"{value:,.4f}"
    return str(value)
