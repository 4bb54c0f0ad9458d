"""Fitting the shipped model: a sign-constrained difficulty ranker, calibrated to [0, 1].

The three training sets measure difficulty on different scales (share of ten models
failing, MATH level, share of 32 models failing a coding task), so only comparisons
*within* a set are meaningful. The ranker therefore learns from pairs of prompts of the same
set: for a pair where prompt a is harder than prompt b, it fits

    w . (z_a - z_b) ~ 1

by least squares (sklearn `Ridge(positive=True)`; RankRLS-style), on standardised features
`z`, with each weight held to the sign in :data:`priors.TEXT_DIRECTIONS`. Each set
contributes the same total weight, however many rows it has.

The ranker's margin `w . z` is then mapped to [0, 1] with a one-feature logistic regression
whose target is the prompt's difficulty percentile within its set. So a score of 0.7 reads:
"harder than about 70 % of comparable training prompts". Routing uses only the order of
scores (thresholds come from quantiles, see `calibrate`), so this scale is for people.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from agent_routing.analyzer._features import CONTEXT_FEATURES, TEXT_FEATURES
from agent_routing.analyzer._model import FeatureSpec
from agent_routing.analyzer._priors import CONTEXT_PRIORS, TEXT_DIRECTIONS
from agent_routing.errors import ConfigError
from agent_routing.evaluation import average_ranks

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class RankerParams:
    """Hyper-parameters of the ranker (recorded in the model file)."""

    pairs_per_dataset: int = 20_000
    ridge_alpha: float = 1.0
    calibration_c: float = 100.0


@dataclass(frozen=True, slots=True)
class FittedParameters:
    """Everything the model file needs from a fit."""

    features: tuple[FeatureSpec, ...]
    intercept: float


def within_group_percentile(values: FloatArray, groups: Sequence[str]) -> FloatArray:
    """Each value's mid-rank percentile in (0, 1) among the values of its own group."""
    labels = np.asarray(groups)
    result = np.zeros(len(values))
    for group in np.unique(labels):
        mask = labels == group
        result[mask] = (average_ranks(values[mask]) - 0.5) / int(mask.sum())
    return result


def balanced_weights(groups: Sequence[str]) -> FloatArray:
    """Sample weights giving every group the same total weight (mean weight 1)."""
    labels = np.asarray(groups)
    unique = np.unique(labels)
    weights = np.zeros(len(labels))
    for group in unique:
        mask = labels == group
        weights[mask] = len(labels) / (len(unique) * int(mask.sum()))
    return weights


def _pair_differences(
    z: FloatArray, difficulty: FloatArray, groups: Sequence[str], pairs: int, seed: int
) -> tuple[FloatArray, FloatArray]:
    """Harder-minus-easier feature differences of random same-group pairs, with weights.

    Each group draws `pairs` pairs with replacement (fewer for a small group: at most its
    number of ordered pairs); pairs of equal difficulty carry no order and are dropped.
    """
    rng = np.random.default_rng(seed)
    labels = np.asarray(groups)
    blocks: list[FloatArray] = []
    weights: list[FloatArray] = []
    for group in np.unique(labels):
        index = np.flatnonzero(labels == group)
        count = min(pairs, len(index) * (len(index) - 1))  # never more than distinct pairs
        first = rng.choice(index, count)
        second = rng.choice(index, count)
        order = np.sign(difficulty[first] - difficulty[second])
        keep = order != 0
        if not keep.any():
            continue
        blocks.append((z[first[keep]] - z[second[keep]]) * order[keep, None])
        weights.append(np.full(int(keep.sum()), 1.0 / int(keep.sum())))
    if not blocks:
        raise ConfigError.single("difficulty", "every prompt has the same difficulty: no order")
    stacked = np.concatenate(weights)
    return np.vstack(blocks), stacked * len(stacked) / len(blocks)


def fit_ranker(
    z: FloatArray,
    difficulty: FloatArray,
    groups: Sequence[str],
    *,
    directions: Sequence[int],
    params: RankerParams,
    seed: int,
) -> FloatArray:
    """Sign-constrained pairwise least-squares weights for standardised features `z`."""
    from sklearn.linear_model import Ridge

    differences, weights = _pair_differences(z, difficulty, groups, params.pairs_per_dataset, seed)
    # Ridge(positive=True) keeps every coefficient >= 0: flip columns that must be negative,
    # and give free columns a second, negated copy so that either sign is reachable.
    columns: list[FloatArray] = []
    mapping: list[tuple[int, float]] = []
    for index, direction in enumerate(directions):
        if direction >= 0:
            columns.append(differences[:, index])
            mapping.append((index, 1.0))
        if direction <= 0:
            columns.append(-differences[:, index])
            mapping.append((index, -1.0))
    ridge = Ridge(alpha=params.ridge_alpha, positive=True, fit_intercept=False)
    ridge.fit(np.column_stack(columns), np.ones(len(differences)), sample_weight=weights)
    coefficients = np.zeros(len(directions))
    for (index, sign), value in zip(mapping, ridge.coef_, strict=True):
        coefficients[index] += sign * float(value)
    return coefficients


def calibrate_margin(
    margin: FloatArray, target: FloatArray, weights: FloatArray, c: float
) -> tuple[float, float]:
    """Slope and intercept of sigmoid(slope * margin + intercept) ~ target (soft labels)."""
    from sklearn.linear_model import LogisticRegression

    column = margin.reshape(-1, 1)
    regression = LogisticRegression(C=c, max_iter=1000)
    regression.fit(
        np.vstack([column, column]),
        np.r_[np.ones(len(margin)), np.zeros(len(margin))],
        sample_weight=np.r_[weights * target, weights * (1.0 - target)],
    )
    return float(regression.coef_[0][0]), float(regression.intercept_[0])


def context_specs() -> list[FeatureSpec]:
    """Specs of the context features at their documented priors (mean 0, scale 1)."""
    return [
        FeatureSpec(
            name=name,
            mean=0.0,
            scale=1.0,
            weight=CONTEXT_PRIORS[name].weight,
            source="prior",
            direction=CONTEXT_PRIORS[name].direction,
            why=CONTEXT_PRIORS[name].why,
        )
        for name in CONTEXT_FEATURES
    ]


def fit_difficulty_model(
    text_matrix: FloatArray,
    difficulty: FloatArray,
    groups: Sequence[str],
    *,
    params: RankerParams,
    seed: int,
) -> FittedParameters:
    """Fit the ranker and its calibration on text features (columns = TEXT_FEATURES)."""
    if text_matrix.shape != (len(difficulty), len(TEXT_FEATURES)):
        raise ConfigError.single("text_matrix", f"wrong shape {text_matrix.shape}")
    means = text_matrix.mean(axis=0)
    scales = text_matrix.std(axis=0)
    scales[scales == 0] = 1.0
    z = (text_matrix - means) / scales
    directions = [TEXT_DIRECTIONS[name] for name in TEXT_FEATURES]
    weights = fit_ranker(z, difficulty, groups, directions=directions, params=params, seed=seed)
    margin = z @ weights
    if not np.any(margin != margin[0]):
        raise ConfigError.single("features", "the ranker found no feature that orders the data")
    slope, intercept = calibrate_margin(
        margin,
        within_group_percentile(difficulty, groups),
        balanced_weights(groups),
        params.calibration_c,
    )
    text_specs = [
        FeatureSpec(
            name=name,
            mean=float(means[index]),
            scale=float(scales[index]),
            weight=slope * float(weights[index]),
            source="learned",
            direction=directions[index],
        )
        for index, name in enumerate(TEXT_FEATURES)
    ]
    return FittedParameters(features=(*text_specs, *context_specs()), intercept=intercept)
