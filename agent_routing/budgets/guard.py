"""Budgets for a process with several event loops, safe when the ledger is broken.

A ledger connection guards its transactions with an asyncio lock, which belongs to one
loop, so :class:`PerLoopBudgets` keeps one :class:`~agent_routing.budgets.Budgets` (and
connection) per event loop. Two faults are handled here, for every caller (the Agent Zero
hooks, the router, quotas):

* **The ledger cannot be opened** (a file that is not a database, a read-only location, an
  unwritable folder). A check never raises and never waits for it again and again: the
  failure is remembered for `RETRY_OPEN_AFTER_S`, and each check in that time is answered
  at once from the budgets it can still know (fail closed for money):

  - the configured budgets, plus the ones stored in the ledger when they can still be read
    (a read-only, immutable look at the file); none when the file is missing or is not an
    SQLite file (it cannot hold any);
  - a call under an applicable `block` budget is refused, `downgrade` and `warn` act as
    usual without a reservation, a call no budget applies to goes ahead;
  - when stored budgets may exist but cannot be read, every call is refused.

  Quotas answer "unavailable" for a model a quota applies to.
* **Event loops come and go** (Agent Zero starts loops for tasks and API requests; tests
  and scripts call `asyncio.run` many times). The connection of a loop that has closed is
  closed at the next use from any loop, so threads and file descriptors stay bounded.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from pydantic import ValidationError

from agent_routing.budgets._core import Budgets, BudgetStatus, PendingWrites
from agent_routing.budgets.rules import SEVERITY, applies
from agent_routing.config import BudgetConfig, Settings
from agent_routing.ledger.base import Ledger, LedgerError
from agent_routing.pricing import same_model
from agent_routing.protocols import BudgetVerdict

logger = logging.getLogger("agent_routing.budgets")

RETRY_OPEN_AFTER_S = 5.0
"""After the ledger failed to open, checks answer from the failure for this long."""

_SQLITE_HEADER = b"SQLite format 3\x00"


def stored_budgets_readonly(path: Path) -> list[BudgetConfig] | None:
    """The budgets stored in a ledger file that cannot be opened for writing, read without
    writing anything (`immutable`); None when they may exist but cannot be read."""
    try:
        with path.open("rb") as file:
            header = file.read(len(_SQLITE_HEADER))
    except (FileNotFoundError, NotADirectoryError):
        return []  # no file (or no folder): nothing stored
    except OSError:
        return None
    if header != _SQLITE_HEADER:
        return []  # not an SQLite file (garbage, empty): it holds no budgets
    try:
        uri = f"file:{quote(str(path.resolve()))}?mode=ro&immutable=1"
        db = sqlite3.connect(uri, uri=True, timeout=0.5)
        try:
            tables = db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'budget_overrides'"
            ).fetchall()
            if not tables:
                return []
            rows = db.execute("SELECT config FROM budget_overrides").fetchall()
        finally:
            db.close()
        return [BudgetConfig.model_validate(json.loads(row[0])) for row in rows]
    except (sqlite3.Error, OSError, ValidationError, ValueError, TypeError):
        return None


def unopened_verdict(
    budgets: list[BudgetConfig] | None, model: str, conversation_id: str | None, error: str
) -> BudgetVerdict:
    """The verdict for a call while the ledger cannot be opened (module docstring)."""
    if budgets is None:
        return BudgetVerdict(
            "block",
            reason=f"the ledger cannot be opened ({error}) and the budgets stored in it "
            "cannot be read, so the call is refused (fail closed for money)",
            budget_key="ledger",
        )
    applicable = [budget for budget in budgets if applies(budget, model, conversation_id)]
    if not applicable:
        return BudgetVerdict("allow", reason=f"ledger unavailable ({error}); no budget applies")
    worst = max(applicable, key=lambda budget: SEVERITY[budget.enforcement])
    consequence = "the call is refused" if worst.enforcement == "block" else "spend unknown"
    return BudgetVerdict(
        worst.enforcement,
        reason=f"budget {worst.key} cannot be checked: the ledger cannot be opened "
        f"({error}); {consequence}",
        budget_key=worst.key,
    )


class PerLoopBudgets:
    """A :class:`~agent_routing.protocols.BudgetGuard` with one `Budgets` per event loop
    that never raises for a broken ledger (module docstring).

    `refusal` set: every check is refused with that reason and `refusal_key` (the budgets
    cannot be trusted, e.g. an invalid configuration). `ledger_factory` builds an unopened
    ledger (default: the settings' SQLite file).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        refusal: str | None = None,
        refusal_key: str = "configuration",
        ledger_factory: Callable[[], Ledger] | None = None,
        clock: Callable[[], float] = time.monotonic,
        pending_writes: PendingWrites | None = None,
    ) -> None:
        self.settings = settings
        self._pending_writes = pending_writes
        self.refusal = refusal
        self.refusal_key = refusal_key
        self._factory = ledger_factory or self._default_ledger
        self._clock = clock
        self._per_loop: dict[asyncio.AbstractEventLoop, Budgets] = {}
        self._lock = threading.Lock()
        # (when, message, budgets still known) of the last failed open
        self._failure: tuple[float, str, list[BudgetConfig] | None] | None = None

    def _default_ledger(self) -> Ledger:
        from agent_routing.ledger import ledger_for

        return ledger_for(self.settings.ledger)

    # --- connections -------------------------------------------------------------------

    async def instance(self) -> Budgets:
        """This event loop's `Budgets` (and ledger connection), opened on first use.

        Raises LedgerError at once, without trying again, for `RETRY_OPEN_AFTER_S` after
        the ledger failed to open.
        """
        loop = asyncio.get_running_loop()
        self._close_dead_loops()
        with self._lock:
            found = self._per_loop.get(loop)
            failure = self._failure
        if found is not None:
            return found
        if failure is not None and self._clock() - failure[0] < RETRY_OPEN_AFTER_S:
            raise LedgerError(failure[1])
        ledger = self._factory()
        try:
            await ledger.open()
        except Exception as error:
            self._remember_failure(error)
            raise LedgerError(str(error)) from error
        budgets = Budgets(ledger, self.settings, pending_writes=self._pending_writes)
        with self._lock:
            self._failure = None
            found = self._per_loop.setdefault(loop, budgets)
        if found is not budgets:  # another task of this loop opened one meanwhile
            await ledger.close()
        return found

    def _remember_failure(self, error: Exception) -> None:
        target = self.settings.ledger.resolved_url()  # a file or a server (#14)
        path = target.redacted()  # for the log: never the password
        known = None if target.path is None else stored_budgets_readonly(target.path)
        if known is not None:
            stored = {budget.key: budget for budget in known}
            configured = {budget.key: budget for budget in self.settings.budgets}
            known = list({**configured, **stored}.values())
        with self._lock:
            first = self._failure is None
            self._failure = (self._clock(), str(error), known)
        if first:
            logger.error(
                "agent-routing: the ledger %s cannot be opened (%s); calls under a block "
                "budget are refused until it can be (retried every %.0f s)",
                path,
                error,
                RETRY_OPEN_AFTER_S,
            )

    def _close_dead_loops(self) -> None:
        """Close the connections of loops that have closed (their thread and file)."""
        self._close_where(lambda loop: loop.is_closed())

    def close_connections(self) -> None:
        """Close every per-loop connection without awaiting (its thread and file), for an
        owner that is done with these budgets while no check runs; a later check opens a
        new connection."""
        self._close_where(lambda loop: True)

    def _close_where(self, dead: Callable[[asyncio.AbstractEventLoop], bool]) -> None:
        with self._lock:
            gone = [self._per_loop.pop(loop) for loop in list(self._per_loop) if dead(loop)]
        for budgets in gone:
            close_nowait = getattr(budgets.ledger, "close_nowait", None)
            if callable(close_nowait):
                try:
                    close_nowait()
                except Exception:
                    logger.exception("closing a ledger connection of a closed loop failed")

    def open_connections(self) -> int:
        """How many per-loop connections are held (diagnostics, tests)."""
        with self._lock:
            return len(self._per_loop)

    # --- the guard ---------------------------------------------------------------------

    async def check(
        self,
        *,
        model: str,
        conversation_id: str | None,
        input_tokens: int,
        max_output_tokens: int | None = None,
        call_kind: str = "chat",
        alerts: bool = True,
    ) -> BudgetVerdict:
        """See :meth:`agent_routing.budgets.Budgets.check`; a ledger that cannot be opened
        gives :func:`unopened_verdict` instead of an error."""
        if self.refusal is not None:
            return BudgetVerdict(action="block", reason=self.refusal, budget_key=self.refusal_key)
        try:
            budgets = await self.instance()
        except LedgerError as error:
            with self._lock:
                failure = self._failure
            known = failure[2] if failure is not None else None
            return unopened_verdict(known, model, conversation_id, str(error))
        return await budgets.check(
            model=model,
            conversation_id=conversation_id,
            input_tokens=input_tokens,
            max_output_tokens=max_output_tokens,
            call_kind=call_kind,
            alerts=alerts,
        )

    async def fire_alerts(self, *, model: str, conversation_id: str | None) -> tuple[str, ...]:
        """See :meth:`agent_routing.budgets.Budgets.fire_alerts` (none without a ledger)."""
        if self.refusal is not None:
            return ()
        try:
            budgets = await self.instance()
        except LedgerError:
            return ()
        return await budgets.fire_alerts(model=model, conversation_id=conversation_id)

    async def release(self, reservation_id: str) -> None:
        """Drop a reservation whose call never happened (nothing to do without a ledger)."""
        try:
            budgets = await self.instance()
        except LedgerError:
            return
        await budgets.release(reservation_id)

    async def quota_available(self, model: str, *, input_tokens: int = 0) -> bool:
        """False when the model is at a configured quota, or a quota applies to it and the
        ledger cannot be opened; True at once when no quota is configured."""
        if not self.settings.quotas:
            return True
        try:
            budgets = await self.instance()
        except LedgerError:
            return not any(
                quota.provider is not None or same_model(quota.model or "", model)
                for quota in self.settings.quotas
            )
        return await budgets.quota_available(model, input_tokens=input_tokens)

    async def status(self, conversation_id: str | None = None) -> list[BudgetStatus]:
        """Every effective budget and its spend in the current period (LedgerError when the
        ledger cannot be opened)."""
        return await (await self.instance()).status(conversation_id)
