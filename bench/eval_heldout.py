"""Held-out evaluation of the analyzer, row-level and leave-one-dataset-out.

    .venv/bin/python bench/eval_heldout.py --out /tmp/heldout [--quick] [--seed 0]
        [--data-dir ../shared/data] [--bootstrap 200]

Writes into `--out` (never into the repository): models trained without the held-out rows,
and evaluation files in the `agent-routing eval` format. Then evaluates each file exactly as
`agent-routing eval --data FILE --model MODEL` does (the commands are printed) and prints
APGR and CPT for the analyzer beside the prompt-length and random baselines, with a
bootstrap 95 % interval for APGR.

- **row level**: 25 % of each set held out (seeded); one model trained on the other 75 %;
- **leave one dataset out**: each set scored by a model trained on the other two.

Pairs: MMLU-Pro Llama-3.1-8B -> 70B and gemini-1.5-flash -> pro (0/1 correctness); code
Llama-3.1-8B -> 70B and gpt-4o-mini -> gpt-4o (pass@1). MMLU-Pro rows carry costs from the
price table: question tokens in, the model's stored output length / 4 tokens out (the
data's only output-size proxy; the 5-shot exemplars are not counted). Code files are priced
by `eval --weak-model/--strong-model` with 256 output tokens. MATH has no per-model
outcomes, so it is scored by the Spearman correlation with the level instead.
"""

from __future__ import annotations

import argparse
import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agent_routing.analyzer import AnalyzerModel, load_model, save_model
from agent_routing.analyzer._datasets import CODE, DATASET_NAMES, EVAL_PAIRS, MATH, MMLU_PRO
from agent_routing.analyzer._features import TEXT_FEATURES
from agent_routing.analyzer._pipeline import (
    TrainingData,
    fit_subset,
    load_training_data,
    sample_per_dataset,
)
from agent_routing.analyzer._scoring import score_matrix
from agent_routing.analyzer.evaluate import run_evaluation
from agent_routing.cli._common import format_table
from agent_routing.evaluation import EvalData, load_eval_data, spearman
from agent_routing.evaluation._report import RouterResult, evaluate_router, length_scores

TEST_FRACTION = 0.25
LLAMA_8B = "together_ai/meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo"
LLAMA_70B = "together_ai/meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo"
PRICED_MODELS = {  # data model key -> litellm price-map key
    "Llama-3.1-8B-Instruct": LLAMA_8B,
    "Llama-3.1-70B-Instruct": LLAMA_70B,
    "gemini-1.5-flash-002": "gemini-1.5-flash-002",
    "gemini-1.5-pro-002": "gemini-1.5-pro-002",
    "gpt-4o-mini-2024-07-18": "gpt-4o-mini-2024-07-18",
    "gpt-4o-2024-08-06": "gpt-4o-2024-08-06",
    "meta-llama--Llama-3.1-8B-Instruct": LLAMA_8B,
    "meta-llama--Llama-3.1-70B-Instruct": LLAMA_70B,
}
SHORT = {
    "Llama-3.1-8B-Instruct": "llama",
    "gemini-1.5-flash-002": "gemini",
    "meta-llama--Llama-3.1-8B-Instruct": "llama",
    "gpt-4o-mini-2024-07-18": "gpt4o",
}


@dataclass(frozen=True)
class Case:
    """One evaluation file and the model that must score it."""

    split: str
    path: Path
    model_path: Path
    weak_model: str | None = None
    strong_model: str | None = None


def heldout_mask(data: TrainingData, seed: int) -> np.ndarray:
    """TEST_FRACTION of each set, chosen by a seeded shuffle."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(data.groups)
    mask = np.zeros(len(labels), dtype=bool)
    for name in DATASET_NAMES:
        index = np.flatnonzero(labels == name)
        rng.shuffle(index)
        mask[index[: round(len(index) * TEST_FRACTION)]] = True
    return mask


def mmlu_cost(model_key: str, prompt: str, output_chars: float) -> float:
    """Price-table cost of one MMLU-Pro answer: question tokens in, output chars / 4 out."""
    from agent_routing.pricing import estimate_cost_usd
    from agent_routing.tokens import count_text_tokens

    priced = PRICED_MODELS[model_key]
    cost = estimate_cost_usd(priced, count_text_tokens(prompt, priced), round(output_chars / 4))
    assert cost is not None, priced
    return cost


def output_chars(data_dir: Path) -> dict[str, dict[str, float]]:
    """MMLU-Pro id -> model -> stored output length in characters."""
    path = data_dir / "mmlu_pro_multimodel" / "mmlu_pro_non_mmlu_multimodel.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        return {
            row["id"]: {
                key.removesuffix("__output_chars"): float(value or 0)
                for key, value in row.items()
                if key.endswith("__output_chars")
            }
            for row in csv.DictReader(handle)
        }


def write_file(
    path: Path,
    data: TrainingData,
    rows: np.ndarray,
    weak: str,
    strong: str,
    chars: dict[str, dict[str, float]] | None,
) -> int:
    """An eval file of `rows` for the pair; MMLU-Pro rows get cost columns. Returns row count."""
    header = ["prompt", "weak_score", "strong_score", "category"]
    if chars is not None:
        header += ["weak_cost", "strong_cost"]
    written = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for index in rows:
            item = data.prompts[index]
            if weak not in item.outcomes or strong not in item.outcomes:
                continue
            line = [item.prompt, item.outcomes[weak], item.outcomes[strong], item.category]
            if chars is not None:
                lengths = chars[item.item_id]
                line += [
                    mmlu_cost(weak, item.prompt, lengths[weak]),
                    mmlu_cost(strong, item.prompt, lengths[strong]),
                ]
            writer.writerow(line)
            written += 1
    return written


def bootstrap_apgr(
    report_path: Path, model: AnalyzerModel, resamples: int, seed: int
) -> tuple[tuple[float, float], tuple[float, float]]:
    """95 % intervals of analyzer APGR and of (analyzer - length) APGR, resampling rows."""
    from agent_routing.analyzer import score_examples
    from agent_routing.protocols import AnalysisRequest

    data = load_eval_data(report_path)
    scores = score_examples(model, [AnalysisRequest(prompt=p) for p in data.prompts])
    lengths = length_scores(data.prompts)
    rng = np.random.default_rng(seed)
    apgrs, differences = [], []
    for _ in range(resamples):
        pick = rng.integers(0, len(scores), len(scores))
        sample = EvalData(
            source=data.source,
            prompts=tuple(data.prompts[i] for i in pick),
            weak=data.weak[pick],
            strong=data.strong[pick],
        )
        if sample.weak.mean() == sample.strong.mean():
            continue
        analyzer = evaluate_router("analyzer", scores[pick], sample).apgr
        apgrs.append(analyzer)
        differences.append(analyzer - evaluate_router("length", lengths[pick], sample).apgr)

    def interval(values: list[float]) -> tuple[float, float]:
        return (float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5)))

    return interval(apgrs), interval(differences)


def build_models(data: TrainingData, held: np.ndarray, out: Path, seed: int) -> dict[str, Path]:
    """The row-level model and one model per left-out set, saved under `out`."""
    labels = np.asarray(data.groups)
    masks = {"rows": ~held} | {f"without_{name}": labels != name for name in DATASET_NAMES}
    paths = {}
    for key, mask in masks.items():
        paths[key] = out / f"model_{key}.json"
        save_model(fit_subset(data, mask, seed=seed), paths[key])
    return paths


def build_cases(
    data: TrainingData,
    held: np.ndarray,
    out: Path,
    models: dict[str, Path],
    chars: dict[str, dict[str, float]],
) -> list[Case]:
    """Write one eval file per split, set and model pair; return what to evaluate."""
    labels = np.asarray(data.groups)
    cases = []
    for split, tag in (("row level (25 % held out)", "rows"), ("leave one dataset out", "lodo")):
        for name in (MMLU_PRO, CODE):
            rows = np.flatnonzero((held if tag == "rows" else True) & (labels == name))
            model = models["rows" if tag == "rows" else f"without_{name}"]
            for weak, strong in EVAL_PAIRS[name]:
                path = out / f"{name}_{tag}_{SHORT[weak]}.csv"
                write_file(path, data, rows, weak, strong, chars if name == MMLU_PRO else None)
                priced = (
                    (PRICED_MODELS[weak], PRICED_MODELS[strong]) if name == CODE else (None, None)
                )
                cases.append(Case(split, path, model, *priced))
    return cases


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def _saved(result: RouterResult) -> str:
    saving = result.savings.get("95")
    return "-" if saving is None else f"{100 * saving.saved_fraction:.0f}%"


def evaluate_case(case: Case, resamples: int, seed: int) -> list[object]:
    """One table row: `agent-routing eval` figures for the case, with bootstrap intervals."""
    model = load_model(case.model_path)
    report = run_evaluation(
        case.path, model=model, weak_model=case.weak_model, strong_model=case.strong_model
    )
    length, random = report.baselines
    interval, difference = bootstrap_apgr(case.path, model, resamples, seed)
    return [
        case.split,
        case.path.name,
        report.rows,
        f"{report.weak:.3f}",
        f"{report.strong:.3f}",
        f"{report.analyzer.apgr:.3f} [{interval[0]:.2f}, {interval[1]:.2f}]",
        f"{length.apgr:.3f}",
        f"{random.apgr:.3f}",
        f"{report.analyzer.apgr - length.apgr:+.3f} [{difference[0]:+.2f}, {difference[1]:+.2f}]",
        f"{_percent(report.analyzer.cpt['50'])} / {_percent(length.cpt['50'])}",
        f"{_percent(report.analyzer.cpt['80'])} / {_percent(length.cpt['80'])}",
        f"{_saved(report.analyzer)} / {_saved(length)} / {_saved(random)}",
    ]


def math_correlations(
    data: TrainingData, held: np.ndarray, models: dict[str, Path]
) -> list[list[object]]:
    """Spearman of score and length with the MATH level, for both hold-outs."""
    labels = np.asarray(data.groups)
    rows = []
    for split, mask, key in (
        ("row level (25 % held out)", held & (labels == MATH), "rows"),
        ("leave one dataset out", labels == MATH, f"without_{MATH}"),
    ):
        model = load_model(models[key])
        context = np.zeros((int(mask.sum()), len(model.features) - data.text_matrix.shape[1]))
        scores = score_matrix(model, np.column_stack([data.text_matrix[mask], context]))
        levels = data.difficulty[mask]
        length = data.text_matrix[mask, TEXT_FEATURES.index("prompt_tokens_log")]
        rows.append(
            [
                split,
                int(mask.sum()),
                f"{spearman(scores, levels):.3f}",
                f"{spearman(length, levels):.3f}",
            ]
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    """Build the held-out files and models, evaluate them, print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bootstrap", type=int, default=200, help="resamples for intervals")
    parser.add_argument("--quick", action="store_true", help="400 rows per set, 20 resamples")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    data = load_training_data(args.data_dir)
    resamples = args.bootstrap
    if args.quick:
        data = sample_per_dataset(data, 400, args.seed)
        resamples = min(resamples, 20)
    held = heldout_mask(data, args.seed)
    models = build_models(data, held, args.out, args.seed)
    cases = build_cases(data, held, args.out, models, output_chars(args.data_dir))
    headers = [
        "hold-out",
        "file",
        "rows",
        "weak",
        "strong",
        "APGR analyzer [95% CI]",
        "length",
        "random",
        "analyzer - length [95% CI]",
        "CPT50 an/len",
        "CPT80 an/len",
        "saved@95% an/len/rand",
    ]
    print(format_table(headers, [evaluate_case(case, resamples, args.seed) for case in cases]))
    print("\nMATH has no per-model outcomes: Spearman correlation with the level instead")
    print(
        format_table(
            ["hold-out", "rows", "analyzer", "length"], math_correlations(data, held, models)
        )
    )
    print("\nreproduce a row with:")
    for case in cases:
        pricing = (
            f" --weak-model {case.weak_model} --strong-model {case.strong_model}"
            if case.weak_model
            else ""
        )
        print(f"  agent-routing eval --data {case.path} --model {case.model_path}{pricing}")


if __name__ == "__main__":
    main()
