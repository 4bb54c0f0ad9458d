"""One evaluation run: the analyzer's routing curve beside the baselines and references.

Baselines, computed on the same prompts in the same run:

- **random**: the expected curve of a router that picks the strong model at random with
  probability x, i.e. the straight line from the weak to the strong model (APGR 0.5);
- **length**: RouteLLM-style trivial scorer, the prompt's token count (longer = harder).

References: the weak and strong models alone, and the oracle that calls the strong model
exactly where it scores higher than the weak one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from agent_routing.evaluation._curve import (
    CPT_TARGETS,
    QUALITY_TARGETS,
    CurvePoint,
    Savings,
    apgr,
    calls_to_recover,
    savings_at_quality,
    sweep,
)
from agent_routing.evaluation._data import EvalData

FloatArray = npt.NDArray[np.float64]

RANDOM = "random"
LENGTH = "length"
ANALYZER = "analyzer"
MIN_CATEGORY_ROWS = 20


def percent_key(fraction: float) -> str:
    """'20' for 0.2: the key used for CPT and savings targets."""
    return f"{round(fraction * 100):d}"


@dataclass(frozen=True, slots=True)
class RouterResult:
    """A router's curve and the figures computed from it."""

    name: str
    points: tuple[CurvePoint, ...]
    apgr: float
    cpt: Mapping[str, float | None]
    savings: Mapping[str, Savings | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OracleResult:
    """The best possible router on this data: strong exactly where it scores higher."""

    score: float
    strong_share: float
    cost: float | None


@dataclass(frozen=True, slots=True)
class EvaluationReport:
    """Everything `agent-routing eval` prints."""

    source: str
    rows: int
    model_version: str
    weak: float
    strong: float
    oracle: OracleResult
    analyzer: RouterResult
    baselines: tuple[RouterResult, ...]
    weak_cost: float | None = None
    strong_cost: float | None = None
    cost_basis: str | None = None
    by_category: Mapping[str, Mapping[str, float]] = field(default_factory=dict)


def _outcomes(data: EvalData) -> tuple[FloatArray, FloatArray]:
    if data.weak is None or data.strong is None:
        raise ValueError("evaluation needs weak_score and strong_score")
    return data.weak, data.strong


def _result(name: str, points: Sequence[CurvePoint], weak: float, strong: float) -> RouterResult:
    return RouterResult(
        name=name,
        points=tuple(points),
        apgr=apgr(points, weak, strong),
        cpt={
            percent_key(target): calls_to_recover(points, weak, strong, target)
            for target in CPT_TARGETS
        },
        savings={
            percent_key(target): savings_at_quality(points, strong, target)
            for target in QUALITY_TARGETS
        }
        if points and points[0].cost is not None
        else {},
    )


def evaluate_router(name: str, scores: FloatArray, data: EvalData) -> RouterResult:
    """Sweep `scores` at RouteLLM's quantile thresholds and compute APGR, CPT, savings."""
    weak, strong = _outcomes(data)
    points = sweep(
        np.asarray(scores, dtype=np.float64),
        weak,
        strong,
        weak_cost=data.weak_cost,
        strong_cost=data.strong_cost,
    )
    return _result(name, points, float(weak.mean()), float(strong.mean()))


def expected_random(data: EvalData, steps: int = 10) -> RouterResult:
    """The expected curve of random routing: a straight line at `steps` + 1 shares."""
    weak_scores, strong_scores = _outcomes(data)
    weak, strong = float(weak_scores.mean()), float(strong_scores.mean())
    costs = None
    if data.weak_cost is not None and data.strong_cost is not None:
        costs = (float(data.weak_cost.sum()), float(data.strong_cost.sum()))
    points = []
    for step in range(steps + 1):
        share = step / steps
        cost = None if costs is None else costs[0] + share * (costs[1] - costs[0])
        points.append(CurvePoint(float("nan"), share, weak + share * (strong - weak), cost))
    return _result(RANDOM, points, weak, strong)


def length_scores(prompts: Sequence[str]) -> FloatArray:
    """The prompt-length baseline's scores: exact cl100k_base token counts."""
    from agent_routing.tokens import count_text_tokens

    return np.array([count_text_tokens(prompt) for prompt in prompts], dtype=np.float64)


def oracle(data: EvalData) -> OracleResult:
    """Strong exactly where it is better: the upper bound of any router on this data."""
    weak, strong = _outcomes(data)
    to_strong = strong > weak
    cost = None
    if data.weak_cost is not None and data.strong_cost is not None:
        cost = float(np.where(to_strong, data.strong_cost, data.weak_cost).sum())
    return OracleResult(
        score=float(np.maximum(weak, strong).mean()),
        strong_share=float(to_strong.mean()),
        cost=cost,
    )


def _by_category(scores: FloatArray, data: EvalData) -> dict[str, dict[str, float]]:
    """Analyzer APGR per category with enough rows and a quality gap."""
    if data.categories is None:
        return {}
    weak, strong = _outcomes(data)
    labels = np.asarray(data.categories)
    result: dict[str, dict[str, float]] = {}
    for category in sorted(set(data.categories)):
        mask = labels == category
        rows = int(mask.sum())
        weak_mean, strong_mean = float(weak[mask].mean()), float(strong[mask].mean())
        entry: dict[str, float] = {"rows": rows, "weak": weak_mean, "strong": strong_mean}
        if rows >= MIN_CATEGORY_ROWS and strong_mean != weak_mean:
            points = sweep(scores[mask], weak[mask], strong[mask])
            entry["apgr"] = apgr(points, weak_mean, strong_mean)
        result[category] = entry
    return result


def build_report(
    data: EvalData,
    analyzer_scores: FloatArray,
    *,
    model_version: str,
    cost_basis: str | None = None,
) -> EvaluationReport:
    """Evaluate the analyzer's scores and both baselines on `data`."""
    weak, strong = _outcomes(data)
    scores = np.asarray(analyzer_scores, dtype=np.float64)
    if scores.shape != (len(data.prompts),):
        raise ValueError(f"need one score per prompt, got {scores.shape} for {len(data.prompts)}")
    return EvaluationReport(
        source=data.source,
        rows=len(data.prompts),
        model_version=model_version,
        weak=float(weak.mean()),
        strong=float(strong.mean()),
        oracle=oracle(data),
        analyzer=evaluate_router(ANALYZER, scores, data),
        baselines=(
            evaluate_router(LENGTH, length_scores(data.prompts), data),
            expected_random(data),
        ),
        weak_cost=None if data.weak_cost is None else float(data.weak_cost.sum()),
        strong_cost=None if data.strong_cost is None else float(data.strong_cost.sum()),
        cost_basis=cost_basis,
        by_category=_by_category(scores, data),
    )


def _number(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def _router_dict(result: RouterResult) -> dict[str, Any]:
    return {
        "apgr": result.apgr,
        "cpt": dict(result.cpt),
        "points": [
            {
                "strong_share": point.strong_share,
                "score": point.score,
                "threshold": _number(point.threshold),
                **({"cost": point.cost} if point.cost is not None else {}),
            }
            for point in result.points
        ],
        "savings": {
            key: None
            if saving is None
            else {
                "strong_share": saving.strong_share,
                "cost": saving.cost,
                "saved": saving.saved,
                "saved_fraction": saving.saved_fraction,
            }
            for key, saving in result.savings.items()
        },
    }


def report_to_dict(report: EvaluationReport) -> dict[str, Any]:
    """The `--json` document: the analyzer's figures at top level, baselines beside."""
    return {
        "data": report.source,
        "rows": report.rows,
        "model_version": report.model_version,
        **_router_dict(report.analyzer),
        "weak": report.weak,
        "strong": report.strong,
        "oracle": {
            "score": report.oracle.score,
            "strong_share": report.oracle.strong_share,
            "cost": report.oracle.cost,
        },
        "costs": {
            "basis": report.cost_basis,
            "always_weak": report.weak_cost,
            "always_strong": report.strong_cost,
        },
        "baselines": {result.name: _router_dict(result) for result in report.baselines},
        "by_category": {name: dict(entry) for name, entry in report.by_category.items()},
    }
