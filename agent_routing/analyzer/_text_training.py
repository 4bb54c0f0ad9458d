"""Fitting the text analyzer on outcome labels (scikit-learn at training time only).

Training rows come from a labelled file (`prompt`, `weak_score`, `strong_score`, optional
`category`), from the ledger (a decision's recorded `hash:` buckets, `cat:` values and dense
inputs, labelled by a duel) or from requests in code. Two labels:

- **gain** (what `train --data` fits): `(strong - weak + 1) / 2`, so 1 where the strong
  model was right and the weak one wrong, 0 where the weak one was right and the strong one
  wrong, 0.5 on a tie (scores in [0, 1] are read as probabilities, e.g. pass@1). A logistic
  fit of it ranks prompts by the expected quality difference `strong - weak`, which is what
  routing quality (and APGR) adds up; it also learns where the strong model is *worse*.
- **benefit** (what duels recorded first): 1 where the strong model was right and the weak one
  wrong, 0 otherwise (`strong * (1 - weak)` for probabilities). It cannot see the prompts
  where the strong model loses, so it ranks them like ties.

Soft labels are fit by splitting each row into a weighted positive and negative.
`bench/learning_curve.py` compares the two on held-out rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from agent_routing.analyzer._scoring import ComplexityAnalyzer
from agent_routing.analyzer._text import (
    CATEGORY_FEATURE_PREFIX,
    CATEGORY_FIELDS,
    DEFAULT_BITS,
    DEFAULT_HASHING,
    DENSE_BASE,
    HASH_FEATURE_PREFIX,
    RATE_SMOOTHING,
    DenseSpec,
    Hashing,
    TextModel,
    hashed_counts,
    make_text_model,
    request_categories,
)
from agent_routing.analyzer.quantiles import quantile_table
from agent_routing.errors import ConfigError
from agent_routing.protocols import AnalysisRequest

FloatArray = npt.NDArray[np.float64]

DEFAULT_C = 0.5  # inverse L2 strength of the logistic regression (text and dense together)
RATE_FOLDS = 5  # category rates of training rows are computed out of fold
LABEL_DESCRIPTION = (
    "benefit of the strong model: 1 where strong was right and weak wrong (0/1 scores), "
    "strong * (1 - weak) for scores in [0, 1], else 1 where strong > weak"
)
GAIN_DESCRIPTION = (
    "gain of the strong model: (strong - weak + 1) / 2 for scores in [0, 1] (1 strong right "
    "and weak wrong, 0 the reverse, 0.5 a tie), else 1 / 0.5 / 0 where strong > = < weak"
)
GAIN = "gain"
BENEFIT = "benefit"
FILE_LABEL = GAIN  # the label `train --data` fits (see the module docstring)


@dataclass(frozen=True, slots=True)
class TextRow:
    """One training example in the analyzer's input space, with its benefit label."""

    counts: Mapping[int, float]
    prior_logit: float
    prompt_tokens_log: float
    categories: Mapping[str, str]
    label: float  # in [0, 1]
    weight: float = 1.0


def benefit_label(weak: float, strong: float) -> float:
    """Benefit of the strong model for one prompt (see the module docstring)."""
    if 0.0 <= weak <= 1.0 and 0.0 <= strong <= 1.0:
        return strong * (1.0 - weak)
    return 1.0 if strong > weak else 0.0


def gain_label(weak: float, strong: float) -> float:
    """Gain of the strong model for one prompt, in [0, 1] (see the module docstring)."""
    if 0.0 <= weak <= 1.0 and 0.0 <= strong <= 1.0:
        return (strong - weak + 1.0) / 2.0
    return 1.0 if strong > weak else 0.0 if strong < weak else 0.5


LABELS = {GAIN: (gain_label, GAIN_DESCRIPTION), BENEFIT: (benefit_label, LABEL_DESCRIPTION)}


def row_from_request(
    request: AnalysisRequest,
    label: float,
    prior: ComplexityAnalyzer,
    bits: int = DEFAULT_BITS,
    *,
    hashing: Hashing | None = None,
) -> TextRow:
    """The training row of a request (what :class:`TextAnalyzer` would compute for it);
    `hashing` (default: :data:`DEFAULT_HASHING` with `bits`) must be the one the model is
    fit with (:func:`fit_text_model`)."""
    analysis = prior.analyze(request)
    p = min(max(analysis.score, 1e-6), 1 - 1e-6)
    return TextRow(
        counts=hashed_counts(request, bits, hashing),
        prior_logit=math.log(p / (1 - p)),
        prompt_tokens_log=float(analysis.features.get("prompt_tokens_log", 0.0)),
        categories=request_categories(request),
        label=label,
    )


def row_from_features(features: Mapping[str, Any], label: float) -> TextRow | None:
    """The training row of a decision recorded by the text analyzer (None if it was not)."""
    if "prior_logit" not in features:
        return None
    counts: dict[int, float] = {}
    categories: dict[str, str] = {}
    for key, value in features.items():
        if key.startswith(HASH_FEATURE_PREFIX):
            counts[int(key[len(HASH_FEATURE_PREFIX) :])] = float(value)
        elif key.startswith(CATEGORY_FEATURE_PREFIX):
            name, _, raw = key[len(CATEGORY_FEATURE_PREFIX) :].partition("=")
            categories[name] = raw
    return TextRow(
        counts=counts,
        prior_logit=float(features["prior_logit"]),
        prompt_tokens_log=float(features.get("prompt_tokens_log", 0.0)),
        categories=categories,
        label=label,
    )


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def category_rates(
    rows: Sequence[TextRow],
) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """Per field, the log-odds of each value's smoothed benefit rate, and of the overall rate."""
    total = sum(r.weight for r in rows)
    overall = sum(r.label * r.weight for r in rows) / total if total else 0.5
    rates: dict[str, dict[str, float]] = {}
    for name in CATEGORY_FIELDS:
        sums: dict[str, list[float]] = {}
        for row in rows:
            entry = sums.setdefault(row.categories.get(name, ""), [0.0, 0.0])
            entry[0] += row.label * row.weight
            entry[1] += row.weight
        if len(sums) <= 1:
            rates[name] = {}
            continue
        rates[name] = {
            value: _logit((hits + RATE_SMOOTHING * overall) / (count + RATE_SMOOTHING))
            for value, (hits, count) in sums.items()
        }
    return rates, {name: _logit(overall) for name in CATEGORY_FIELDS}


def _dense_matrix(
    rows: Sequence[TextRow],
    rates: Mapping[str, Mapping[str, float]],
    defaults: Mapping[str, float],
) -> FloatArray:
    matrix = np.empty((len(rows), len(DENSE_BASE) + len(CATEGORY_FIELDS)))
    for index, row in enumerate(rows):
        values = [row.prior_logit, row.prompt_tokens_log]
        values += [
            rates.get(name, {}).get(row.categories.get(name, ""), defaults[name])
            for name in CATEGORY_FIELDS
        ]
        matrix[index] = values
    return matrix


def _out_of_fold_dense(rows: Sequence[TextRow], seed: int) -> FloatArray:
    """Dense inputs of training rows with each row's category rates computed without it."""
    folds = np.random.default_rng(seed).permutation(len(rows)) % RATE_FOLDS
    matrix = np.empty((len(rows), len(DENSE_BASE) + len(CATEGORY_FIELDS)))
    for fold in range(RATE_FOLDS):
        held = np.flatnonzero(folds == fold)
        if held.size == 0:
            continue
        rest = [rows[int(i)] for i in np.flatnonzero(folds != fold)]
        rates, defaults = category_rates(rest)
        matrix[held] = _dense_matrix([rows[int(i)] for i in held], rates, defaults)
    full_rates, full_defaults = category_rates(rows)
    for offset, name in enumerate(CATEGORY_FIELDS):
        if not full_rates[name]:  # one value only: a constant, not a fold-to-fold wobble
            matrix[:, len(DENSE_BASE) + offset] = full_defaults[name]
    return matrix


def _sparse_text(rows: Sequence[TextRow], bits: int) -> Any:
    from scipy import sparse

    data: list[float] = []
    indices: list[int] = []
    indptr = [0]
    for row in rows:
        for bucket, value in sorted(row.counts.items()):
            indices.append(bucket)
            data.append(value)
        indptr.append(len(indices))
    return sparse.csr_matrix((data, indices, indptr), shape=(len(rows), 1 << bits))


def check_rows(rows: Sequence[TextRow]) -> None:
    """ConfigError unless both outcomes occur (a model needs positives and negatives)."""
    positives = sum(r.label * r.weight for r in rows)
    negatives = sum((1.0 - r.label) * r.weight for r in rows)
    constant = len({r.label for r in rows}) <= 1  # e.g. every gain label a 0.5 tie
    if len(rows) < 10 or positives <= 0.0 or negatives <= 0.0 or constant:
        raise ConfigError.single(
            "data",
            f"{len(rows)} rows with benefit {positives:.1f} / no benefit {negatives:.1f}: "
            "training needs at least 10 rows and rows of both kinds (the strong model ahead "
            "on some prompts and not on others)",
        )


@dataclass(slots=True)
class FitReport:
    """What a fit saw (stored under the model's `training`)."""

    rows: int
    benefit_share: float
    extra: dict[str, Any] = field(default_factory=dict)


def fit_text_model(
    rows: Sequence[TextRow],
    *,
    bits: int = DEFAULT_BITS,
    c: float = DEFAULT_C,
    seed: int = 0,
    prior_version: str = "",
    training: Mapping[str, Any] | None = None,
    hashing: Hashing | None = None,
) -> TextModel:
    """A text model fit by L2 logistic regression on `rows` (see the module docstring).

    `hashing` (default: :data:`DEFAULT_HASHING` with `bits`) is recorded in the model and
    must be the one the rows' buckets were computed with (:func:`row_from_request`).
    """
    if hashing is None:
        hashing = DEFAULT_HASHING if bits == DEFAULT_BITS else Hashing(bits=bits)
    bits = hashing.bits
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression

    check_rows(rows)
    rates, defaults = category_rates(rows)
    dense_train = (
        _out_of_fold_dense(rows, seed)
        if len(rows) >= 2 * RATE_FOLDS
        else (_dense_matrix(rows, rates, defaults))
    )
    means = dense_train.mean(axis=0)
    scales = dense_train.std(axis=0)
    scales[scales < 1e-9] = 1.0
    standard = (dense_train - means) / scales
    text = _sparse_text(rows, bits)
    matrix = sparse.hstack([text, sparse.csr_matrix(standard)]).tocsr()
    labels = np.array([r.label for r in rows])
    weights = np.array([r.weight for r in rows])
    stacked = sparse.vstack([matrix, matrix]).tocsr()
    targets = np.concatenate([np.ones(len(rows)), np.zeros(len(rows))])
    sample_weight = np.concatenate([labels * weights, (1.0 - labels) * weights])
    keep = sample_weight > 0
    fit = LogisticRegression(C=c, max_iter=2000, random_state=seed)
    fit.fit(stacked[keep], targets[keep], sample_weight=sample_weight[keep])
    coef = fit.coef_[0]
    text_coef = coef[: 1 << bits]
    nonzero = np.flatnonzero(np.abs(text_coef) > 1e-6)
    text_weights = {int(b): float(text_coef[b]) for b in nonzero}
    dense_names = list(DENSE_BASE) + [f"rate:{name}" for name in CATEGORY_FIELDS]
    dense = [
        DenseSpec(name, float(means[j]), float(scales[j]), float(coef[(1 << bits) + j]))
        for j, name in enumerate(dense_names)
        if abs(float(coef[(1 << bits) + j])) > 1e-9
    ]
    intercept = float(fit.intercept_[0])
    # Quantiles over the training rows as the model will score them (in-sample rates).
    final_dense = _dense_matrix(rows, rates, defaults)
    logits = intercept + text @ text_coef
    for spec, j in ((s, dense_names.index(s.name)) for s in dense):
        logits = logits + spec.weight * (final_dense[:, j] - spec.mean) / spec.scale
    scores = 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)))
    record = {
        "method": f"L2 logistic regression (scikit-learn, C={c}) on hashed uni/bigrams, "
        "prior logit, prompt length and per-category benefit rates",
        "label": LABEL_DESCRIPTION,
        "rows": len(rows),
        "benefit_share": round(float((labels * weights).sum() / weights.sum()), 6),
        "seed": seed,
        "prior": prior_version,
        "sklearn_version": version("scikit-learn"),
        **dict(training or {}),
    }
    return make_text_model(
        hashing=hashing,
        text_weights=text_weights,
        dense=dense,
        rates=rates,
        default_rates=defaults,
        intercept=intercept,
        score_quantiles=quantile_table(float(s) for s in scores),
        training=record,
    )


def score_rows(model: TextModel, rows: Sequence[TextRow]) -> FloatArray:
    """Scores of training-space rows (equal to `TextAnalyzer.analyze(...).score`)."""
    from agent_routing.analyzer._model import sigmoid

    out = np.empty(len(rows))
    for index, row in enumerate(rows):
        dense = {"prior_logit": row.prior_logit, "prompt_tokens_log": row.prompt_tokens_log}
        for name in CATEGORY_FIELDS:
            table = model.rates.get(name, {})
            dense[f"rate:{name}"] = table.get(
                row.categories.get(name, ""), model.default_rates.get(name, 0.0)
            )
        logit, _ = model.logit(row.counts, dense)
        out[index] = sigmoid(logit)
    return out


HELD_OUT_SHARE = 0.25
MIN_HELD_OUT_ROWS = 40
BOOTSTRAP_RESAMPLES = 200


def _intervals(
    scored: Mapping[str, FloatArray],
    weak: FloatArray,
    strong: FloatArray,
    routed: Any,
    seed: int,
) -> dict[str, list[float]]:
    """95 % bootstrap intervals over the held-out rows: APGR of each router and the paired
    differences text - features and text - length (resamples where the two models score
    alike are skipped: APGR is a share of that gap)."""
    rng = np.random.default_rng(seed)
    values: dict[str, list[float]] = {}
    for _ in range(BOOTSTRAP_RESAMPLES):
        rows = rng.integers(0, len(weak), len(weak))
        if weak[rows].mean() == strong[rows].mean():
            continue
        apgrs = {name: routed(scores, rows) for name, scores in scored.items()}
        for name, value in apgrs.items():
            values.setdefault(f"apgr_{name}_ci", []).append(value)
        for base in ("features", "length"):
            values.setdefault(f"text_minus_{base}_ci", []).append(apgrs["text"] - apgrs[base])
    return {
        key: [round(float(v), 4) for v in np.percentile(samples, [2.5, 97.5])]
        for key, samples in values.items()
    }


def train_text_file(
    path: Path, *, seed: int = 0, label: str = FILE_LABEL
) -> tuple[TextModel, dict[str, Any]]:
    """Fit the text analyzer on a labelled file (`prompt`, `weak_score`, `strong_score`,
    optional `category`); errors name the column and the row. `label` is `gain` (default)
    or `benefit` (see the module docstring).

    With enough rows, a model fit on 75 % first scores the other 25 % (APGR beside the
    feature model and length: what to expect), then the returned model is fit on all rows.
    """
    from agent_routing.evaluation import apgr, length_scores, load_eval_data, sweep

    if label not in LABELS:
        raise ConfigError.single("label", f"must be one of {sorted(LABELS)}, got {label!r}")
    label_of, description = LABELS[label]
    data = load_eval_data(path)
    assert data.weak is not None
    assert data.strong is not None
    prior = ComplexityAnalyzer()
    categories = data.categories or ("",) * len(data.prompts)
    rows = [
        row_from_request(
            AnalysisRequest(prompt=prompt, category=category),
            label_of(float(weak), float(strong)),
            prior,
        )
        for prompt, category, weak, strong in zip(
            data.prompts, categories, data.weak, data.strong, strict=True
        )
    ]
    check_rows(rows)
    benefits = [
        benefit_label(float(w), float(s)) for w, s in zip(data.weak, data.strong, strict=True)
    ]
    check_rows([replace(row, label=b) for row, b in zip(rows, benefits, strict=True)])
    held_out: dict[str, Any] = {}
    test_count = int(len(rows) * HELD_OUT_SHARE)
    if test_count >= MIN_HELD_OUT_ROWS:
        order = np.random.default_rng(seed).permutation(len(rows))
        test, train = np.sort(order[:test_count]), order[test_count:]
        try:
            trial = fit_text_model([rows[int(i)] for i in train], seed=seed)
        except ConfigError:
            trial = None
        weak, strong = data.weak[test], data.strong[test]
        if trial is not None and weak.mean() != strong.mean():

            def routed(scores: FloatArray, rows: Any = slice(None)) -> float:
                w, s = weak[rows], strong[rows]
                return apgr(sweep(scores[rows], w, s), float(w.mean()), float(s.mean()))

            scored = {
                "text": score_rows(trial, [rows[int(i)] for i in test]),
                "features": np.array([rows[int(i)].prior_logit for i in test]),
                "length": length_scores([data.prompts[int(i)] for i in test]),
            }
            held_out = {"rows": int(test_count)}
            held_out.update({f"apgr_{name}": routed(x) for name, x in scored.items()})
            held_out.update(_intervals(scored, weak, strong, routed, seed))
    model = fit_text_model(
        rows,
        seed=seed,
        prior_version=prior.model.model_version,
        training={
            "data": str(path),
            "label": description,
            "benefit_share": round(sum(benefits) / len(benefits), 6),
            "held_out_check": held_out,
        },
    )
    return model, held_out
