"""Learning curve: how much of the user's own data the learnable text analyzer needs.

    .venv/bin/python bench/learning_curve.py [--data-dir ../shared/data] [--seeds 3]
        [--ks 100,300,1000,3000] [--pairs llama,gemini] [--labels gain,benefit]
        [--boot 500] [--skip-math] [--skip-code] [--quick]

Whole rows are held out first (25 %, seeded; no text model ever sees them), then the
learnable text analyzer (`router.analyzer: text`, fit exactly as `agent-routing train
--data FILE` fits it: same features, C, category rates) is trained on k rows drawn from the
rest, for each k, over `--seeds` draws. In the same run and on the same held-out rows it
prints:

- **text**: the text analyzer trained on k rows, per training label (`gain`, what
  `train --data` fits, and `benefit`, the label of the first version): the mean over draws
  [min, max of the draws] and a 95 % bootstrap interval of that mean over the held-out rows
  (`--boot` resamples; the same resample for every draw), so a reader sees which
  differences are noise;
- **features**: the shipped feature model (the prior; trained on these sets' prompts with a
  difficulty label, never with a pair's outcomes, so in-sample and favoured), with interval;
- **length**: the prompt's token count, with interval;
- **random**: 0.5 by construction (APGR of the expected straight line).

Sets and labels (see each folder's README under the data directory):

- MMLU-Pro (knowledge, 5,207 rows): APGR for Llama-3.1-8B -> 70B and gemini-1.5-flash ->
  pro (0/1 outcomes); the file's `category` column is the training file's `category`.
- MMLU-Pro maths rows (category `math`, 496 rows): too few for a 25 % hold-out (about 120
  rows), so they are scored **out of fold**: the usable rows are cut into 4 folds (whole
  rows), and each fold's maths rows are scored by a model fit on k rows of the other three;
  the 496 out-of-fold scores make one curve. The strong-minus-weak gap is printed with its
  interval; where that interval holds 0 the strong model is not measurably better on these
  rows and APGR (a share of that gap) is not scored.
- MATH (competition maths, 4,998 rows): no per-model outcomes, so no APGR: the text model is
  trained on the soft label (level - 1) / 4 and scored by the Spearman correlation with the
  level on held-out rows.
- EvalPerf code (118 rows): APGR for gpt-4o-mini -> gpt-4o (pass@1, soft labels); only
  k = 88 fits (30 held out), so treat it as an anecdote.

Then, per MMLU-Pro pair, **why** a pair is or is not learnable (held-out rows): how many rows
the strong model wins / loses / ties, APGR of the oracle (knows strong - weak), of the
share of the other 8 models that fail the question (difficulty), and of a logistic
regression on the other 8 models' outcomes fit on the training pool (information no text
model has: a ceiling for any difficulty-like predictor), and the strong model's win and
loss rates by difficulty quintile.

No RouteLLM / RouterBench / RouterArena evaluation set is read; nothing is tuned on the
held-out rows (C is the shipped default, fixed before these runs).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tabulate import tabulate

from agent_routing.analyzer import ComplexityAnalyzer
from agent_routing.analyzer._datasets import CODE, MATH, MMLU_PRO, LabelledPrompt, load_dataset
from agent_routing.analyzer._text_training import (
    LABELS,
    TextRow,
    fit_text_model,
    row_from_request,
    score_rows,
)
from agent_routing.evaluation import apgr, length_scores, spearman, sweep
from agent_routing.protocols import AnalysisRequest

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
TEST_FRACTION = 0.25
MATHS_FOLDS = 4
MMLU_PAIRS = {
    "llama": ("Llama-3.1-8B-Instruct", "Llama-3.1-70B-Instruct"),
    "gemini": ("gemini-1.5-flash-002", "gemini-1.5-pro-002"),
}
PAIR_NAMES = {"llama": "Llama-3.1-8B -> 70B", "gemini": "gemini-1.5-flash -> pro"}
CODE_PAIR = ("gpt-4o-mini-2024-07-18", "gpt-4o-2024-08-06")
HEADERS = [
    "held-out rows", "label", "rows", "k", "text: mean [draws]", "95 % CI",
    "features [95 % CI]", "length [95 % CI]", "random",
]  # fmt: skip


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
    return replace(row, label=label)


def route_apgr(scores: FloatArray, weak: FloatArray, strong: FloatArray) -> float:
    """APGR of routing by `scores` (RouteLLM's ten-quantile sweep)."""
    return apgr(sweep(scores, weak, strong), float(weak.mean()), float(strong.mean()))


def split(count: int, seed: int) -> tuple[IntArray, IntArray]:
    """(held-out rows, training pool), whole rows, seeded."""
    order = np.random.default_rng(seed).permutation(count)
    cut = round(count * TEST_FRACTION)
    return np.sort(order[:cut]), order[cut:]


class Bootstrap:
    """Resamples of held-out rows (fixed per slice, so every router sees the same ones)."""

    def __init__(self, rows: int, resamples: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.samples = [rng.integers(0, rows, rows) for _ in range(resamples)]

    def interval(
        self, metric: Callable[[IntArray], float | None], level: float = 0.95
    ) -> tuple[float, float]:
        """The percentile interval of `metric` over the resamples (None results skipped)."""
        values = [v for v in (metric(s) for s in self.samples) if v is not None]
        if not values:
            return float("nan"), float("nan")
        tail = (1.0 - level) / 2.0 * 100.0
        low, high = np.percentile(values, [tail, 100.0 - tail])
        return float(low), float(high)

    def apgr(self, scores: Sequence[FloatArray], weak: FloatArray, strong: FloatArray) -> str:
        """`[low, high]` of the mean APGR of `scores` (one array per draw)."""

        def mean_apgr(rows: IntArray) -> float | None:
            if weak[rows].mean() == strong[rows].mean():
                return None
            return float(np.mean([route_apgr(s[rows], weak[rows], strong[rows]) for s in scores]))

        low, high = self.interval(mean_apgr)
        return f"[{low:.3f}, {high:.3f}]"


def with_ci(value: float, interval: str) -> str:
    """`0.532 [0.478, 0.584]`."""
    return f"{value:.3f} {interval}"


def fit_scores(
    data: Prepared, labels: FloatArray, chosen: IntArray, score_idx: IntArray, seed: int
) -> FloatArray:
    """Scores of `score_idx` by a text model fit on rows `chosen` with `labels`."""
    model = fit_text_model(
        [relabel(data.base_rows[i], float(labels[i])) for i in chosen], seed=seed
    )
    return score_rows(model, [data.base_rows[i] for i in score_idx])


def draw(pool: IntArray, k: int, index: int) -> IntArray:
    """The `index`-th seeded draw of k training rows from `pool`."""
    return np.random.default_rng(1000 + index).permutation(pool)[:k]


def pair_rows(
    name: str,
    data: Prepared,
    usable: IntArray,
    weak: FloatArray,
    strong: FloatArray,
    label_names: Sequence[str],
    ks: Sequence[int],
    seeds: int,
    boot: int,
) -> list[list[str]]:
    """The learning-curve rows of one MMLU-Pro pair (held-out 25 %)."""
    test_pos, pool_pos = split(len(usable), 0)
    test, pool = usable[test_pos], usable[pool_pos]
    w, s = weak[test], strong[test]
    resample = Bootstrap(len(test), boot)
    features = with_ci(route_apgr(data.prior[test], w, s), resample.apgr([data.prior[test]], w, s))
    length = with_ci(route_apgr(data.length[test], w, s), resample.apgr([data.length[test]], w, s))
    out: list[list[str]] = []
    for label_name in label_names:
        label_of = LABELS[label_name][0]
        labels = np.array([label_of(a, b) for a, b in zip(weak, strong, strict=True)])
        for k in ks:
            if k > len(pool):
                continue
            scores = [fit_scores(data, labels, draw(pool, k, i), test, i) for i in range(seeds)]
            values = [route_apgr(x, w, s) for x in scores]
            out.append(
                [
                    name,
                    label_name,
                    f"{len(test):,}",
                    f"{k:,}",
                    f"**{np.mean(values):.3f}** [{min(values):.3f}, {max(values):.3f}]",
                    resample.apgr(scores, w, s),
                    features,
                    length,
                    "0.500",
                ]
            )
    return out


def maths_rows(
    name: str,
    data: Prepared,
    usable: IntArray,
    weak: FloatArray,
    strong: FloatArray,
    ks: Sequence[int],
    boot: int,
) -> list[list[str]]:
    """MMLU-Pro maths rows scored out of fold (see the module docstring); `gain` label."""
    folds = np.random.default_rng(0).permutation(len(usable)) % MATHS_FOLDS
    is_maths = np.array([data.prompts[i].category == "math" for i in usable])
    maths = usable[is_maths]
    w, s = weak[maths], strong[maths]
    resample = Bootstrap(len(maths), boot)
    gap_low, gap_high = resample.interval(lambda r: float(s[r].mean() - w[r].mean()))
    gap = f"gap {s.mean() - w.mean():+.3f} [{gap_low:+.3f}, {gap_high:+.3f}]"
    if gap_low <= 0.0 <= gap_high:
        note = f"n/a: {gap}, holds 0"
        return [[name, "gain", f"{len(maths):,}", "-", note, "-", "-", "-", "0.500"]]
    label_of = LABELS["gain"][0]
    labels = np.array([label_of(a, b) for a, b in zip(weak, strong, strict=True)])
    features = with_ci(
        route_apgr(data.prior[maths], w, s), resample.apgr([data.prior[maths]], w, s)
    )
    length = with_ci(
        route_apgr(data.length[maths], w, s), resample.apgr([data.length[maths]], w, s)
    )
    out: list[list[str]] = []
    for k in ks:
        if k > int((folds != 0).sum()):
            continue
        scores = np.empty(len(maths))
        for fold in range(MATHS_FOLDS):
            held = folds[is_maths] == fold
            pool = usable[folds != fold]
            scores[held] = fit_scores(data, labels, draw(pool, k, fold), maths[held], fold)
        out.append(
            [
                f"{name} ({gap})",
                "gain",
                f"{len(maths):,}",
                f"{k:,}",
                f"**{route_apgr(scores, w, s):.3f}** (out of fold)",
                resample.apgr([scores], w, s),
                features,
                length,
                "0.500",
            ]
        )
    return out


def diagnosis(
    name: str,
    data: Prepared,
    usable: IntArray,
    weak_key: str,
    strong_key: str,
    boot: int,
) -> list[str]:
    """Why this pair is (not) learnable, on its held-out rows (see the module docstring)."""
    from sklearn.linear_model import LogisticRegression

    prompts = data.prompts
    weak = np.array([p.outcomes.get(weak_key, 0.0) for p in prompts])
    strong = np.array([p.outcomes.get(strong_key, 0.0) for p in prompts])
    test_pos, pool_pos = split(len(usable), 0)
    test, pool = usable[test_pos], usable[pool_pos]
    w, s = weak[test], strong[test]
    resample = Bootstrap(len(test), boot)
    others = sorted({m for p in prompts for m in p.outcomes} - {weak_key, strong_key})
    outcomes = np.array([[p.outcomes.get(m, 0.5) for m in others] for p in prompts])
    difficulty = 1.0 - outcomes.mean(axis=1)
    gain = (strong - weak + 1.0) / 2.0
    stacked = np.vstack([outcomes[pool], outcomes[pool]])
    targets = np.concatenate([np.ones(len(pool)), np.zeros(len(pool))])
    weights = np.concatenate([gain[pool], 1.0 - gain[pool]])
    keep = weights > 0
    ceiling = LogisticRegression(C=1.0, max_iter=1000)
    ceiling.fit(stacked[keep], targets[keep], sample_weight=weights[keep])
    informed = ceiling.decision_function(outcomes[test])
    tiebreak = np.random.default_rng(0).random(len(test)) * 1e-9
    oracle = s - w + tiebreak
    wins, losses = int(((s == 1) & (w == 0)).sum()), int(((s == 0) & (w == 1)).sum())
    cuts = np.quantile(difficulty[usable], np.linspace(0.0, 1.0, 6)[1:-1])
    quintile = np.digitize(difficulty[test], cuts)
    win_rate = [float(((s == 1) & (w == 0))[quintile == q].mean()) for q in range(5)]
    loss_rate = [float(((s == 0) & (w == 1))[quintile == q].mean()) for q in range(5)]
    return [
        f"{name}: {len(test):,} held-out rows, weak {w.mean():.3f}, strong {s.mean():.3f}; "
        f"strong wins {wins} ({wins / len(test):.1%}), loses {losses} "
        f"({losses / len(test):.1%}), ties {len(test) - wins - losses}",
        f"  oracle (knows strong - weak): APGR {route_apgr(oracle, w, s):.3f}",
        f"  difficulty (share of the other {len(others)} models wrong): APGR "
        f"{with_ci(route_apgr(difficulty[test], w, s), resample.apgr([difficulty[test]], w, s))}",
        f"  logistic regression on the other {len(others)} models' outcomes (fit on the "
        f"{len(pool):,} pool rows, gain label): APGR "
        f"{with_ci(route_apgr(informed, w, s), resample.apgr([informed], w, s))}",
        "  by difficulty quintile (easiest first): strong wins "
        + " / ".join(f"{v:.0%}" for v in win_rate)
        + "; strong loses "
        + " / ".join(f"{v:.0%}" for v in loss_rate),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Run every set and print one table, then the per-pair diagnosis."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--ks", default="100,300,1000,3000")
    parser.add_argument("--pairs", default=",".join(MMLU_PAIRS))
    parser.add_argument("--labels", default="gain,benefit")
    parser.add_argument("--boot", type=int, default=500, help="bootstrap resamples")
    parser.add_argument("--skip-math", action="store_true", help="no MATH Spearman rows")
    parser.add_argument("--skip-code", action="store_true", help="no code rows")
    parser.add_argument("--quick", action="store_true", help="one draw, k = 100 and 1000")
    args = parser.parse_args(argv)
    ks = [100, 1000] if args.quick else [int(k) for k in args.ks.split(",")]
    seeds = 1 if args.quick else args.seeds
    boot = 100 if args.quick else args.boot
    label_names = [name for name in args.labels.split(",") if name]
    unknown = [name for name in label_names if name not in LABELS]
    pairs = [name for name in args.pairs.split(",") if name]
    unknown += [name for name in pairs if name not in MMLU_PAIRS]
    if unknown:
        parser.error(f"unknown label or pair: {', '.join(unknown)}")
    started = time.perf_counter()
    prior = ComplexityAnalyzer()
    table: list[list[str]] = []
    notes: list[str] = []

    mmlu, _ = load_dataset(args.data_dir, MMLU_PRO)
    data = prepare(mmlu, prior)
    for pair in pairs:
        weak_key, strong_key = MMLU_PAIRS[pair]
        usable = np.array(
            [i for i, p in enumerate(mmlu) if weak_key in p.outcomes and strong_key in p.outcomes]
        )
        weak = np.array([p.outcomes.get(weak_key, 0.0) for p in mmlu])
        strong = np.array([p.outcomes.get(strong_key, 0.0) for p in mmlu])
        name = f"MMLU-Pro {PAIR_NAMES[pair]}"
        table += pair_rows(name, data, usable, weak, strong, label_names, ks, seeds, boot)
        maths_ks = [k for k in ks if k >= 300]
        table += maths_rows(
            f"MMLU-Pro maths {PAIR_NAMES[pair]}", data, usable, weak, strong, maths_ks, boot
        )
        notes += diagnosis(name, data, usable, weak_key, strong_key, boot)

    if not args.skip_math:
        math_prompts, _ = load_dataset(args.data_dir, MATH)
        math_data = prepare(math_prompts, prior)
        level = np.array([p.difficulty for p in math_prompts])
        test, pool = split(len(math_prompts), 0)
        for k in ks:
            values = []
            for index in range(seeds):
                scores = fit_scores(math_data, level, draw(pool, k, index), test, index)
                values.append(spearman(scores, level[test]) or 0.0)
            table.append(
                [
                    "MATH (no outcomes: Spearman with level)",
                    "level",
                    f"{len(test):,}",
                    f"{k:,}",
                    f"**{np.mean(values):.3f}** [{min(values):.3f}, {max(values):.3f}]",
                    "-",
                    f"{spearman(math_data.prior[test], level[test]) or 0.0:.3f}",
                    f"{spearman(math_data.length[test], level[test]) or 0.0:.3f}",
                    "0.000",
                ]
            )

    if not args.skip_code:
        code, _ = load_dataset(args.data_dir, CODE)
        code_data = prepare(code, prior)
        weak = np.array([p.outcomes[CODE_PAIR[0]] for p in code])
        strong = np.array([p.outcomes[CODE_PAIR[1]] for p in code])
        name = "code gpt-4o-mini -> gpt-4o"
        table += pair_rows(
            name, code_data, np.arange(len(code)), weak, strong, ["gain"], [88], seeds, boot
        )

    print(tabulate(table, HEADERS, tablefmt="github", disable_numparse=True))
    print(f"\n{seeds} draw(s) per k, {boot} bootstrap resamples of the held-out rows\n")
    print("\n".join(notes))
    print(f"\n{time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
