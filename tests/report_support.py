"""Shared helpers of the report tests (test_reports.py, test_report_rollup.py): call
records, a random ledger with every outcome, and report comparison."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime

from agent_routing.records import CallRecord, DecisionRecord, Outcome, Usage
from agent_routing.reports import CostReport, to_jsonable

DAY1 = datetime(2026, 3, 10, 10, 0, tzinfo=UTC).timestamp()


def call(call_id: str, at: float, **fields: object) -> CallRecord:
    """A call record: gpt-4o-mini, ok, with `fields` set."""
    values: dict[str, object] = {"model": "gpt-4o-mini", "outcome": Outcome.OK}
    values.update(fields)
    return CallRecord(id=call_id, started_at=at, **values)


def same_report(first: CostReport, second: CostReport, percentile_error: float = 1e-9) -> bool:
    """Equal reports, floats compared to 1e-9 relative (sums in another order), latency
    percentiles to `percentile_error` relative."""

    def close(a: object, b: object, tolerance: float = 1e-9) -> bool:
        if isinstance(a, float) and isinstance(b, float):
            return math.isclose(a, b, rel_tol=tolerance, abs_tol=1e-12)
        if isinstance(a, dict) and isinstance(b, dict):
            return a.keys() == b.keys() and all(
                close(a[k], b[k], percentile_error if "latency_p" in k else 1e-9) for k in a
            )
        if isinstance(a, list) and isinstance(b, list):
            return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b, strict=True))
        return a == b

    return close(to_jsonable(first), to_jsonable(second))


def random_calls(seed: int, count: int) -> tuple[list[CallRecord], list[DecisionRecord]]:
    """Calls over ten days with every outcome, unpriced models, ties and missing fields."""
    rng = random.Random(seed)
    outcomes = list(Outcome)
    calls, decisions = [], []
    for index in range(count):
        conversation = rng.choice([None, "c1", "c2", "c3", "c4", "c5", "c6"])
        at = DAY1 + rng.randrange(0, 10 * 86_400, 600)  # ties on started_at happen
        if rng.random() < 0.2 and conversation:
            decisions.append(
                DecisionRecord(
                    f"d{index}", at, conversation, 0, "chat", "balanced", None, "m", None, None
                )
            )
        unpriced = rng.random() < 0.1
        calls.append(
            call(
                f"r{index:04d}",
                at,
                model="local-llm" if unpriced else rng.choice(["gpt-4o", "gpt-4o-mini"]),
                conversation_id=conversation,
                tool=rng.choice([None, "search", "code"]),
                tier=rng.choice([None, "cheap", "strong"]),
                call_kind=rng.choice(["chat", "utility", "embedding"]),
                outcome=rng.choice(outcomes),
                attempt=rng.choice([0, 0, 1]),
                usage=None
                if rng.random() < 0.1
                else Usage(rng.randrange(1, 5000), rng.randrange(0, 500), cached_read_tokens=0),
                cost_usd=None if unpriced or rng.random() < 0.05 else rng.random() / 100,
                latency_ms=None if rng.random() < 0.2 else rng.random() * 5000,
                tokens_saved=rng.choice([None, 0, 120]),
                usd_saved=rng.choice([None, 0.0, 0.0004]),
            )
        )
    return calls, decisions
