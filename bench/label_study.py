"""Which label and which constraints rank prompts best? The study behind the shipped recipe.

    .venv/bin/python bench/label_study.py [--quick] [--data-dir ../shared/data] [--seed 0]

For each variant, every row is scored by a ranker fit without it (5-fold, within each set,
as the `train` metrics), and the scores are evaluated as in `train`: Spearman with each
set's difficulty, and APGR of routing Llama-3.1-8B -> 70B and gemini-1.5-flash -> pro
(MMLU-Pro) and Llama-3.1-8B -> 70B (code). Then the same with each set left out entirely.

Variants (all: pairwise least squares on standardised text features, same pairs budget):

- `difficulty, signed` (shipped): difficulty label, weights held to their documented sign;
- `difficulty, free`: the same without sign constraints;
- `benefit, signed`: the family-pair benefit label (strong right where cheap wrong) for
  MMLU-Pro and code, MATH level for MATH;
- `length only`: the prompt-length baseline.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from agent_routing.analyzer._datasets import DATASET_NAMES
from agent_routing.analyzer._features import TEXT_FEATURES
from agent_routing.analyzer._pipeline import (
    FOLDS,
    TrainingData,
    dataset_metrics,
    load_training_data,
    sample_per_dataset,
)
from agent_routing.analyzer._priors import TEXT_DIRECTIONS
from agent_routing.analyzer._ranking import RankerParams, fit_ranker
from agent_routing.cli._common import format_table

Scorer = Callable[[TrainingData, np.ndarray, np.ndarray], np.ndarray]


def ranker(labels: np.ndarray, directions: Sequence[int], seed: int) -> Scorer:
    """A scorer fitting the pairwise ranker on the training rows, scoring the others."""

    def score(data: TrainingData, train: np.ndarray, test: np.ndarray) -> np.ndarray:
        matrix = data.text_matrix
        means = matrix[train].mean(axis=0)
        scales = matrix[train].std(axis=0)
        scales[scales == 0] = 1.0
        z = (matrix - means) / scales
        groups = [g for g, keep in zip(data.groups, train, strict=True) if keep]
        weights = fit_ranker(
            z[train], labels[train], groups, directions=directions, params=RankerParams(), seed=seed
        )
        return z[test] @ weights

    return score


def length_only(data: TrainingData, train: np.ndarray, test: np.ndarray) -> np.ndarray:
    """The prompt-length baseline (needs no training)."""
    del train
    return data.text_matrix[test, TEXT_FEATURES.index("prompt_tokens_log")]


def evaluate(data: TrainingData, scorer: Scorer, seed: int) -> dict[str, dict[str, float | None]]:
    """Row-level (5-fold) and leave-one-dataset-out figures for one scorer."""
    labels = np.asarray(data.groups)
    rng = np.random.default_rng(seed)
    folds = np.zeros(len(labels), dtype=int)
    for name in DATASET_NAMES:
        index = np.flatnonzero(labels == name)
        rng.shuffle(index)
        folds[index] = np.arange(len(index)) % FOLDS
    out_of_fold = np.zeros(len(labels))
    for fold in range(FOLDS):
        test = folds == fold
        out_of_fold[test] = scorer(data, ~test, test)
    left_out = np.zeros(len(labels))
    for name in DATASET_NAMES:
        test = labels == name
        left_out[test] = scorer(data, ~test, test)
    figures: dict[str, dict[str, float | None]] = {}
    for split, scores in (("rows", out_of_fold), ("lodo", left_out)):
        for name in DATASET_NAMES:
            for metric, value in dataset_metrics(scores, data.prompts, name).items():
                if metric != "rows" and "gpt-4o" not in metric:
                    figures.setdefault(f"{name}: {metric}", {})[split] = value
    return figures


def main(argv: list[str] | None = None) -> None:
    """Print one table: variants side by side, row-level / leave-one-dataset-out."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="600 rows per set")
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    data = load_training_data(args.data_dir)
    if args.quick:
        data = sample_per_dataset(data, 600, args.seed)
    difficulty = data.difficulty
    benefit = np.array([p.benefit if p.benefit is not None else p.difficulty for p in data.prompts])
    signed = [TEXT_DIRECTIONS[name] for name in TEXT_FEATURES]
    free = [0] * len(TEXT_FEATURES)
    variants: dict[str, Scorer] = {
        "difficulty, signed (shipped)": ranker(difficulty, signed, args.seed),
        "difficulty, free": ranker(difficulty, free, args.seed),
        "benefit, signed": ranker(benefit, signed, args.seed),
        "length only": length_only,
    }
    results = {name: evaluate(data, scorer, args.seed) for name, scorer in variants.items()}
    metrics = list(next(iter(results.values())))

    def cell(values: dict[str, float | None]) -> str:
        return " / ".join(
            "-" if values.get(s) is None else f"{values[s]:.3f}" for s in ("rows", "lodo")
        )

    rows = [[metric] + [cell(results[name][metric]) for name in variants] for metric in metrics]
    print("each cell: row-level 5-fold / leave-one-dataset-out")
    print(format_table(["metric", *variants], rows))


if __name__ == "__main__":
    main()
