"""Reading an evaluation file: prompts with the weak and strong model's outcome on each.

A CSV file (header row) or a JSONL file (one object per line) with columns:

- `prompt` (text, required);
- `weak_score`, `strong_score`: any numeric quality scale, higher is better (required for
  `eval`, not for `calibrate`);
- `category` (optional text);
- `weak_cost`, `strong_cost`: the cost of answering the prompt with each model (optional,
  both or neither).

Every problem raises ConfigError naming the column and, for a bad value, the row (rows are
counted from 1, not counting a CSV header). Nothing is partially loaded.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from agent_routing.errors import ConfigError

FloatArray = npt.NDArray[np.float64]

PROMPT = "prompt"
WEAK_SCORE = "weak_score"
STRONG_SCORE = "strong_score"
CATEGORY = "category"
WEAK_COST = "weak_cost"
STRONG_COST = "strong_cost"
CSV_SUFFIXES = (".csv",)
JSONL_SUFFIXES = (".jsonl", ".ndjson")


@dataclass(frozen=True, slots=True)
class EvalData:
    """The prompts of an evaluation file and, when read for `eval`, their outcomes."""

    source: str
    prompts: tuple[str, ...]
    weak: FloatArray | None = None
    strong: FloatArray | None = None
    categories: tuple[str, ...] | None = None
    weak_cost: FloatArray | None = None
    strong_cost: FloatArray | None = None

    @property
    def has_costs(self) -> bool:
        """Whether per-prompt costs of both models are known."""
        return self.weak_cost is not None and self.strong_cost is not None


def _read_rows(path: Path) -> list[Mapping[str, Any]]:
    if not path.is_file():
        raise ConfigError.single("data", f"file not found: {str(path)!r}")
    suffix = path.suffix.lower()
    try:
        if suffix in CSV_SUFFIXES:
            with path.open(encoding="utf-8", newline="") as handle:
                return list(csv.DictReader(handle))
        if suffix in JSONL_SUFFIXES:
            return _read_jsonl(path)
    except UnicodeDecodeError as error:
        raise ConfigError.single("data", f"{str(path)!r} is not UTF-8 text: {error}") from None
    raise ConfigError.single(
        "data", f"unsupported file type {suffix!r} for {str(path)!r}: use .csv or .jsonl"
    )


def _read_jsonl(path: Path) -> list[Mapping[str, Any]]:
    rows: list[Mapping[str, Any]] = []
    with path.open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ConfigError.single(
                    "data", f"line {line_number} of {str(path)!r} is not JSON: {error.msg}"
                ) from None
            if not isinstance(record, dict):
                raise ConfigError.single(
                    "data", f"line {line_number} of {str(path)!r} is not a JSON object"
                )
            rows.append(record)
    return rows


def _columns(rows: Sequence[Mapping[str, Any]]) -> set[str]:
    columns: set[str] = set()
    for row in rows:
        columns.update(key for key in row if key is not None)
    return columns


def _require_columns(columns: set[str], needed: Sequence[str], path: Path) -> None:
    for column in needed:
        if column not in columns:
            found = ", ".join(sorted(columns)) or "none"
            raise ConfigError.single(
                column, f"column missing from {str(path)!r} (columns found: {found})"
            )


def _parse_number(raw: Any) -> float | None:
    """`raw` as a float (numbers, numeric text); None for anything else, booleans included."""
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        return None
    try:
        return float(raw)
    except ValueError:
        return None


def _numbers(rows: Sequence[Mapping[str, Any]], column: str, *, non_negative: bool) -> FloatArray:
    values = np.empty(len(rows), dtype=np.float64)
    for index, row in enumerate(rows):
        raw = row.get(column)
        number = _parse_number(raw)
        if number is None:
            raise ConfigError.single(column, f"row {index + 1}: not a number: {raw!r}")
        if not math.isfinite(number):
            raise ConfigError.single(column, f"row {index + 1}: not a finite number: {raw!r}")
        if non_negative and number < 0:
            raise ConfigError.single(column, f"row {index + 1}: a cost cannot be negative: {raw!r}")
        values[index] = number
    return values


def _texts(rows: Sequence[Mapping[str, Any]], column: str) -> tuple[str, ...]:
    texts: list[str] = []
    for index, row in enumerate(rows):
        value = row.get(column)
        if not isinstance(value, str):
            raise ConfigError.single(column, f"row {index + 1}: must be text, got {value!r}")
        texts.append(value)
    return tuple(texts)


def _categories(rows: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    """Category labels; a row without one gets the empty category."""
    return tuple("" if row.get(CATEGORY) is None else str(row[CATEGORY]) for row in rows)


def load_eval_data(path: Path, *, outcomes: bool = True) -> EvalData:
    """Read and validate an evaluation file; `outcomes=False` needs only the `prompt` column."""
    path = Path(path)
    rows = _read_rows(path)
    if not rows:
        raise ConfigError.single("data", f"{str(path)!r} has no rows")
    columns = _columns(rows)
    _require_columns(columns, [PROMPT, WEAK_SCORE, STRONG_SCORE] if outcomes else [PROMPT], path)
    prompts = _texts(rows, PROMPT)
    if not outcomes:
        categories = _categories(rows) if CATEGORY in columns else None
        return EvalData(source=str(path), prompts=prompts, categories=categories)
    weak_cost = strong_cost = None
    if WEAK_COST in columns or STRONG_COST in columns:
        _require_columns(columns, [WEAK_COST, STRONG_COST], path)
        weak_cost = _numbers(rows, WEAK_COST, non_negative=True)
        strong_cost = _numbers(rows, STRONG_COST, non_negative=True)
    return EvalData(
        source=str(path),
        prompts=prompts,
        weak=_numbers(rows, WEAK_SCORE, non_negative=False),
        strong=_numbers(rows, STRONG_SCORE, non_negative=False),
        categories=_categories(rows) if CATEGORY in columns else None,
        weak_cost=weak_cost,
        strong_cost=strong_cost,
    )
