"""Training data for the analyzer tests (no tests here): miniature copies of the three sets."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from agent_routing.analyzer import _datasets as datasets

MMLU_MODELS = sorted({model for pair in datasets.MMLU_PRO_PAIRS for model in pair})
CODE_MODELS = sorted({model for pair in datasets.CODE_PAIRS for model in pair})


def _question(hardness: float, index: int) -> str:
    """Harder questions are longer and carry more numbers (the signal the ranker should find)."""
    numbers = " ".join(f"{(index * 7 + k) % 97}.{k}" for k in range(int(hardness * 12)))
    return f"Calculate the value for case {index} given {numbers} " + "and then " * int(
        hardness * 20
    )


def write_data_dir(root: Path, rows: int = 36, seed: int = 0) -> Path:
    """A miniature copy of the three training sets' formats with a known difficulty signal."""
    rng = np.random.default_rng(seed)
    mmlu = root / datasets.DATASET_FILES[datasets.MMLU_PRO]
    mmlu.parent.mkdir(parents=True)
    with mmlu.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["id", "question_id", "source", "category", "question", "options", "answer"]
            + [f"{m}__correct" for m in MMLU_MODELS]
        )
        for i in range(rows):
            hardness = i / rows
            abilities = np.linspace(0.2, 0.9, len(MMLU_MODELS)) + rng.normal(
                0, 0.1, len(MMLU_MODELS)
            )
            outcomes = [int(a > hardness) for a in abilities]
            writer.writerow(
                [
                    f"q{i}",
                    i,
                    "stemez-x",
                    "physics",
                    _question(hardness, i),
                    '["1", "2"]',
                    "A",
                    *outcomes,
                ]
            )
    math_file = root / datasets.DATASET_FILES[datasets.MATH]
    math_file.parent.mkdir(parents=True)
    with math_file.open("w", encoding="utf-8") as handle:
        for i in range(rows):
            level = 1 + i * 5 // rows
            problem = f"Solve for $x$: {_question(level / 5, i)}"
            handle.write(json.dumps({"id": f"m{i}", "problem": problem, "level": level}) + "\n")
    code = root / datasets.DATASET_FILES[datasets.CODE]
    code.parent.mkdir(parents=True)
    with code.open("w", encoding="utf-8") as handle:
        for i in range(rows):
            hardness = i / rows
            passes = {
                m: float(np.clip(1 - hardness + rng.normal(0, 0.1), 0, 1)) for m in CODE_MODELS
            }
            record = {
                "task_id": f"Mbpp/{i}",
                "source_benchmark": "MBPP",
                "prompt": f'"""\nWrite a function. {_question(hardness, i)}\n"""\n',
                "pass_at_1": passes,
                "mean_pass_at_1": float(np.mean(list(passes.values()))),
            }
            handle.write(json.dumps(record) + "\n")
    return root
