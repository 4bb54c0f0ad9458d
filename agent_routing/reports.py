"""Cost reports from the ledger: totals, breakdowns, tasks, quality of service, savings.

A report covers the calls that *started* in a half-open range `[since, until)` and groups
them by model, conversation, tool, call kind, tier or local day. Dates given without a time
mean local midnight in the report's zone (`--tz`, else `ledger.timezone`, else UTC); an
`until` date includes that whole day.

Money is never invented: a served call (`ok`, or `abandoned` mid-stream) without a known
cost (an unpriced model) adds nothing to `cost_usd` and is counted in `unpriced_calls`; a
group with unpriced calls and no priced one has `cost_usd = None`, never $0. Failed or
blocked calls without a cost are taken as not billed. Pending calls (opened, not ended)
are counted but are not finished, so they are left out of error rates.

**Tasks.** A task is one conversation: the calls with that `conversation_id` that started in
the range (calls without a conversation id belong to no task). A task *succeeded* when

1. its last finished call (outcome not `pending`; greatest `started_at`, then id) ended
   `ok`, and
2. no outcome signal of kind `explicit_failure` was recorded in the range for any routing
   decision of that conversation.

`cost_per_successful_task_usd` is the priced cost of *all* tasks divided by the number of
successful ones (what failures cost is part of what success costs); None when none
succeeded. `tokens_per_task` is the mean of input + output tokens per task.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from agent_routing.errors import ConfigError
from agent_routing.ledger.base import Ledger, SQLReportSource
from agent_routing.ledger.periods import local_date, local_midnight, resolve_timezone
from agent_routing.ledger.report_rollup import (
    DIMENSIONS,
    HOUR_S,
    decode_value,
    histogram_percentile,
)
from agent_routing.ledger.report_sql import FAR, FRACTIONS, SUM_FIELDS, ReportSQL, RollupSQL
from agent_routing.records import CallRecord, DecisionRecord, Outcome, OutcomeSignal

GROUP_BY: tuple[str, ...] = ("model", "conversation", "tool", "kind", "tier", "day")
NO_VALUE = "(none)"
ERROR_OUTCOMES = frozenset(
    {
        Outcome.ERROR,
        Outcome.RATE_LIMITED,
        Outcome.TIMEOUT,
        Outcome.CONTEXT_OVERFLOW,
        Outcome.CONTENT_POLICY,
    }
)
BILLED_OUTCOMES = frozenset({Outcome.OK, Outcome.ABANDONED})
FAILURE_SIGNAL = "explicit_failure"


@dataclass(frozen=True, slots=True)
class GroupStats:
    """Totals of a set of calls.

    `error_rate` = errors / finished calls (not pending, not blocked); `retry_rate` = calls
    that were a retry or fallback hop (`attempt > 0`) / calls; `cached_share` = cached input
    tokens / input tokens. Latency percentiles use every call that reported a latency.
    `cost_usd` sums the known costs; it is None when the group has unpriced calls and no
    priced one. `unpriced_calls` counts served calls without a cost.
    """

    key: str
    calls: int
    pending: int
    ok: int
    errors: int
    blocked: int
    abandoned: int
    retries: int
    input_tokens: int
    output_tokens: int
    cached_read_tokens: int
    cost_usd: float | None
    priced_calls: int
    unpriced_calls: int
    tokens_saved: int
    usd_saved: float
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    error_rate: float | None
    retry_rate: float | None
    cached_share: float | None


@dataclass(frozen=True, slots=True)
class TaskStats:
    """Per-task figures (see the module docstring for the definition of a task)."""

    tasks: int
    successful: int
    cost_usd: float | None
    cost_per_successful_task_usd: float | None
    tokens_per_task: float | None
    tasks_with_unpriced_calls: int


@dataclass(frozen=True, slots=True)
class UnpricedSummary:
    """Finished calls without a known cost, and which models they used."""

    calls: int
    models: dict[str, int]


@dataclass(frozen=True, slots=True)
class ReportQuery:
    """A validated report request (build with :func:`prepare_query`)."""

    by: str
    timezone: str
    since: float | None
    until: float | None
    top: int = 10


@dataclass(frozen=True, slots=True)
class CostReport:
    """A whole report. `since` / `until` are ISO 8601 in the report's zone.

    `groups` holds every group of the breakdown, except by conversation: there it holds the
    `top` costliest conversations (as `top_conversations`) and the calls without a
    conversation (`(none)`), and `other` sums the remaining conversations (its key says how
    many; no latency percentiles). `other` is None otherwise, or when every group is listed.
    """

    by: str
    timezone: str
    since: str | None
    until: str | None
    totals: GroupStats
    groups: tuple[GroupStats, ...]
    top_conversations: tuple[GroupStats, ...]
    tasks: TaskStats
    unpriced: UnpricedSummary
    other: GroupStats | None = None


# --- input --------------------------------------------------------------------------------


def parse_bound(value: str | None, field: str, zone: tzinfo, *, end: bool = False) -> float | None:
    """An ISO date or datetime as Unix seconds; a date is local midnight in `zone` (with
    `end`, the midnight after it, so the day is included). Naive datetimes are in `zone`."""
    if value is None:
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return local_midnight(day + timedelta(days=1) if end else day, zone)
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        return moment.timestamp()
    except ValueError:
        raise ConfigError.single(
            field, f"not a date or datetime {value[:40]!r} (use YYYY-MM-DD or ISO 8601)"
        ) from None
    except OverflowError:  # e.g. the day after 9999-12-31
        raise ConfigError.single(
            field, f"out of range {value[:40]!r} (use a date between 0001-01-02 and 9999-12-30)"
        ) from None


def prepare_query(
    *,
    by: str = "model",
    since: str | None = None,
    until: str | None = None,
    tz: str = "UTC",
    top: int = 10,
) -> ReportQuery:
    """Validate report input without touching the ledger; ConfigError names each bad field."""
    problems: list[tuple[str, str]] = []
    if by not in GROUP_BY:
        problems.append(("by", f"must be one of {', '.join(GROUP_BY)} (got {by!r})"))
    if isinstance(top, bool) or not isinstance(top, int) or top < 0:
        problems.append(("top", f"must be a non-negative integer (got {top!r})"))
    try:
        zone = resolve_timezone(tz, "tz")
    except ConfigError as error:
        raise ConfigError(problems + error.problems) from None
    bounds: dict[str, float | None] = {}
    for field, text, end in (("since", since, False), ("until", until, True)):
        try:
            bounds[field] = parse_bound(text, field, zone, end=end)
        except ConfigError as error:
            problems.extend(error.problems)
    start, stop = bounds.get("since"), bounds.get("until")
    if start is not None and stop is not None and stop <= start:
        problems.append(("until", f"must be after since (got since={since!r}, until={until!r})"))
    if problems:
        raise ConfigError(problems)
    return ReportQuery(by=by, timezone=tz, since=start, until=stop, top=top)


# --- computing ----------------------------------------------------------------------------


def _percentile(values: Sequence[float], fraction: float) -> float | None:
    """The whole-number percentile `fraction` (0.50, 0.95) by linear interpolation between
    closest ranks (statistics' "inclusive" method, numpy's default); None when empty."""
    if not values:
        return None
    if len(values) == 1:  # statistics.quantiles needs two points before Python 3.13
        return float(values[0])
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[round(fraction * 100) - 1]


class _Totals:
    """Accumulates calls into one :class:`GroupStats`."""

    def __init__(self) -> None:
        self.calls: list[CallRecord] = []

    def add(self, call: CallRecord) -> None:
        self.calls.append(call)

    def stats(self, key: str) -> GroupStats:
        calls = self.calls
        count = len(calls)
        by_outcome = dict.fromkeys(Outcome, 0)
        for call in calls:
            by_outcome[Outcome(call.outcome)] += 1
        errors = sum(by_outcome[outcome] for outcome in ERROR_OUTCOMES)
        finished = count - by_outcome[Outcome.PENDING] - by_outcome[Outcome.BLOCKED]
        priced = [call.cost_usd for call in calls if call.cost_usd is not None]
        unpriced = sum(1 for call in calls if _is_unpriced(call))
        input_tokens = sum(call.usage.input_tokens for call in calls if call.usage)
        cached = sum(call.usage.cached_read_tokens for call in calls if call.usage)
        latencies = [call.latency_ms for call in calls if call.latency_ms is not None]
        retries = sum(1 for call in calls if call.attempt > 0)
        return GroupStats(
            key=key,
            calls=count,
            pending=by_outcome[Outcome.PENDING],
            ok=by_outcome[Outcome.OK],
            errors=errors,
            blocked=by_outcome[Outcome.BLOCKED],
            abandoned=by_outcome[Outcome.ABANDONED],
            retries=retries,
            input_tokens=input_tokens,
            output_tokens=sum(call.usage.output_tokens for call in calls if call.usage),
            cached_read_tokens=cached,
            cost_usd=math.fsum(priced) if priced or not unpriced else None,
            priced_calls=len(priced),
            unpriced_calls=unpriced,
            tokens_saved=sum(call.tokens_saved or 0 for call in calls),
            usd_saved=math.fsum(call.usd_saved or 0.0 for call in calls),
            latency_p50_ms=_percentile(latencies, 0.50),
            latency_p95_ms=_percentile(latencies, 0.95),
            error_rate=errors / finished if finished else None,
            retry_rate=retries / count if count else None,
            cached_share=cached / input_tokens if input_tokens else None,
        )


def _is_unpriced(call: CallRecord) -> bool:
    """Served (ok) or possibly served (abandoned) with no known cost. Failed calls without a
    cost are taken as not billed, pending ones as not finished."""
    return call.cost_usd is None and call.outcome in BILLED_OUTCOMES


def _group_key(call: CallRecord, by: str, zone: tzinfo) -> str:
    if by == "day":
        return local_date(call.started_at, zone).isoformat()
    value = {
        "model": call.model,
        "conversation": call.conversation_id,
        "tool": call.tool,
        "kind": str(call.call_kind),
        "tier": call.tier,
    }[by]
    return value or NO_VALUE


def _by_cost(stats: GroupStats) -> tuple[float, int, str]:
    return (-(stats.cost_usd or 0.0), -stats.calls, stats.key)


def _task_stats(
    calls: Sequence[CallRecord],
    decisions: Iterable[DecisionRecord],
    signals: Iterable[OutcomeSignal],
) -> TaskStats:
    tasks: dict[str, list[CallRecord]] = {}
    for call in calls:
        if call.conversation_id is not None:
            tasks.setdefault(call.conversation_id, []).append(call)
    conversation_of = {d.id: d.conversation_id for d in decisions if d.conversation_id}
    failed_by_signal = {
        conversation_of[s.decision_id]
        for s in signals
        if s.kind == FAILURE_SIGNAL and s.decision_id in conversation_of
    }
    successful = 0
    for conversation, task_calls in tasks.items():
        finished = [c for c in task_calls if c.outcome != Outcome.PENDING]
        if not finished or conversation in failed_by_signal:
            continue
        last = max(finished, key=lambda c: (c.started_at, c.id))
        successful += last.outcome == Outcome.OK
    priced = [c.cost_usd for c in calls if c.conversation_id is not None and c.cost_usd is not None]
    cost = math.fsum(priced) if priced else None
    tokens = sum(c.usage.total_tokens for c in calls if c.conversation_id is not None and c.usage)
    return TaskStats(
        tasks=len(tasks),
        successful=successful,
        cost_usd=cost,
        cost_per_successful_task_usd=cost / successful if successful and cost is not None else None,
        tokens_per_task=tokens / len(tasks) if tasks else None,
        tasks_with_unpriced_calls=sum(
            1 for task_calls in tasks.values() if any(_is_unpriced(c) for c in task_calls)
        ),
    )


def summarize(
    calls: Sequence[CallRecord],
    query: ReportQuery,
    *,
    decisions: Iterable[DecisionRecord] = (),
    signals: Iterable[OutcomeSignal] = (),
) -> CostReport:
    """Build a report from records already loaded (pure: no I/O)."""
    zone = resolve_timezone(query.timezone, "tz")
    everything = _Totals()
    groups: dict[str, _Totals] = {}
    conversations: dict[str, _Totals] = {}
    unpriced_models: dict[str, int] = {}
    for call in calls:
        everything.add(call)
        groups.setdefault(_group_key(call, query.by, zone), _Totals()).add(call)
        if call.conversation_id is not None:
            conversations.setdefault(call.conversation_id, _Totals()).add(call)
        if _is_unpriced(call):
            unpriced_models[call.model] = unpriced_models.get(call.model, 0) + 1
    top = sorted((t.stats(key) for key, t in conversations.items()), key=_by_cost)[: query.top]
    return _assemble(
        query,
        zone,
        totals=everything.stats("total"),
        groups=[totals.stats(key) for key, totals in groups.items()],
        top=top,
        tasks=_task_stats(calls, decisions, signals),
        unpriced_models=unpriced_models,
    )


def _assemble(
    query: ReportQuery,
    zone: tzinfo,
    *,
    totals: GroupStats,
    groups: Sequence[GroupStats],
    top: Sequence[GroupStats],
    tasks: TaskStats,
    unpriced_models: dict[str, int],
) -> CostReport:
    """The one assembly of a report from its parts, for every path (Python, SQL from the
    calls, rollup): `groups` are every group (by conversation, at least the `(none)` one:
    the listed conversations are `top`), `top` the costliest conversations."""
    top = sorted(top, key=_by_cost)
    other = None
    listed = list(groups)
    if query.by == "conversation":
        listed = [*top, *(group for group in groups if group.key == NO_VALUE)]
        other = _other(totals, listed, tasks.tasks - len(top))
    listed.sort(key=(lambda s: s.key) if query.by == "day" else _by_cost)
    return CostReport(
        by=query.by,
        timezone=query.timezone,
        since=None
        if query.since is None
        else datetime.fromtimestamp(query.since, zone).isoformat(),
        until=None
        if query.until is None
        else datetime.fromtimestamp(query.until, zone).isoformat(),
        totals=totals,
        groups=tuple(listed),
        top_conversations=tuple(top),
        tasks=tasks,
        unpriced=UnpricedSummary(
            calls=sum(unpriced_models.values()), models=dict(sorted(unpriced_models.items()))
        ),
        other=other,
    )


def _other(totals: GroupStats, listed: Sequence[GroupStats], count: int) -> GroupStats | None:
    """The `count` conversations not listed, summed: the totals minus the listed groups
    (every call is in exactly one group); no percentiles."""
    if count <= 0:
        return None
    row: list[Any] = [f"({count:,} more)"]
    for field in SUM_FIELDS:
        if field in ("cost_usd", "usd_saved"):
            whole = getattr(totals, field) or 0.0
            row.append(whole - math.fsum(getattr(group, field) or 0.0 for group in listed))
        else:
            row.append(getattr(totals, field) - sum(getattr(group, field) for group in listed))
    if not row[1 + SUM_FIELDS.index("priced_calls")]:
        row[1 + SUM_FIELDS.index("cost_usd")] = None
    return _stats_from_row(row, (None, None))


def _tasks_from_row(row: Sequence[Any]) -> TaskStats:
    """TaskStats from the tasks query's row (tasks, successful, cost, priced, tokens,
    tasks with unpriced calls)."""
    count, successful = _int(row[0]), _int(row[1])
    cost = float(row[2]) if row[2] is not None else None
    tokens = _int(row[4])
    return TaskStats(
        tasks=count,
        successful=successful,
        cost_usd=cost,
        cost_per_successful_task_usd=cost / successful if successful and cost is not None else None,
        tokens_per_task=tokens / count if count else None,
        tasks_with_unpriced_calls=_int(row[5]),
    )


async def build_report(ledger: Ledger, query: ReportQuery) -> CostReport:
    """The report for `query`, aggregated in the database (both built-in backends: a few
    rows per group are read, never every call); a ledger that cannot run SQL is read call
    by call and summarised in Python (:func:`summarize`), with the same result."""
    if isinstance(ledger, SQLReportSource):
        return await _sql_report(ledger, query)
    return await build_report_in_python(ledger, query)


async def build_report_in_python(ledger: Ledger, query: ReportQuery) -> CostReport:
    """Load the range's calls, decisions and signals from the ledger and summarise them
    (the reference implementation the SQL report is tested against)."""
    calls = await ledger.query_calls(since=query.since, until=query.until)
    decisions = await ledger.query_decisions(since=query.since, until=query.until)
    signals = await ledger.query_signals(since=query.since, until=query.until, kind=FAILURE_SIGNAL)
    return summarize(calls, query, decisions=decisions, signals=signals)


# --- aggregated in the database -------------------------------------------------------------


def _local_days(first: float, last: float, zone: tzinfo) -> list[tuple[str, float, float]]:
    """(ISO date, start, end) of every local day from the one holding `first` to `last`."""
    days = []
    day = local_date(first, zone)
    end = local_date(last, zone)
    while day <= end:
        following = day + timedelta(days=1)
        days.append((day.isoformat(), local_midnight(day, zone), local_midnight(following, zone)))
        day = following
    return days


def _int(value: Any) -> int:
    return 0 if value is None else int(value)


def _stats_from_row(
    row: Sequence[Any], percentiles: tuple[float | None, float | None]
) -> GroupStats:
    key = NO_VALUE if row[0] is None else str(row[0])
    sums = dict(zip(SUM_FIELDS, row[1 : 1 + len(SUM_FIELDS)], strict=True))
    count = _int(sums["calls"])
    errors = _int(sums["errors"])
    finished = count - _int(sums["pending"]) - _int(sums["blocked"])
    retries = _int(sums["retries"])
    input_tokens = _int(sums["input_tokens"])
    cached = _int(sums["cached_read_tokens"])
    priced = _int(sums["priced_calls"])
    unpriced = _int(sums["unpriced_calls"])
    cost = sums["cost_usd"]
    return GroupStats(
        key=key,
        calls=count,
        pending=_int(sums["pending"]),
        ok=_int(sums["ok"]),
        errors=errors,
        blocked=_int(sums["blocked"]),
        abandoned=_int(sums["abandoned"]),
        retries=retries,
        input_tokens=input_tokens,
        output_tokens=_int(sums["output_tokens"]),
        cached_read_tokens=cached,
        cost_usd=float(cost) if cost is not None else (0.0 if not unpriced else None),
        priced_calls=priced,
        unpriced_calls=unpriced,
        tokens_saved=_int(sums["tokens_saved"]),
        usd_saved=float(sums["usd_saved"] or 0.0),
        latency_p50_ms=percentiles[0],
        latency_p95_ms=percentiles[1],
        error_rate=errors / finished if finished else None,
        retry_rate=retries / count if count else None,
        cached_share=cached / input_tokens if input_tokens else None,
    )


async def _percentiles(
    ledger: SQLReportSource, sql: ReportSQL, by: str | None, only_keys: Sequence[str] = ()
) -> dict[Any, tuple[float | None, float | None]]:
    """SQLite: interpolate p50/p95 per group from the ranks the database picked out."""
    statement, params = sql.percentile_ranks(by, only_keys=only_keys)
    ranks: dict[Any, dict[int, float]] = {}
    counts: dict[Any, int] = {}
    for key, rank, count, latency in await ledger.report_rows(statement, params):
        ranks.setdefault(key, {})[int(rank)] = float(latency)  # type: ignore[arg-type, call-overload]
        counts[key] = int(count)  # type: ignore[call-overload]
    result: dict[Any, tuple[float | None, float | None]] = {}
    for key, values in ranks.items():
        n = counts[key]
        pair: list[float | None] = []
        for fraction in FRACTIONS:
            position = (n - 1) * fraction
            low = math.floor(position)
            high = min(low + 1, n - 1)
            pair.append(values[low] + (values[high] - values[low]) * (position - low))
        result[key] = (pair[0], pair[1])
    return result


async def _group_rows(
    ledger: SQLReportSource,
    sql: ReportSQL,
    by: str | None,
    *,
    only_keys: Sequence[str] = (),
    order_limit: int | None = None,
) -> list[GroupStats]:
    postgresql = ledger.sql_dialect == "postgresql"
    if postgresql and order_limit is not None:
        # the costliest N first (no percentile work for every group), then those N in full
        statement, params = sql.groups(by, order_limit=order_limit, percentiles=False)
        top_keys = [str(row[0]) for row in await ledger.report_rows(statement, params)]
        return await _group_rows(ledger, sql, by, only_keys=top_keys) if top_keys else []
    statement, params = sql.groups(by, only_keys=only_keys, order_limit=order_limit)
    rows = await ledger.report_rows(statement, params)
    width = 1 + len(SUM_FIELDS)
    if postgresql:
        return [
            _stats_from_row(
                row,
                (
                    None if row[width] is None else float(row[width]),  # type: ignore[arg-type]
                    None if row[width + 1] is None else float(row[width + 1]),  # type: ignore[arg-type]
                ),
            )
            for row in rows
        ]
    keys = [str(row[0]) for row in rows if row[0] is not None] if order_limit else only_keys
    found = await _percentiles(ledger, sql, by, keys)
    return [_stats_from_row(row, found.get(row[0], (None, None))) for row in rows]


async def _totals(
    ledger: SQLReportSource, sql: ReportSQL, groups: Sequence[GroupStats]
) -> GroupStats:
    """The totals: every call is in exactly one group, so the sums are the groups' sums;
    only the percentiles need the database again."""
    if ledger.sql_dialect == "postgresql":
        statement, params = sql.total_percentiles()
        p50, p95 = (await ledger.report_rows(statement, params))[0]
        percentiles = (
            None if p50 is None else float(p50),  # type: ignore[arg-type]
            None if p95 is None else float(p95),  # type: ignore[arg-type]
        )
    else:
        percentiles = (await _percentiles(ledger, sql, None)).get("total", (None, None))
    sums: list[Any] = ["total"]
    for field in SUM_FIELDS:
        values = [getattr(group, field) for group in groups]
        if field == "cost_usd":
            known = [value for value in values if value is not None]
            sums.append(math.fsum(known) if known else None)
        elif field == "usd_saved":
            sums.append(math.fsum(values))
        else:
            sums.append(sum(values))
    return _stats_from_row(sums, percentiles)


async def build_report_from_calls(ledger: SQLReportSource, query: ReportQuery) -> CostReport:
    """The report aggregated in the database from the calls alone, without the rollup
    (exact percentiles; the path before the rollup, kept for comparison in bench/)."""
    return await _sql_report(ledger, query, use_rollup=False)


async def _sql_report(
    ledger: SQLReportSource, query: ReportQuery, *, use_rollup: bool = True
) -> CostReport:
    zone = resolve_timezone(query.timezone, "tz")
    sql = ReportSQL(ledger.sql_dialect, query.since, query.until)
    windows: list[tuple[str, float | None, float | None]] = [("", query.since, query.until)]
    if query.by == "day":
        windows = []
        statement, params = sql.time_span()
        first, last = (await ledger.report_rows(statement, params))[0]
        if first is not None and last is not None:
            days = _local_days(float(first), float(last), zone)  # type: ignore[arg-type]
            sql = ReportSQL(ledger.sql_dialect, query.since, query.until, days)
            windows = [
                (day, max(lo, query.since or lo), min(hi, query.until or hi))
                for day, lo, hi in days
            ]
    segments, edges = _split_hours(windows)
    if segments and use_rollup:
        rollup = RollupSQL(ledger.sql_dialect, segments, edges)
        whole = rollup  # by day, the rest of the report reads the range in one piece
        if query.by == "day":
            whole = RollupSQL(ledger.sql_dialect, *_split_hours([("", query.since, query.until)]))
        return await _rollup_report(ledger, query, zone, rollup, whole)
    groups = await _group_rows(ledger, sql, query.by)
    totals = await _totals(ledger, sql, groups)
    top: list[GroupStats] = []
    if query.top:
        top = await _group_rows(ledger, sql, "conversation", order_limit=query.top)
    statement, params = sql.unpriced_models()
    unpriced_models = {
        str(model): int(count)  # type: ignore[call-overload]
        for model, count in await ledger.report_rows(statement, params)
    }
    statement, params = sql.tasks(FAILURE_SIGNAL)
    tasks_row = (await ledger.report_rows(statement, params))[0]
    return _assemble(
        query,
        zone,
        totals=totals,
        groups=groups,
        top=top,
        tasks=_tasks_from_row(tasks_row),
        unpriced_models=unpriced_models,
    )


# --- from the rollup -----------------------------------------------------------------------


def _split_hours(
    windows: Sequence[tuple[str, float | None, float | None]],
) -> tuple[list[tuple[str, int, int]], list[tuple[str, float, float]]]:
    """Each (label, start, end) window as its whole UTC hours (label, first hour, end hour)
    read from the rollup, and its partial edges (label, start, end) read from the calls."""
    segments: list[tuple[str, int, int]] = []
    edges: list[tuple[str, float, float]] = []
    for label, start, end in windows:
        first = -FAR if start is None else math.ceil(start / HOUR_S)
        stop = FAR if end is None else math.floor(end / HOUR_S)
        if first >= stop:
            edges.append(
                (label, -float(FAR) if start is None else start, float(FAR) if end is None else end)
            )
            continue
        segments.append((label, first, stop))
        if start is not None and start < first * HOUR_S:
            edges.append((label, start, float(first * HOUR_S)))
        if end is not None and stop * HOUR_S < end:
            edges.append((label, float(stop * HOUR_S), end))
    return segments, edges


class _Merged:
    """Sums and a latency histogram per key, merged from rollup and edge rows."""

    def __init__(self) -> None:
        self.sums: dict[Any, list[Any]] = {}
        self.histograms: dict[Any, dict[int, int]] = {}

    def add(self, rows: Iterable[Sequence[Any]]) -> None:
        for row in rows:
            key, bucket = row[0], int(row[1])
            values = [0 if value is None else value for value in row[2:]]
            current = self.sums.get(key)
            if current is None:
                self.sums[key] = values
            else:
                self.sums[key] = [a + b for a, b in zip(current, values, strict=True)]
            histogram = self.histograms.setdefault(key, {})
            histogram[bucket] = histogram.get(bucket, 0) + int(values[0])

    def merge(self, key: Any, other: _Merged, other_key: Any) -> None:
        """Add `other`'s group `other_key` into this one's group `key`."""
        values = other.sums[other_key]
        current = self.sums.get(key)
        self.sums[key] = (
            list(values)
            if current is None
            else [a + b for a, b in zip(current, values, strict=True)]
        )
        histogram = self.histograms.setdefault(key, {})
        for bucket, calls in other.histograms[other_key].items():
            histogram[bucket] = histogram.get(bucket, 0) + calls

    def add_histograms(self, rows: Iterable[Sequence[Any]]) -> None:
        """Latency buckets only (rows of a histogram-only dimension: key, bucket, calls)."""
        for row in rows:
            histogram = self.histograms.setdefault(row[0], {})
            histogram[int(row[1])] = histogram.get(int(row[1]), 0) + int(row[2])

    def stats(self, key: Any, label: str) -> GroupStats:
        sums = dict(zip(SUM_FIELDS, self.sums[key], strict=True))
        if not sums["priced_calls"]:
            sums["cost_usd"] = None
        histogram = self.histograms[key]
        percentiles = (
            histogram_percentile(histogram, FRACTIONS[0]),
            histogram_percentile(histogram, FRACTIONS[1]),
        )
        return _stats_from_row([label, *sums.values()], percentiles)

    def live_keys(self) -> list[Any]:
        return [key for key, sums in self.sums.items() if int(sums[0]) > 0]


async def _merged(
    ledger: SQLReportSource,
    rollup: RollupSQL,
    dim: str,
    *,
    by_label: bool = False,
    only_values: Sequence[str] = (),
) -> _Merged:
    merged = _Merged()
    # by day, the database numbers the days' hour ranges (a join with the days made
    # PostgreSQL loop over them) and the numbers are mapped to their day here
    statement, params = rollup.rollup_groups(dim, by_hour_range=by_label, only_values=only_values)
    rows = await ledger.report_rows(statement, params)
    if by_label:
        labels = rollup.range_labels()
        rows = [(labels[int(row[0])], *row[1:]) for row in rows if int(row[0]) in labels]  # type: ignore[call-overload]
    merged.add(rows)
    if dim == "conversation":
        statement, params = rollup.rollup_groups(
            "conversation_latency", only_values=only_values, calls_only=True
        )
        merged.add_histograms(await ledger.report_rows(statement, params))
    if rollup.edges:
        statement, params = rollup.edge_groups(
            None if by_label else DIMENSIONS[dim], only_values=only_values
        )
        merged.add(await ledger.report_rows(statement, params))
    return merged


def _label(value: Any, by_label: bool) -> str:
    if by_label:
        return str(value)
    decoded = decode_value(value)
    return decoded if decoded else NO_VALUE


async def _rollup_report(
    ledger: SQLReportSource,
    query: ReportQuery,
    zone: tzinfo,
    rollup: RollupSQL,
    whole: RollupSQL,
) -> CostReport:
    """The report from the rollup's whole hours and the calls of the partial edges; sums
    exact, p50/p95 from the latency histogram (see report_rollup.PERCENTILE_ERROR). By
    conversation only the listed conversations are read in full (their rows through the
    index on the value); the totals come from the model rows. `rollup` reads the
    breakdown's windows (by day: each local day's whole hours and part-hour edges), `whole`
    the range in one piece (the tasks, the top conversations, the unpriced models)."""
    by_day = query.by == "day"
    by_conversation = query.by == "conversation"
    merged_dim = "model" if by_day or by_conversation else query.by
    merged = await _merged(ledger, rollup, merged_dim, by_label=by_day)
    everything = _Merged()
    for key in merged.live_keys():
        everything.merge("total", merged, key)
    totals = (
        everything.stats("total", "total")
        if everything.sums
        else _stats_from_row(["total", *([0] * len(SUM_FIELDS))], (None, None))
    )
    # the tasks figures and the top conversations come from one per-conversation pass
    statement, params = whole.tasks(FAILURE_SIGNAL, query.since, query.until, query.top)
    rows = await ledger.report_rows(statement, params)
    tasks_row = next(row[1:] for row in rows if row[0] is None)
    values = [str(row[0]) for row in rows if row[0] is not None]
    listed = [*values, ""] if by_conversation else values  # '' = calls without a conversation
    found = await _merged(ledger, whole, "conversation", only_values=listed) if listed else None
    conversations = (
        [] if found is None else [found.stats(key, _label(key, False)) for key in found.live_keys()]
    )
    top = [group for group in conversations if group.key != NO_VALUE] if values else []
    if by_conversation:
        groups = conversations
    else:
        groups = [merged.stats(key, _label(key, by_day)) for key in merged.live_keys()]
    if query.by in ("model", "conversation") or whole.edges:
        # by model and by conversation, `merged` holds the model rows of the range already
        models = merged if merged_dim == "model" and not by_day else None
        models = models or await _merged(ledger, whole, "model")
        unpriced_at = SUM_FIELDS.index("unpriced_calls")
        unpriced_models = {
            _label(key, False): int(models.sums[key][unpriced_at])
            for key in models.live_keys()
            if int(models.sums[key][unpriced_at]) > 0
        }
    else:  # the model rows' unpriced counts alone
        statement, params = whole.unpriced_models()
        unpriced_models = {
            _label(value, False): int(count)  # type: ignore[call-overload]
            for value, count in await ledger.report_rows(statement, params)
        }
    return _assemble(
        query,
        zone,
        totals=totals,
        groups=groups,
        top=top,
        tasks=_tasks_from_row(tasks_row),
        unpriced_models=unpriced_models,
    )


# --- output -------------------------------------------------------------------------------


def to_jsonable(value: Any) -> Any:
    """Plain JSON data from report and budget dataclasses (non-finite floats as strings)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value
