"""Building the shipped model from the data directory, reproducibly, with its hold-out metrics.

`build_model(data_dir, seed=0)` loads the three labelled sets, extracts features, fits the
ranker on all rows, and measures two kinds of hold-out, which it stores in the model file:

- **row level**: 5-fold cross-validation within each set (each row scored by a model that
  did not see it);
- **leave one dataset out**: each set scored by a model fit on the other two only, which is
  what a new kind of prompt looks like to the analyzer.

For each, per set: the Spearman correlation of the score with the set's difficulty label
and, where per-model outcomes exist, the APGR of routing between the pairs in
:data:`datasets.EVAL_PAIRS`. The same figures for the prompt-length baseline sit beside them.
Same data, same seed, same library versions: byte-identical file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from agent_routing.analyzer._datasets import (
    DATASET_NAMES,
    EVAL_PAIRS,
    DataFingerprint,
    LabelledPrompt,
    load_dataset,
)
from agent_routing.analyzer._features import TEXT_FEATURES, text_features
from agent_routing.analyzer._model import AnalyzerModel, make_model
from agent_routing.analyzer._ranking import FittedParameters, RankerParams, fit_difficulty_model
from agent_routing.evaluation import apgr, spearman, sweep

FloatArray = npt.NDArray[np.float64]
T = TypeVar("T")

FOLDS = 5
LABEL_DESCRIPTION = (
    "difficulty within each set: mmlu_pro = share of its 10 models answering wrong; "
    "math = (level - 1) / 4; code = 1 - mean pass@1 of 32 model runs. Only orders within a "
    "set are learned (pairwise), the score is calibrated to the difficulty percentile."
)
METHOD_DESCRIPTION = (
    "sign-constrained pairwise least-squares ranker (sklearn Ridge, positive=True) on "
    "standardised text features, calibrated by a one-feature LogisticRegression; context "
    "features at documented priors"
)


@dataclass(frozen=True, slots=True)
class TrainingData:
    """The labelled prompts with their text-feature matrix, in one fixed row order."""

    prompts: tuple[LabelledPrompt, ...]
    fingerprints: tuple[DataFingerprint, ...]
    text_matrix: FloatArray
    difficulty: FloatArray
    groups: tuple[str, ...]

    def subset(self, rows: npt.NDArray[np.int64]) -> TrainingData:
        """The given rows (indexes, in that order), same data fingerprints."""
        return TrainingData(
            prompts=tuple(self.prompts[i] for i in rows),
            fingerprints=self.fingerprints,
            text_matrix=self.text_matrix[rows],
            difficulty=self.difficulty[rows],
            groups=tuple(self.groups[i] for i in rows),
        )


def sample_per_dataset(data: TrainingData, per_dataset: int, seed: int) -> TrainingData:
    """At most `per_dataset` random rows of each set, in their original order (quick runs)."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(data.groups)
    chosen = [
        rng.permutation(np.flatnonzero(labels == name))[:per_dataset] for name in DATASET_NAMES
    ]
    return data.subset(np.sort(np.concatenate(chosen)))


def _progress(items: Iterable[T], enabled: bool, description: str, total: int) -> Iterable[T]:
    if not enabled:
        return items
    from tqdm import tqdm

    # disable=None: drawn on a terminal, silent when stderr is redirected.
    bar: Iterable[T] = tqdm(items, desc=description, total=total, leave=False, disable=None)
    return bar


def load_training_data(data_dir: Path, *, progress: bool = False) -> TrainingData:
    """Every labelled prompt under `data_dir` and its text features (ConfigError if absent)."""
    prompts: list[LabelledPrompt] = []
    fingerprints: list[DataFingerprint] = []
    for name in DATASET_NAMES:
        loaded, fingerprint = load_dataset(Path(data_dir), name)
        prompts.extend(loaded)
        fingerprints.append(fingerprint)
    rows = [
        [features[name] for name in TEXT_FEATURES]
        for features in (
            text_features(prompt.prompt)
            for prompt in _progress(prompts, progress, "features", len(prompts))
        )
    ]
    return TrainingData(
        prompts=tuple(prompts),
        fingerprints=tuple(fingerprints),
        text_matrix=np.array(rows, dtype=np.float64),
        difficulty=np.array([p.difficulty for p in prompts], dtype=np.float64),
        groups=tuple(p.dataset for p in prompts),
    )


def _fit(
    data: TrainingData, mask: npt.NDArray[np.bool_], params: RankerParams, seed: int
) -> FittedParameters:
    return fit_difficulty_model(
        data.text_matrix[mask],
        data.difficulty[mask],
        [group for group, keep in zip(data.groups, mask, strict=True) if keep],
        params=params,
        seed=seed,
    )


def _text_scores(fitted: FittedParameters, text_matrix: FloatArray) -> FloatArray:
    """Scores of rows whose context features are all zero (as in the training sets)."""
    specs = fitted.features[: len(TEXT_FEATURES)]
    factors = np.array([s.weight / s.scale for s in specs])
    means = np.array([s.mean for s in specs])
    logits = fitted.intercept + (text_matrix - means) @ factors
    return np.asarray(1.0 / (1.0 + np.exp(-logits)), dtype=np.float64)


def dataset_metrics(
    scores: FloatArray, prompts: Sequence[LabelledPrompt], dataset: str
) -> dict[str, float | int | None]:
    """Spearman with difficulty and APGR per evaluation pair, for one set's rows."""
    rows = [i for i, p in enumerate(prompts) if p.dataset == dataset]
    result: dict[str, float | int | None] = {
        "rows": len(rows),
        "spearman_difficulty": spearman(
            scores[rows], np.array([prompts[i].difficulty for i in rows])
        ),
    }
    for weak, strong in EVAL_PAIRS[dataset]:
        usable = [i for i in rows if weak in prompts[i].outcomes and strong in prompts[i].outcomes]
        if len(usable) < 2:
            continue
        weak_scores = np.array([prompts[i].outcomes[weak] for i in usable])
        strong_scores = np.array([prompts[i].outcomes[strong] for i in usable])
        points = sweep(scores[usable], weak_scores, strong_scores)
        result[f"apgr {weak} -> {strong}"] = apgr(
            points, float(weak_scores.mean()), float(strong_scores.mean())
        )
    return result


def _folds(groups: Sequence[str], seed: int) -> npt.NDArray[np.int64]:
    """A fold number per row, balanced within each set (seeded shuffle)."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(groups)
    folds = np.zeros(len(labels), dtype=np.int64)
    for group in DATASET_NAMES:
        index = np.flatnonzero(labels == group)
        rng.shuffle(index)
        folds[index] = np.arange(len(index)) % FOLDS
    return folds


def holdout_metrics(
    data: TrainingData, params: RankerParams, seed: int, *, progress: bool = False
) -> dict[str, Any]:
    """Row-level (5-fold) and leave-one-dataset-out metrics, with the length baseline."""
    folds = _folds(data.groups, seed)
    labels = np.asarray(data.groups)
    jobs = [("fold", k) for k in range(FOLDS)] + [("dataset", name) for name in DATASET_NAMES]
    out_of_fold = np.zeros(len(data.prompts))
    left_out: dict[str, FloatArray] = {}
    for kind, key in _progress(jobs, progress, "hold-out fits", len(jobs)):
        held = folds == key if kind == "fold" else labels == key
        fitted = _fit(data, ~held, params, seed)
        scores = _text_scores(fitted, data.text_matrix)
        if kind == "fold":
            out_of_fold[held] = scores[held]
        else:
            left_out[str(key)] = scores
    length = data.text_matrix[:, TEXT_FEATURES.index("prompt_tokens_log")]
    return {
        "row_level_5fold": {
            name: dataset_metrics(out_of_fold, data.prompts, name) for name in DATASET_NAMES
        },
        "leave_one_dataset_out": {
            name: dataset_metrics(left_out[name], data.prompts, name) for name in DATASET_NAMES
        },
        "length_baseline": {
            name: dataset_metrics(length, data.prompts, name) for name in DATASET_NAMES
        },
    }


QUANTILE_LEVELS = tuple(round(step * 0.05, 2) for step in range(21))


def score_distribution(fitted: FittedParameters, data: TrainingData) -> dict[str, Any]:
    """Quantiles of the fitted model's scores over the training prompts, and its logit spread.

    The router's strategies place thresholds at these quantiles (a share of calls to the
    strong tier); `logit_spread_p5_p95` puts the context priors' log-odds in proportion.
    """
    scores = _text_scores(fitted, data.text_matrix)
    logits = np.log(scores / (1.0 - scores))
    low, high = np.percentile(logits, [5, 95])
    return {
        "prompts": len(scores),
        "levels": list(QUANTILE_LEVELS),
        "quantiles": [float(q) for q in np.quantile(scores, QUANTILE_LEVELS)],
        "logit_spread_p5_p95": float(high - low),
    }


def training_metadata(
    fingerprints: Sequence[DataFingerprint], params: RankerParams, seed: int
) -> Mapping[str, Any]:
    """How a model was made: method, label, seed, parameters, data hashes, library versions."""
    return {
        "method": METHOD_DESCRIPTION,
        "label": LABEL_DESCRIPTION,
        "seed": seed,
        "params": asdict(params),
        "data": [asdict(fingerprint) for fingerprint in fingerprints],
        "sklearn_version": version("scikit-learn"),
        "numpy_version": np.__version__,
    }


def fit_subset(
    data: TrainingData,
    mask: npt.NDArray[np.bool_],
    *,
    seed: int = 0,
    params: RankerParams | None = None,
) -> AnalyzerModel:
    """A model fit on the rows of `data` where `mask` is true (for hold-out experiments).

    Its training record lists the full data files and, under `rows_used`, how many rows of
    each set it saw.
    """
    params = params or RankerParams()
    fitted = _fit(data, mask, params, seed)
    labels = np.asarray(data.groups)
    training = dict(training_metadata(data.fingerprints, params, seed))
    training["rows_used"] = {name: int((mask & (labels == name)).sum()) for name in DATASET_NAMES}
    return make_model(fitted.features, fitted.intercept, training=training)


def build_model(
    data_dir: Path,
    *,
    seed: int = 0,
    params: RankerParams | None = None,
    progress: bool = False,
    with_metrics: bool = True,
) -> AnalyzerModel:
    """Train on every row under `data_dir`; deterministic for a given seed and environment."""
    params = params or RankerParams()
    data = load_training_data(data_dir, progress=progress)
    everything = np.ones(len(data.prompts), dtype=bool)
    fitted = _fit(data, everything, params, seed)
    metrics: dict[str, Any] = {"training_scores": score_distribution(fitted, data)}
    if with_metrics:
        metrics.update(holdout_metrics(data, params, seed, progress=progress))
    return make_model(
        fitted.features,
        fitted.intercept,
        training=training_metadata(data.fingerprints, params, seed),
        metrics=metrics,
    )
