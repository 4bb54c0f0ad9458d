"""Quality-versus-strong-share curves and the figures RouteLLM reports on them.

A router sends a prompt to the strong model when its score is at least a threshold. As in
RouteLLM's `benchmarks.py`, thresholds are the quantiles of the router's own scores at ten
equal steps (0, 0.1, ..., 1), so the points spread evenly over the share of strong calls;
one more point at +inf sends everything to the weak model. For each point, x is the share
of prompts sent to strong and y the mean quality obtained.

On that curve:

- **PGR** (performance gap recovered) at a point = (y - weak) / (strong - weak);
- **APGR** = the area under PGR over x in [0, 1] (trapezoids over the points); a random
  router scores 0.5;
- **CPT(p)** = the smallest share of strong calls at which PGR reaches p (linear
  interpolation between points, as RouteLLM interpolates);
- **savings at q** = dollars saved against always-strong at the cheapest point whose quality
  reaches q x the strong model's quality (interpolated likewise).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

DEFAULT_STEPS = 10
CPT_TARGETS: tuple[float, ...] = (0.2, 0.5, 0.8)
QUALITY_TARGETS: tuple[float, ...] = (0.90, 0.95, 0.99)


@dataclass(slots=True, frozen=True)
class CurvePoint:
    """One threshold of the sweep: the share sent to strong, quality and cost there."""

    threshold: float
    strong_share: float
    score: float
    cost: float | None = None


@dataclass(slots=True, frozen=True)
class Savings:
    """Cost of reaching a share of the strong model's quality, against always-strong."""

    quality_target: float  # fraction of the strong model's mean quality
    strong_share: float  # interpolated share of strong calls needed
    cost: float
    saved: float
    saved_fraction: float


def sweep(
    scores: FloatArray,
    weak: FloatArray,
    strong: FloatArray,
    *,
    weak_cost: FloatArray | None = None,
    strong_cost: FloatArray | None = None,
    steps: int = DEFAULT_STEPS,
) -> list[CurvePoint]:
    """Route at each quantile threshold of `scores`; points sorted by strong share.

    The first point sends everything to weak, the last everything to strong; points with
    the same share (tied scores) are merged.
    """
    thresholds = [float(t) for t in np.quantile(scores, np.linspace(0.0, 1.0, steps + 1))]
    thresholds.append(float("inf"))
    costs = (weak_cost, strong_cost) if weak_cost is not None and strong_cost is not None else None
    by_share: dict[float, CurvePoint] = {}
    for threshold in thresholds:
        to_strong = scores >= threshold
        share = float(np.mean(to_strong))
        quality = float(np.mean(np.where(to_strong, strong, weak)))
        cost = None
        if costs is not None:
            cost = float(np.sum(np.where(to_strong, costs[1], costs[0])))
        by_share.setdefault(share, CurvePoint(threshold, share, quality, cost))
    return sorted(by_share.values(), key=lambda point: point.strong_share)


def performance_gap_recovered(score: float, weak: float, strong: float) -> float:
    """(score - weak) / (strong - weak); 0 when the two models are equally good."""
    gap = strong - weak
    return (score - weak) / gap if gap != 0 else 0.0


def apgr(points: Sequence[CurvePoint], weak: float, strong: float) -> float:
    """Area under the PGR curve over the strong share in [0, 1] (trapezoids)."""
    xs = np.array([p.strong_share for p in points])
    ys = np.array([performance_gap_recovered(p.score, weak, strong) for p in points])
    return float(np.sum(np.diff(xs) * (ys[1:] + ys[:-1]) / 2.0))


def _first_crossing(xs: Sequence[float], ys: Sequence[float], target: float) -> float | None:
    """Smallest x (linear between points) where y first reaches `target`; None if never."""
    for index, (x, y) in enumerate(zip(xs, ys, strict=True)):
        if y >= target:
            if index == 0:
                return x
            x0, y0 = xs[index - 1], ys[index - 1]
            return x0 + (x - x0) * (target - y0) / (y - y0)
    return None


def calls_to_recover(
    points: Sequence[CurvePoint], weak: float, strong: float, target: float
) -> float | None:
    """CPT: the share of strong calls needed to recover `target` of the quality gap."""
    xs = [p.strong_share for p in points]
    ys = [performance_gap_recovered(p.score, weak, strong) for p in points]
    return _first_crossing(xs, ys, target)


def savings_at_quality(
    points: Sequence[CurvePoint], strong: float, quality_target: float
) -> Savings | None:
    """Dollars saved at the cheapest point reaching `quality_target` x strong's quality.

    None when the points carry no costs or the target is never reached.
    """
    if not points or any(p.cost is None for p in points):
        return None
    xs = [p.strong_share for p in points]
    ys = [p.score for p in points]
    costs = [float(p.cost) for p in points if p.cost is not None]
    share = _first_crossing(xs, ys, quality_target * strong)
    if share is None:
        return None
    cost = float(np.interp(share, xs, costs))
    always_strong = costs[-1]
    saved = always_strong - cost
    return Savings(
        quality_target=quality_target,
        strong_share=share,
        cost=cost,
        saved=saved,
        saved_fraction=saved / always_strong if always_strong > 0 else 0.0,
    )
