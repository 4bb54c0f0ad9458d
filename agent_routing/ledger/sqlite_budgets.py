"""The budget operations of the SQLite ledger: reservations, spend, quota usage, alerts and
stored budget overrides.

A reservation is made inside one `BEGIN IMMEDIATE` transaction that first measures the
spend under every limit, so two processes checking against the same cap can never both
see the room that only one of them may take.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence

import aiosqlite
from pydantic import ValidationError

from agent_routing.config import BudgetConfig
from agent_routing.ledger.base import (
    BudgetAlert,
    LedgerError,
    QuotaHold,
    Reservation,
    ReserveResult,
    SpendLimit,
    SpendWindow,
    UsageTotals,
)
from agent_routing.ledger.queries import (
    ALERT_COLUMNS,
    MODEL_IN,
    RESERVATION_COLUMNS,
    model_names,
    spend_query,
    where,
)
from agent_routing.ledger.sqlite_base import SQLiteConnection, storable_row

# Spend comparisons tolerate float rounding of sums of many small costs.
_USD_EPSILON = 1e-9


_HOLD_KEEP_S = 2 * 86400.0  # longer than any quota window (a local day is <= 25 h)


def _usage_sql(hold: QuotaHold) -> tuple[str, list[object]]:
    """Requests and tokens of committed calls (blocked ones excluded) in a hold's window."""
    condition, params = where(
        [
            ("started_at >= ?", hold.since),
            ("started_at < ?", hold.until),
            (MODEL_IN, model_names(hold.model, hold.model_aliases)),
            ("provider = ?", hold.provider),
        ],
        fixed=["outcome != 'blocked'"],
    )
    sql = (
        "SELECT COUNT(*), COALESCE(SUM(COALESCE(input_tokens, 0) "
        f"+ COALESCE(output_tokens, 0)), 0) FROM calls{condition}"
    )
    return sql, params


class SQLiteBudgets(SQLiteConnection):
    """What budgets and quotas read and write: reservations, spend, alerts, overrides."""

    @staticmethod
    async def _spent_in(db: aiosqlite.Connection, window: SpendWindow, now: float) -> float:
        sql, params = spend_query(window, now)
        rows = list(await db.execute_fetchall(sql, storable_row(params)))
        return float(rows[0][0])

    async def reserve(
        self, reservation: Reservation, limits: Sequence[SpendLimit]
    ) -> ReserveResult:
        """Measure spend under every limit and store the reservation unless a hard limit
        would be exceeded, all inside one `BEGIN IMMEDIATE` transaction run in one go on
        the connection's thread (the lock is never held across this event loop)."""
        now = reservation.created_at
        spent: dict[str, float] = {}
        row = storable_row(
            (
                reservation.id,
                reservation.created_at,
                reservation.expires_at,
                reservation.model,
                reservation.amount_usd,
                reservation.conversation_id,
                reservation.call_kind,
                reservation.input_tokens,
                reservation.output_tokens,
                "open",
                None,
                None,
            )
        )
        queries = [(limit.key, *spend_query(limit.window, now)) for limit in limits]

        def work(db: sqlite3.Connection) -> str | None:
            for key, sql, params in queries:
                spent[key] = float(db.execute(sql, storable_row(params)).fetchone()[0])
            for limit in limits:
                over = spent[limit.key] + reservation.amount_usd > limit.limit_usd + _USD_EPSILON
                if limit.hard and over:
                    return limit.key
            db.execute(
                f"INSERT INTO reservations ({', '.join(RESERVATION_COLUMNS)}) "
                f"VALUES ({', '.join('?' for _ in RESERVATION_COLUMNS)})",
                row,
            )
            return None

        refused_by = await self._transaction(work)
        return ReserveResult(
            reservation_id=None if refused_by else reservation.id,
            spent_usd=spent,
            refused_by=refused_by,
        )

    async def release_reservation(self, reservation_id: str) -> bool:
        """Mark an open reservation released; False when it was not open."""
        changed = await self._execute(
            "UPDATE reservations SET status = 'released', settled_at = ? "
            "WHERE id = ? AND status = 'open'",
            (time.time(), reservation_id),
        )
        return changed > 0

    async def get_reservation(self, reservation_id: str) -> Reservation | None:
        """One reservation, or None."""
        row = await self._fetchone(
            f"SELECT {', '.join(RESERVATION_COLUMNS)} FROM reservations WHERE id = ?",
            (reservation_id,),
        )
        if row is None:
            return None
        return Reservation(**dict(zip(RESERVATION_COLUMNS, row, strict=True)))

    async def spent_usd(self, window: SpendWindow, *, now: float) -> float:
        """Settled cost plus open, unexpired reservations in the window."""
        async with self._lock:
            return await self._spent_in(self._conn(), window, now)

    async def usage_totals(
        self,
        *,
        since: float | None,
        until: float | None,
        model: str | None = None,
        provider: str | None = None,
        model_aliases: Sequence[str] = (),
    ) -> UsageTotals:
        """Requests and tokens of calls started in [since, until), blocked calls excluded."""
        condition, params = where(
            [
                ("started_at >= ?", since),
                ("started_at < ?", until),
                (MODEL_IN, model_names(model, model_aliases)),
                ("provider = ?", provider),
            ],
            fixed=["outcome != 'blocked'"],
        )
        row = await self._fetchone(
            "SELECT COUNT(*), COALESCE(SUM(COALESCE(input_tokens, 0) "
            f"+ COALESCE(output_tokens, 0)), 0) FROM calls{condition}",
            params,
        )
        return UsageTotals(requests=int(row[0]), tokens=int(row[1]))

    async def hold_quotas(self, holds: Sequence[QuotaHold], *, now: float) -> str | None:
        """Check every quota and hold room in each, atomically (see
        :class:`~agent_routing.ledger.base.QuotaHolder`)."""
        if not holds:
            return None
        counted = [(hold, *_usage_sql(hold)) for hold in holds]

        def work(db: sqlite3.Connection) -> str | None:
            for hold, sql, params in counted:
                requests, tokens = db.execute(sql, storable_row(params)).fetchone()
                held_requests, held_tokens = db.execute(
                    "SELECT COUNT(*), COALESCE(SUM(tokens), 0) FROM quota_holds "
                    "WHERE quota_key = ? AND created_at >= ? AND created_at < ?",
                    (hold.key, hold.since, hold.until),
                ).fetchone()
                if hold.unit == "requests":
                    used = max(int(requests), int(held_requests))
                else:
                    used = max(int(tokens), int(held_tokens))
                if used + hold.needed > hold.limit:
                    return hold.key
            db.execute("DELETE FROM quota_holds WHERE created_at < ?", (now - _HOLD_KEEP_S,))
            db.executemany(
                "INSERT INTO quota_holds (quota_key, created_at, requests, tokens) "
                "VALUES (?, ?, 1, ?)",
                [(hold.key, now, hold.needed if hold.unit == "tokens" else 0) for hold in holds],
            )
            return None

        return await self._transaction(work)

    async def insert_alert(self, alert: BudgetAlert) -> bool:
        """Store an alert unless one with the same budget, period and threshold exists."""
        changed = await self._execute(
            f"INSERT INTO alerts ({', '.join(ALERT_COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in ALERT_COLUMNS)}) ON CONFLICT DO NOTHING",
            (
                alert.budget_key,
                alert.period_key,
                alert.threshold,
                alert.fired_at,
                alert.spent_usd,
                alert.limit_usd,
                alert.message,
            ),
        )
        return changed > 0

    async def query_alerts(self, *, since: float | None = None) -> list[BudgetAlert]:
        """Alerts fired at or after `since`, oldest first."""
        condition, params = where([("fired_at >= ?", since)])
        rows = await self._fetchall(
            f"SELECT {', '.join(ALERT_COLUMNS)} FROM alerts{condition} ORDER BY fired_at, id",
            params,
        )
        return [BudgetAlert(**dict(zip(ALERT_COLUMNS, row, strict=True))) for row in rows]

    async def save_budget(self, budget: BudgetConfig) -> None:
        """Store or replace the budget override with key `budget.key`."""
        await self._execute(
            "INSERT INTO budget_overrides (key, config, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET config = excluded.config, "
            "updated_at = excluded.updated_at",
            (budget.key, budget.model_dump_json(), time.time()),
        )

    async def delete_budget(self, key: str) -> bool:
        """Remove a stored override; False when no override had that key."""
        return await self._execute("DELETE FROM budget_overrides WHERE key = ?", (key,)) > 0

    async def stored_budgets(self) -> list[BudgetConfig]:
        """Every stored override, by key; a corrupt stored value raises LedgerError."""
        rows = await self._fetchall("SELECT key, config FROM budget_overrides ORDER BY key")
        budgets = []
        for key, config in rows:
            try:
                budgets.append(BudgetConfig.model_validate(json.loads(config)))
            except (ValidationError, json.JSONDecodeError) as error:
                raise LedgerError(
                    f"budget_overrides[{key!r}]: stored budget is not valid: {error}"
                ) from None
        return budgets
