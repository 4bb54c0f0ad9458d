"""RouteLLM figures on hand-checked curves: sweep, APGR, CPT, savings, ranks, calibration."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from agent_routing.errors import ConfigError
from agent_routing.evaluation import (
    EvalData,
    apgr,
    average_ranks,
    calibrate_threshold,
    calls_to_recover,
    savings_at_quality,
    spearman,
    sweep,
)
from agent_routing.evaluation._report import build_report, expected_random, oracle

# Ten prompts; the strong model wins exactly on the two highest-scoring ones.
SCORES = np.arange(10, dtype=float)
WEAK = np.zeros(10)
STRONG = np.array([0, 0, 0, 0, 0, 0, 0, 0, 1, 1], dtype=float)


def test_sweep_uses_quantile_thresholds_from_all_strong_to_all_weak() -> None:
    """Eleven quantile thresholds plus +inf give shares 0, 0.1, ..., 1 with the mean quality."""
    points = sweep(SCORES, WEAK, STRONG)
    assert [round(p.strong_share, 10) for p in points] == [i / 10 for i in range(11)]
    assert [p.score for p in points] == [0.0, 0.1] + [0.2] * 9
    assert points[0].threshold == math.inf
    assert points[-1].threshold == 0.0


def test_apgr_and_cpt_of_a_perfect_router() -> None:
    """PGR rises linearly to 1 at 20 % strong calls: APGR 0.9, CPT(50 %) 10 %, CPT(80 %) 16 %."""
    points = sweep(SCORES, WEAK, STRONG)
    assert apgr(points, 0.0, 0.2) == pytest.approx(0.9)
    assert calls_to_recover(points, 0.0, 0.2, 0.2) == pytest.approx(0.04)
    assert calls_to_recover(points, 0.0, 0.2, 0.5) == pytest.approx(0.10)
    assert calls_to_recover(points, 0.0, 0.2, 0.8) == pytest.approx(0.16)


def test_an_inverted_router_scores_low_and_ties_collapse_to_the_diagonal() -> None:
    """Reversed scores recover the gap last; constant scores give only 0 % and 100 % points."""
    reversed_points = sweep(-SCORES, WEAK, STRONG)
    assert apgr(reversed_points, 0.0, 0.2) == pytest.approx(0.1)
    assert calls_to_recover(reversed_points, 0.0, 0.2, 0.5) == pytest.approx(0.9)
    flat = sweep(np.ones(10), WEAK, STRONG)
    assert [p.strong_share for p in flat] == [0.0, 1.0]
    assert apgr(flat, 0.0, 0.2) == pytest.approx(0.5)


def test_savings_at_quality_targets_interpolate_cost() -> None:
    """With weak $1 and strong $10 per prompt, 90 % of strong quality needs 18 % strong calls."""
    points = sweep(SCORES, WEAK, STRONG, weak_cost=np.ones(10), strong_cost=np.full(10, 10.0))
    saving = savings_at_quality(points, 0.2, 0.9)
    assert saving is not None
    assert saving.strong_share == pytest.approx(0.18)
    assert saving.cost == pytest.approx(10 + 0.18 * 90)
    assert saving.saved == pytest.approx(100 - (10 + 0.18 * 90))
    assert saving.saved_fraction == pytest.approx(saving.saved / 100)
    assert savings_at_quality(sweep(SCORES, WEAK, STRONG), 0.2, 0.9) is None  # no costs


def test_expected_random_router_is_the_diagonal() -> None:
    """Random routing: APGR 0.5 and CPT equal to the target share."""
    data = EvalData(source="t", prompts=("p",) * 10, weak=WEAK, strong=STRONG)
    random = expected_random(data)
    assert random.apgr == pytest.approx(0.5)
    assert random.cpt == pytest.approx({"20": 0.2, "50": 0.5, "80": 0.8})


def test_oracle_calls_strong_only_where_it_wins() -> None:
    """The oracle's quality is the row-wise best and its share the rows strong wins."""
    data = EvalData(
        source="t",
        prompts=("p",) * 4,
        weak=np.array([1.0, 0, 1, 0]),
        strong=np.array([0.0, 1, 1, 0]),
        weak_cost=np.ones(4),
        strong_cost=np.full(4, 3.0),
    )
    result = oracle(data)
    assert result.score == pytest.approx(0.75)
    assert result.strong_share == pytest.approx(0.25)
    assert result.cost == pytest.approx(6.0)


def test_build_report_puts_baselines_beside_the_analyzer() -> None:
    """The report carries analyzer, length and random results and per-category figures."""
    prompts = tuple("word " * (i + 1) for i in range(40))
    strong = (np.arange(40) >= 30).astype(float)
    data = EvalData(
        source="t", prompts=prompts, weak=np.zeros(40), strong=strong, categories=("a", "b") * 20
    )
    report = build_report(data, np.arange(40, dtype=float), model_version="v")
    assert [r.name for r in report.baselines] == ["length", "random"]
    length = report.baselines[0]
    assert length.apgr == pytest.approx(report.analyzer.apgr)  # longer prompt = higher score here
    assert report.analyzer.apgr > 0.8
    assert set(report.by_category) == {"a", "b"}
    assert report.by_category["a"]["rows"] == 20


def test_average_ranks_and_spearman() -> None:
    """Ties share their mean rank; Spearman is 1 for monotone data and None for constants."""
    assert list(average_ranks(np.array([10.0, 20.0, 10.0, 30.0]))) == [1.5, 3.0, 1.5, 4.0]
    assert spearman(np.array([1.0, 2, 3, 4]), np.array([10.0, 20, 25, 100])) == pytest.approx(1.0)
    assert spearman(np.array([1.0, 2, 3, 4]), np.array([4.0, 3, 2, 1])) == pytest.approx(-1.0)
    assert spearman(np.ones(5), np.arange(5.0)) is None


def test_calibration_threshold_is_the_upper_quantile() -> None:
    """A 30 % strong share puts the threshold at the 70th percentile of the scores."""
    scores = np.arange(100, dtype=float)
    calibration = calibrate_threshold(scores, 0.3)
    assert calibration.threshold == pytest.approx(np.quantile(scores, 0.7))
    assert calibration.achieved_share == pytest.approx(0.3)
    assert calibration.rows == 100


@pytest.mark.parametrize("share", [0.0, 1.0, -0.1, 1.5, math.nan, math.inf])
def test_calibration_rejects_shares_outside_the_open_interval(share: float) -> None:
    """A strong share must lie strictly between 0 and 1; the error names strong_share."""
    with pytest.raises(ConfigError) as raised:
        calibrate_threshold(np.arange(10.0), share)
    assert raised.value.problems[0][0] == "strong_share"


@pytest.mark.slow
def test_the_facade_loads_numpy_only_when_a_name_is_used() -> None:
    """Importing agent_routing.evaluation loads no numpy; the first public name used loads
    its module; a name the package does not export is an AttributeError naming it."""
    code = (
        "import sys\n"
        "import agent_routing.evaluation as evaluation\n"
        "print('numpy' in sys.modules)\n"
        "evaluation.sweep\n"
        "print('numpy' in sys.modules)\n"
        "try:\n"
        "    evaluation.sweeep\n"
        "except AttributeError as error:\n"
        "    print(error)\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert output == [
        "False",
        "True",
        "module 'agent_routing.evaluation' has no attribute 'sweeep'",
    ]
