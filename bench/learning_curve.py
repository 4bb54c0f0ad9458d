"""Learning curve: how much of the user's own data the learnable text analyzer needs.

    .venv/bin/python bench/learning_curve.py [--data-dir ../shared/data] [--seeds 3]
        [--ks 100,300,1000,3000] [--quick]

For each shared set, whole rows are held out first (25 %, seeded; the text model never sees
them), then the learnable text analyzer (`router.analyzer: text`, fit exactly as
`agent-routing train --data FILE` fits it) is trained on k rows drawn from the rest, for each
k, over `--seeds` draws. In the same run and on the same held-out rows it prints:

- **text**: the learnable analyzer trained on k rows (mean over draws, [min, max]);
- **features**: the shipped feature model (the prior; it never sees these sets' labels);
- **length**: the prompt's token count;
- **random**: 0.5 by construction (APGR of the expected straight line).

Sets and labels (see each folder's README under the data directory):

- MMLU-Pro (knowledge, 5,207 rows): APGR for Llama-3.1-8B -> 70B and gemini-1.5-flash ->
  pro, 0/1 outcomes; the training label is the benefit of that pair (strong right, weak
  wrong); the file's `category` column is the training file's optional `category`.
- MMLU-Pro maths rows (category `math`, 496 rows): the held-out maths rows of the same
  split, scored by the same models (the only maths prompts here with per-model outcomes).
- MATH (competition maths, 4,998 rows): **no per-model outcomes**, so no APGR. The text
  model is trained on the soft label (level - 1) / 4 and scored by the Spearman correlation
  with the level on held-out rows.
- EvalPerf code (118 rows): APGR for gpt-4o-mini -> gpt-4o (pass@1, soft benefit label);
  only k = 88 fits (30 held out), so treat it as an anecdote.

No RouteLLM / RouterBench / RouterArena evaluation set is read; nothing is tuned on them.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent_routing.analyzer import ComplexityAnalyzer
from agent_routing.analyzer._datasets import CODE, MATH, MMLU_PRO, LabelledPrompt, load_dataset
from agent_routing.analyzer._text_training import (
    TextRow,
    benefit_label,
    fit_text_model,
    row_from_request,
    score_rows,
)
from agent_routing.cli._common import format_table
from agent_routing.evaluation import apgr, length_scores, spearman, sweep
from agent_routing.protocols import AnalysisRequest

FloatArray = npt.NDArray[np.float64]
TEST_FRACTION = 0.25
MMLU_PAIRS = (
    ("Llama-3.1-8B-Instruct", "Llama-3.1-70B-Instruct"),
    ("gemini-1.5-flash-002", "gemini-1.5-pro-002"),
)
CODE_PAIR = ("gpt-4o-mini-2024-07-18", "gpt-4o-2024-08-06")


@dataclass(frozen=True)
class Prepared:
    """A set's prompts with the prior's score, prompt length and a training row skeleton."""

    prompts: list[LabelledPrompt]
    base_rows: list[TextRow]  # label filled per task
    prior: FloatArray
    length: FloatArray


def prepare(prompts: list[LabelledPrompt], prior: ComplexityAnalyzer) -> Prepared:
    """Analyse every prompt once (the text rows do not depend on the label)."""
    rows = [
        row_from_request(AnalysisRequest(prompt=p.prompt, category=p.category), 0.0, prior)
        for p in prompts
    ]
    scores = np.array([1 / (1 + math.exp(-r.prior_logit)) for r in rows])
    return Prepared(prompts, rows, scores, length_scores([p.prompt for p in prompts]))


def relabel(row: TextRow, label: float) -> TextRow:
    """`row` with another label."""
    return TextRow(row.counts, row.prior_logit, row.prompt_tokens_log, row.categories, label)


def route_apgr(scores: FloatArray, weak: FloatArray, strong: FloatArray) -> float:
    """APGR of routing by `scores` (RouteLLM's ten-quantile sweep)."""
    return apgr(sweep(scores, weak, strong), float(weak.mean()), float(strong.mean()))


def split(count: int, seed: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(held-out rows, training pool), whole rows, seeded."""
    order = np.random.default_rng(seed).permutation(count)
    cut = round(count * TEST_FRACTION)
    return np.sort(order[:cut]), order[cut:]


def curve_rows(
    label: str,
    data: Prepared,
    usable: npt.NDArray[np.int64],
    labels: FloatArray,
    metric: str,
    ks: Sequence[int],
    seeds: int,
    *,
    evaluate: dict[str, tuple[npt.NDArray[np.int64], FloatArray, FloatArray]] | None = None,
    level: FloatArray | None = None,
) -> list[list[str]]:
    """One table row per (evaluation slice, k)."""
    test_pos, pool_pos = split(len(usable), 0)
    test, pool = usable[test_pos], usable[pool_pos]
    slices = evaluate or {label: (test, np.zeros(0), np.zeros(0))}
    out: list[list[str]] = []
    results: dict[tuple[str, int], list[float]] = {}
    for k in ks:
        if k > len(pool):
            continue
        for draw in range(seeds):
            chosen = np.random.default_rng(1000 + draw).permutation(pool)[:k]
            rows = [relabel(data.base_rows[i], float(labels[i])) for i in chosen]
            model = fit_text_model(rows, seed=draw)
            for name, (rows_idx, weak, strong) in slices.items():
                scores = score_rows(model, [data.base_rows[i] for i in rows_idx])
                if metric == "apgr":
                    value = route_apgr(scores, weak, strong)
                else:
                    assert level is not None
                    value = spearman(scores, level[rows_idx])
                results.setdefault((name, k), []).append(value)
    for name, (rows_idx, weak, strong) in slices.items():
        if metric == "apgr":
            baseline_feat = route_apgr(data.prior[rows_idx], weak, strong)
            baseline_len = route_apgr(data.length[rows_idx], weak, strong)
            random_value = "0.500"
        else:
            assert level is not None
            baseline_feat = spearman(data.prior[rows_idx], level[rows_idx])
            baseline_len = spearman(data.length[rows_idx], level[rows_idx])
            random_value = "0.000"
        for k in ks:
            values = results.get((name, k))
            if not values:
                continue
            out.append(
                [
                    name,
                    metric,
                    str(len(rows_idx)),
                    f"{k:,}",
                    f"**{np.mean(values):.3f}** [{min(values):.3f}, {max(values):.3f}]",
                    f"{baseline_feat:.3f}",
                    f"{baseline_len:.3f}",
                    random_value,
                ]
            )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run every set and print one table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--ks", default="100,300,1000,3000")
    parser.add_argument("--quick", action="store_true", help="one draw, k = 100 and 1000")
    args = parser.parse_args(argv)
    ks = [100, 1000] if args.quick else [int(k) for k in args.ks.split(",")]
    seeds = 1 if args.quick else args.seeds
    started = time.perf_counter()
    prior = ComplexityAnalyzer()
    table: list[list[str]] = []

    mmlu, _ = load_dataset(args.data_dir, MMLU_PRO)
    data = prepare(mmlu, prior)
    for weak_key, strong_key in MMLU_PAIRS:
        usable = np.array(
            [i for i, p in enumerate(mmlu) if weak_key in p.outcomes and strong_key in p.outcomes]
        )
        weak = np.array([p.outcomes.get(weak_key, 0.0) for p in mmlu])
        strong = np.array([p.outcomes.get(strong_key, 0.0) for p in mmlu])
        labels = np.array([benefit_label(w, s) for w, s in zip(weak, strong, strict=True)])
        test = usable[split(len(usable), 0)[0]]
        maths = np.array([i for i in test if mmlu[i].category == "math"])
        pair = f"{weak_key} -> {strong_key}"
        slices = {
            f"MMLU-Pro {pair}": (test, weak[test], strong[test]),
            f"MMLU-Pro maths rows {pair}": (maths, weak[maths], strong[maths]),
        }
        table += curve_rows(pair, data, usable, labels, "apgr", ks, seeds, evaluate=slices)

    math_prompts, _ = load_dataset(args.data_dir, MATH)
    math_data = prepare(math_prompts, prior)
    level = np.array([p.difficulty for p in math_prompts])
    everything = np.arange(len(math_prompts))
    table += curve_rows(
        "MATH (level, no outcomes)", math_data, everything, level, "spearman", ks, seeds,
        level=level,
    )  # fmt: skip

    code, _ = load_dataset(args.data_dir, CODE)
    code_data = prepare(code, prior)
    weak = np.array([p.outcomes[CODE_PAIR[0]] for p in code])
    strong = np.array([p.outcomes[CODE_PAIR[1]] for p in code])
    labels = np.array([benefit_label(w, s) for w, s in zip(weak, strong, strict=True)])
    usable = np.arange(len(code))
    test = usable[split(len(usable), 0)[0]]
    name = f"code {CODE_PAIR[0]} -> {CODE_PAIR[1]}"
    table += curve_rows(
        name, code_data, usable, labels, "apgr", [88], seeds,
        evaluate={name: (test, weak[test], strong[test])},
    )  # fmt: skip

    print(
        format_table(
            [
                "held-out rows",
                "metric",
                "rows",
                "k",
                "text (mean [min, max])",
                "features",
                "length",
                "random",
            ],
            table,
        )
    )
    print(f"\n{seeds} draw(s) per k; {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
