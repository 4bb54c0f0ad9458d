"""Scoring: the `Analyzer` the router calls on every LLM call, and batch scoring helpers.

`ComplexityAnalyzer.analyze` extracts the features, applies the model in plain Python (no
scikit-learn, no numpy on the hot path) and names the features that moved the score most.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from agent_routing.analyzer._features import extract_features
from agent_routing.analyzer._model import (
    AnalyzerModel,
    ModelFormatError,
    load_default_model,
    load_model,
    sigmoid,
)
from agent_routing.analyzer.quantiles import (
    CALIBRATED_MODEL_VERSION,
    SHIPPED_SCORE_QUANTILES,
    table_from_training,
    valid_table,
)
from agent_routing.protocols import Analysis, AnalysisRequest

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from agent_routing.config import Settings

DEFAULT_TOP_FEATURES = 5


def model_for_settings(settings: Settings) -> AnalyzerModel:
    """`router.model_path` when set, else the shipped model."""
    path: Path | None = settings.router.model_path
    return load_model(path) if path is not None else load_default_model()


def feature_model_quantiles(model: AnalyzerModel) -> tuple[float, ...]:
    """The score quantile table that belongs to a feature model.

    A table stored in the file (`training.score_quantiles`, written by a refit from the
    ledger: the user's own calls) comes first; the shipped model has the table measured on
    agent calls; any other model falls back to the quantiles of its scores over its training
    prompts (`metrics.training_scores`, written by `agent-routing train --data-dir`). A model
    with none of these raises ModelFormatError: routing it over another model's table would
    send the wrong share of calls to the strong tier.
    """
    stored = table_from_training(model.training)
    if stored is not None:
        return stored
    if model.model_version == CALIBRATED_MODEL_VERSION:
        return SHIPPED_SCORE_QUANTILES
    training_scores = model.metrics.get("training_scores")
    if isinstance(training_scores, Mapping):
        table = valid_table(training_scores.get("quantiles"))
        if table is not None:
            return table
    raise ModelFormatError.single(
        "model.training.score_quantiles",
        f"model {model.model_version} carries no score quantile table "
        "(retrain it with `agent-routing train`)",
    )


class ComplexityAnalyzer:
    """Scores a request in [0, 1] with a linear model over explainable features.

    `top_features` holds the `top_k` largest signed contributions to the log-odds, so a user
    can see why a call was judged hard or easy; `features` holds every model input.
    """

    def __init__(
        self, model: AnalyzerModel | None = None, *, top_k: int = DEFAULT_TOP_FEATURES
    ) -> None:
        if top_k < 0:
            raise ModelFormatError.single("top_k", f"must be zero or more, got {top_k}")
        self.model = model if model is not None else load_default_model()
        self.top_k = top_k

    name = "features"

    @property
    def score_quantiles(self) -> tuple[float, ...]:
        """This model's own quantile table (see :func:`feature_model_quantiles`)."""
        return feature_model_quantiles(self.model)

    @classmethod
    def from_settings(cls, settings: Settings) -> ComplexityAnalyzer:
        """An analyzer using `router.model_path` (or the shipped model)."""
        return cls(model_for_settings(settings))

    def analyze(self, request: AnalysisRequest) -> Analysis:
        """The request's score, all its features and the top contributions."""
        features = extract_features(request)
        names = self.model.feature_names
        contributions = self.model.contributions([features[name] for name in names])
        logit = self.model.intercept + sum(contributions)
        ranked = sorted(
            (pair for pair in zip(names, contributions, strict=True) if pair[1] != 0.0),
            key=lambda pair: abs(pair[1]),
            reverse=True,
        )
        return Analysis(
            score=sigmoid(logit),
            features=features,
            top_features=tuple((name, round(value, 4)) for name, value in ranked[: self.top_k]),
            model_version=self.model.model_version,
        )


def feature_matrix(
    names: Sequence[str], rows: Sequence[Mapping[str, float]], *, field: str = "rows"
) -> npt.NDArray[np.float64]:
    """Rows of named feature values as a matrix with columns `names`; ConfigError on a gap."""
    import numpy as np

    matrix = np.empty((len(rows), len(names)), dtype=np.float64)
    for index, row in enumerate(rows):
        try:
            matrix[index] = [float(row[name]) for name in names]
        except KeyError as error:
            raise ModelFormatError.single(
                f"{field}[{index}]", f"missing feature {error.args[0]!r}"
            ) from None
        except (TypeError, ValueError):
            raise ModelFormatError.single(
                f"{field}[{index}]", "every feature value must be a number"
            ) from None
    if not np.all(np.isfinite(matrix)):
        bad = int(np.argwhere(~np.isfinite(matrix))[0][0])
        raise ModelFormatError.single(f"{field}[{bad}]", "feature values must be finite")
    return matrix


def score_matrix(model: AnalyzerModel, matrix: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Scores in [0, 1] for a matrix of feature values in model order."""
    import numpy as np

    factors = np.array([f.weight / f.scale for f in model.features])
    means = np.array([f.mean for f in model.features])
    logits = model.intercept + (matrix - means) @ factors
    return np.asarray(1.0 / (1.0 + np.exp(-logits)), dtype=np.float64)


def score_features(
    model: AnalyzerModel, rows: Sequence[Mapping[str, float]]
) -> npt.NDArray[np.float64]:
    """Scores for recorded feature dicts (e.g. `DecisionRecord.extra["features"]`)."""
    return score_matrix(model, feature_matrix(model.feature_names, rows))


def score_examples(
    model: AnalyzerModel, requests: Sequence[AnalysisRequest]
) -> npt.NDArray[np.float64]:
    """Scores for requests; equal to `ComplexityAnalyzer(model).analyze(r).score` each."""
    return score_features(model, [extract_features(request) for request in requests])
