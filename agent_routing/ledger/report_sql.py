"""The cost report's aggregate queries, for SQLite and PostgreSQL alike.

A report used to load every call of its range into Python; these statements group and sum
in the database and return one row per group. Only fixed column names and expressions are
assembled here; every value (range bounds, day boundaries, ids) is a `?` parameter
(translated to `%s` for PostgreSQL by :func:`agent_routing.ledger.postgres.pg_sql`).

Percentiles (p50, p95) are linear interpolation between closest ranks, as in the Python
report: PostgreSQL computes them with `percentile_cont`; SQLite, which has no percentile
function, returns the two ranks around each position with window functions and the
caller interpolates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agent_routing.ledger.queries import where
from agent_routing.ledger.report_rollup import bucket_sql, rollup_source, value_sql

ERROR_OUTCOMES_SQL = "('error', 'rate_limited', 'timeout', 'context_overflow', 'content_policy')"
BILLED_OUTCOMES_SQL = "('ok', 'abandoned')"

KEY_COLUMNS: dict[str, str] = {
    "model": "(model || '')",
    "conversation": "(conversation_id || '')",
    "tool": "(tool || '')",
    "kind": "(call_kind || '')",
    "tier": "(tier || '')",
    "day": "days.day",
}
"""Report `by` -> the expression its groups are keyed on (`day` joins the local days).

`column || ''` is the column itself (NULL stays NULL) but keeps SQLite from walking the
column's index to group, which reads the table row by row in index order: a sequential
scan and a sort are 2-3x faster at 200,000 calls (measured with bench/bench_fleet.py)."""

RAW_COLUMNS: dict[str, str] = {
    "model": "model",
    "conversation": "conversation_id",
    "tool": "tool",
    "kind": "call_kind",
    "tier": "tier",
    "day": "days.day",
}

FRACTIONS = (0.5, 0.95)

_SUMS = (
    "COUNT(*)",
    "SUM(CASE WHEN outcome = 'pending' THEN 1 ELSE 0 END)",
    "SUM(CASE WHEN outcome = 'ok' THEN 1 ELSE 0 END)",
    f"SUM(CASE WHEN outcome IN {ERROR_OUTCOMES_SQL} THEN 1 ELSE 0 END)",
    "SUM(CASE WHEN outcome = 'blocked' THEN 1 ELSE 0 END)",
    "SUM(CASE WHEN outcome = 'abandoned' THEN 1 ELSE 0 END)",
    "SUM(CASE WHEN attempt > 0 THEN 1 ELSE 0 END)",
    "SUM(COALESCE(input_tokens, 0))",
    "SUM(COALESCE(output_tokens, 0))",
    "SUM(COALESCE(cached_read_tokens, 0))",
    "SUM(cost_usd)",
    "COUNT(cost_usd)",
    f"SUM(CASE WHEN cost_usd IS NULL AND outcome IN {BILLED_OUTCOMES_SQL} THEN 1 ELSE 0 END)",
    "SUM(COALESCE(tokens_saved, 0))",
    "SUM(COALESCE(usd_saved, 0))",
)
SUM_FIELDS = (
    "calls",
    "pending",
    "ok",
    "errors",
    "blocked",
    "abandoned",
    "retries",
    "input_tokens",
    "output_tokens",
    "cached_read_tokens",
    "cost_usd",
    "priced_calls",
    "unpriced_calls",
    "tokens_saved",
    "usd_saved",
)
"""The fields of the aggregate columns, in `_SUMS` order (after the key)."""


class ReportSQL:
    """Statements for one report: its range, its days (for `by=day`) and its dialect."""

    def __init__(
        self,
        dialect: str,
        since: float | None,
        until: float | None,
        days: Sequence[tuple[str, float, float]] = (),
    ) -> None:
        self.dialect = dialect
        self.days = list(days)
        self.range_where, self.range_params = where(
            [("started_at >= ?", since), ("started_at < ?", until)]
        )
        self.since, self.until = since, until

    def _source(self, by: str, extra: Sequence[str] = ()) -> tuple[str, str, list[Any]]:
        """(WITH prefix, FROM ... WHERE ..., params) for the calls of the range."""
        conditions = [self.range_where.removeprefix(" WHERE ")] if self.range_where else []
        conditions += list(extra)
        condition = (" WHERE " + " AND ".join(conditions)) if conditions else ""
        if by != "day":
            return "", f" FROM calls{condition}", list(self.range_params)
        values = ", ".join("(?, ?, ?)" for _ in self.days) or "(NULL, 0.0, 0.0)"
        params: list[Any] = [value for day in self.days for value in day]
        with_days = f"WITH days (day, lo, hi) AS (VALUES {values}) "
        join = " FROM calls JOIN days ON calls.started_at >= days.lo AND calls.started_at < days.hi"
        return with_days, join + condition, params + list(self.range_params)

    def groups(
        self,
        by: str | None,
        *,
        only_keys: Sequence[str] = (),
        order_limit: int | None = None,
        percentiles: bool = True,
    ) -> tuple[str, list[Any]]:
        """One row per group (or one row for all, `by=None`): key, the sums of `_SUMS`,
        then for PostgreSQL (with `percentiles`) p50 and p95. `order_limit` keeps the
        costliest N groups; `only_keys` only those groups (matched on the column itself,
        so its index serves)."""
        key = "'total'" if by is None else KEY_COLUMNS[by]
        extra = [f"{key} IS NOT NULL"] if by == "conversation" and order_limit is not None else []
        extra_params: list[Any] = []
        if only_keys and by is not None:
            extra.append(f"{RAW_COLUMNS[by]} IN ({', '.join('?' for _ in only_keys)})")
            extra_params = list(only_keys)
        prefix, source, params = self._source(by or "model", extra)
        columns = [f"{key} AS k", *_SUMS]
        if self.dialect == "postgresql" and percentiles:
            columns += [
                f"percentile_cont({fraction}) WITHIN GROUP (ORDER BY latency_ms)"
                for fraction in FRACTIONS
            ]
        group = "" if by is None else f" GROUP BY {key}"
        order = ""
        limit_params: list[Any] = []
        if order_limit is not None:
            order = f" ORDER BY COALESCE(SUM(cost_usd), 0) DESC, COUNT(*) DESC, {key} LIMIT ?"
            limit_params = [order_limit]
        sql = f"{prefix}SELECT {', '.join(columns)}{source}{group}{order}"
        return sql, params + extra_params + limit_params

    def total_percentiles(self) -> tuple[str, list[Any]]:
        """PostgreSQL: p50 and p95 of every call of the range, one row."""
        _, source, params = self._source("model")
        columns = ", ".join(
            f"percentile_cont({fraction}) WITHIN GROUP (ORDER BY latency_ms)"
            for fraction in FRACTIONS
        )
        return f"SELECT {columns}{source}", params

    def percentile_ranks(
        self, by: str | None, *, only_keys: Sequence[str] = ()
    ) -> tuple[str, list[Any]]:
        """SQLite: for each group, the latencies at the two ranks around each percentile
        position: rows (key, rank, count, latency_ms)."""
        key = "'total'" if by is None else KEY_COLUMNS[by]
        extra = ["latency_ms IS NOT NULL"]
        extra_params: list[Any] = []
        if only_keys and by is not None:
            extra.append(f"{RAW_COLUMNS[by]} IN ({', '.join('?' for _ in only_keys)})")
            extra_params = list(only_keys)
        prefix, source, params = self._source(by or "model", extra)
        partition = "" if by is None else f"PARTITION BY {key} "
        ranked = (
            f"SELECT {key} AS k, latency_ms, "
            f"ROW_NUMBER() OVER ({partition}ORDER BY latency_ms) - 1 AS r, "
            f"COUNT(*) OVER ({partition.strip()}) AS n{source}"
        )
        wanted = []
        for fraction in FRACTIONS:
            low = f"CAST((n - 1) * {fraction} AS INTEGER)"
            wanted += [low, f"{low} + 1"]
        sql = (
            f"{prefix}SELECT k, r, n, latency_ms FROM ({ranked}) AS ranked "
            f"WHERE r IN ({', '.join(wanted)})"
        )
        return sql, params + extra_params

    def unpriced_models(self) -> tuple[str, list[Any]]:
        """(model, served calls without a cost) for every model that has some."""
        _, source, params = self._source(
            "model", ["cost_usd IS NULL", f"outcome IN {BILLED_OUTCOMES_SQL}"]
        )
        return f"SELECT model, COUNT(*){source} GROUP BY model ORDER BY model", params

    def tasks(self, failure_signal: str) -> tuple[str, list[Any]]:
        """One row: tasks, successful tasks, priced cost, tokens, tasks with unpriced calls.

        A task is a conversation with calls in the range; it succeeded when its last
        finished call (greatest started_at, then id) is `ok` and no `failure_signal` was
        recorded in the range for a decision (created in the range) of that conversation.
        """
        _, source, params = self._source("model", ["conversation_id IS NOT NULL"])
        _, finished_source, finished_params = self._source(
            "model", ["conversation_id IS NOT NULL", "outcome <> 'pending'"]
        )
        signal_where, signal_params = where(
            [
                ("s.created_at >= ?", self.since),
                ("s.created_at < ?", self.until),
                ("d.created_at >= ?", self.since),
                ("d.created_at < ?", self.until),
            ],
            fixed=["s.kind = ?", "d.conversation_id IS NOT NULL"],
        )
        sql = (
            "WITH per_task AS ("
            "SELECT (conversation_id || '') AS c, SUM(cost_usd) AS cost, "
            "COUNT(cost_usd) AS priced, "
            "SUM(COALESCE(input_tokens, 0) + COALESCE(output_tokens, 0)) AS tokens, "
            f"SUM(CASE WHEN cost_usd IS NULL AND outcome IN {BILLED_OUTCOMES_SQL} "
            f"THEN 1 ELSE 0 END) AS unpriced{source} GROUP BY (conversation_id || '')), "
            "last_finished AS (SELECT p0.c AS c, (SELECT outcome"
            f"{finished_source.replace('conversation_id IS NOT NULL', 'conversation_id = p0.c')}"
            " ORDER BY started_at DESC, id DESC LIMIT 1) AS outcome FROM per_task p0), "
            "failed AS (SELECT DISTINCT d.conversation_id AS c FROM signals s "
            f"JOIN decisions d ON d.id = s.decision_id{signal_where}) "
            "SELECT COUNT(*), "
            "SUM(CASE WHEN lf.outcome = 'ok' AND f.c IS NULL THEN 1 ELSE 0 END), "
            "SUM(p.cost), SUM(p.priced), SUM(p.tokens), "
            "SUM(CASE WHEN p.unpriced > 0 THEN 1 ELSE 0 END) "
            "FROM per_task p LEFT JOIN last_finished lf ON lf.c = p.c "
            "LEFT JOIN failed f ON f.c = p.c"
        )
        return sql, params + finished_params + [failure_signal, *signal_params]

    def time_span(self) -> tuple[str, list[Any]]:
        """The first and last start time of the range's calls (to list the local days)."""
        # two subqueries: SQLite answers a lone MIN or MAX from the index's ends, but
        # scans the whole range for both in one SELECT (150 ms at 1,000,000 calls)
        return (
            f"SELECT (SELECT MIN(started_at) FROM calls{self.range_where}), "
            f"(SELECT MAX(started_at) FROM calls{self.range_where})",
            list(self.range_params) * 2,
        )


# --- from the rollup ------------------------------------------------------------------------

FAR = 2**62
"""An hour or time beyond any call (an open range end)."""


class RollupSQL:
    """Statements reading the report rollup (:mod:`agent_routing.ledger.report_rollup`)
    for whole UTC hours, and the raw calls of the partial edges, in the same row shape:
    (key, latency bucket, the sums of `SUM_FIELDS`).

    `segments` are (label, first hour, end hour) of the rollup part (the label is the
    local day for `by=day`, else ignored); `edges` are (label, start, end) ranges of
    started_at read from the calls.
    """

    def __init__(
        self,
        dialect: str,
        segments: Sequence[tuple[str, int, int]],
        edges: Sequence[tuple[str, float, float]],
    ) -> None:
        self.dialect = dialect
        self.source = rollup_source(dialect)
        self.segments = list(segments)
        self.edges = list(edges)

    def _segments(self) -> tuple[str, list[Any]]:
        """The WITH clause of the segments, adjacent ones merged (a report by day in a
        whole-hour zone is then one range: PostgreSQL joined 30 days' segments with a
        nested loop, 3-5x slower than one range)."""
        segments = self._merged_segments()
        values = ", ".join("(?, ?, ?)" for _ in segments) or "('', 0, 0)"
        params: list[Any] = [value for segment in segments for value in segment]
        return f"WITH seg (label, lo, hi) AS (VALUES {values}) ", params

    def _merged_segments(self) -> list[tuple[str, int, int]]:
        merged: list[tuple[str, int, int]] = []
        for _, lo, hi in sorted(self.segments, key=lambda segment: segment[1]):
            if merged and merged[-1][2] == lo:
                merged[-1] = ("", merged[-1][1], hi)
            else:
                merged.append(("", lo, hi))
        return merged

    def rollup_groups(
        self,
        dim: str,
        *,
        by_hour_range: bool = False,
        only_values: Sequence[str] = (),
        calls_only: bool = False,
    ) -> tuple[str, list[Any]]:
        """Sums per (key, bucket) from the rollup rows of `dim` in the segments' hours; the
        key is the encoded value, or with `by_hour_range` the number of the hour range
        between two segment boundaries (:meth:`hour_ranges`, :meth:`range_labels`: a join
        with one row per day made PostgreSQL loop over the days, and grouping by hour
        returned 16,689 rows for 30 days); `calls_only` sums the call counts alone (a
        histogram-only dimension)."""
        sums = ", ".join(f"SUM(r.{name})" for name in SUM_FIELDS[: 1 if calls_only else None])
        only = ""
        if only_values:
            only = f" AND r.value IN ({', '.join('?' for _ in only_values)})"
        if by_hour_range:
            bounds = self.hour_ranges()
            number, number_params = self._range_number("r.hour", bounds)
            sql = (
                f"SELECT {number}, r.bucket, {sums} FROM {self.source} r WHERE r.dim = ? "
                f"AND r.hour >= ? AND r.hour < ?{only} GROUP BY 1, r.bucket"
            )
            return sql, [*number_params, dim, bounds[0], bounds[-1], *only_values]
        prefix, params = self._segments()
        sql = (
            f"{prefix}SELECT r.value, r.bucket, {sums} FROM {self.source} r "
            "JOIN seg ON r.hour >= seg.lo AND r.hour < seg.hi "
            f"WHERE r.dim = ?{only} GROUP BY r.value, r.bucket"
        )
        return sql, [*params, dim, *only_values]

    def _range_number(self, hour: str, bounds: Sequence[int]) -> tuple[str, list[Any]]:
        """The number i of the range [bounds[i - 1], bounds[i]) holding `hour` (between the
        first and last bound): PostgreSQL's width_bucket; on SQLite a binary search as
        nested CASEs (about log2(ranges) integer comparisons a row; a join with the
        segments, or one WHEN per range, was twice as slow)."""
        if self.dialect == "postgresql":
            marks = ", ".join("?" for _ in bounds)
            return f"width_bucket({hour}, ARRAY[{marks}]::bigint[])", list(bounds)

        def search(first: int, stop: int) -> tuple[str, list[Any]]:  # range numbers
            if stop - first == 1:
                return str(first), []
            middle = (first + stop) // 2
            below, below_params = search(first, middle)
            above, above_params = search(middle, stop)
            sql = f"CASE WHEN {hour} < ? THEN {below} ELSE {above} END"
            return sql, [bounds[middle - 1], *below_params, *above_params]

        return search(1, len(bounds))

    def hour_ranges(self) -> list[int]:
        """The segments' boundaries, sorted: range i (1-based, as width_bucket numbers it)
        is [bounds[i - 1], bounds[i]), either one segment or a gap between two."""
        return sorted({hour for _, lo, hi in self.segments for hour in (lo, hi)})

    def range_labels(self) -> dict[int, str]:
        """The label of each hour range of :meth:`hour_ranges` that is a segment."""
        bounds = self.hour_ranges()
        index = {bound: number for number, bound in enumerate(bounds, start=1)}
        return {index[lo]: label for label, lo, _ in self.segments}

    def _in_edges(self, row: str) -> tuple[str, list[Any]]:
        """A condition: call row `row` started in one of the edges (one index range per
        edge: a join with the edges made PostgreSQL scan every call, 6 s at 1,000,000)."""
        if not self.edges:
            return "1 = 0", []
        ranges = " OR ".join(
            f"({row}.started_at >= ? AND {row}.started_at < ?)" for _ in self.edges
        )
        return f"({ranges})", [bound for _, lo, hi in self.edges for bound in (lo, hi)]

    def _edge_label(self, row: str) -> tuple[str, list[Any]]:
        """The label of the edge call row `row` started in: a binary search over the
        edges' ends as nested CASEs (edges are disjoint; about log2(edges) comparisons a
        call, where a chain of one WHEN per edge took 68 ms for 62 edges on SQLite)."""
        ordered = sorted(self.edges, key=lambda edge: edge[2])

        def search(first: int, stop: int) -> tuple[str, list[Any]]:
            if stop - first == 1:
                return "?", [ordered[first][0]]
            middle = (first + stop) // 2
            below, below_params = search(first, middle)
            above, above_params = search(middle, stop)
            sql = f"CASE WHEN {row}.started_at < ? THEN {below} ELSE {above} END"
            return sql, [ordered[middle - 1][2], *below_params, *above_params]

        return search(0, len(ordered)) if ordered else ("''", [])

    def edge_groups(
        self, column: str | None, *, only_values: Sequence[str] = ()
    ) -> tuple[str, list[Any]]:
        """Sums per (key, bucket) of the calls in the edges; the key is `column` encoded as
        in the rollup, or the edge's label when `column` is None."""
        params: list[Any] = []
        if column is None:
            key, params = self._edge_label("calls")
        else:
            key = value_sql(column, "calls.")
        condition, edge_params = self._in_edges("calls")
        only = ""
        raw: list[str] = []
        if only_values and column is not None:  # encoded values ('' = NULL)
            raw = [str(value)[1:] for value in only_values if value != ""]
            wanted = [f"calls.{column} IN ({', '.join('?' for _ in raw)})"] if raw else []
            wanted += [f"calls.{column} IS NULL"] if "" in only_values else []
            only = f" AND ({' OR '.join(wanted)})"
        sql = (
            f"SELECT {key}, {bucket_sql(self.dialect, 'calls.')}, {', '.join(_SUMS)} "
            f"FROM calls WHERE {condition}{only} GROUP BY 1, 2"
        )
        return sql, params + edge_params + raw

    def unpriced_models(self) -> tuple[str, list[Any]]:
        """(encoded model, unpriced calls) of the models with some, from the rollup alone
        (only without edges)."""
        prefix, params = self._segments()
        sql = (
            f"{prefix}SELECT r.value, SUM(r.unpriced_calls) FROM {self.source} r "
            "JOIN seg ON r.hour >= seg.lo AND r.hour < seg.hi "
            "WHERE r.dim = 'model' AND r.unpriced_calls <> 0 GROUP BY r.value "
            "HAVING SUM(r.unpriced_calls) > 0"
        )
        return sql, params

    def tasks(
        self, failure_signal: str, since: float | None, until: float | None, top: int = 0
    ) -> tuple[str, list[Any]]:
        """The tasks row of :meth:`ReportSQL.tasks` (after a NULL first column), with the
        per-conversation sums from the rollup and the edges' calls, then one row per top
        conversation (its encoded value first, then zeros): the `top` costliest in the
        report's order (cost, then calls, descending, then id), from the same pass."""
        prefix, params = self._segments()
        in_edges, edge_params = self._in_edges("c")
        bounds, bound_params = where([("started_at >= ?", since), ("started_at < ?", until)])
        bounds = bounds.replace(" WHERE ", " AND ")
        signal_where, signal_params = where(
            [
                ("s.created_at >= ?", since),
                ("s.created_at < ?", until),
                ("d.created_at >= ?", since),
                ("d.created_at < ?", until),
            ],
            fixed=["s.kind = ?", "d.conversation_id IS NOT NULL"],
        )
        # each conversation's last finished call is read from report_task_last (the last
        # of all time): none when it is missing or before the range, it when inside; a
        # seek on the calls only when it is after the range's end, or when (PostgreSQL)
        # the conversation has deltas the fold has not taken into report_task_last yet
        fresh, stale = "1 = 1", ""
        if self.dialect == "postgresql":
            fresh = "s.v IS NULL"
            stale = (
                " LEFT JOIN (SELECT DISTINCT value AS v FROM report_rollup_delta "
                "WHERE dim = 'conversation') s ON s.v = p0.v"
            )
        before = " AND (t.started_at IS NULL" + (
            " OR t.started_at < ?)" if since is not None else ")"
        )
        inside = " AND t.started_at < ?" if until is not None else ""
        case_params = [v for v in (since, until) if v is not None]
        sql = (
            f"{prefix}, parts AS ("
            "SELECT r.value AS v, r.calls AS calls, r.cost_usd AS cost, "
            "r.priced_calls AS priced, r.input_tokens + r.output_tokens AS tokens, "
            "r.unpriced_calls AS unpriced "
            f"FROM {self.source} r JOIN seg ON r.hour >= seg.lo AND r.hour < seg.hi "
            "WHERE r.dim = 'conversation' AND r.value <> '' UNION ALL "
            "SELECT '=' || c.conversation_id, 1, COALESCE(c.cost_usd, 0), "
            "CASE WHEN c.cost_usd IS NOT NULL THEN 1 ELSE 0 END, "
            "COALESCE(c.input_tokens, 0) + COALESCE(c.output_tokens, 0), "
            f"CASE WHEN c.cost_usd IS NULL AND c.outcome IN {BILLED_OUTCOMES_SQL} "
            "THEN 1 ELSE 0 END "
            f"FROM calls c WHERE {in_edges} AND c.conversation_id IS NOT NULL), "
            "per_task AS (SELECT v, SUM(calls) AS calls, SUM(cost) AS cost, SUM(priced) AS priced, "
            "SUM(tokens) AS tokens, SUM(unpriced) AS unpriced FROM parts GROUP BY v "
            "HAVING SUM(calls) > 0), "
            f"last_finished AS (SELECT p0.v AS v, CASE WHEN {fresh}{before} THEN NULL "
            f"WHEN {fresh}{inside} THEN t.outcome ELSE (SELECT outcome FROM calls "
            f"WHERE conversation_id = substr(p0.v, 2){bounds} AND outcome <> 'pending' "
            "ORDER BY started_at DESC, id DESC LIMIT 1) END AS outcome FROM per_task p0 "
            f"LEFT JOIN report_task_last t ON t.conversation_id = substr(p0.v, 2){stale}), "
            "failed AS (SELECT DISTINCT '=' || d.conversation_id AS v FROM signals s "
            f"JOIN decisions d ON d.id = s.decision_id{signal_where}) "
            "SELECT NULL AS v, COUNT(*), "
            "SUM(CASE WHEN lf.outcome = 'ok' AND f.v IS NULL THEN 1 ELSE 0 END), "
            "CASE WHEN SUM(p.priced) > 0 THEN SUM(p.cost) END, SUM(p.priced), SUM(p.tokens), "
            "SUM(CASE WHEN p.unpriced > 0 THEN 1 ELSE 0 END) "
            "FROM per_task p LEFT JOIN last_finished lf ON lf.v = p.v "
            "LEFT JOIN failed f ON f.v = p.v"
        )
        collate = ' COLLATE "C"' if self.dialect == "postgresql" else ""
        if top:
            sql += (
                " UNION ALL SELECT * FROM (SELECT v, 0, 0, 0, 0, 0, 0 "
                "FROM per_task ORDER BY CASE WHEN priced > 0 THEN cost ELSE 0 END DESC, "
                f"calls DESC, v{collate} LIMIT ?) AS top_rows"
            )
        return sql, [
            *params,
            *edge_params,
            *case_params,
            *bound_params,
            failure_signal,
            *signal_params,
            *([top] if top else []),
        ]
