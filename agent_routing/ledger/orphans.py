"""Closing a call whose process died while it was open: the same row the capture's sweep
writes for an abandoned call, built from the stored row alone.

A process killed with SIGKILL leaves its open calls PENDING forever, and spend counts only
calls with a final outcome, so the money they cost would stay invisible to budgets. The
capture of a live process closes its own calls after `capture.abandoned_after_s`
(`agent_routing.capture._callbook`); any ledger backend closes the rows nobody is left to
close with :func:`close_as_abandoned`, so every backend prices them alike.
"""

from __future__ import annotations

import dataclasses

from agent_routing.errors import ConfigError
from agent_routing.ledger.base import OrphanSweep
from agent_routing.records import CallRecord, Outcome, Usage, UsageSource

CLOSED_BY = "orphan_sweep"
"""`extra["closed_by"]` of a row closed here (the capture's own sweep writes "sweep")."""


def close_as_abandoned(record: CallRecord, *, now: float) -> CallRecord:
    """The ABANDONED event for a PENDING row, as the capture's sweep would have made it.

    Usage: what the row holds (input counted when the call opened, output as known, 0 when
    nothing streamed was recorded), as an estimate unless the row already had provider
    usage. Cost: that usage at the row's stored unit prices (the prices the call was
    opened at); None when the row has no prices or impossible usage, as the capture does.
    `ended_at` is `now`; `latency_ms` stays unknown (the call never ended). Merged by the
    upsert, this event outranks PENDING and yields to any real end (see
    :mod:`agent_routing.ledger.merge`).
    """
    from agent_routing.pricing import cost_usd  # pure arithmetic; litellm is not imported

    provider_usage = record.usage is not None and record.usage_source == UsageSource.PROVIDER
    usage = record.usage if record.usage is not None else Usage()
    extra = dict(record.extra)
    extra["closed_by"] = CLOSED_BY
    cost: float | None = None
    if record.prices is not None:
        try:
            cost = cost_usd(usage, record.prices)
        except ConfigError as error:
            extra["usage_error"] = str(error)
    return dataclasses.replace(
        record,
        outcome=Outcome.ABANDONED,
        ended_at=now,
        usage=usage,
        usage_source=UsageSource.PROVIDER if provider_usage else UsageSource.ESTIMATED,
        cost_usd=cost,
        extra=extra,
    )


def sweep_summary(closed: list[CallRecord]) -> OrphanSweep:
    """How many rows were closed, the known cost they add, and how many stay unpriced."""
    return OrphanSweep(
        closed=len(closed),
        cost_usd=sum(record.cost_usd or 0.0 for record in closed),
        unpriced=sum(1 for record in closed if record.cost_usd is None),
    )
