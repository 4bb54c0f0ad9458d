"""`agent-routing doctor`: is everything in place to record and price calls offline?

Each check really does the thing it vouches for: the ledger is opened, migrated and
written to (inside a transaction that is rolled back), the tokenizers are loaded from the
files in the litellm wheel, the price map is compared with the one shipped in the wheel.

The ledger check also repairs the one thing that never heals by itself: calls left pending
by processes killed mid-call more than `capture.abandoned_after_s` ago are closed as
abandoned, so budgets count their cost. It says how many it closed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from agent_routing.cli._common import (
    EXIT_FAILURE,
    config_option,
    db_option,
    emit_json,
    handle_errors,
    json_option,
)
from agent_routing.cli._formatting import money

if TYPE_CHECKING:
    from agent_routing.config import Settings
    from agent_routing.ledger import OrphanSweep

SUPPORTED_LITELLM = ((1, 79, 3), (2, 0, 0))  # >=1.79.3,<2 (pyproject)
COMPROMISED_LITELLM = frozenset({"1.82.7", "1.82.8", "1.107.0"})
TIKTOKEN_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
PROBE_MODEL = "agent-routing-doctor-probe"


@dataclass(frozen=True, slots=True)
class Check:
    """The result of one check: a name, pass or fail, and what was found (`facts`: the
    same as numbers, for `--json`)."""

    name: str
    ok: bool
    detail: str
    facts: dict[str, Any] = field(default_factory=dict)


def _check_config(config_path: Path | None) -> tuple[Check, Settings | None]:
    """The configuration loads and validates (tier models must be priced)."""
    from agent_routing.config import config_path_from_env, load_settings
    from agent_routing.errors import AgentRoutingError

    path = config_path or config_path_from_env()
    try:
        settings = load_settings(config_path)
    except AgentRoutingError as error:
        return Check("config", False, str(error).replace("\n", " ")), None
    where = str(path) if path else "built-in defaults (no configuration file)"
    return Check("config", True, f"valid: {where}"), settings


def _check_ledger(settings: Settings, db_path: str | Path | None) -> Check:
    """The configured backend (a SQLite file or a PostgreSQL server, named without its
    password) is reachable, opens and migrates, calls orphaned by dead processes are
    closed, and a probe row is written and read back, then rolled back so nothing is left
    behind."""
    from agent_routing.errors import ConfigError
    from agent_routing.ledger import ledger_for, opened, run_sync
    from agent_routing.ledger.registry import resolve

    try:
        target = resolve(settings.ledger, db_path)
    except ConfigError as error:
        return Check("ledger", False, str(error).replace("\n", " "))
    where = target.redacted()
    if target.path is not None and not target.path.exists():  # a check never creates it
        return _missing_ledger(target.path)
    cutoff = time.time() - settings.capture.abandoned_after_s
    try:

        async def open_migrate_and_close_orphans() -> tuple[OrphanSweep, tuple[bool, int]]:
            async with opened(ledger_for(settings.ledger, target)) as ledger:
                swept = await ledger.close_orphaned_calls(started_before=cutoff)
                probe_write = getattr(ledger, "probe_write", None)
                if probe_write is not None:  # a server: probe through its own connection
                    return swept, await probe_write(PROBE_MODEL)
            assert target.path is not None
            return swept, _probe_sqlite(target.path)

        swept, (read_back, calls) = run_sync(open_migrate_and_close_orphans())
    except Exception as error:
        return Check("ledger", False, f"{where}: {type(error).__name__}: {error}")
    if not read_back:
        return Check("ledger", False, f"{where}: probe row not read back")
    facts = {
        "backend": target.scheme,
        "url": where,
        "calls": calls,
        "orphans_closed": swept.closed,
        "orphans_cost_usd": swept.cost_usd,
        "orphans_unpriced": swept.unpriced,
    }
    return Check(
        "ledger",
        True,
        f"reachable, migrated, writable: {where} ({target.scheme}; {calls:,} calls recorded; "
        f"{_orphans_text(swept, settings)})",
        facts,
    )


def _probe_sqlite(path: Path) -> tuple[bool, int]:
    """Write a probe call row into the SQLite file and read it back, then roll back."""
    from agent_routing.ledger.merge import UPSERT_CALL_SQL
    from agent_routing.ledger.rows import call_to_row
    from agent_routing.ledger.sqlite import ensure_math_functions_sync
    from agent_routing.records import CallRecord

    probe = CallRecord(id=f"doctor-{time.time_ns()}", started_at=time.time(), model=PROBE_MODEL)
    connection = sqlite3.connect(path, isolation_level=None, timeout=5)
    try:
        ensure_math_functions_sync(connection)  # the report rollup's triggers use them
        connection.execute("BEGIN IMMEDIATE")
        connection.execute(UPSERT_CALL_SQL, call_to_row(probe))
        found = connection.execute("SELECT model FROM calls WHERE id = ?", (probe.id,))
        read_back = found.fetchone()
        calls = connection.execute("SELECT COUNT(*) FROM calls").fetchone()[0] - 1
        connection.execute("ROLLBACK")
    finally:
        connection.close()
    return read_back == (PROBE_MODEL,), int(calls)


def _missing_ledger(path: Path) -> Check:
    """No ledger file yet: fine if the first recorded call will be able to create it."""
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        return Check(
            "ledger",
            False,
            f"{path} does not exist and cannot be created ({folder} is not a writable directory)",
        )
    return Check(
        "ledger",
        True,
        f"no ledger at {path} yet (not created by this check; the first recorded call creates it)",
        {"calls": 0, "exists": False},
    )


def _orphans_text(swept: OrphanSweep, settings: Settings) -> str:
    after = f"{settings.capture.abandoned_after_s:g} s"
    if not swept.closed:
        return f"no call left pending over {after} by a dead process"
    unpriced = f", {swept.unpriced} unpriced" if swept.unpriced else ""
    return (
        f"closed {swept.closed:,} call(s) left pending over {after} by dead processes "
        f"as abandoned, {money(swept.cost_usd)} now counted{unpriced}"
    )


def check_price_map() -> Check:
    """litellm uses the price map shipped in its wheel (LITELLM_LOCAL_MODEL_COST_MAP)."""
    from agent_routing._litellm import litellm_module
    from agent_routing.pricing import price_map_size

    try:
        litellm = litellm_module()  # sets the flag to True unless the environment set it
        shipped_file = resources.files("litellm") / "model_prices_and_context_window_backup.json"
        shipped = json.loads(shipped_file.read_text(encoding="utf-8"))
    except Exception as error:
        return Check("price map", False, f"cannot read the offline map: {error}")
    flag = os.environ.get("LITELLM_LOCAL_MODEL_COST_MAP", "")
    if flag != "True":
        return Check(
            "price map",
            False,
            f"LITELLM_LOCAL_MODEL_COST_MAP is {flag!r}, not 'True': litellm fetches prices "
            "from the network at import",
        )
    if len(shipped) != len(litellm.model_cost):
        return Check(
            "price map",
            False,
            f"loaded map has {len(litellm.model_cost):,} entries, the wheel's {len(shipped):,}",
        )
    return Check(
        "price map", True, f"offline map from the litellm wheel: {price_map_size():,} models"
    )


def check_tokenizers() -> Check:
    """cl100k_base and o200k_base load from the files bundled with litellm, offline."""
    from agent_routing import tokens

    directory = tokens.tokenizer_dir()
    if directory is None:
        return Check("tokenizers", False, "litellm's tokenizer directory was not found")
    missing = [
        name
        for name in tokens.ENCODINGS
        if not (
            directory
            / hashlib.sha1(
                TIKTOKEN_URL.format(name=name).encode(), usedforsecurity=False
            ).hexdigest()
        ).is_file()
    ]
    if missing:
        return Check("tokenizers", False, f"missing in {directory}: {', '.join(missing)}")
    try:
        counts = {
            name: len(tokens.get_encoding(name).encode_ordinary("hello world"))
            for name in tokens.ENCODINGS
        }
    except Exception as error:
        return Check("tokenizers", False, f"cannot load: {type(error).__name__}: {error}")
    return Check("tokenizers", True, f"{', '.join(counts)} load offline from {directory}")


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def check_litellm_version(version: str | None = None) -> Check:
    """The installed litellm is in the supported range and not a compromised release."""
    from agent_routing._litellm import litellm_version

    version = version or litellm_version()
    if version in COMPROMISED_LITELLM:
        return Check("litellm", False, f"{version} is a compromised release: reinstall another now")
    low, high = SUPPORTED_LITELLM
    if not low <= _version_tuple(version) < high:
        return Check("litellm", False, f"{version} is outside the supported range >=1.79.3,<2")
    return Check("litellm", True, f"{version} (supported: >=1.79.3,<2)")


def check_spool() -> Check:
    """Records saved at exit because their ledger could not be written (see docs/ledger.md):
    waiting files are written by the next writer of their ledger; a `.bad` file could not be
    read back and needs a person."""
    from agent_routing.ledger.spool import spool_dir

    folder = spool_dir()
    waiting = sorted(folder.glob("*.jsonl")) if folder.is_dir() else []
    bad = sorted(folder.glob("*.bad")) if folder.is_dir() else []
    facts = {"folder": str(folder), "waiting": len(waiting), "bad": len(bad)}
    if not waiting and not bad:
        return Check("spool", True, "no records waiting", facts)
    text = (
        f"{len(waiting)} file(s) of records saved at exit wait for their ledger (written when "
        f"an agent next opens it); {len(bad)} unreadable file(s) set aside: {folder}"
    )
    return Check("spool", not bad, text, facts)


def _run_checks(config_path: Path | None, db_path: str | Path | None) -> list[Check]:
    """Every check, in order; the ledger check uses default settings if the config failed."""
    from agent_routing.config import Settings

    config, settings = _check_config(config_path)
    checks: list[Callable[[], Check]] = [
        lambda: _check_ledger(settings or Settings(), db_path),
        check_price_map,
        check_tokenizers,
        check_litellm_version,
        check_spool,
    ]
    return [config, *(check() for check in checks)]


@click.command("doctor")
@config_option
@db_option
@json_option
@handle_errors
def command(*, config_path: Path | None, db_path: str | None, as_json: bool) -> None:
    """Check the configuration, the ledger, the offline price map, the tokenizers, the
    litellm version and the spool. One line per check; exit code 1 if any fails.

    The ledger check also closes, as abandoned, calls left pending longer than
    capture.abandoned_after_s by processes that were killed, and says how many. The spool
    check counts records saved at exit because their ledger could not be written (the next
    writer of that ledger writes them) and fails on a file that could not be read back.
    """
    checks = _run_checks(config_path, db_path)
    healthy = all(check.ok for check in checks)
    if as_json:
        emit_json({"ok": healthy, "checks": [asdict(check) for check in checks]})
    else:
        width = max(len(check.name) for check in checks)
        for check in checks:
            click.echo(
                f"{'ok  ' if check.ok else 'FAIL'}  {check.name.ljust(width)}  {check.detail}"
            )
    if not healthy:
        raise SystemExit(EXIT_FAILURE)
