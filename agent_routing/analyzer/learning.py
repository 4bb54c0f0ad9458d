"""Learning from outcomes: refit the analyzer from the user's own routed calls.

Every routed decision stores the analyzer's full feature vector (`extra["features"]`), the
tier the call used and its rank among the tiers (`extra["tiers"]`); outcome signals
(`signals` table) say how the answer went. :func:`train_from_ledger` turns them into
training examples, refits the analyzer with its trainer (the fit itself is
:mod:`agent_routing.analyzer._refit`), and keeps the new model **only if it scores better
than the model in use on a held-out split of the same data** (both scores are reported
either way).

Labels (1 = "a stronger model was needed", 0 = "this tier was enough"), per decision:

- the tier used is the one the call ran on: the chosen tier when the decision was applied;
  in shadow mode, the tier whose model is the configured model (else the decision is
  skipped);
- **1** when a tier below the strongest got a failure signal (`misformat`, `empty_reply`,
  `repeated_reply`, `tool_error`, `explicit_failure`);
- **1** when a cascade escalation (the decision sits above what its score asked for,
  because of the cascade floor) ended in `success` without failure: the escalation was
  needed;
- **0** when a tier below the strongest got `success` and no failure signal;
- otherwise the decision teaches nothing about the tier choice and is skipped: the
  strongest tier's answers (good or bad, we cannot tell whether a cheaper tier would have
  done), decisions without any signal, and fail-open records (they carry no features).

The held-out split is deterministic (a hash of the decision id puts 30 % in the test set),
so rerunning on the same ledger gives the same verdict. The comparison metric is ROC AUC,
the quantity the quantile thresholds depend on (only the order of scores matters to them);
log loss is reported beside it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent_routing.analyzer.quantiles import (
    SCORE_QUANTILES_KEY,
    STRONG_SHARES,
    quantile_at,
    quantile_table,
)
from agent_routing.config import Settings, data_home
from agent_routing.errors import ConfigError
from agent_routing.protocols import Analyzer
from agent_routing.records import (
    DUEL_STRATEGY,
    FAILURE_SIGNALS,
    SUCCESS_SIGNAL,
    DecisionRecord,
    OutcomeSignal,
    duel_gain,
)

if TYPE_CHECKING:
    from agent_routing.analyzer._model import AnalyzerModel

logger = logging.getLogger("agent_routing.analyzer")

LEARNED_MODEL_FILE = "learned-analyzer-model.json"
TEST_SHARE_PERCENT = 30
MIN_EXAMPLES_PER_CLASS = 5  # in each of the training and the test split

# Why an example got its label (counted in the report).
FAILED_BELOW_TOP = "failed below the strongest tier"
ESCALATION_NEEDED = "escalation succeeded"
TIER_WAS_ENOUGH = "succeeded below the strongest tier"


def learned_model_path() -> Path:
    """Where a model refit from the ledger is kept by default ($AGENT_ROUTING_HOME)."""
    return data_home() / LEARNED_MODEL_FILE


def current_model(settings: Settings) -> AnalyzerModel:
    """The analyzer model a Router uses when no analyzer is given.

    `router.model_path` when set; else a model learned from this user's ledger when one was
    saved by :func:`train_from_ledger`; else the model shipped in the package. A learned
    file that no longer loads is logged and skipped (routing fails open to the shipped one).
    """
    from agent_routing.analyzer._model import load_default_model, load_model

    if settings.router.model_path is not None:
        return load_model(settings.router.model_path)
    learned = learned_model_path()
    if learned.exists():
        try:
            return load_model(learned)
        except ConfigError as error:
            logger.warning("ignoring learned model %s: %s", learned, error)
    return load_default_model()


def default_analyzer(settings: Settings) -> Analyzer:
    """The analyzer `router.analyzer` names (default `features`, over :func:`current_model`)."""
    from agent_routing.analyzer.registry import build_analyzer

    return build_analyzer(settings)


@dataclass(frozen=True, slots=True)
class LabelledDecision:
    """One training example taken from the ledger."""

    decision_id: str
    features: dict[str, float]
    label: int
    why: str  # FAILED_BELOW_TOP, ESCALATION_NEEDED or TIER_WAS_ENOUGH


def label_decisions(
    decisions: Sequence[DecisionRecord], signals: Sequence[OutcomeSignal]
) -> list[LabelledDecision]:
    """Training examples from decisions and their signals (rules in the module docstring)."""
    kinds: dict[str, set[str]] = {}
    for signal in signals:
        kinds.setdefault(signal.decision_id, set()).add(signal.kind)
    examples: list[LabelledDecision] = []
    for decision in decisions:
        example = _label(decision, kinds.get(decision.id, set()))
        if example is not None:
            examples.append(example)
    return examples


def _label(decision: DecisionRecord, kinds: set[str]) -> LabelledDecision | None:
    features = decision.extra.get("features")
    tiers = decision.extra.get("tiers")
    if not isinstance(features, dict) or not features or not isinstance(tiers, list):
        return None
    used = _used_tier(decision)
    if used is None or used not in tiers:
        return None
    rank, top = tiers.index(used), len(tiers) - 1
    failed = bool(kinds & FAILURE_SIGNALS)
    succeeded = SUCCESS_SIGNAL in kinds and not failed
    score_tier = decision.extra.get("score_tier")
    escalated = (
        decision.extra.get("cascade_floor") is not None
        and score_tier in tiers
        and rank > tiers.index(score_tier)
    )
    values = {str(name): float(value) for name, value in features.items()}
    if rank < top and failed:
        return LabelledDecision(decision.id, values, 1, FAILED_BELOW_TOP)
    if escalated and succeeded:
        return LabelledDecision(decision.id, values, 1, ESCALATION_NEEDED)
    if rank < top and succeeded:
        return LabelledDecision(decision.id, values, 0, TIER_WAS_ENOUGH)
    return None


def _used_tier(decision: DecisionRecord) -> str | None:
    if decision.applied:
        return decision.chosen_tier
    for candidate in decision.candidates:
        if candidate.get("model") == decision.configured_model:
            tier = candidate.get("tier")
            return tier if isinstance(tier, str) else None
    return None


def in_test_split(decision_id: str) -> bool:
    """Deterministic 30 % hold-out by a hash of the decision id."""
    digest = hashlib.sha256(decision_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % 100 < TEST_SHARE_PERCENT


@dataclass(slots=True)
class LedgerTrainingReport:
    """What `train --from-ledger` did, with both models' held-out scores."""

    db_path: Path
    decisions: int = 0
    labelled: int = 0
    positives: int = 0
    train_size: int = 0
    test_size: int = 0
    current_version: str = ""
    new_version: str | None = None
    current_auc: float | None = None
    new_auc: float | None = None
    current_log_loss: float | None = None
    new_log_loss: float | None = None
    replaced: bool = False
    out_path: Path | None = None
    reason: str = ""
    label_counts: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON for the CLI's `--json`."""
        return {
            "db_path": str(self.db_path),
            "decisions": self.decisions,
            "labelled": self.labelled,
            "positives": self.positives,
            "train_size": self.train_size,
            "test_size": self.test_size,
            "current_version": self.current_version,
            "new_version": self.new_version,
            "current_auc": self.current_auc,
            "new_auc": self.new_auc,
            "current_log_loss": self.current_log_loss,
            "new_log_loss": self.new_log_loss,
            "replaced": self.replaced,
            "out_path": str(self.out_path) if self.out_path else None,
            "reason": self.reason,
            "label_counts": dict(self.label_counts),
        }


def train_from_ledger(
    db_path: Path | None, settings: Settings, out_path: Path | None
) -> LedgerTrainingReport:
    """Refit the analyzer from the ledger's decisions and signals; keep it only if better.

    `db_path` defaults to the configured ledger; a ledger file that does not exist is a
    ConfigError (nothing is created). The new model is saved to `out_path` (default:
    :func:`learned_model_path`, which the router then uses) only when its held-out ROC AUC
    beats the current model's. The current model is `router.model_path`, else a previously
    learned model, else the shipped one.
    """
    from agent_routing.ledger import ledger_for, run_sync

    path = (db_path or settings.ledger.resolved_path()).expanduser()
    if not path.exists():
        raise ConfigError.single("db", f"no ledger at {str(path)!r}: nothing to learn from")

    async def read() -> tuple[list[DecisionRecord], list[OutcomeSignal]]:
        ledger = ledger_for(settings.ledger, path)
        await ledger.open()
        try:
            return await ledger.query_decisions(), await ledger.query_signals()
        finally:
            await ledger.close()

    decisions, signals = run_sync(read())
    examples = label_decisions(decisions, signals)
    current = current_model(settings)
    report = LedgerTrainingReport(
        db_path=path,
        decisions=len(decisions),
        labelled=len(examples),
        positives=sum(example.label for example in examples),
        current_version=current.model_version,
        label_counts=_count_reasons(examples),
    )
    train = [example for example in examples if not in_test_split(example.decision_id)]
    test = [example for example in examples if in_test_split(example.decision_id)]
    report.train_size, report.test_size = len(train), len(test)
    shortage = _shortage(train, "training") or _shortage(test, "test")
    if shortage:
        report.reason = f"not enough labelled outcomes: {shortage}; the current model stays"
        return report
    recorded = [
        features
        for decision in decisions
        if isinstance(features := decision.extra.get("features"), dict) and features
    ]
    _fit_and_compare(
        report,
        current=current,
        train=train,
        test=test,
        recorded=recorded,
        out_path=out_path or learned_model_path(),
    )
    return report


def _count_reasons(examples: Sequence[LabelledDecision]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for example in examples:
        counts[example.why] = counts.get(example.why, 0) + 1
    return counts


def _shortage(examples: Sequence[LabelledDecision], split: str) -> str:
    positives = sum(example.label for example in examples)
    negatives = len(examples) - positives
    if min(positives, negatives) < MIN_EXAMPLES_PER_CLASS:
        return (
            f"the {split} split has {positives} 'needed stronger' and {negatives} "
            f"'tier was enough' examples (at least {MIN_EXAMPLES_PER_CLASS} of each needed)"
        )
    return ""


def _fit_and_compare(
    report: LedgerTrainingReport,
    *,
    current: AnalyzerModel,
    train: Sequence[LabelledDecision],
    test: Sequence[LabelledDecision],
    recorded: Sequence[dict[str, float]],
    out_path: Path,
) -> None:
    from agent_routing.analyzer._model import make_model, save_model
    from agent_routing.analyzer._refit import train_model_from_features

    new = train_model_from_features([(e.features, float(e.label)) for e in train], base=current)
    report.new_version = new.model_version
    labels = [example.label for example in test]
    report.current_auc, report.current_log_loss = _held_out(current, test, labels)
    report.new_auc, report.new_log_loss = _held_out(new, test, labels)
    if report.new_auc <= report.current_auc:
        report.reason = (
            f"the refit model is not better on held-out outcomes (AUC {report.new_auc:.3f} <= "
            f"{report.current_auc:.3f}); the current model stays"
        )
        return
    training = {
        **new.training,
        SCORE_QUANTILES_KEY: list(_quantiles_on(new, recorded)),
        "score_quantiles_source": f"{len(recorded)} routed decisions in {report.db_path}",
    }
    save_model(
        make_model(new.features, new.intercept, training=training, metrics=new.metrics), out_path
    )
    report.replaced, report.out_path = True, out_path
    report.reason = (
        f"the refit model ranks held-out outcomes better (AUC {report.new_auc:.3f} > "
        f"{report.current_auc:.3f}); saved to {out_path}"
    )


def _quantiles_on(model: AnalyzerModel, rows: Sequence[dict[str, float]]) -> tuple[float, ...]:
    """The refit model's score quantiles over every recorded call: a refit changes the
    score scale, so the strategies' thresholds must come from the new scores."""
    from agent_routing.analyzer._scoring import score_features

    return quantile_table(float(score) for score in score_features(model, rows))


def _held_out(
    model: AnalyzerModel, test: Sequence[LabelledDecision], labels: Sequence[int]
) -> tuple[float, float]:
    from sklearn.metrics import log_loss

    from agent_routing.analyzer._scoring import score_features

    scores = score_features(model, [example.features for example in test])
    return held_out_auc(labels, scores), float(log_loss(labels, scores, labels=[0, 1]))


AUC_DIGITS = 12


def held_out_auc(labels: Sequence[int], scores: Iterable[float]) -> float:
    """ROC AUC rounded to 12 decimals. sklearn sums trapezoids in floating point, so a
    perfect ranking with tied scores can come out as 0.9999999999999999; unrounded, a refit
    'better' by that noise replaced a model that was already perfect (a flaky test, about 1
    run in 14, showed it)."""
    from sklearn.metrics import roc_auc_score

    return round(float(roc_auc_score(labels, list(scores))), AUC_DIGITS)


# --- #13: refitting the text analyzer from duel verdicts ------------------------------------

SHADOW_SUFFIX = ".shadow.json"


@dataclass(slots=True)
class TextRefitReport:
    """What a refit of the text analyzer from duel labels did (and, in shadow, would do)."""

    db_path: Path
    label: str = "gain"  # the duel label fitted (`router.duel.label`)
    duels: int = 0
    labelled: int = 0
    positives: int = 0
    train_size: int = 0
    test_size: int = 0
    current_version: str = ""
    new_version: str | None = None
    current_auc: float | None = None
    new_auc: float | None = None
    replaced: bool = False
    shadow: bool = False
    out_path: Path | None = None
    reason: str = ""
    # What each model would have done on the held-out duels at the strategy's strong share.
    would_send_strong: dict[str, float] = field(default_factory=dict)
    would_capture_benefit: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON for the CLI's `--json`."""
        return {
            key: str(value) if isinstance(value, Path) else value
            for key, value in ((name, getattr(self, name)) for name in self.__dataclass_fields__)
        }


DUEL_LABELS = ("gain", "benefit")
DUEL_LABEL_DESCRIPTIONS = {
    "gain": "gain of the strong model: 1 only its answer good enough, 0 only the cheap one's, "
    "0.5 both or neither",
    "benefit": "benefit of the strong model: 1 only its answer good enough, else 0",
}
_GAINS = (0.0, 0.5, 1.0)


def duel_label(decision: DecisionRecord, label: str = "gain") -> float | None:
    """A duel record's training label, None when it has none (unjudged).

    `gain`: the recorded `extra.gain`; for records written before it was, derived from
    `extra.verdict` (1 only the strong answer good enough, 0 only the cheap one, 0.5 both
    or neither); a record with neither (only `extra.benefit`) counts benefit 1 as gain 1
    and benefit 0 as a tie (0.5: the cheap answer was good enough, as far as anyone saw).
    `benefit`: the recorded 0/1 `extra.benefit`.
    """
    extra = decision.extra
    benefit = extra.get("benefit")
    benefit = benefit if benefit in (0, 1) else None  # as read before gains were recorded
    if label == "benefit":
        return None if benefit is None else float(benefit)
    gain = extra.get("gain")
    if isinstance(gain, int | float) and not isinstance(gain, bool) and gain in _GAINS:
        return float(gain)
    if "gain" not in extra:  # written before the gain was recorded
        verdict = extra.get("verdict")
        if isinstance(verdict, dict):
            derived = duel_gain(verdict.get("cheap_ok"), verdict.get("strong_ok"))
            if derived is not None:
                return derived
        if benefit is not None:
            return 1.0 if benefit else 0.5
    return None


def duel_rows(decisions: Sequence[DecisionRecord], label: str = "gain") -> list[tuple[str, Any]]:
    """(duel id, training row) for every judged duel recorded by the text analyzer, with
    the `label` (`gain` or `benefit`, :func:`duel_label`)."""
    from agent_routing.analyzer._text_training import row_from_features

    if label not in DUEL_LABELS:
        raise ConfigError.single("label", f"must be one of {list(DUEL_LABELS)}, got {label!r}")
    rows: list[tuple[str, Any]] = []
    for decision in decisions:
        if decision.strategy != DUEL_STRATEGY:
            continue
        value = duel_label(decision, label)
        features = decision.extra.get("features")
        if value is None or not isinstance(features, dict):
            continue
        row = row_from_features(features, value)
        if row is not None:
            rows.append((decision.id, row))
    return rows


def held_out_concordance(labels: Sequence[float], scores: Sequence[float]) -> float:
    """How well scores order graded labels: over every pair of rows with different labels,
    the share where the higher label has the higher score (a tie of scores counts half),
    rounded like :func:`held_out_auc`. On 0/1 labels this is the ROC AUC; on gain labels
    (0, 0.5, 1) a perfect ranking still scores 1. Both models of a refit are compared on it.
    """
    import numpy as np
    from sklearn.metrics import roc_auc_score

    values, scored = np.asarray(labels, dtype=float), np.asarray(scores, dtype=float)
    levels = np.unique(values)
    if len(levels) == 2 and set(levels) <= {0.0, 1.0}:
        return held_out_auc([int(v) for v in values], scored)
    weighted = pairs = 0.0
    for high_index, high in enumerate(levels):
        for low in levels[:high_index]:
            keep = (values == high) | (values == low)
            count = float((values == high).sum() * (values == low).sum())
            weighted += count * float(roc_auc_score(values[keep] == high, scored[keep]))
            pairs += count
    if pairs == 0:
        raise ValueError("concordance needs rows with at least two different labels")
    return round(weighted / pairs, AUC_DIGITS)


def _auc(labels: Sequence[float], scores: Sequence[float]) -> float:
    return held_out_concordance(labels, scores)  # rounded: no float-noise "gain"


def _would_do(
    report: TextRefitReport,
    settings: Settings,
    labels: Sequence[float],
    models: dict[str, tuple[Any, Any]],
) -> None:
    """Shadow figures: share each model sends strong at the strategy's share over its own
    quantiles, and the share of the held-out benefit it captures there."""
    import numpy as np

    share = STRONG_SHARES.get(settings.router.strategy, 0.5)
    needed = np.asarray(labels) >= 1.0  # only the strong answer was good enough
    positives_total = max(float(needed.sum()), 1.0)
    for name, (model, scores) in models.items():
        sent = np.asarray(scores) >= quantile_at(1.0 - share, model.score_quantiles)
        report.would_send_strong[name] = round(float(sent.mean()), 4)
        report.would_capture_benefit[name] = round(float(needed[sent].sum()) / positives_total, 4)


def refit_text_from_ledger(
    db_path: Path | None,
    settings: Settings,
    out_path: Path | None = None,
    *,
    label: str | None = None,
) -> TextRefitReport:
    """Refit the text analyzer on the ledger's duel labels (`label`: `gain` or `benefit`,
    default `router.duel.label`, itself `gain` by default); use it only if it ranks a
    held-out 30 % of them better (:func:`held_out_concordance`, strictly: the ROC AUC on
    0/1 labels) than the model in use, both scored by that same metric on the same rows.

    In shadow mode (`router.duel.shadow`) the new model is written beside the current one
    (`*.shadow.json`) and the report says what it would have done; the router never
    switches. The current model is the one `router.analyzer: text` loads.
    """
    from agent_routing.analyzer._text import TextAnalyzer, save_text_model
    from agent_routing.analyzer._text_training import fit_text_model, score_rows
    from agent_routing.analyzer.registry import TEXT, build_analyzer, text_model_path
    from agent_routing.ledger import ledger_for, run_sync

    path = (db_path or settings.ledger.resolved_path()).expanduser()
    if not path.exists():
        raise ConfigError.single("db", f"no ledger at {str(path)!r}: nothing to learn from")

    async def read() -> list[DecisionRecord]:
        ledger = ledger_for(settings.ledger, path)
        await ledger.open()
        try:
            return await ledger.query_decisions()
        finally:
            await ledger.close()

    decisions = run_sync(read())
    current = build_analyzer(settings, TEXT)
    assert isinstance(current, TextAnalyzer)
    label = settings.router.duel.label if label is None else label
    rows = duel_rows(decisions, label)
    report = TextRefitReport(
        db_path=path,
        label=label,
        duels=sum(1 for d in decisions if d.extra.get("duel_of")),
        labelled=len(rows),
        positives=sum(1 for _, row in rows if row.label >= 1.0),
        current_version=current.model.model_version,
        shadow=settings.router.duel.shadow,
    )
    train = [row for key, row in rows if not in_test_split(key)]
    test = [row for key, row in rows if in_test_split(key)]
    report.train_size, report.test_size = len(train), len(test)
    for split, part in (("training", train), ("test", test)):
        positives = sum(1 for row in part if row.label >= 1.0)
        if min(positives, len(part) - positives) < MIN_EXAMPLES_PER_CLASS:
            report.reason = (
                f"not enough duel labels: the {split} split has {positives} where only the "
                f"strong answer was good enough and {len(part) - positives} others (at least "
                f"{MIN_EXAMPLES_PER_CLASS} of each needed); the current model stays"
            )
            return report
    new = fit_text_model(
        train,
        seed=settings.router.duel.seed,
        prior_version=current.model.model_version,
        hashing=current.model.hashing,  # a refit keeps the current model's text features
        training={"label": f"duel verdicts, {DUEL_LABEL_DESCRIPTIONS[label]}"},
    )
    report.new_version = new.model_version
    labels = [row.label for row in test]
    current_scores = score_rows(current.model, test)
    new_scores = score_rows(new, test)
    report.current_auc = _auc(labels, list(current_scores))
    report.new_auc = _auc(labels, list(new_scores))
    _would_do(
        report,
        settings,
        labels,
        {"current": (current.model, current_scores), "new": (new, new_scores)},
    )
    better = report.new_auc > report.current_auc
    if report.shadow:
        target = (out_path or text_model_path()).with_suffix(SHADOW_SUFFIX)
        save_text_model(new, target)
        report.out_path = target
        report.reason = (
            f"shadow: the refit model {'would' if better else 'would not'} replace the current "
            f"one (held-out AUC {report.new_auc:.3f} vs {report.current_auc:.3f}); saved to "
            f"{target}, the router keeps the current model"
        )
        return report
    if not better:
        report.reason = (
            f"the refit model is not better on held-out duels (AUC {report.new_auc:.3f} <= "
            f"{report.current_auc:.3f}); the current model stays"
        )
        return report
    target = out_path or settings.router.model_path or text_model_path()
    save_text_model(new, target)
    report.replaced, report.out_path = True, target
    report.reason = (
        f"the refit model ranks held-out duels better (AUC {report.new_auc:.3f} > "
        f"{report.current_auc:.3f}); saved to {target}"
    )
    return report
