"""The report rollup: per UTC hour sums of the calls, kept by triggers on `calls`.

`report_rollup` has one row per (dimension, UTC hour, value, latency bucket), where the
dimension is one report breakdown (`model`, `kind`, `tool`, `tier`, `conversation`) and
the value is that column of the call. Each call adds to one row of every dimension: its
counts by outcome, retries, token sums, cost sum, priced/unpriced counts and savings, the
same sums the report makes from raw rows (`report_sql._SUMS`). Triggers AFTER INSERT,
UPDATE and DELETE on `calls` subtract a row's old contribution and add its new one in the
transaction that writes the call, so the rollup is always exactly the calls' aggregate
(a pending call later finished, usage corrected, a merge: all the same). On PostgreSQL the
trigger appends the contributions to `report_rollup_delta` instead (concurrent writers
would otherwise queue on the same hot rollup rows), each written batch then folds the
deltas into `report_rollup` under a try-lock, and the reports read both
(:func:`rollup_source`).

Values are stored encoded so that NULL is a key: `''` for NULL, `'=' || value` otherwise.
Hours are `floor(started_at / 3600)`: a local day of any zone whose offset is a whole
number of hours is a union of UTC hours; other edges (half-hour zones, a range cut inside
an hour) are read from the calls themselves.

Latency is kept as a histogram: bucket `floor(4 * log2(max(latency_ms, 0.001)))`
(quarter-octave buckets, ratio 2^(1/4)), or `NO_LATENCY` for calls without one. A
percentile from the histogram takes the geometric midpoint of the bucket of each of the two
closest ranks and interpolates between them like the exact report, so it is within a
factor 2^(1/8) of the exact value: relative error at most 9.05 % (`PERCENTILE_ERROR`),
for latencies of at least 1 microsecond.
"""

from __future__ import annotations

import math

HOUR_S = 3600
BUCKETS_PER_OCTAVE = 4
NO_LATENCY = -1000
MIN_LATENCY_MS = 0.001
PERCENTILE_ERROR = 2 ** (1 / (2 * BUCKETS_PER_OCTAVE)) - 1
"""Largest relative error of a percentile read from the histogram (0.0905)."""

DIMENSIONS: dict[str, str] = {
    "model": "model",
    "kind": "call_kind",
    "tool": "tool",
    "tier": "tier",
    "conversation": "conversation_id",
}
"""Rollup dimension -> the calls column it groups."""

NO_HISTOGRAM = frozenset({"conversation"})
"""Dimensions kept without latency buckets (one row per hour and value): a conversation's
rows are few, so the top conversations and the tasks sum few rows."""

LATENCY_ONLY: dict[str, str] = {"conversation_latency": "conversation_id"}
"""Histogram-only dimensions (only `calls` is counted, per latency bucket): the
conversations' latencies, read for their percentiles only."""


def _dimensions() -> list[tuple[str, str, bool, bool]]:
    """(dim, column, with latency buckets, with the sums) of every rollup dimension."""
    rows = [(dim, column, dim not in NO_HISTOGRAM, True) for dim, column in DIMENSIONS.items()]
    return rows + [(dim, column, True, False) for dim, column in LATENCY_ONLY.items()]


ROLLUP_SUMS: tuple[tuple[str, str], ...] = (
    ("calls", "1"),
    ("pending", "CASE WHEN {r}.outcome = 'pending' THEN 1 ELSE 0 END"),
    ("ok", "CASE WHEN {r}.outcome = 'ok' THEN 1 ELSE 0 END"),
    (
        "errors",
        "CASE WHEN {r}.outcome IN ('error', 'rate_limited', 'timeout', 'context_overflow', "
        "'content_policy') THEN 1 ELSE 0 END",
    ),
    ("blocked", "CASE WHEN {r}.outcome = 'blocked' THEN 1 ELSE 0 END"),
    ("abandoned", "CASE WHEN {r}.outcome = 'abandoned' THEN 1 ELSE 0 END"),
    ("retries", "CASE WHEN {r}.attempt > 0 THEN 1 ELSE 0 END"),
    ("input_tokens", "COALESCE({r}.input_tokens, 0)"),
    ("output_tokens", "COALESCE({r}.output_tokens, 0)"),
    ("cached_read_tokens", "COALESCE({r}.cached_read_tokens, 0)"),
    ("cost_usd", "COALESCE({r}.cost_usd, 0)"),
    ("priced_calls", "CASE WHEN {r}.cost_usd IS NOT NULL THEN 1 ELSE 0 END"),
    (
        "unpriced_calls",
        "CASE WHEN {r}.cost_usd IS NULL AND {r}.outcome IN ('ok', 'abandoned') THEN 1 ELSE 0 END",
    ),
    ("tokens_saved", "COALESCE({r}.tokens_saved, 0)"),
    ("usd_saved", "COALESCE({r}.usd_saved, 0)"),
)
"""(column, contribution of one call row `{r}`), in `report_sql.SUM_FIELDS` order."""

_WATCHED = (
    "started_at",
    "model",
    "call_kind",
    "tool",
    "tier",
    "conversation_id",
    "outcome",
    "attempt",
    "input_tokens",
    "output_tokens",
    "cached_read_tokens",
    "cost_usd",
    "tokens_saved",
    "usd_saved",
    "latency_ms",
)
"""Columns whose change changes a call's contribution (other updates skip the trigger)."""


def bucket_sql(dialect: str, row: str = "") -> str:
    """The latency bucket of a call row (`row.` prefix, or bare columns)."""
    latency = f"{row}latency_ms"
    if dialect == "postgresql":
        log2 = f"(ln(greatest({latency}, {MIN_LATENCY_MS})) / ln(2.0))"
        return (
            f"(CASE WHEN {latency} IS NULL THEN {NO_LATENCY} "
            f"ELSE floor({BUCKETS_PER_OCTAVE} * {log2})::integer END)"
        )
    return (
        f"(CASE WHEN {latency} IS NULL THEN {NO_LATENCY} "
        f"ELSE CAST(floor({BUCKETS_PER_OCTAVE} * log2(max({latency}, {MIN_LATENCY_MS}))) "
        "AS INTEGER) END)"
    )


def hour_sql(dialect: str, row: str = "") -> str:
    """The UTC hour of a call row's start."""
    if dialect == "postgresql":
        return f"floor({row}started_at / {HOUR_S})::bigint"
    return f"CAST(floor({row}started_at / {HOUR_S}) AS INTEGER)"


def value_sql(column: str, row: str = "") -> str:
    """A column encoded as a rollup value: '' for NULL, '=' || value otherwise."""
    return f"COALESCE('=' || {row}{column}, '')"


def decode_value(value: object) -> str | None:
    """The calls column value of an encoded rollup value."""
    text = str(value)
    return None if text == "" else text[1:]


def bucket_midpoint(bucket: int) -> float:
    """The geometric midpoint of a latency bucket (ms)."""
    return float(2 ** ((bucket + 0.5) / BUCKETS_PER_OCTAVE))


def histogram_percentile(counts: dict[int, int], fraction: float) -> float | None:
    """A percentile of a latency histogram {bucket: calls} (NO_LATENCY excluded):
    interpolation between the closest ranks, each rank at its bucket's midpoint."""
    ordered = sorted((b, n) for b, n in counts.items() if b != NO_LATENCY and n > 0)
    total = sum(n for _, n in ordered)
    if not total:
        return None
    position = (total - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, total - 1)

    def at(rank: int) -> float:
        seen = 0
        for bucket, n in ordered:
            seen += n
            if rank < seen:
                return bucket_midpoint(bucket)
        return bucket_midpoint(ordered[-1][0])  # pragma: no cover - rank < total

    low_value, high_value = at(low), at(high)
    return low_value + (high_value - low_value) * (position - low)


def table_sql(dialect: str, name: str = "report_rollup") -> str:
    integer = "BIGINT" if dialect == "postgresql" else "INTEGER"
    real = "DOUBLE PRECISION" if dialect == "postgresql" else "REAL"
    sums = ", ".join(
        f"{name} {real if name in ('cost_usd', 'usd_saved') else integer} NOT NULL DEFAULT 0"
        for name, _ in ROLLUP_SUMS
    )
    suffix = "" if dialect == "postgresql" else " WITHOUT ROWID"
    key = ", PRIMARY KEY (dim, hour, value, bucket)" if name == "report_rollup" else ""
    return (
        f"CREATE TABLE {name} (dim TEXT NOT NULL, hour {integer} NOT NULL, "
        f"value TEXT NOT NULL, bucket INTEGER NOT NULL, {sums}{key}){suffix if key else ''}"
    )


FOLD_LOCK_KEY = 0x41_52_5F_52_4F_4C  # "AR_ROL": one folder of the PostgreSQL deltas at a time


def rollup_source(dialect: str) -> str:
    """The rollup as the reports read it: on PostgreSQL the folded rows plus the deltas
    not folded yet (both are sums; the reports group them)."""
    if dialect == "postgresql":
        return "(SELECT * FROM report_rollup UNION ALL SELECT * FROM report_rollup_delta)"
    return "report_rollup"


def _delta(row: str, sign: str) -> str:
    """PostgreSQL: one INSERT of the contribution of call row `row` (times `sign`) to every
    dimension into the append-only delta table."""
    tuples = []
    for dim, column, histogram, with_sums in _dimensions():
        sums = ROLLUP_SUMS if with_sums else ROLLUP_SUMS[:1]
        values = [f"{sign}({expression.format(r=row)})" for _, expression in sums]
        values += ["0"] * (len(ROLLUP_SUMS) - len(sums))
        bucket = bucket_sql("postgresql", row + ".") if histogram else str(NO_LATENCY)
        tuples.append(
            f"('{dim}', {hour_sql('postgresql', row + '.')}, {value_sql(column, row + '.')}, "
            f"{bucket}, {', '.join(values)})"
        )
    names = ", ".join(name for name, _ in ROLLUP_SUMS)
    return (
        f"INSERT INTO report_rollup_delta (dim, hour, value, bucket, {names}) "
        f"VALUES {', '.join(tuples)};"
    )


def _fold_function(*, task_last: bool = False) -> str:
    """The fold (m011); with `task_last` (m012) it also refreshes `report_task_last` for the
    conversations of the deltas it moves, in the same statement: the calls it seeks are
    those of the same snapshot as the deltas, so a delta moved is a change seen."""
    names = ", ".join(name for name, _ in ROLLUP_SUMS)
    sums = ", ".join(f"SUM({name})" for name, _ in ROLLUP_SUMS)
    updates = ", ".join(
        f"{name} = report_rollup.{name} + EXCLUDED.{name}" for name, _ in ROLLUP_SUMS
    )
    fold = (
        f"INSERT INTO report_rollup (dim, hour, value, bucket, {names}) "
        f"SELECT dim, hour, value, bucket, {sums} FROM moved "
        "GROUP BY dim, hour, value, bucket ORDER BY dim, hour, value, bucket "
        f"ON CONFLICT (dim, hour, value, bucket) DO UPDATE SET {updates}"
    )
    if task_last:
        fold = (
            f"folded AS ({fold} RETURNING 1) "
            "INSERT INTO report_task_last (conversation_id, started_at, id, outcome) "
            "SELECT c.c, l.started_at, l.id, l.outcome FROM (SELECT DISTINCT substr(value, 2) "
            "AS c FROM moved WHERE dim = 'conversation' AND value <> '') c LEFT JOIN LATERAL "
            f"(SELECT started_at, id, outcome {_LAST_FINISHED.format(c='c.c')}) l ON true "
            f"ORDER BY c.c {_TASK_LAST_UPSERT}"
        )
    create = "CREATE OR REPLACE" if task_last else "CREATE"
    return (
        f"{create} FUNCTION routing_fold_rollup() RETURNS void LANGUAGE plpgsql AS $$ BEGIN "
        f"IF pg_try_advisory_xact_lock({FOLD_LOCK_KEY}) THEN "
        f"WITH moved AS (DELETE FROM report_rollup_delta RETURNING *){',' if task_last else ''} "
        f"{fold}; END IF; END $$"
    )


_LAST_FINISHED = (
    "FROM calls WHERE conversation_id = {c} AND outcome <> 'pending' "
    "ORDER BY started_at DESC, id DESC LIMIT 1"
)
"""The last finished call of conversation `{c}` (one seek on idx_calls_task_last)."""

_TASK_LAST_UPSERT = (
    "ON CONFLICT (conversation_id) DO UPDATE SET started_at = excluded.started_at, "
    "id = excluded.id, outcome = excluded.outcome"
)


def task_last_table_sql(dialect: str) -> str:
    real = "DOUBLE PRECISION" if dialect == "postgresql" else "REAL"
    return (
        "CREATE TABLE report_task_last (conversation_id TEXT PRIMARY KEY, "
        f"started_at {real}, id TEXT, outcome TEXT)"
    )


def task_last_backfill_sql() -> str:
    """Fill `report_task_last` from the calls stored (the migration; bulk loads)."""
    return (
        "INSERT INTO report_task_last (conversation_id, started_at, id, outcome) "
        "SELECT conversation_id, started_at, id, outcome FROM (SELECT conversation_id, "
        "started_at, id, outcome, ROW_NUMBER() OVER (PARTITION BY conversation_id "
        "ORDER BY started_at DESC, id DESC) AS n FROM calls "
        "WHERE conversation_id IS NOT NULL AND outcome <> 'pending') AS ranked WHERE n = 1"
    )


def _task_last_refresh(row: str) -> str:
    """SQLite: recompute the last finished call of `row`'s conversation (three seeks)."""
    seek = _LAST_FINISHED.format(c=f"{row}.conversation_id")
    return (
        "INSERT INTO report_task_last (conversation_id, started_at, id, outcome) "
        f"SELECT {row}.conversation_id, (SELECT started_at {seek}), (SELECT id {seek}), "
        f"(SELECT outcome {seek}) WHERE {row}.conversation_id IS NOT NULL {_TASK_LAST_UPSERT};"
    )


TASK_LAST_TRIGGERS = ("calls_task_last_insert", "calls_task_last_update", "calls_task_last_delete")


def task_last_sqlite_statements() -> list[str]:
    """The SQLite migration m012: `report_task_last` (per conversation, its last finished
    call: greatest started_at, then id), kept by triggers, backfilled."""
    later = (
        "excluded.started_at > report_task_last.started_at OR "
        "(excluded.started_at = report_task_last.started_at AND excluded.id > report_task_last.id)"
    )
    changed = " OR ".join(
        f"OLD.{column} IS NOT NEW.{column}"
        for column in ("conversation_id", "started_at", "id", "outcome")
    )
    return [
        task_last_table_sql("sqlite"),
        "CREATE TRIGGER calls_task_last_insert AFTER INSERT ON calls "
        "WHEN NEW.conversation_id IS NOT NULL AND NEW.outcome <> 'pending' BEGIN "
        "INSERT INTO report_task_last (conversation_id, started_at, id, outcome) "
        "SELECT NEW.conversation_id, NEW.started_at, NEW.id, NEW.outcome WHERE true "
        f"{_TASK_LAST_UPSERT} WHERE report_task_last.started_at IS NULL OR {later}; END",
        f"CREATE TRIGGER calls_task_last_update AFTER UPDATE ON calls WHEN {changed} BEGIN "
        + _task_last_refresh("OLD")
        + _task_last_refresh("NEW").replace(
            "IS NOT NULL", "IS NOT NULL AND NEW.conversation_id IS NOT OLD.conversation_id"
        )
        + " END",
        "CREATE TRIGGER calls_task_last_delete AFTER DELETE ON calls "
        "WHEN OLD.conversation_id IS NOT NULL AND OLD.outcome <> 'pending' BEGIN "
        + _task_last_refresh("OLD")
        + " END",
        task_last_backfill_sql(),
    ]


def task_last_postgres_statements() -> list[str]:
    """The PostgreSQL migration m012: `report_task_last`, refreshed by the fold (off the
    write path: no per-conversation row lock in the writers' transactions), backfilled."""
    return [
        task_last_table_sql("postgresql"),
        _fold_function(task_last=True),
        task_last_backfill_sql(),
    ]


FOLD_SQL = "SELECT routing_fold_rollup()"
"""PostgreSQL: move the deltas into the rollup (skipped when another process is at it)."""


INDEX_SQL = "CREATE INDEX idx_report_rollup_value ON report_rollup (dim, value, hour)"
"""Finds one conversation's rows (the top conversations' histograms) without a scan."""

TASK_INDEX_SQL = (
    "CREATE INDEX idx_calls_task_last ON calls (conversation_id, started_at, id, outcome)"
)
"""The last finished call of a task (greatest started_at, then id) in one index seek, the
outcome read from the index: the tasks figure seeks once per conversation."""


def _add(dialect: str, row: str) -> list[str]:
    """One upsert per dimension adding the call row `row` (NEW) to the rollup."""
    statements = []
    for dim, column, histogram, with_sums in _dimensions():
        sums = ROLLUP_SUMS if with_sums else ROLLUP_SUMS[:1]
        names = ", ".join(name for name, _ in sums)
        values = ", ".join(expression.format(r=row) for _, expression in sums)
        table = "report_rollup." if dialect == "postgresql" else ""
        updates = ", ".join(f"{name} = {table}{name} + excluded.{name}" for name, _ in sums)
        bucket = bucket_sql(dialect, row + ".") if histogram else str(NO_LATENCY)
        statements.append(
            f"INSERT INTO report_rollup (dim, hour, value, bucket, {names}) VALUES ('{dim}', "
            f"{hour_sql(dialect, row + '.')}, {value_sql(column, row + '.')}, "
            f"{bucket}, {values}) "
            f"ON CONFLICT (dim, hour, value, bucket) DO UPDATE SET {updates};"
        )
    return statements


def _subtract(dialect: str, row: str) -> list[str]:
    """One update per dimension taking the call row `row` (OLD) out of the rollup."""
    statements = []
    for dim, column, histogram, with_sums in _dimensions():
        sums = ROLLUP_SUMS if with_sums else ROLLUP_SUMS[:1]
        updates = ", ".join(
            f"{name} = {name} - {expression.format(r=row)}" for name, expression in sums
        )
        bucket = bucket_sql(dialect, row + ".") if histogram else str(NO_LATENCY)
        statements.append(
            f"UPDATE report_rollup SET {updates} WHERE dim = '{dim}' "
            f"AND hour = {hour_sql(dialect, row + '.')} "
            f"AND value = {value_sql(column, row + '.')} "
            f"AND bucket = {bucket};"
        )
    return statements


def _changed(dialect: str) -> str:
    operator = "IS DISTINCT FROM" if dialect == "postgresql" else "IS NOT"
    return " OR ".join(f"OLD.{column} {operator} NEW.{column}" for column in _WATCHED)


def backfill_sql(dialect: str) -> list[str]:
    """Statements filling the rollup from the calls already stored (the migration; bulk
    loads that bypass the triggers)."""
    statements = []
    for dim, column, histogram, with_sums in _dimensions():
        kept = ROLLUP_SUMS if with_sums else ROLLUP_SUMS[:1]
        names = ", ".join(name for name, _ in kept)
        sums = ", ".join(f"SUM({expression.format(r='calls')})" for _, expression in kept)
        bucket = bucket_sql(dialect, "calls.") if histogram else str(NO_LATENCY)
        key = f"{hour_sql(dialect, 'calls.')}, {value_sql(column, 'calls.')}"
        statements.append(
            f"INSERT INTO report_rollup (dim, hour, value, bucket, {names}) "
            f"SELECT '{dim}', {key}, {bucket}, {sums} FROM calls GROUP BY {key}"
            + (f", {bucket}" if histogram else "")
        )
    return statements


def sqlite_statements() -> list[str]:
    """The SQLite migration: table, index-free triggers, backfill."""
    return [
        table_sql("sqlite"),
        INDEX_SQL,
        TASK_INDEX_SQL,
        "CREATE TRIGGER calls_rollup_insert AFTER INSERT ON calls BEGIN "
        + " ".join(_add("sqlite", "NEW"))
        + " END",
        f"CREATE TRIGGER calls_rollup_update AFTER UPDATE ON calls WHEN {_changed('sqlite')} "
        "BEGIN " + " ".join(_subtract("sqlite", "OLD") + _add("sqlite", "NEW")) + " END",
        "CREATE TRIGGER calls_rollup_delete AFTER DELETE ON calls BEGIN "
        + " ".join(_subtract("sqlite", "OLD"))
        + " END",
        *backfill_sql("sqlite"),
    ]


def postgres_statements() -> list[str]:
    """The PostgreSQL migration: the rollup, an append-only delta table the trigger inserts
    into (concurrent writers never wait on each other's rollup rows: updating the same hot
    rows from every call serialised 8 writers to 349 records/s), the function that folds
    the deltas into the rollup (called after each written batch, one process at a time),
    and the backfill."""
    body = (
        "BEGIN "
        f"IF TG_OP = 'UPDATE' AND NOT ({_changed('postgresql')}) THEN RETURN NULL; END IF; "
        "IF TG_OP IN ('UPDATE', 'DELETE') THEN "
        + _delta("OLD", "-")
        + " END IF; IF TG_OP IN ('INSERT', 'UPDATE') THEN "
        + _delta("NEW", "")
        + " END IF; RETURN NULL; END"
    )
    return [
        table_sql("postgresql"),
        INDEX_SQL,
        TASK_INDEX_SQL,
        table_sql("postgresql", "report_rollup_delta"),
        "CREATE FUNCTION routing_calls_rollup() RETURNS trigger LANGUAGE plpgsql AS $$ "
        + body
        + " $$",
        "CREATE TRIGGER calls_rollup AFTER INSERT OR UPDATE OR DELETE ON calls "
        "FOR EACH ROW EXECUTE FUNCTION routing_calls_rollup()",
        _fold_function(),
        *backfill_sql("postgresql"),
    ]
