"""The statements of both SQL backends (SQLite, PostgreSQL), built only from fixed column names.

Every value reaches the database as a parameter: a filter is a fixed `column op ?` fragment
plus its value, and a fragment is left out when its value is None. Statements are written
once in SQLite's spelling; the PostgreSQL backend translates the few fixed fragments that
differ (`?` placeholders, see `agent_routing.ledger.postgres.pg_sql`). Keeping them in one
place makes "no SQL is built from input" checkable by reading one short module; the ledger
operations that run them are in :mod:`agent_routing.ledger._sql_ledger`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from agent_routing.errors import ConfigError
from agent_routing.ledger.base import LedgerError, SpendWindow
from agent_routing.ledger.rows import CALL_COLUMNS, DECISION_COLUMNS, SIGNAL_COLUMNS

SPEND_BUCKET_S = 900
"""Width of a spend bucket. Every UTC offset in use is a multiple of 15 minutes, so local
days and months start on a bucket boundary in any zone."""

RESERVATION_COLUMNS = (
    "id",
    "created_at",
    "expires_at",
    "model",
    "amount_usd",
    "conversation_id",
    "call_kind",
    "input_tokens",
    "output_tokens",
    "status",
    "call_id",
    "settled_at",
)
ALERT_COLUMNS = (
    "budget_key",
    "period_key",
    "threshold",
    "fired_at",
    "spent_usd",
    "limit_usd",
    "message",
)


def where(clauses: Sequence[tuple[str, Any]], fixed: Sequence[str] = ()) -> tuple[str, list[Any]]:
    """A WHERE clause from fixed `column op ?` fragments whose value is not None."""
    parts = list(fixed)
    params: list[Any] = []
    for fragment, value in clauses:
        if value is not None:
            parts.append(fragment)
            params.append(value)
    return (" WHERE " + " AND ".join(parts) if parts else ""), params


def limit_clause(limit: int | None) -> tuple[str, list[Any]]:
    """` LIMIT ?` with its value, or nothing; a negative limit is refused."""
    if limit is None:
        return "", []
    if limit < 0:
        raise LedgerError(f"limit: must be >= 0 (got {limit})")
    return " LIMIT ?", [limit]


def utf8_text(value: str) -> str:
    """`value`, or, when it holds a lone surrogate (not UTF-8: neither database stores
    it), the same text with that code point written as `\\udcff`: deterministic, so the
    same host string always finds the same rows, whichever statement carries it."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


MODEL_IN = "model IN (SELECT value FROM json_each(?))"
"""Match any of a JSON list of model names (one bound parameter, no SQL built from input)."""


def model_names(model: str | None, aliases: Sequence[str] = ()) -> str | None:
    """The bound value for :data:`MODEL_IN`: `model` and its aliases as a JSON list."""
    if model is None:
        return None
    # the names as stored (a JSON escape of a lone surrogate would not match the row)
    return json.dumps(sorted({utf8_text(name) for name in (model, *aliases)}))


def _window_clauses(window: SpendWindow, time_column: str) -> list[tuple[str, Any]]:
    return [
        (f"{time_column} >= ?", window.since),
        (f"{time_column} < ?", window.until),
        (MODEL_IN, model_names(window.model, window.model_aliases)),
        ("conversation_id = ?", window.conversation_id),
    ]


def bucket_range(window: SpendWindow) -> tuple[int, int] | None:
    """The spend buckets exactly covering a window, or None when the window is not made of
    whole buckets (open-ended, unaligned, or per conversation): then calls are summed."""
    if window.conversation_id is not None or window.since is None or window.until is None:
        return None
    if window.since % SPEND_BUCKET_S or window.until % SPEND_BUCKET_S:
        return None
    return int(window.since // SPEND_BUCKET_S), int(window.until // SPEND_BUCKET_S)


def spend_query(window: SpendWindow, now: float) -> tuple[str, list[Any]]:
    """One SELECT returning the window's spend: settled calls (from the trigger-kept buckets
    when the window is whole buckets, else from the calls) plus open, unexpired holds."""
    buckets = bucket_range(window)
    if buckets is not None:
        settled_where, settled_params = where(
            [
                ("bucket >= ?", buckets[0]),
                ("bucket < ?", buckets[1]),
                (MODEL_IN, model_names(window.model, window.model_aliases)),
            ]
        )
        settled = f"SELECT COALESCE(SUM(cost_usd), 0.0) FROM spend_buckets{settled_where}"
    else:
        settled_where, settled_params = where(
            _window_clauses(window, "started_at"), fixed=["outcome != 'pending'"]
        )
        settled = f"SELECT COALESCE(SUM(cost_usd), 0.0) FROM calls{settled_where}"
    held_where, held_params = where(
        [("expires_at > ?", now), *_window_clauses(window, "created_at")],
        fixed=["status = 'open'"],
    )
    held = f"SELECT COALESCE(SUM(amount_usd), 0.0) FROM reservations{held_where}"
    return f"SELECT ({settled}) + ({held})", settled_params + held_params


# --- the statements both backends run (PostgreSQL translates `?` to `%s`) ------------------
# Fixed text assembled once from column names; values are always parameters.


def _insert(table: str, columns: Sequence[str], conflict: str = "") -> str:
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)}){conflict}"
    )


INSERT_DECISION_SQL = _insert("decisions", DECISION_COLUMNS, " ON CONFLICT(id) DO NOTHING")
INSERT_SIGNAL_SQL = _insert("signals", SIGNAL_COLUMNS, " ON CONFLICT DO NOTHING")
INSERT_RESERVATION_SQL = _insert("reservations", RESERVATION_COLUMNS)
INSERT_ALERT_SQL = _insert("alerts", ALERT_COLUMNS, " ON CONFLICT DO NOTHING")
SELECT_CALL_SQL = f"SELECT {', '.join(CALL_COLUMNS)} FROM calls WHERE id = ?"
SELECT_RESERVATION_SQL = f"SELECT {', '.join(RESERVATION_COLUMNS)} FROM reservations WHERE id = ?"
RELEASE_RESERVATION_SQL = (
    "UPDATE reservations SET status = 'released', settled_at = ? WHERE id = ? AND status = 'open'"
)
HELD_QUOTA_SQL = (
    "SELECT COUNT(*), COALESCE(SUM(tokens), 0) FROM quota_holds "
    "WHERE quota_key = ? AND created_at >= ? AND created_at < ?"
)
DELETE_OLD_HOLDS_SQL = "DELETE FROM quota_holds WHERE created_at < ?"
INSERT_QUOTA_HOLD_SQL = (
    "INSERT INTO quota_holds (quota_key, created_at, requests, tokens) VALUES (?, ?, 1, ?)"
)
SAVE_BUDGET_SQL = (
    "INSERT INTO budget_overrides (key, config, updated_at) VALUES (?, ?, ?) "
    "ON CONFLICT(key) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at"
)
DELETE_BUDGET_SQL = "DELETE FROM budget_overrides WHERE key = ?"
STORED_BUDGETS_SQL = "SELECT key, config FROM budget_overrides ORDER BY key"
CACHE_GET_SQL = "SELECT value FROM kv_cache WHERE namespace = ? AND key = ?"
CACHE_PUT_SQL = (
    "INSERT INTO kv_cache (namespace, key, value, created_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT(namespace, key) DO UPDATE SET value = excluded.value, "
    "created_at = excluded.created_at"
)


def pending_calls_sql(row_lock: str = "") -> str:
    """The pending calls started before `?`, oldest first; `row_lock` is the dialect's
    clause locking the selected rows for the transaction (PostgreSQL), or nothing."""
    return (
        f"SELECT {', '.join(CALL_COLUMNS)} FROM calls "
        f"WHERE outcome = 'pending' AND started_at < ? ORDER BY started_at, id{row_lock}"
    )


def select_range(
    table: str,
    columns: Sequence[str],
    time_column: str,
    clauses: Sequence[tuple[str, Any]],
    limit: int | None,
) -> tuple[str, list[Any]]:
    """Rows of `table` matching the (fixed) clauses whose value is given, oldest first by
    `time_column` then id: the one shape every range query shares."""
    condition, params = where(clauses)
    limit_sql, limit_params = limit_clause(limit)
    sql = (
        f"SELECT {', '.join(columns)} FROM {table}{condition} ORDER BY {time_column}, id{limit_sql}"
    )
    return sql, params + limit_params


def usage_query(
    since: float | None,
    until: float | None,
    model: str | None,
    model_aliases: Sequence[str],
    provider: str | None,
) -> tuple[str, list[Any]]:
    """Requests and input+output tokens of the calls started in [since, until) of a model
    (any of its names) or provider, blocked calls excluded: what a quota counts."""
    condition, params = where(
        [
            ("started_at >= ?", since),
            ("started_at < ?", until),
            (MODEL_IN, model_names(model, model_aliases)),
            ("provider = ?", provider),
        ],
        fixed=["outcome != 'blocked'"],
    )
    sql = (
        "SELECT COUNT(*), COALESCE(SUM(COALESCE(input_tokens, 0) "
        f"+ COALESCE(output_tokens, 0)), 0) FROM calls{condition}"
    )
    return sql, params


STRONGEST_MODEL = (
    "(SELECT json_extract(candidate.value, '$.model') "
    "FROM json_each(decisions.candidates) AS candidate "
    "WHERE CASE WHEN candidate.type = 'object' "
    "THEN json_type(candidate.value, '$.model') = 'text' "
    "AND json_extract(candidate.value, '$.model') <> '' ELSE 0 END "
    "ORDER BY candidate.key DESC LIMIT 1)"
)
"""A decision's strongest candidate model: the last candidate (tiers are listed cheapest
first) that is an object with a non-empty string `model`, as `ui_api._strong_model` picks
it (the CASE keeps other elements away from the JSON functions: `json_each` hands a string
element over unquoted, not as JSON). PostgreSQL runs its own spelling (see
`agent_routing.ledger.postgres`)."""

_VALID_USAGE = (
    "calls.input_tokens IS NOT NULL",
    "calls.input_tokens >= 0",
    "COALESCE(calls.output_tokens, 0) >= 0",
    "COALESCE(calls.cached_read_tokens, 0) >= 0",
    "COALESCE(calls.cache_creation_tokens, 0) >= 0",
    "COALESCE(calls.reasoning_tokens, 0) >= 0",
    "COALESCE(calls.cached_read_tokens, 0) + COALESCE(calls.cache_creation_tokens, 0) "
    "<= calls.input_tokens",
    "COALESCE(calls.reasoning_tokens, 0) <= COALESCE(calls.output_tokens, 0)",
)
"""Usage `pricing.cost_usd` accepts (it refuses negative counts, more cached than input
tokens, more reasoning than output tokens): only such calls can be priced."""


def routed_usage_query(
    since: float | None,
    until: float | None,
    conversation_id: str | None,
    input_thresholds: Sequence[int] = (),
) -> tuple[str, list[Any]]:
    """Billed calls with a known cost and valid usage, started in [since, until), whose
    decision was created in the same range, summed per the decision's strongest model and
    the largest of `input_thresholds` their prompt exceeds (0: none): (model, calls, calls
    on another model, cost, input, output, cache read, cache write, reasoning tokens,
    threshold), one row per model and band, by name then threshold."""
    bands = sorted({_threshold(t) for t in input_thresholds}, reverse=True)
    band = (
        "CASE " + " ".join(f"WHEN calls.input_tokens > {t} THEN {t}" for t in bands) + " ELSE 0 END"
        if bands
        else "0"
    )  # whole numbers checked by _threshold: inlined, so both drivers type them alike
    condition, params = where(
        [
            ("calls.started_at >= ?", since),
            ("calls.started_at < ?", until),
            ("decisions.created_at >= ?", since),
            ("decisions.created_at < ?", until),
            ("calls.conversation_id = ?", conversation_id),
            ("decisions.conversation_id = ?", conversation_id),
        ],
        fixed=[
            "calls.outcome IN ('ok', 'abandoned')",
            "calls.cost_usd IS NOT NULL",
            *_VALID_USAGE,
        ],
    )
    # MATERIALIZED: the strongest model is worked out once per call, not once per use
    sql = (
        "WITH routed AS MATERIALIZED ("
        "SELECT calls.model AS model, calls.cost_usd AS cost_usd, "
        "calls.input_tokens AS input_tokens, "
        "COALESCE(calls.output_tokens, 0) AS output_tokens, "
        "COALESCE(calls.cached_read_tokens, 0) AS cached_read_tokens, "
        "COALESCE(calls.cache_creation_tokens, 0) AS cache_creation_tokens, "
        "COALESCE(calls.reasoning_tokens, 0) AS reasoning_tokens, "
        f"{band} AS input_above, "
        f"{STRONGEST_MODEL} AS strong "
        f"FROM calls JOIN decisions ON decisions.id = calls.decision_id{condition}) "
        "SELECT strong, COUNT(*), SUM(CASE WHEN model = strong THEN 0 ELSE 1 END), "
        "SUM(cost_usd), SUM(input_tokens), SUM(output_tokens), SUM(cached_read_tokens), "
        "SUM(cache_creation_tokens), SUM(reasoning_tokens), input_above "
        "FROM routed WHERE strong IS NOT NULL GROUP BY strong, input_above "
        "ORDER BY strong, input_above"
    )
    return sql, params


def _threshold(value: object) -> int:
    """A prompt-size threshold of :func:`routed_usage_query` (inlined into its SQL)."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError.single("input_thresholds", f"must be positive integers, not {value!r}")
    return int(value)


def decision_counts_query(
    since: float | None, until: float | None, conversation_id: str | None
) -> tuple[str, list[Any]]:
    """The number of decisions created in [since, until) (and conversation), and how many
    of them were applied."""
    condition, params = where(
        [
            ("created_at >= ?", since),
            ("created_at < ?", until),
            ("conversation_id = ?", conversation_id),
        ]
    )
    sql = (
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN applied <> 0 THEN 1 ELSE 0 END), 0) "
        f"FROM decisions{condition}"
    )
    return sql, params


def alerts_query(since: float | None) -> tuple[str, list[Any]]:
    """The alerts fired at or after `since`, oldest first."""
    condition, params = where([("fired_at >= ?", since)])
    return f"SELECT {', '.join(ALERT_COLUMNS)} FROM alerts{condition} ORDER BY fired_at, id", params
