"""The spool: records a process could not write to its ledger before it exited.

The background writer retries a busy, missing or unreachable ledger for as long as the
process lives, so a record is only at risk when the process ends first (the ledger file
is garbage, the PostgreSQL server is down while the container stops). Then, at exit, the
writer saves what is still unwritten here, one JSON line per record, in
`$AGENT_ROUTING_HOME/spool/` (see :func:`agent_routing.config.data_home`), and the next
writer of the same ledger (in any process) writes the spooled records into it once it
opens, then deletes the file. Writing twice is harmless: calls merge by id, decisions and
signals are inserted once.

A file is named `<ledger hash>-<unique>.jsonl` (the hash of the ledger's path or URL, so
no password is ever in a file name); its first line names the ledger (without password)
for the person who finds it. A writer claims a file by renaming it (atomic), so two
processes never import the same file; a file that cannot be imported is renamed back.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from agent_routing.config import data_home
from agent_routing.ids import new_id
from agent_routing.records import (
    CallRecord,
    DecisionRecord,
    Outcome,
    OutcomeSignal,
    UnitPrices,
    Usage,
    UsageSource,
)

logger = logging.getLogger("agent_routing.ledger")

FORMAT = 1
KINDS = ("call", "decision", "signal")
"""Record kinds in spool lines, in the writer's kind order (0, 1, 2)."""

SpooledRecord = tuple[int, CallRecord | DecisionRecord | OutcomeSignal]
"""(kind index in `KINDS`, record)."""


def spool_dir() -> Path:
    """Where spooled records wait: `<data home>/spool`."""
    return data_home() / "spool"


def ledger_hash(key: str) -> str:
    """A short, stable name for a ledger (its resolved path or server URL)."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _encode(kind: int, record: Any) -> str:
    return json.dumps({"kind": KINDS[kind], "record": asdict(record)}, default=str)


def _decode(line: str) -> SpooledRecord:
    entry = json.loads(line)
    kind = KINDS.index(entry["kind"])
    data: dict[str, Any] = entry["record"]
    if kind == 0:
        usage, prices, source = data.pop("usage"), data.pop("prices"), data.pop("usage_source")
        data["outcome"] = Outcome(data["outcome"])
        return kind, CallRecord(
            **data,
            usage=None if usage is None else Usage(**usage),
            prices=None if prices is None else UnitPrices(**prices),
            usage_source=None if source is None else UsageSource(source),
        )
    if kind == 1:
        data["top_features"] = [tuple(pair) for pair in data["top_features"]]
        return kind, DecisionRecord(**data)
    return kind, OutcomeSignal(**data)


def save(
    key: str, label: str, records: Sequence[tuple[int, Any]], folder: Path | None = None
) -> Path | None:
    """Write `records` ((kind, record) pairs) to a new spool file for the ledger `key` in
    `folder` (default :func:`spool_dir`).

    The file appears complete or not at all (written under a temporary name, synced,
    renamed). Returns its path, or None (logged) when nothing could be written."""
    if not records:
        return None
    folder = folder or spool_dir()
    name = f"{ledger_hash(key)}-{new_id()}.jsonl"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / f".{name}.tmp"
        with temporary.open("w", encoding="utf-8") as handle:
            handle.write(json.dumps({"format": FORMAT, "ledger": label}) + "\n")
            for kind, record in records:
                handle.write(_encode(kind, record) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        target = folder / name
        temporary.replace(target)
    except OSError:
        logger.exception(
            "ledger writer for %s: %d record(s) could not be written to the ledger nor "
            "spooled to %s: they are lost",
            label,
            len(records),
            folder,
        )
        return None
    return target


def claim(key: str, folder: Path | None = None) -> list[Path]:
    """The spool files of the ledger `key` (in `folder`, default :func:`spool_dir`), each
    renamed so no other process takes it."""
    folder = folder or spool_dir()
    try:
        candidates = sorted(folder.glob(f"{ledger_hash(key)}-*.jsonl"))
    except OSError:
        return []
    claimed = []
    for path in candidates:
        taken = path.with_name(f"{path.name}.claimed-{os.getpid()}")
        try:
            path.rename(taken)
        except OSError:  # another process took it first
            continue
        claimed.append(taken)
    return claimed


def load(path: Path) -> list[SpooledRecord]:
    """The records of a claimed spool file (ValueError when it is not one)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or json.loads(lines[0]).get("format") != FORMAT:
        raise ValueError(f"{path} is not a spool file of format {FORMAT}")
    return [_decode(line) for line in lines[1:] if line.strip()]


def release(path: Path, *, imported: bool, bad: bool = False) -> None:
    """Delete an imported claimed file, or give it back for a later writer (`bad`: set
    aside as `<name>.bad` for a person to look at; never read again)."""
    original = path.with_name(path.name.split(".claimed-")[0])
    try:
        if imported:
            path.unlink()
        else:
            path.rename(original.with_name(original.name + ".bad") if bad else original)
    except OSError as error:
        action = "delete" if imported else "release"
        logger.warning("ledger spool: cannot %s %s: %s", action, path, error)
