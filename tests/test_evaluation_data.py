"""Reading evaluation files (CSV / JSONL), their validation, and price-table costs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent_routing.errors import ConfigError, UnknownModelError
from agent_routing.evaluation import load_eval_data, with_price_table_costs


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_with_all_columns(tmp_path: Path) -> None:
    """A CSV with scores, category and costs loads every column as numbers or text."""
    path = write(
        tmp_path / "e.csv",
        "prompt,weak_score,strong_score,category,weak_cost,strong_cost\n"
        '"Hello, world",0,1,chat,0.001,0.01\n'
        "2+2?,1,1,math,0.002,0.02\n",
    )
    data = load_eval_data(path)
    assert data.prompts == ("Hello, world", "2+2?")
    assert list(data.weak) == [0.0, 1.0]
    assert list(data.strong) == [1.0, 1.0]
    assert data.categories == ("chat", "math")
    assert list(data.strong_cost) == [0.01, 0.02]
    assert data.has_costs


def test_jsonl_with_any_numeric_scale_and_no_costs(tmp_path: Path) -> None:
    """JSONL rows may use any numeric quality scale; without cost columns there are no costs."""
    rows = [
        {"prompt": "a", "weak_score": 6.5, "strong_score": 9},
        {"prompt": "b", "weak_score": "7", "strong_score": 8.25},
    ]
    path = write(tmp_path / "e.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n\n")
    data = load_eval_data(path)
    assert list(data.weak) == [6.5, 7.0]
    assert not data.has_costs
    assert data.categories is None


def test_prompt_only_file_loads_for_calibration(tmp_path: Path) -> None:
    """Calibration needs only the prompt column."""
    path = write(tmp_path / "p.csv", "prompt\nfirst\nsecond\n")
    assert load_eval_data(path, outcomes=False).prompts == ("first", "second")
    with pytest.raises(ConfigError) as raised:
        load_eval_data(path)
    assert raised.value.problems[0][0] == "weak_score"


@pytest.mark.parametrize(
    ("name", "text", "field", "fragment"),
    [
        ("e.csv", "", "data", "has no rows"),
        ("e.csv", "prompt,weak_score,strong_score\n", "data", "has no rows"),
        ("e.csv", "prompt,weak_score\nx,1\n", "strong_score", "column missing"),
        ("e.csv", "prompt,weak_score,strong_score\nx,1,2\ny,high,2\n", "weak_score", "row 2"),
        ("e.csv", "prompt,weak_score,strong_score\nx,1,\n", "strong_score", "row 1"),
        ("e.csv", "prompt,weak_score,strong_score\nx,1,inf\n", "strong_score", "finite"),
        (
            "e.csv",
            "prompt,weak_score,strong_score,weak_cost\nx,1,2,0.1\n",
            "strong_cost",
            "missing",
        ),
        (
            "e.csv",
            "prompt,weak_score,strong_score,weak_cost,strong_cost\nx,1,2,-1,2\n",
            "weak_cost",
            "negative",
        ),
        (
            "e.jsonl",
            '{"prompt": "x", "weak_score": 1, "strong_score": 2}\nnot json\n',
            "data",
            "line 2",
        ),
        ("e.jsonl", "[1, 2]\n", "data", "not a JSON object"),
        ("e.jsonl", '{"prompt": 5, "weak_score": 1, "strong_score": 2}\n', "prompt", "row 1"),
        (
            "e.jsonl",
            '{"prompt": "x", "weak_score": true, "strong_score": 2}\n',
            "weak_score",
            "row 1",
        ),
        ("e.txt", "prompt\nx\n", "data", "unsupported file type"),
    ],
)
def test_bad_files_name_the_column_and_row(
    tmp_path: Path, name: str, text: str, field: str, fragment: str
) -> None:
    """Each malformed file raises ConfigError naming the field (and the row for a bad value)."""
    with pytest.raises(ConfigError) as raised:
        load_eval_data(write(tmp_path / name, text))
    assert raised.value.problems[0][0] == field
    assert fragment in raised.value.problems[0][1]


def test_missing_file_names_data(tmp_path: Path) -> None:
    """A file that does not exist is an error about `data`."""
    with pytest.raises(ConfigError, match="file not found"):
        load_eval_data(tmp_path / "absent.csv")


def test_price_table_costs_use_litellm_prices_and_token_counts(tmp_path: Path) -> None:
    """Costs are prompt tokens at the input price plus the fixed output at the output price."""
    from agent_routing._litellm import litellm_module
    from agent_routing.tokens import count_text_tokens

    path = write(tmp_path / "e.csv", "prompt,weak_score,strong_score\nExplain recursion.,0,1\n")
    priced, basis = with_price_table_costs(
        load_eval_data(path), "gpt-4o-mini", "gpt-4o", output_tokens=100
    )
    table = litellm_module().model_cost
    for model, costs in (("gpt-4o-mini", priced.weak_cost), ("gpt-4o", priced.strong_cost)):
        tokens = count_text_tokens("Explain recursion.", model)
        expected = (
            tokens * table[model]["input_cost_per_token"]
            + 100 * table[model]["output_cost_per_token"]
        )
        assert costs[0] == pytest.approx(expected)
    assert "100 output tokens" in basis


def test_price_table_rejects_unknown_models_and_double_costs(tmp_path: Path) -> None:
    """An unpriced model names its option; costs given twice are refused."""
    plain = write(tmp_path / "e.csv", "prompt,weak_score,strong_score\nx,0,1\n")
    with pytest.raises(UnknownModelError) as raised:
        with_price_table_costs(load_eval_data(plain), "gpt-4o-mini", "no-such-model-xyz")
    assert raised.value.field == "strong_model"
    costed = write(
        tmp_path / "c.csv",
        "prompt,weak_score,strong_score,weak_cost,strong_cost\nx,0,1,1,2\n",
    )
    with pytest.raises(ConfigError, match="already has"):
        with_price_table_costs(load_eval_data(costed), "gpt-4o-mini", "gpt-4o")
