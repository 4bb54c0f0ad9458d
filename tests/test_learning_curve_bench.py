"""The rules `bench/learning_curve.py` reports by: bootstrap intervals and unscorable maths."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import numpy as np
import pytest
from bench_support import loaded_bench

from agent_routing.analyzer import ComplexityAnalyzer
from agent_routing.analyzer._datasets import LabelledPrompt

TOPICS = ("prove the lemma about primes", "name a colour", "list three fruits", "sum 2 and 3")


@pytest.fixture(scope="module")
def curve() -> Iterator[ModuleType]:
    """The bench script loaded as a module."""
    with loaded_bench("learning_curve") as module:
        yield module


def prompts(strong_wins_maths: bool) -> list[LabelledPrompt]:
    """400 prompts, a quarter `math`; the strong model wins proofs (and maths if asked)."""
    out = []
    for i in range(400):
        topic = i % 4
        maths = i % 8 < 2
        weak, strong = (0.0, 1.0) if topic == 0 else (1.0, 1.0)
        if maths:
            weak, strong = (0.0, 1.0) if strong_wins_maths and i % 3 else (float(i % 2),) * 2
        out.append(
            LabelledPrompt(
                dataset="t", item_id=str(i), prompt=f"{TOPICS[topic]} (item {i})",
                category="math" if maths else "other", difficulty=0.5, benefit=None,
                outcomes={"w": weak, "s": strong},
            )
        )  # fmt: skip
    return out


def test_maths_without_a_measurable_gap_is_not_scored(curve: ModuleType) -> None:
    """Where the strong-minus-weak interval holds 0, the maths row says n/a, not an APGR."""
    data = curve.prepare(prompts(strong_wins_maths=False), ComplexityAnalyzer())
    weak = np.array([p.outcomes["w"] for p in data.prompts])
    strong = np.array([p.outcomes["s"] for p in data.prompts])
    rows = curve.maths_rows("maths", data, np.arange(400), weak, strong, [100], 200)
    assert len(rows) == 1
    assert rows[0][4].startswith("n/a: gap +0.000")


def test_maths_with_a_gap_is_scored_out_of_fold(curve: ModuleType) -> None:
    """With a gap, every maths row gets an out-of-fold score and an interval per k."""
    data = curve.prepare(prompts(strong_wins_maths=True), ComplexityAnalyzer())
    weak = np.array([p.outcomes["w"] for p in data.prompts])
    strong = np.array([p.outcomes["s"] for p in data.prompts])
    rows = curve.maths_rows("maths", data, np.arange(400), weak, strong, [100, 200], 200)
    assert [row[3] for row in rows] == ["100", "200"]
    assert all("(out of fold)" in row[4] for row in rows)
    assert all(row[2] == "100" for row in rows)  # all 100 maths rows, not a quarter of them


def test_bootstrap_interval_holds_the_estimate_and_narrows_with_rows(curve: ModuleType) -> None:
    """A router's mean APGR lies in its interval; four times the rows, a narrower interval."""
    rng = np.random.default_rng(0)
    widths = []
    for rows in (200, 800):
        weak = rng.integers(0, 2, rows).astype(float)
        strong = np.maximum(weak, rng.integers(0, 2, rows)).astype(float)
        scores = strong - weak + rng.normal(0, 0.8, rows)
        text = curve.Bootstrap(rows, 300).apgr([scores], weak, strong)
        low, high = (float(x) for x in text.strip("[]").split(","))
        assert low <= curve.route_apgr(scores, weak, strong) <= high
        widths.append(high - low)
    assert widths[1] < widths[0]
