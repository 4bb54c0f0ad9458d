"""Fitting from recorded outcomes: a fresh logistic model, or a refit of a base model.

The router records every decision with the analyzer's full feature vector and later learns
whether the cheap model was enough (label 0) or a stronger one was needed (label 1; soft
labels in between are allowed). This module turns such rows into a model.

With a `base` model, the refit starts from the base, because a user's ledger is small next
to the training sets. It fits

    logit' = alpha * base_logit(x) + sum_j delta_j * z_j + c

(z = features standardised with the base's scaler) by penalised maximum likelihood with a
Gaussian prior centred on the base: `alpha` around 1, each `delta` around 0. With few or
uninformative rows the result is the base (up to its intercept); with many it follows the
data. Only features that vary in the rows get a `delta`, so context features whose priors
were never fit become `learned` exactly when the ledger shows them varying. The result
folds back into the same file format: `weight' = alpha * weight + delta`, same scaler.

scikit-learn's `LogisticRegression` cannot centre its penalty anywhere but zero or take an
offset, so the fit is a few Newton steps in numpy (the problem has a few dozen parameters);
without a base it is the same fit with every weight centred on zero.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from agent_routing.analyzer._features import FEATURE_NAMES, extract_features
from agent_routing.analyzer._model import AnalyzerModel, FeatureSpec, make_model
from agent_routing.analyzer._scoring import feature_matrix
from agent_routing.errors import ConfigError
from agent_routing.protocols import AnalysisRequest

FloatArray = npt.NDArray[np.float64]

PRIOR_PRECISION = 1.0  # L2 strength per coefficient, in units of one row's log-likelihood
MAX_NEWTON_STEPS = 100
TOLERANCE = 1e-10
MIN_ROWS = 2


def _labels(rows: Sequence[tuple[Mapping[str, float], float]]) -> FloatArray:
    if len(rows) < MIN_ROWS:
        raise ConfigError.single("rows", f"need at least {MIN_ROWS} labelled rows, got {len(rows)}")
    labels = np.empty(len(rows))
    for index, row in enumerate(rows):
        label = row[1]
        if (
            isinstance(label, bool)
            or not isinstance(label, int | float)
            or not math.isfinite(label)
            or not 0.0 <= label <= 1.0
        ):
            raise ConfigError.single(f"rows[{index}].label", f"must be in [0, 1], got {label!r}")
        labels[index] = float(label)
    if np.all(labels == labels[0]):
        raise ConfigError.single(
            "rows", f"every label is {labels[0]:g}: outcomes of both kinds are needed"
        )
    return labels


def _objective(
    theta: FloatArray,
    design: FloatArray,
    labels: FloatArray,
    center: FloatArray,
    precision: FloatArray,
) -> float:
    logits = design @ theta
    data = float(np.sum(np.logaddexp(0.0, logits) - labels * logits))
    return data + 0.5 * float(np.sum(precision * (theta - center) ** 2))


def fit_penalised_logistic(
    design: FloatArray, labels: FloatArray, center: FloatArray, precision: FloatArray
) -> FloatArray:
    """MAP coefficients of a logistic model with independent Gaussian priors (Newton steps).

    `design` includes the intercept column; `precision` 0 leaves a coefficient unpenalised.
    Labels may be soft (in [0, 1]). Deterministic; each step is halved until it improves.
    """
    theta = center.copy()
    current = _objective(theta, design, labels, center, precision)
    for _ in range(MAX_NEWTON_STEPS):
        probabilities = 1.0 / (1.0 + np.exp(-(design @ theta)))
        gradient = design.T @ (probabilities - labels) + precision * (theta - center)
        curvature = probabilities * (1.0 - probabilities)
        hessian = (design * curvature[:, None]).T @ design + np.diag(precision)
        hessian += np.eye(len(theta)) * 1e-9  # keeps an unpenalised, unvarying column solvable
        step = np.linalg.solve(hessian, gradient)
        size = 1.0
        while size > 1e-6:
            candidate = theta - size * step
            value = _objective(candidate, design, labels, center, precision)
            if value <= current:
                break
            size /= 2
        else:
            break
        theta, improvement, current = candidate, current - value, value
        if improvement < TOLERANCE:
            break
    return theta


def _log_loss(logits: FloatArray, labels: FloatArray) -> float:
    return float(np.mean(np.logaddexp(0.0, logits) - labels * logits))


def _solve(columns: FloatArray, labels: FloatArray, center: FloatArray) -> tuple[float, FloatArray]:
    """Intercept (unpenalised, starting at 0) and coefficients of `columns` (prior `center`)."""
    design = np.column_stack([np.ones(len(labels)), columns])
    precision = np.r_[0.0, np.full(columns.shape[1], PRIOR_PRECISION)]
    theta = fit_penalised_logistic(design, labels, np.r_[0.0, center], precision)
    return float(theta[0]), theta[1:]


def _fresh(matrix: FloatArray, labels: FloatArray, seed: int) -> AnalyzerModel:
    means = matrix.mean(axis=0)
    scales = matrix.std(axis=0)
    varying = scales > 0
    scales[~varying] = 1.0
    z = (matrix - means) / scales
    weights = np.zeros(len(FEATURE_NAMES))
    intercept, weights[varying] = _solve(z[:, varying], labels, np.zeros(int(varying.sum())))
    specs = [
        FeatureSpec(name=name, mean=float(means[i]), scale=float(scales[i]), weight=weights[i])
        for i, name in enumerate(FEATURE_NAMES)
    ]
    training: dict[str, Any] = {
        "method": "penalised logistic regression on recorded outcomes (no base model)",
        "rows": len(labels),
        "label_mean": float(labels.mean()),
        "seed": seed,
        "params": {"prior_precision": PRIOR_PRECISION},
        "numpy_version": np.__version__,
    }
    metrics = {"in_sample_log_loss": _log_loss(intercept + z @ weights, labels)}
    return make_model(specs, intercept, training=training, metrics=metrics)


def _refit(base: AnalyzerModel, matrix: FloatArray, labels: FloatArray, seed: int) -> AnalyzerModel:
    means = np.array([f.mean for f in base.features])
    scales = np.array([f.scale for f in base.features])
    weights = np.array([f.weight for f in base.features])
    z = (matrix - means) / scales
    base_logits = base.intercept + z @ weights
    varying = np.flatnonzero(matrix.std(axis=0) > 0)
    columns = np.column_stack([base_logits, z[:, varying]])
    shift, coefficients = _solve(columns, labels, np.r_[1.0, np.zeros(len(varying))])
    alpha = float(coefficients[0])
    delta = np.zeros(len(weights))
    delta[varying] = coefficients[1:]
    new_weights = alpha * weights + delta
    new_intercept = alpha * base.intercept + shift
    specs = [
        FeatureSpec(
            name=spec.name,
            mean=spec.mean,
            scale=spec.scale,
            weight=float(new_weights[i]),
            source="learned" if i in varying else spec.source,
            direction=spec.direction,
            why=spec.why,
        )
        for i, spec in enumerate(base.features)
    ]
    training: dict[str, Any] = {
        "method": "penalised logistic refit on recorded outcomes, prior centred on the base",
        "base_model_version": base.model_version,
        "lineage": [*base.training.get("lineage", []), base.model_version],
        "rows": len(labels),
        "label_mean": float(labels.mean()),
        "refit_features": [base.features[i].name for i in varying],
        "seed": seed,
        "params": {"prior_precision": PRIOR_PRECISION},
        "data": base.training.get("data", []),
        "numpy_version": np.__version__,
    }
    metrics = {
        "alpha": alpha,
        "in_sample_log_loss_base": _log_loss(base_logits, labels),
        "in_sample_log_loss": _log_loss(new_intercept + z @ new_weights, labels),
    }
    return make_model(specs, new_intercept, training=training, metrics=metrics)


def train_model_from_features(
    rows: Sequence[tuple[Mapping[str, float], float]],
    *,
    base: AnalyzerModel | None = None,
    seed: int = 0,
) -> AnalyzerModel:
    """A model fit on (feature dict, label in [0, 1]) rows, refit from `base` if given.

    Feature dicts are `Analysis.features` as recorded (`DecisionRecord.extra["features"]`);
    each must hold every model feature. ConfigError names the first bad row. `seed` is
    recorded in the model file; the fit itself has no randomness.
    """
    labels = _labels(rows)
    names = base.feature_names if base is not None else FEATURE_NAMES
    matrix = feature_matrix(names, [row[0] for row in rows], field="rows")
    if base is None:
        return _fresh(matrix, labels, seed)
    return _refit(base, matrix, labels, seed)


def train_model(
    examples: Sequence[tuple[AnalysisRequest, float]],
    *,
    base: AnalyzerModel | None = None,
    seed: int = 0,
) -> AnalyzerModel:
    """A model fit on (request, label in [0, 1]) examples; see train_model_from_features."""
    return train_model_from_features(
        [(extract_features(request), label) for request, label in examples], base=base, seed=seed
    )
