"""Learning from outcomes: labels from the ledger, refit, and replacement only when better."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import pytest

from agent_routing.analyzer import load_default_model, load_model, score_features
from agent_routing.analyzer.learning import (
    current_model,
    default_analyzer,
    held_out_auc,
    label_decisions,
    learned_model_path,
    train_from_ledger,
)
from agent_routing.config import Settings, settings_from_mapping
from agent_routing.errors import ConfigError
from agent_routing.ledger import get_writer
from agent_routing.records import DecisionRecord, OutcomeSignal
from agent_routing.router import Router, RouteRequest
from agent_routing.router.strategies import SCORE_QUANTILES_KEY, quantiles_for

SNIPPETS = (
    "Compute the integral of x^2 sin(x) dx from 0 to pi.",
    "What is the capital of France?",
    "```python\ndef f(x):\n    return x * 2\n```\nWhy does this fail for strings?",
    "Explain step by step how to prove that there are infinitely many primes.",
    "List three colors.",
    "Write a function that parses ISO dates and handles time zones, then add tests.",
    "Translate 'good morning' to German.",
    "Given the constraints n <= 10^5, design an O(n log n) algorithm.",
    "Summarize this paragraph in one sentence.",
    "Refactor the class to use dependency injection and explain the trade-offs.",
)


def prompts(count: int) -> list[str]:
    """Distinct prompts of varied difficulty (fixed seed)."""
    rng = random.Random(7)
    return [
        " ".join(rng.sample(SNIPPETS, rng.randint(1, 4))) + f" (case {i})" for i in range(count)
    ]


async def routed_ledger(db: Path, count: int, *, shipped_is_right: bool) -> Settings:
    """Route `count` prompts on the cheap tier into a real ledger, then record outcomes.

    The cheap tier fails on the prompts the shipped analyzer scores highest when
    `shipped_is_right`, and on those it scores lowest otherwise (a user whose hard calls
    the shipped model gets backwards).
    """
    settings = settings_from_mapping(
        {
            "ledger": {"path": str(db)},
            "router": {"rules": [{"kinds": ["chat"], "tier": "cheapest"}]},
        }
    )
    writer = get_writer(db, settings.ledger)
    router = Router(settings, sink=writer)
    decisions = [await router.route(RouteRequest(p, input_tokens=100)) for p in prompts(count)]
    median = sorted(d.score or 0.0 for d in decisions)[count // 2]
    for decision in decisions:
        hard = (decision.score or 0.0) >= median
        failed = hard if shipped_is_right else not hard
        kind = "explicit_failure" if failed else "success"
        router.record_signal(decision.decision_id or "", kind)
    assert writer.flush(timeout=30)
    return settings


async def test_refit_replaces_a_shipped_model_that_is_wrong_for_this_user(tmp_path: Path) -> None:
    """When the shipped model ranks this user's outcomes backwards, the refit wins and is used."""
    db = tmp_path / "ledger.db"
    settings = await routed_ledger(db, 160, shipped_is_right=False)
    report = train_from_ledger(db, settings, None)
    assert report.decisions == report.labelled == 160
    assert report.current_version == load_default_model().model_version
    assert report.current_auc is not None
    assert report.new_auc is not None
    assert report.current_auc < 0.2 < 0.8 < report.new_auc
    assert report.replaced is True
    assert report.out_path == learned_model_path()
    learned = load_model(learned_model_path())
    assert learned.model_version == report.new_version
    assert current_model(settings).model_version == report.new_version  # the router uses it
    # Its own score quantiles travel with it, so strategies keep their strong shares.
    assert len(learned.training[SCORE_QUANTILES_KEY]) == 21
    assert quantiles_for(default_analyzer(settings)) == tuple(learned.training[SCORE_QUANTILES_KEY])


async def test_refit_is_not_kept_when_it_is_not_better(tmp_path: Path) -> None:
    """When the shipped model already ranks outcomes perfectly, nothing is saved."""
    db = tmp_path / "ledger.db"
    settings = await routed_ledger(db, 160, shipped_is_right=True)
    out = tmp_path / "model.json"
    report = train_from_ledger(db, settings, out)
    assert report.current_auc == 1.0
    assert report.new_auc is not None
    assert report.new_auc <= report.current_auc
    assert report.replaced is False
    assert not out.exists()
    assert not learned_model_path().exists()
    assert "the current model stays" in report.reason


async def test_too_few_outcomes_change_nothing(tmp_path: Path) -> None:
    """A handful of labelled calls is not evidence: the report says so and no model is fit."""
    db = tmp_path / "ledger.db"
    settings = await routed_ledger(db, 12, shipped_is_right=False)
    report = train_from_ledger(db, settings, tmp_path / "model.json")
    assert report.labelled == 12
    assert report.new_version is None
    assert report.replaced is False
    assert report.reason.startswith("not enough labelled outcomes")


def test_missing_ledger_is_a_clear_error(tmp_path: Path) -> None:
    """A ledger path that does not exist names `db` and is not created."""
    missing = tmp_path / "nope.db"
    with pytest.raises(ConfigError, match="no ledger at"):
        train_from_ledger(missing, Settings(), None)
    assert not missing.exists()


def decision(decision_id: str, tier: str, *, applied: bool = True, **extra: Any) -> DecisionRecord:
    """A recorded decision on tiers small < medium < large with a feature vector."""
    return DecisionRecord(
        id=decision_id,
        created_at=time.time(),
        conversation_id="c",
        agent_no=0,
        call_kind="chat",
        strategy="balanced",
        chosen_tier=tier,
        chosen_model=f"model-{tier}",
        configured_model=extra.pop("configured_model", None),
        score=0.5,
        candidates=[{"tier": t, "model": f"model-{t}"} for t in ("small", "medium", "large")],
        applied=applied,
        extra={
            "features": {"f": 1.0},
            "tiers": ["small", "medium", "large"],
            "score_tier": tier,
            **extra,
        },
    )


def signal(decision_id: str, kind: str) -> OutcomeSignal:
    """An outcome signal for a decision."""
    return OutcomeSignal(decision_id, kind, time.time())


def test_labels_follow_the_documented_rules() -> None:
    """Cheap failure = 1, cheap success = 0, needed escalation = 1; the rest teaches nothing."""
    decisions = [
        decision("cheap-failed", "small"),
        decision("cheap-ok", "medium"),
        decision("escalated-ok", "large", score_tier="small", cascade_floor="large"),
        decision("strong-ok", "large"),
        decision("strong-failed", "large"),
        decision("no-signal", "small"),
        decision("shadow-ok", "large", applied=False, configured_model="model-small"),
        DecisionRecord("fail-open", 0.0, None, None, "chat", "balanced", None, "x", "x", None),
    ]
    signals = [
        signal("cheap-failed", "tool_error"),
        signal("cheap-failed", "success"),  # a failure wins over a later success
        signal("cheap-ok", "success"),
        signal("escalated-ok", "success"),
        signal("strong-ok", "success"),
        signal("strong-failed", "misformat"),
        signal("shadow-ok", "success"),
        signal("fail-open", "explicit_failure"),
    ]
    labels = {example.decision_id: example.label for example in label_decisions(decisions, signals)}
    assert labels == {"cheap-failed": 1, "cheap-ok": 0, "escalated-ok": 1, "shadow-ok": 0}


def test_recorded_features_score_like_the_live_analyzer() -> None:
    """The features a decision stores reproduce its score: learning trains on what routed."""
    analyzer = default_analyzer(Settings())
    analysis = analyzer.analyze(RouteRequest("Prove it step by step.").analysis_request())
    [score] = score_features(current_model(Settings()), [dict(analysis.features)])
    assert score == pytest.approx(analysis.score)


def test_a_perfect_ranking_with_ties_scores_exactly_one() -> None:
    """Tied scores on a perfectly separated set give AUC exactly 1.0 (sklearn's trapezoid sum
    alone gives 0.9999999999999999), so an equally perfect refit is never 'better'."""
    from sklearn.metrics import roc_auc_score

    counts = {0.0: 2, 0.1: 1, 0.2: 1, 0.3: 7, 0.4: 4, 0.5: 7, 0.6: 3, 0.7: 4, 0.8: 6, 0.9: 7}
    values = [value for value, count in counts.items() for _ in range(count)] + [1.0, 1.0]
    labels = [int(value >= 0.6) for value in values]
    assert roc_auc_score(labels, values) < 1.0  # the float noise this guards against
    assert held_out_auc(labels, values) == 1.0
