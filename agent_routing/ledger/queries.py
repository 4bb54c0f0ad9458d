"""SQL fragments for the SQLite ledger, built only from fixed column names.

Every value reaches SQLite as a parameter: a filter is a fixed `column op ?` fragment plus
its value, and a fragment is left out when its value is None. Keeping this in one place
makes "no SQL is built from input" checkable by reading one short module.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from agent_routing.ledger.base import LedgerError, SpendWindow
from agent_routing.ledger.migrations import SPEND_BUCKET_S

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


MODEL_IN = "model IN (SELECT value FROM json_each(?))"
"""Match any of a JSON list of model names (one bound parameter, no SQL built from input)."""


def model_names(model: str | None, aliases: Sequence[str] = ()) -> str | None:
    """The bound value for :data:`MODEL_IN`: `model` and its aliases as a JSON list."""
    if model is None:
        return None
    return json.dumps(sorted({model, *aliases}))


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
