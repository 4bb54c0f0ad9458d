"""Loaders for the labelled prompt sets the analyzer is trained and evaluated on.

Three third-party sets (see each folder's README under the data directory):

- `mmlu_pro`: MMLU-Pro questions (non-MMLU origin) with 0/1 outcomes of ten models;
- `math`: MATH test problems with the authors' difficulty level 1-5 (no model outcomes);
- `code`: EvalPerf coding tasks with pass@1 of 33 models.

Only these three files are read. GSM8K, the original MMLU, MT-Bench and Chatbot Arena are a
hidden holdout and must never be used for training, so no loader for them exists.

Each prompt gets a **benefit** label where model outcomes exist: the probability that a strong
model succeeds where a cheap one of the same family fails, averaged over the family pairs
below (RouteLLM's "the strong model wins where the weak one loses"; both right or both wrong
is no benefit). MATH has no outcomes, so its prompts carry only their level.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agent_routing.errors import ConfigError

MMLU_PRO = "mmlu_pro"
MATH = "math"
CODE = "code"
DATASET_NAMES: tuple[str, ...] = (MMLU_PRO, MATH, CODE)

DATASET_FILES: Mapping[str, str] = {
    MMLU_PRO: "mmlu_pro_multimodel/mmlu_pro_non_mmlu_multimodel.csv",
    MATH: "math_competition_levels/math_test_levels.jsonl",
    CODE: "evalperf_code_multimodel/evalperf_tasks_multimodel.jsonl",
}

# (cheap, strong) pairs of the same family, as named in the data READMEs.
MMLU_PRO_PAIRS: tuple[tuple[str, str], ...] = (
    ("Llama-3.1-8B-Instruct", "Llama-3.1-70B-Instruct"),
    ("gemini-1.5-flash-002", "gemini-1.5-pro-002"),
    ("Qwen1.5-7B-Chat", "Qwen1.5-72B-Chat"),
    ("Mistral-7B-Instruct-v0.2", "Mixtral-8x7B-Instruct-v0.1"),
)
CODE_PAIRS: tuple[tuple[str, str], ...] = (
    ("gpt-4o-mini-2024-07-18", "gpt-4o-2024-08-06"),
    ("gemini-1.5-flash-002", "gemini-1.5-pro-002"),
    ("meta-llama--Llama-3.1-8B-Instruct", "meta-llama--Llama-3.1-70B-Instruct"),
    ("Qwen--Qwen2.5-7B-Instruct", "Qwen--Qwen2.5-72B-Instruct"),
    ("google--gemma-2-9b-it", "google--gemma-2-27b-it"),
)
MATH_LEVELS = (1, 2, 3, 4, 5)


@dataclass(slots=True, frozen=True)
class LabelledPrompt:
    """One prompt of a training set with what is known about how models fare on it.

    `outcomes` maps a model key to its score on this prompt (0/1 correctness or pass@1);
    `benefit` is the family-pair benefit label (None when the set has no outcomes);
    `difficulty` is the set's own difficulty in [0, 1] (share of models failing, or the
    MATH level rescaled).
    """

    dataset: str
    item_id: str
    prompt: str
    category: str
    difficulty: float
    benefit: float | None
    outcomes: Mapping[str, float] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class DataFingerprint:
    """Identity of one data file used for training (recorded in the model file)."""

    dataset: str
    path: str  # relative to the data directory
    sha256: str
    rows: int


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def dataset_path(data_dir: Path, dataset: str) -> Path:
    """The file of `dataset` under `data_dir`; ConfigError naming it when absent."""
    if dataset not in DATASET_FILES:
        raise ConfigError.single(
            "dataset", f"unknown dataset {dataset!r} (choose from {', '.join(DATASET_NAMES)})"
        )
    path = data_dir / DATASET_FILES[dataset]
    if not path.is_file():
        raise ConfigError.single("data_dir", f"{str(path)!r} not found (dataset {dataset!r})")
    return path


def pair_benefit(outcomes: Mapping[str, float], pairs: Sequence[tuple[str, str]]) -> float | None:
    """Mean over family pairs of P(strong succeeds and cheap fails); None if no pair is known.

    For probabilities (pass@1) the two draws are independent: p_strong * (1 - p_cheap).
    """
    values = [
        outcomes[strong] * (1.0 - outcomes[cheap])
        for cheap, strong in pairs
        if cheap in outcomes and strong in outcomes
    ]
    return sum(values) / len(values) if values else None


def format_mmlu_pro_prompt(question: str, options: Sequence[str]) -> str:
    """The question with lettered options, as MMLU-Pro shows them to a model."""
    lines = [f"Question: {question.strip()}", "Options:"]
    lines.extend(f"{chr(ord('A') + index)}. {option}" for index, option in enumerate(options))
    return "\n".join(lines)


def _bad_row(dataset: str, row: int, message: str) -> ConfigError:
    return ConfigError.single(f"{dataset}[row {row}]", message)


def load_mmlu_pro(path: Path) -> list[LabelledPrompt]:
    """MMLU-Pro rows; outcomes are 0/1 per model, missing answers left out."""
    prompts: list[LabelledPrompt] = []
    with path.open(encoding="utf-8", newline="") as handle:
        for row_number, row in enumerate(csv.DictReader(handle), start=1):
            try:
                options = json.loads(row["options"])
                outcomes = {
                    key.removesuffix("__correct"): float(value)
                    for key, value in row.items()
                    if key.endswith("__correct") and value not in ("", None)
                }
            except (KeyError, ValueError) as error:
                raise _bad_row(MMLU_PRO, row_number, f"cannot parse: {error}") from None
            prompts.append(
                LabelledPrompt(
                    dataset=MMLU_PRO,
                    item_id=row["id"],
                    prompt=format_mmlu_pro_prompt(row["question"], options),
                    category=row["category"],
                    difficulty=1.0 - sum(outcomes.values()) / max(len(outcomes), 1),
                    benefit=pair_benefit(outcomes, MMLU_PRO_PAIRS),
                    outcomes=outcomes,
                )
            )
    return prompts


def _jsonl(path: Path, dataset: str) -> Iterator[tuple[int, dict[str, object]]]:
    with path.open(encoding="utf-8") as handle:
        for row_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise _bad_row(dataset, row_number, f"not JSON: {error}") from None
            if not isinstance(record, dict):
                raise _bad_row(dataset, row_number, "not a JSON object")
            yield row_number, record


def load_math(path: Path) -> list[LabelledPrompt]:
    """MATH problems; difficulty is (level - 1) / 4, no outcomes, no benefit label."""
    prompts: list[LabelledPrompt] = []
    for row_number, record in _jsonl(path, MATH):
        level = record.get("level")
        if not isinstance(level, int) or level not in MATH_LEVELS:
            raise _bad_row(MATH, row_number, f"level must be 1-5, got {level!r}")
        prompts.append(
            LabelledPrompt(
                dataset=MATH,
                item_id=str(record["id"]),
                prompt=str(record["problem"]),
                category=str(record.get("subject", "")),
                difficulty=(level - 1) / 4,
                benefit=None,
            )
        )
    return prompts


def load_code(path: Path) -> list[LabelledPrompt]:
    """Coding tasks; outcomes are pass@1 per model run."""
    prompts: list[LabelledPrompt] = []
    for row_number, record in _jsonl(path, CODE):
        raw = record.get("pass_at_1")
        if not isinstance(raw, dict) or not raw:
            raise _bad_row(CODE, row_number, "pass_at_1 must be a non-empty object")
        outcomes = {str(key): float(value) for key, value in raw.items()}
        mean = record.get("mean_pass_at_1")
        prompts.append(
            LabelledPrompt(
                dataset=CODE,
                item_id=str(record["task_id"]),
                prompt=str(record["prompt"]),
                category=str(record.get("source_benchmark", "")),
                difficulty=1.0 - float(mean) if isinstance(mean, int | float) else 0.0,
                benefit=pair_benefit(outcomes, CODE_PAIRS),
                outcomes=outcomes,
            )
        )
    return prompts


LOADERS = {MMLU_PRO: load_mmlu_pro, MATH: load_math, CODE: load_code}


def load_dataset(data_dir: Path, dataset: str) -> tuple[list[LabelledPrompt], DataFingerprint]:
    """One dataset's prompts and the fingerprint of the file they came from."""
    path = dataset_path(data_dir, dataset)
    prompts = LOADERS[dataset](path)
    if not prompts:
        raise ConfigError.single("data_dir", f"{str(path)!r} holds no rows")
    fingerprint = DataFingerprint(
        dataset=dataset, path=DATASET_FILES[dataset], sha256=file_sha256(path), rows=len(prompts)
    )
    return prompts, fingerprint


# (weak, strong) pairs whose outcomes the training metrics route between, per dataset.
EVAL_PAIRS: Mapping[str, tuple[tuple[str, str], ...]] = {
    MMLU_PRO: (
        ("Llama-3.1-8B-Instruct", "Llama-3.1-70B-Instruct"),
        ("gemini-1.5-flash-002", "gemini-1.5-pro-002"),
    ),
    CODE: (
        ("meta-llama--Llama-3.1-8B-Instruct", "meta-llama--Llama-3.1-70B-Instruct"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-2024-08-06"),
    ),
    MATH: (),
}
