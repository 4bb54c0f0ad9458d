"""Variants of the learnable text analyzer's fit, on the learning curve's held-out rows.

    .venv/bin/python bench/text_analyzer_variants.py [--data-dir ../shared/data] [--k 1000]
        [--seeds 3] [--pairs llama,gemini] [--labels benefit,gain] [--only NAME ...]

Same split and draws as `bench/learning_curve.py` (25 % of each MMLU-Pro pair's rows held
out, seed 0; k training rows drawn from the rest, draws 0..seeds-1); only the training rows
are used to fit or choose anything. Each cell is the mean held-out APGR over the draws.

- `shipped`: `fit_text_model` as `train --data` runs it (C = 0.5, category rates);
- `refit`: this script's re-implementation of the same fit (the base of the variants below;
  it should match `shipped` closely);
- `cv C`: C chosen by 5-fold cross-validated log loss on the k training rows only (grid
  0.03, 0.1, 0.3, 1, 3);
- `balanced`: positive and negative weight balanced;
- `prior^2`: plus the squared prior logit (the benefit of a strong model peaks at middle
  difficulty, which a linear term cannot express);
- `char 3-5`: character 3-5-grams within word boundaries (scikit-learn `HashingVectorizer`,
  2^18 buckets) instead of the word uni/bigrams;
- `words+char`: both;
- `category+source`: the category rate keyed by MMLU-Pro `category` and `source`
  (stemez / theoremQA / scibench) together;
- `no category`: no category column (only the text, length and prior).

Writes nothing; prints one table. docs/analyzer.md, *Learning curve*, cites it.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from learning_curve import MMLU_PAIRS, PAIR_NAMES, draw, relabel, route_apgr, split
from tabulate import tabulate

from agent_routing.analyzer import ComplexityAnalyzer
from agent_routing.analyzer import _text_training as tt
from agent_routing.analyzer._datasets import MMLU_PRO, load_dataset
from agent_routing.analyzer._text import DEFAULT_BITS
from agent_routing.protocols import AnalysisRequest

VARIANTS = (
    "shipped", "refit", "cv C", "balanced", "prior^2", "char 3-5", "words+char",
    "category+source", "no category",
)  # fmt: skip
C_GRID = (0.03, 0.1, 0.3, 1.0, 3.0)


def fit(matrix: Any, labels: Any, c: float, balanced: bool = False) -> Any:
    """L2 logistic regression on soft labels (each row a weighted positive and negative)."""
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression

    stacked = sparse.vstack([matrix, matrix]).tocsr()
    targets = np.r_[np.ones(len(labels)), np.zeros(len(labels))]
    weights = np.r_[labels, 1.0 - labels]
    if balanced:
        positive = labels.sum()
        negative = len(labels) - positive
        half = len(labels) / 2.0
        weights = np.r_[labels * half / positive, (1.0 - labels) * half / negative]
    keep = weights > 0
    model = LogisticRegression(C=c, max_iter=2000)
    return model.fit(stacked[keep], targets[keep], sample_weight=weights[keep])


def cv_c(matrix: Any, labels: Any) -> float:
    """The C of C_GRID with the lowest 5-fold log loss on these (training) rows."""
    folds = np.random.default_rng(0).permutation(len(labels)) % 5
    losses = []
    for c in C_GRID:
        loss = 0.0
        for fold in range(5):
            train, test = folds != fold, folds == fold
            p = fit(matrix[train], labels[train], c).predict_proba(matrix[test])[:, 1]
            p = p.clip(1e-9, 1 - 1e-9)
            loss -= float((labels[test] * np.log(p) + (1 - labels[test]) * np.log(1 - p)).sum())
        losses.append(loss)
    return C_GRID[int(np.argmin(losses))]


def design(
    rows: Sequence[tt.TextRow], text: Any, train: Any, test: Any, labels: Any, squared: bool
) -> tuple[Any, Any]:
    """(training, held-out) matrices: text columns and standardised dense columns, the
    category rates out of fold on the training rows (as `fit_text_model` does)."""
    from scipy import sparse

    train_rows = [relabel(rows[i], float(labels[i])) for i in train]
    dense_train = tt._out_of_fold_dense(train_rows, 0)
    rates, defaults = tt.category_rates(train_rows)
    dense_test = tt._dense_matrix([rows[i] for i in test], rates, defaults)
    if squared:
        dense_train = np.hstack([dense_train, dense_train[:, :1] ** 2])
        dense_test = np.hstack([dense_test, dense_test[:, :1] ** 2])
    mean, scale = dense_train.mean(0), dense_train.std(0)
    scale[scale < 1e-9] = 1.0
    return (
        sparse.hstack([text[train], sparse.csr_matrix((dense_train - mean) / scale)]).tocsr(),
        sparse.hstack([text[test], sparse.csr_matrix((dense_test - mean) / scale)]).tocsr(),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Print mean held-out APGR per variant, pair and label."""
    from scipy import sparse
    from sklearn.feature_extraction.text import HashingVectorizer

    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--k", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--pairs", default=",".join(MMLU_PAIRS))
    parser.add_argument("--labels", default="benefit,gain")
    parser.add_argument("--only", nargs="*", default=list(VARIANTS), choices=VARIANTS)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    prompts, _ = load_dataset(args.data_dir, MMLU_PRO)
    path = args.data_dir / "mmlu_pro_multimodel" / "mmlu_pro_non_mmlu_multimodel.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        source = {r["id"]: r["source"].split("-")[0] for r in csv.DictReader(handle)}
    prior = ComplexityAnalyzer()
    categories = {
        "category": [p.category for p in prompts],
        "category+source": [f"{p.category}|{source[p.item_id]}" for p in prompts],
        "no category": [""] * len(prompts),
    }
    rows = {
        key: [
            tt.row_from_request(AnalysisRequest(prompt=p.prompt, category=c), 0.0, prior)
            for p, c in zip(prompts, values, strict=True)
        ]
        for key, values in categories.items()
        if key == "category" or key in args.only
    }
    words = tt._sparse_text(rows["category"], DEFAULT_BITS)
    chars = HashingVectorizer(
        analyzer="char_wb", ngram_range=(3, 5), n_features=1 << 18, alternate_sign=False
    ).transform([p.prompt for p in prompts])
    texts = {"words": words, "chars": chars, "both": sparse.hstack([words, chars]).tocsr()}
    table = []
    for pair in args.pairs.split(","):
        weak_key, strong_key = MMLU_PAIRS[pair]
        usable = np.array(
            [
                i
                for i, p in enumerate(prompts)
                if weak_key in p.outcomes and strong_key in p.outcomes
            ]
        )
        weak = np.array([p.outcomes.get(weak_key, 0.0) for p in prompts])
        strong = np.array([p.outcomes.get(strong_key, 0.0) for p in prompts])
        test_pos, pool_pos = split(len(usable), 0)
        test, pool = usable[test_pos], usable[pool_pos]
        for label in args.labels.split(","):
            label_of = tt.LABELS[label][0]
            labels = np.array([label_of(w, s) for w, s in zip(weak, strong, strict=True)])
            for variant in args.only:
                values, chosen_cs = [], []
                for index in range(args.seeds):
                    chosen = draw(pool, args.k, index)
                    if variant == "shipped":
                        model = tt.fit_text_model(
                            [relabel(rows["category"][i], float(labels[i])) for i in chosen],
                            seed=index,
                        )
                        scores = tt.score_rows(model, [rows["category"][i] for i in test])
                        values.append(route_apgr(scores, weak[test], strong[test]))
                        continue
                    key = variant if variant in categories else "category"
                    text = {"char 3-5": "chars", "words+char": "both"}.get(variant, "words")
                    train_x, test_x = design(
                        rows[key], texts[text], chosen, test, labels, variant == "prior^2"
                    )
                    c = cv_c(train_x, labels[chosen]) if variant == "cv C" else tt.DEFAULT_C
                    chosen_cs.append(c)
                    model = fit(train_x, labels[chosen], c, balanced=variant == "balanced")
                    scores = model.decision_function(test_x)
                    values.append(route_apgr(scores, weak[test], strong[test]))
                note = f" (C {', '.join(map(str, chosen_cs))})" if variant == "cv C" else ""
                table.append(
                    [PAIR_NAMES[pair], label, variant + note, f"{np.mean(values):.3f}",
                     " / ".join(f"{v:.3f}" for v in values)]
                )  # fmt: skip
                print(" | ".join(table[-1]), flush=True, file=sys.stderr)
    print(
        tabulate(
            table,
            ["pair", "label", "variant", f"APGR mean, k = {args.k:,}", "draws"],
            tablefmt="github",
            disable_numparse=True,
        )
    )
    print(f"\n{time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
