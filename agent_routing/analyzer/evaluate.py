"""The `eval` and `calibrate` commands as library calls: file in, report out.

It scores the file's prompts with an analyzer and hands the scores to the evaluation harness
(:mod:`agent_routing.evaluation`, which knows nothing of analyzers): so it lives here, above
both, and the evaluation package never imports the analyzer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt

from agent_routing.analyzer._model import AnalyzerModel, load_default_model
from agent_routing.analyzer._scoring import ComplexityAnalyzer, score_examples
from agent_routing.config import PriceOverride
from agent_routing.errors import ConfigError
from agent_routing.evaluation import (
    DEFAULT_OUTPUT_TOKENS,
    Calibration,
    EvaluationReport,
    build_report,
    calibrate_threshold,
    check_strong_share,
    load_eval_data,
    with_price_table_costs,
)
from agent_routing.protocols import AnalysisRequest, Analyzer

FloatArray = npt.NDArray[np.float64]


def score_prompts(
    analyzer: Analyzer,
    prompts: tuple[str, ...],
    categories: tuple[str, ...] | None = None,
    *,
    progress: bool = False,
) -> tuple[FloatArray, str]:
    """Each prompt's score by `analyzer` and the model version that scored them.

    The feature model scores in batch; any other analyzer prompt by prompt, with the file's
    `category` (the learnable analyzer learns a benefit rate per category). With
    `progress`, a tqdm bar over the prompts goes to stderr when it is a terminal.
    """
    from agent_routing.analyzer._scoring import ComplexityAnalyzer

    shown: Iterable[str] = prompts
    if progress:
        from tqdm import tqdm

        shown = tqdm(prompts, desc="scoring prompts", unit="prompt", disable=None, leave=False)
    if isinstance(analyzer, ComplexityAnalyzer):
        if not progress:
            requests = [AnalysisRequest(prompt=prompt) for prompt in prompts]
            return score_examples(analyzer.model, requests), analyzer.model.model_version
        from agent_routing.analyzer._features import extract_features
        from agent_routing.analyzer._scoring import score_features

        rows = [extract_features(AnalysisRequest(prompt=prompt)) for prompt in shown]
        return score_features(analyzer.model, rows), analyzer.model.model_version
    labels = categories or ("",) * len(prompts)
    analyses = [
        analyzer.analyze(AnalysisRequest(prompt=prompt, category=category))
        for prompt, category in zip(shown, labels, strict=True)
    ]
    version = analyses[0].model_version if analyses else ""
    return np.array([a.score for a in analyses], dtype=np.float64), version


def run_evaluation(
    data_path: Path,
    *,
    model: AnalyzerModel | None = None,
    weak_model: str | None = None,
    strong_model: str | None = None,
    output_tokens: int = DEFAULT_OUTPUT_TOKENS,
    overrides: Mapping[str, PriceOverride] | None = None,
    analyzer: Analyzer | None = None,
    progress: bool = False,
) -> EvaluationReport:
    """Score every prompt of `data_path` and evaluate the routing curve against baselines.

    Costs come from the file's `weak_cost`/`strong_cost` columns, or from the price table
    when both `weak_model` and `strong_model` are given. With `progress`, a progress bar
    over the prompts goes to stderr when it is a terminal.
    """
    if (weak_model is None) != (strong_model is None):
        missing = "strong_model" if strong_model is None else "weak_model"
        raise ConfigError.single(missing, "give both --weak-model and --strong-model, or neither")
    data = load_eval_data(data_path)
    cost_basis = "weak_cost / strong_cost columns" if data.has_costs else None
    if weak_model is not None and strong_model is not None:
        data, cost_basis = with_price_table_costs(
            data, weak_model, strong_model, output_tokens=output_tokens, overrides=overrides
        )
    if analyzer is None:
        analyzer = ComplexityAnalyzer(model or load_default_model())
    scores, version = score_prompts(analyzer, data.prompts, data.categories, progress=progress)
    return build_report(data, scores, model_version=version, cost_basis=cost_basis)


def run_calibration(
    data_path: Path,
    strong_share: float,
    *,
    model: AnalyzerModel | None = None,
    analyzer: Analyzer | None = None,
) -> Calibration:
    """The threshold that sends `strong_share` of the file's prompts to the strong tier."""
    check_strong_share(strong_share)
    data = load_eval_data(data_path, outcomes=False)
    if analyzer is None:
        analyzer = ComplexityAnalyzer(model or load_default_model())
    scores, _ = score_prompts(analyzer, data.prompts, data.categories)
    return calibrate_threshold(scores, strong_share)
