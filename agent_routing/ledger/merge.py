"""The merge rules of the `calls` upsert: events of one call arrive in any order, end right.

A call is written up to three times under one id: the pre-call hook opens it (PENDING,
estimated input), the caller's end report closes it (estimated output), and a provider
success callback may arrive later with the provider's usage. They can arrive in any order,
and any of them may repeat. `INSERT ... ON CONFLICT(id) DO UPDATE` merges them so that the
final row does not depend on the order, and repeating an event changes nothing:

* **A None/unknown field never overwrites a known one** (`COALESCE(new, old)`); for
  `call_kind`, the record default `"other"` counts as unknown. `started_at` keeps the
  earliest value, `attempt` the largest, `model` the first one stored (events of one call
  name the same model), `extra` is merged key by key (`json_patch`).
* **Usage moves as a whole** (the five token counts, `usage_source`, `cost_usd`), from the
  event with the higher usage rank: provider usage (2) > an estimate made at the end (1) >
  an estimate made at the open (0). Provider usage is therefore never replaced by an
  estimate. At equal rank the newer event wins.
* **Cost and prices follow the usage they belong to**: `cost_usd` comes with the winning
  usage; the unit prices come with it too, unless that event carried none (prices are
  per model, so the stored ones stay valid).
* **The outcome moves with its state group** (`outcome`, `error_class`, `error_message`,
  `ended_at`, `latency_ms`) by state rank: pending (0) < abandoned (1) < final (2) < final
  with provider usage (3). A final outcome never goes back to pending; an "abandoned"
  guess yields to a real end. Within the winning group a missing field keeps the stored
  value; error fields are dropped when the outcome changes.

The SQL below is assembled once from fixed column names; values are always parameters.
"""

from __future__ import annotations

from agent_routing.ledger.rows import CALL_COLUMNS, PRICE_COLUMNS, USAGE_COLUMNS

_NEW_USAGE_WINS = (
    "(excluded.usage_rank IS NOT NULL AND "
    "(calls.usage_rank IS NULL OR excluded.usage_rank >= calls.usage_rank))"
)
_NEW_PRICES_WIN = (
    f"(excluded.price_input IS NOT NULL AND (calls.price_input IS NULL OR {_NEW_USAGE_WINS}))"
)
_NEW_STATE_WINS = "(excluded.state_rank >= calls.state_rank)"

_FILL_COLUMNS = (
    "provider",
    "conversation_id",
    "agent_no",
    "tool",
    "decision_id",
    "tier",
    "reservation_id",
    "stream",
    "tokens_saved",
    "usd_saved",
)
_STATE_FILL_COLUMNS = ("ended_at", "latency_ms")
_ERROR_COLUMNS = ("error_class", "error_message")


def _assignments() -> list[str]:
    sets = [
        "started_at = MIN(calls.started_at, excluded.started_at)",
        "model = calls.model",
        "call_kind = CASE WHEN excluded.call_kind = 'other' THEN calls.call_kind "
        "ELSE excluded.call_kind END",
        "attempt = MAX(calls.attempt, excluded.attempt)",
        "extra = json_patch(calls.extra, excluded.extra)",
        "updated_at = excluded.updated_at",
    ]
    sets += [f"{c} = COALESCE(excluded.{c}, calls.{c})" for c in _FILL_COLUMNS]
    sets += [
        f"{c} = CASE WHEN {_NEW_USAGE_WINS} THEN excluded.{c} ELSE calls.{c} END"
        for c in USAGE_COLUMNS
    ]
    sets.append(
        f"cost_usd = CASE WHEN {_NEW_USAGE_WINS} THEN excluded.cost_usd "
        "WHEN calls.usage_rank IS NULL AND excluded.usage_rank IS NULL "
        "THEN COALESCE(excluded.cost_usd, calls.cost_usd) ELSE calls.cost_usd END"
    )
    sets += [
        f"{c} = CASE WHEN {_NEW_PRICES_WIN} THEN excluded.{c} ELSE calls.{c} END"
        for c in PRICE_COLUMNS
    ]
    sets.append(
        f"outcome = CASE WHEN {_NEW_STATE_WINS} THEN excluded.outcome ELSE calls.outcome END"
    )
    sets += [
        f"{c} = CASE WHEN {_NEW_STATE_WINS} THEN COALESCE(excluded.{c}, calls.{c}) "
        f"ELSE COALESCE(calls.{c}, excluded.{c}) END"
        for c in _STATE_FILL_COLUMNS
    ]
    sets += [
        f"{c} = CASE WHEN {_NEW_STATE_WINS} THEN "
        f"(CASE WHEN excluded.outcome = calls.outcome THEN COALESCE(excluded.{c}, calls.{c}) "
        f"ELSE excluded.{c} END) "
        f"ELSE (CASE WHEN excluded.outcome = calls.outcome THEN COALESCE(calls.{c}, excluded.{c}) "
        f"ELSE calls.{c} END) END"
        for c in _ERROR_COLUMNS
    ]
    sets.append("state_rank = MAX(calls.state_rank, excluded.state_rank)")
    return sets


# One assignment per column except `id` (a test checks none is missing: a column without a
# rule would silently keep its first value).
MERGE_ASSIGNMENTS: tuple[str, ...] = tuple(_assignments())

UPSERT_CALL_SQL = (
    f"INSERT INTO calls ({', '.join(CALL_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in CALL_COLUMNS)}) "
    f"ON CONFLICT(id) DO UPDATE SET {', '.join(MERGE_ASSIGNMENTS)}"
)

# Settle the reservation of a call whose merged row has a final outcome, in the same
# transaction as the upsert. Parameters: (settled_at, call_id, call_id).
SETTLE_RESERVATION_SQL = (
    "UPDATE reservations SET status = 'settled', settled_at = ?, call_id = ? "
    "WHERE status != 'settled' AND id = "
    "(SELECT reservation_id FROM calls WHERE id = ? AND outcome != 'pending')"
)
