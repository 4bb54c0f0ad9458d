"""Can a richer analyzer route better on held-out rows? Variants of the shipped recipe, compared.

    .venv/bin/python bench/analyzer_variants.py [--data-dir ../shared/data] [--seed 0]
        [--bootstrap 1000] [--only NAME ...]

Every variant is scored only on rows its fit never saw, on the same two hold-outs as
`bench/eval_heldout.py` (same seeded 25 % row split, and each set left out entirely), and
evaluated like `train`'s metrics: APGR of routing MMLU-Pro Llama-3.1-8B -> 70B and
gemini-1.5-flash -> pro, code Llama-3.1-8B -> 70B, and the Spearman correlation with the MATH
level. Beside each MMLU-Pro Llama APGR: the paired bootstrap 95 % interval of the variant's
difference from the shipped recipe (rows resampled, both scorers on the same resample).
To smooth out the luck of one split, the row-level Llama APGR is also given as the mean of
5-fold cross-validation over three fold seeds.

Variants (all: the shipped pairwise, sign-constrained ranker on the 22 text features, plus):

- `shipped`: nothing added (the baseline every difference is taken against);
- `shipped, 100k pairs`: five times the ranker's pair budget;
- `words df 300`: binary presence of the 300 words most frequent in the training rows
  (each feature would be named `word:<word>`), free sign, ridge penalty 30x the shipped one
  (the vocabulary is chosen on the training rows only, words of 2+ letters, 20+ prompts);
- `words corr 300`: the 300 words (of those in 20+ training prompts) most correlated with
  the within-set difficulty percentile on the training rows;
- `topics`: twelve hand-made subject lexicons (physics, chemistry, finance, law, ...) as
  `log1p` counts, free sign;
- `label 2pl`: the MMLU-Pro label replaced by a 2PL item-response difficulty fit to the ten
  models' outcomes of the training rows (penalised joint maximum likelihood);
- `label pair-irt`: a Rasch fit, and the MMLU-Pro label is the expected benefit of the two
  capable cheap -> strong pairs, sigma(t_s - d)(1 - sigma(t_w - d)), averaged: it peaks at
  middle difficulty, where the oracle orders below show the benefit is;
- `words df 300 + pair-irt` (and with a 300x penalty on words): both.

Also printed first: the APGR of *oracle* orders that use the other eight models' outcomes
(no text), the ceiling of a difficulty-style ranker for the Llama pair.

This script writes nothing; it prints one table. See docs/analyzer.md, "What we tried".
"""

from __future__ import annotations

import argparse
import math
import string
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agent_routing.analyzer._datasets import CODE, DATASET_NAMES, EVAL_PAIRS, MATH, MMLU_PRO
from agent_routing.analyzer._features import TEXT_FEATURES, _window
from agent_routing.analyzer._pipeline import TrainingData, load_training_data
from agent_routing.analyzer._priors import TEXT_DIRECTIONS
from agent_routing.analyzer._ranking import RankerParams, fit_ranker, within_group_percentile
from agent_routing.cli._common import format_table
from agent_routing.evaluation import apgr, spearman, sweep

LLAMA = EVAL_PAIRS[MMLU_PRO][0]
GEMINI = EVAL_PAIRS[MMLU_PRO][1]
CODE_LLAMA = EVAL_PAIRS[CODE][0]
_PUNCTUATION = str.maketrans(dict.fromkeys(string.punctuation, " "))

TOPICS: dict[str, str] = {
    "physics": "force velocity acceleration mass energy momentum wave frequency wavelength "
    "light lens optics electron photon charge field magnetic voltage current resistance",
    "chemistry": "mole moles molar reaction acid base ph solution gas compound atom atoms "
    "bond electrons equilibrium enthalpy entropy concentration oxidation",
    "thermo": "heat temperature pressure thermal thermodynamic steam kj btu fluid flow "
    "viscosity pipe",
    "finance": "interest rate loan price cost stock bond investment profit tax bank dollars "
    "payment discount annual",
    "economics": "demand supply market gdp inflation monetary fiscal elasticity consumer "
    "unemployment",
    "biology": "cell cells gene genes protein dna species organism enzyme chromosome "
    "evolution mutation",
    "psychology": "behavior memory cognitive child therapy psychologist personality learning "
    "emotion perception",
    "statistics": "probability random distribution variance mean sample expected normal deviation",
    "calculus": "integral derivative limit differential series function converge",
    "algebra": "matrix matrices vector eigenvalue group ring polynomial linear",
    "computing": "algorithm program bits bytes memory computer network binary",
    "circuits": "circuit signal transistor amplifier impedance capacitor inductor antenna",
}


def prompt_words(prompt: str) -> frozenset[str]:
    """The distinct words of the analyzer's window, as `text_features` splits them."""
    words = _window(prompt).lower().translate(_PUNCTUATION).split()
    return frozenset(w for w in words if not w[0].isdigit() and len(w) > 1)


@dataclass
class Split:
    """Which rows train a fit and which rows it scores."""

    train: np.ndarray
    test: np.ndarray


Scorer = Callable[[Split], np.ndarray]  # scores for every row (only test rows are used)


class Lab:
    """The data, the word sets and the fitted-on-train-only helpers every variant shares."""

    def __init__(self, data: TrainingData, seed: int) -> None:
        self.data = data
        self.seed = seed
        self.labels = np.asarray(data.groups)
        self.words = [prompt_words(p.prompt) for p in data.prompts]
        self.directions = [TEXT_DIRECTIONS[name] for name in TEXT_FEATURES]
        topic_sets = {name: frozenset(text.split()) for name, text in TOPICS.items()}
        self.topics = np.array(
            [[math.log1p(len(ws & t)) for t in topic_sets.values()] for ws in self.words]
        )

    def vocabulary(self, train: np.ndarray, size: int, how: str) -> list[str]:
        """`size` words chosen on the training rows only (by frequency or by correlation)."""
        df = Counter(w for i in np.flatnonzero(train) for w in self.words[i])
        candidates = sorted((w for w, n in df.items() if n >= 20), key=lambda w: (-df[w], w))
        if how == "df":
            return candidates[:size]
        rows = np.flatnonzero(train)
        target = within_group_percentile(
            self.data.difficulty[rows], [self.data.groups[i] for i in rows]
        )
        target = target - target.mean()
        matrix = self.word_matrix(candidates, rows)
        matrix = matrix - matrix.mean(axis=0)
        norm = np.sqrt((matrix**2).sum(axis=0) * (target**2).sum())
        corr = np.abs(matrix.T @ target) / np.where(norm == 0, 1, norm)
        order = np.lexsort((np.array(candidates), -corr))
        return [candidates[i] for i in order[:size]]

    def word_matrix(self, vocabulary: Sequence[str], rows: np.ndarray | None = None) -> np.ndarray:
        """Binary presence of each vocabulary word, for `rows` (default all)."""
        index = {w: j for j, w in enumerate(vocabulary)}
        rows = np.arange(len(self.words)) if rows is None else rows
        matrix = np.zeros((len(rows), len(vocabulary)))
        for r, i in enumerate(rows):
            for w in self.words[i]:
                j = index.get(w)
                if j is not None:
                    matrix[r, j] = 1.0
        return matrix

    def ranker(
        self,
        split: Split,
        label: np.ndarray,
        extra: np.ndarray | None = None,
        extra_alpha: float = 1.0,
        pairs: int = 20_000,
    ) -> np.ndarray:
        """Fit the shipped pairwise ranker (plus free-sign `extra` columns) on train rows."""
        matrix = self.data.text_matrix
        directions = list(self.directions)
        if extra is not None:
            matrix = np.column_stack([matrix, extra])
            directions += [0] * extra.shape[1]
        train = split.train
        means = matrix[train].mean(axis=0)
        scales = matrix[train].std(axis=0)
        scales[scales == 0] = 1.0
        z = (matrix - means) / scales
        # A larger penalty on the extra columns: shrink their scale (ridge alpha / factor^2).
        factor = np.ones(z.shape[1])
        if extra is not None:
            factor[len(TEXT_FEATURES) :] = math.sqrt(1.0 / extra_alpha)
        z = z * factor
        groups = [g for g, keep in zip(self.data.groups, train, strict=True) if keep]
        params = RankerParams(pairs_per_dataset=pairs)
        weights = fit_ranker(
            z[train], label[train], groups, directions=directions, params=params, seed=self.seed
        )
        return np.asarray(z @ weights)


def fit_irt(outcomes: np.ndarray, observed: np.ndarray, two_pl: bool) -> tuple[np.ndarray, ...]:
    """Joint maximum-likelihood (slightly penalised) Rasch or 2PL fit by gradient ascent.

    P(model j right on item i) = sigmoid(a_j * (theta_j - d_i)); Rasch holds a_j = 1.
    Returns (d per item, theta per model, a per model).
    """
    items, models = outcomes.shape
    d = np.zeros(items)
    theta = np.zeros(models)
    log_a = np.zeros(models)
    rate = 0.5
    for _ in range(3000):
        a = np.exp(log_a)
        eta = a[None, :] * (theta[None, :] - d[:, None])
        residual = (outcomes - 1.0 / (1.0 + np.exp(-eta))) * observed
        grad_theta = (residual * a[None, :]).sum(axis=0) / items - 0.01 * theta
        grad_d = -(residual * a[None, :]).sum(axis=1) / models - 0.05 * d
        theta += rate * grad_theta * 4
        d += rate * grad_d * 4
        if two_pl:
            grad_log_a = (residual * (theta[None, :] - d[:, None])).sum(axis=0) * a / items
            log_a = np.clip(log_a + 0.2 * rate * (grad_log_a - 0.1 * log_a), -1.5, 1.5)
    return d, theta, np.exp(log_a)


class IrtLabels:
    """MMLU-Pro labels from an item-response fit on the training rows' outcomes."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        rows = np.flatnonzero(lab.labels == MMLU_PRO)
        self.rows = rows
        self.models = sorted({m for i in rows for m in lab.data.prompts[i].outcomes})
        self.outcomes = np.zeros((len(rows), len(self.models)))
        self.observed = np.zeros((len(rows), len(self.models)))
        for r, i in enumerate(rows):
            for j, m in enumerate(self.models):
                if m in lab.data.prompts[i].outcomes:
                    self.outcomes[r, j] = lab.data.prompts[i].outcomes[m]
                    self.observed[r, j] = 1.0

    def label(self, train: np.ndarray, kind: str) -> np.ndarray:
        """The difficulty vector with MMLU-Pro training rows relabelled (others unchanged).

        Test rows keep their raw label; it is never used (the ranker sees train rows only).
        """
        label = self.lab.data.difficulty.copy()
        use = train[self.rows]
        if not use.any():
            return label
        d, theta, _ = fit_irt(self.outcomes[use], self.observed[use], two_pl=(kind == "2pl"))
        if kind == "2pl":
            label[self.rows[use]] = d
            return label
        position = {m: j for j, m in enumerate(self.models)}

        def p(model: str) -> np.ndarray:
            return np.asarray(1.0 / (1.0 + np.exp(-(theta[position[model]] - d))))

        benefit = np.mean([p(s) * (1 - p(w)) for w, s in (LLAMA, GEMINI)], axis=0)
        label[self.rows[use]] = benefit
        return label


def pair_apgr(
    scores: np.ndarray, rows: np.ndarray, data: TrainingData, pair: tuple[str, str]
) -> float:
    """APGR of routing `pair` on `rows` by `scores` (higher = strong), as `eval` computes it."""
    weak, strong = pair
    usable = [
        i for i in rows if weak in data.prompts[i].outcomes and strong in data.prompts[i].outcomes
    ]
    w = np.array([data.prompts[i].outcomes[weak] for i in usable])
    s = np.array([data.prompts[i].outcomes[strong] for i in usable])
    return apgr(sweep(scores[usable], w, s), float(w.mean()), float(s.mean()))


def paired_interval(
    variant: np.ndarray,
    base: np.ndarray,
    rows: np.ndarray,
    data: TrainingData,
    resamples: int,
    seed: int,
) -> tuple[float, float]:
    """95 % bootstrap interval of APGR(variant) - APGR(base) for Llama on `rows`."""
    weak, strong = LLAMA
    rows = np.array(
        [i for i in rows if weak in data.prompts[i].outcomes and strong in data.prompts[i].outcomes]
    )
    w = np.array([data.prompts[i].outcomes[weak] for i in rows])
    s = np.array([data.prompts[i].outcomes[strong] for i in rows])
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(resamples):
        pick = rng.integers(0, len(rows), len(rows))
        wm, sm = float(w[pick].mean()), float(s[pick].mean())
        if wm == sm:
            continue
        a = apgr(sweep(variant[rows][pick], w[pick], s[pick]), wm, sm)
        b = apgr(sweep(base[rows][pick], w[pick], s[pick]), wm, sm)
        diffs.append(a - b)
    return float(np.percentile(diffs, 2.5)), float(np.percentile(diffs, 97.5))


def heldout_split(lab: Lab) -> Split:
    """The 25 % row split of bench/eval_heldout.py (same seed, same order of draws)."""
    rng = np.random.default_rng(lab.seed)
    test = np.zeros(len(lab.labels), dtype=bool)
    for name in DATASET_NAMES:
        index = np.flatnonzero(lab.labels == name)
        rng.shuffle(index)
        test[index[: round(len(index) * 0.25)]] = True
    return Split(~test, test)


def cv_splits(lab: Lab, fold_seed: int, folds: int = 5) -> list[Split]:
    """5-fold splits balanced within each set."""
    rng = np.random.default_rng(fold_seed)
    fold = np.zeros(len(lab.labels), dtype=int)
    for name in DATASET_NAMES:
        index = np.flatnonzero(lab.labels == name)
        rng.shuffle(index)
        fold[index] = np.arange(len(index)) % folds
    return [Split(fold != k, fold == k) for k in range(folds)]


def variants(lab: Lab) -> dict[str, Scorer]:
    """Name -> scorer (fits on split.train only)."""
    difficulty = lab.data.difficulty
    irt = IrtLabels(lab)

    def words(size: int, how: str, alpha: float, label: str = "") -> Scorer:
        def score(split: Split) -> np.ndarray:
            vocab = lab.vocabulary(split.train, size, how)
            target = irt.label(split.train, label) if label else difficulty
            return lab.ranker(split, target, lab.word_matrix(vocab), alpha)

        return score

    found: dict[str, Scorer] = {
        "shipped": lambda split: lab.ranker(split, difficulty),
        "shipped, 100k pairs": lambda split: lab.ranker(split, difficulty, pairs=100_000),
        "words df 300": words(300, "df", 30.0),
        "words corr 300": words(300, "corr", 30.0),
        "words df 300 + pair-irt": words(300, "df", 30.0, "pair"),
        "words df 300 a300 + pair-irt": words(300, "df", 300.0, "pair"),
        "topics": lambda split: lab.ranker(split, difficulty, lab.topics, 1.0),
        "label 2pl": lambda split: lab.ranker(split, irt.label(split.train, "2pl")),
        "label pair-irt": lambda split: lab.ranker(split, irt.label(split.train, "pair")),
    }
    return found


def _with_interval(value: float, base: float, interval: tuple[float, float]) -> str:
    return f"{value:.3f} ({value - base:+.3f} [{interval[0]:+.3f}, {interval[1]:+.3f}])"


def oracle_references(data: TrainingData) -> list[list[object]]:
    """What ranking MMLU-Pro by the *other eight models'* outcomes would reach (no text at all).

    The ceiling of any difficulty-based ranker for the Llama pair: the score is computed from
    outcomes no analyzer can see, and it leaves out the pair's own two models.
    """
    weak, strong = LLAMA
    prompts = [
        p
        for p in data.prompts
        if p.dataset == MMLU_PRO and weak in p.outcomes and strong in p.outcomes
    ]
    w = np.array([p.outcomes[weak] for p in prompts])
    s = np.array([p.outcomes[strong] for p in prompts])
    others = np.array(
        [np.mean([v for k, v in p.outcomes.items() if k not in LLAMA]) for p in prompts]
    )
    jitter = np.random.default_rng(0).random(len(prompts)) * 1e-9  # break ties at random

    def value(scores: np.ndarray) -> str:
        return f"{apgr(sweep(scores + jitter, w, s), float(w.mean()), float(s.mean())):.3f}"

    rows: list[list[object]] = [
        ["share of the other 8 models wrong (difficulty)", value(1 - others)]
    ]
    right = np.round(others * 8)
    for count in range(9):
        chosen = right == count
        rows.append(
            [
                f"  (rows where {count} of the other 8 are right: {int(chosen.sum())};"
                " 70B minus 8B accuracy)",
                f"{float((s[chosen] - w[chosen]).mean()):+.3f}",
            ]
        )
    for centre in (0.3, 0.5, 0.7):
        rows.append(
            [f"closeness of that share to {centre} (peaked)", value(-np.abs(1 - others - centre))]
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    """Fit every variant on every split and print the comparison table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--only", nargs="*", help="variant names to run (shipped always runs)")
    parser.add_argument("--cv-seeds", type=int, default=3)
    args = parser.parse_args(argv)
    data = load_training_data(args.data_dir)
    print("MMLU-Pro Llama-3.1-8B -> 70B APGR of oracle orders (all 5,207 rows, not text-based):")
    print(format_table(["order by", "APGR"], oracle_references(data)))
    print()
    lab = Lab(data, args.seed)
    found = variants(lab)
    names = ["shipped", *[n for n in found if n != "shipped" and (not args.only or n in args.only)]]
    held = heldout_split(lab)
    mmlu_test = np.flatnonzero(held.test & (lab.labels == MMLU_PRO))
    base_rows: np.ndarray | None = None
    base_lodo: dict[str, np.ndarray] = {}
    table = []
    for name in names:
        started = time.perf_counter()
        scorer = found[name]
        rows_scores = scorer(held)
        lodo = {}
        for left_out in DATASET_NAMES:
            mask = lab.labels == left_out
            lodo[left_out] = scorer(Split(~mask, mask))
        cv, cv_gemini, cv_math = [], [], []
        mmlu_rows = np.flatnonzero(lab.labels == MMLU_PRO)
        math_rows = np.flatnonzero(lab.labels == MATH)
        for fold_seed in range(args.cv_seeds):
            out_of_fold = np.zeros(len(lab.labels))
            for split in cv_splits(lab, fold_seed):
                out_of_fold[split.test] = scorer(split)[split.test]
            cv.append(pair_apgr(out_of_fold, mmlu_rows, data, LLAMA))
            cv_gemini.append(pair_apgr(out_of_fold, mmlu_rows, data, GEMINI))
            cv_math.append(spearman(out_of_fold[math_rows], data.difficulty[math_rows]))
        if base_rows is None:
            base_rows, base_lodo = rows_scores, lodo
        mmlu_all = np.flatnonzero(lab.labels == MMLU_PRO)
        code_all = np.flatnonzero(lab.labels == CODE)
        math_all = np.flatnonzero(lab.labels == MATH)
        row_diff = paired_interval(
            rows_scores, base_rows, mmlu_test, data, args.bootstrap, args.seed
        )
        lodo_diff = paired_interval(
            lodo[MMLU_PRO], base_lodo[MMLU_PRO], mmlu_all, data, args.bootstrap, args.seed
        )
        code_test = np.flatnonzero(held.test & (lab.labels == CODE))
        math_test = np.flatnonzero(held.test & (lab.labels == MATH))
        llama_rows = pair_apgr(rows_scores, mmlu_test, data, LLAMA)
        llama_base = pair_apgr(base_rows, mmlu_test, data, LLAMA)
        llama_lodo = pair_apgr(lodo[MMLU_PRO], mmlu_all, data, LLAMA)
        llama_lodo_base = pair_apgr(base_lodo[MMLU_PRO], mmlu_all, data, LLAMA)
        table.append(
            [
                name,
                _with_interval(llama_rows, llama_base, row_diff),
                f"{np.mean(cv):.3f} ({' '.join(f'{v:.3f}' for v in cv)})",
                f"{np.mean(cv_gemini):.3f} / {np.mean(cv_math):.3f}",
                f"{spearman(rows_scores[mmlu_test], data.difficulty[mmlu_test]):.3f}",
                f"{pair_apgr(rows_scores, mmlu_test, data, GEMINI):.3f}",
                f"{pair_apgr(rows_scores, code_test, data, CODE_LLAMA):.3f}",
                f"{spearman(rows_scores[math_test], data.difficulty[math_test]):.3f}",
                _with_interval(llama_lodo, llama_lodo_base, lodo_diff),
                f"{pair_apgr(lodo[MMLU_PRO], mmlu_all, data, GEMINI):.3f}",
                f"{pair_apgr(lodo[CODE], code_all, data, CODE_LLAMA):.3f}",
                f"{spearman(lodo[MATH][math_all], data.difficulty[math_all]):.3f}",
                f"{time.perf_counter() - started:.0f}s",
            ]
        )
        print(" | ".join(table[-1]), flush=True)
    headers = [
        "variant",
        "rows: MMLU Llama (diff vs shipped [95% CI])",
        "rows 5-fold x3: MMLU Llama",
        "5-fold x3: gemini / MATH",
        "rows: MMLU Spearman",
        "rows: MMLU gemini",
        "rows: code Llama",
        "rows: MATH Spearman",
        "LODO: MMLU Llama (diff [95% CI])",
        "LODO: MMLU gemini",
        "LODO: code Llama",
        "LODO: MATH Spearman",
        "time",
    ]
    print()
    print(format_table(headers, table))


if __name__ == "__main__":
    main()
