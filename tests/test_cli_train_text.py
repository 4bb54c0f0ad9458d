"""`train --data FILE` fits the text analyzer; eval/calibrate use it; bad files name the column."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

from click.testing import CliRunner

from agent_routing.analyzer._text import load_text_model
from agent_routing.analyzer.registry import text_model_path
from agent_routing.cli import main

TOPICS = ("compute the integral of x^2 from 0 to 1", "name a colour", "prove there are infinitely "
          "many primes", "translate hello into French", "list three fruits")  # fmt: skip


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, list(args))


def write_training_csv(path: Path, rows: int = 200) -> Path:
    """Prompts where the strong model wins on 'prove'/'integral' questions (category = topic)."""
    rng = random.Random(0)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["prompt", "weak_score", "strong_score", "category"])
        for index in range(rows):
            topic = rng.randrange(len(TOPICS))
            hard = topic in (0, 2)
            weak = int(not hard or rng.random() < 0.2)
            writer.writerow([f"{TOPICS[topic]} (item {index})", weak, 1, f"t{topic}"])
    return path


def test_train_data_writes_where_the_router_loads_and_eval_uses_it(tmp_path: Path) -> None:
    """Default --out is the text analyzer's home file; the output says how to route with it."""
    data = write_training_csv(tmp_path / "train.csv")
    result = invoke("train", "--data", str(data), "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["out"] == str(text_model_path())
    assert "router.analyzer: text" in payload["use"]
    assert payload["held_out"]["rows"] == 50
    assert payload["held_out"]["apgr_text"] > 0.7
    model = load_text_model(text_model_path())
    assert model.training["rows"] == 200
    evaluated = invoke("eval", "--data", str(data), "--model", str(text_model_path()), "--json")
    assert evaluated.exit_code == 0, evaluated.output
    report = json.loads(evaluated.output)
    assert report["model_version"] == model.model_version
    assert report["apgr"] > report["baselines"]["length"]["apgr"]
    calibrated = invoke("calibrate", "--strong-share", "0.4", "--data", str(data),
                        "--model", str(text_model_path()), "--json")  # fmt: skip
    assert calibrated.exit_code == 0, calibrated.output
    assert json.loads(calibrated.output)["model_version"] == model.model_version


def test_train_data_with_out_says_to_set_model_path(tmp_path: Path) -> None:
    """Writing elsewhere prints the two settings that make the router load the file."""
    out = tmp_path / "mine.json"
    result = invoke(
        "train", "--data", str(write_training_csv(tmp_path / "t.csv")), "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    assert f"router.model_path: {out}" in result.output
    assert out.exists()


def test_bad_training_files_get_errors_naming_the_column_and_row(tmp_path: Path) -> None:
    """Missing column, non-numeric score, one kind of outcome only: exit 2, field named."""
    missing = tmp_path / "missing.csv"
    missing.write_text("prompt,weak_score\nhello,1\n")
    result = invoke("train", "--data", str(missing))
    assert result.exit_code == 2
    assert "strong_score: column missing" in result.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps({"prompt": "a", "weak_score": 0, "strong_score": 1}) + "\n"
        + json.dumps({"prompt": "b", "weak_score": "high", "strong_score": 1}) + "\n"
    )  # fmt: skip
    result = invoke("train", "--data", str(bad))
    assert result.exit_code == 2
    assert "weak_score: row 2: not a number: 'high'" in result.output
    no_prompt = tmp_path / "np.jsonl"
    no_prompt.write_text(json.dumps({"prompt": 3, "weak_score": 0, "strong_score": 1}) + "\n")
    result = invoke("train", "--data", str(no_prompt))
    assert result.exit_code == 2
    assert "prompt: row 1: must be text" in result.output
    same = tmp_path / "same.csv"
    same.write_text("prompt,weak_score,strong_score\n" + "".join(f"q{i},1,1\n" for i in range(30)))
    result = invoke("train", "--data", str(same))
    assert result.exit_code == 2
    assert "data:" in result.output
    assert "both kinds" in result.output
    assert not text_model_path().exists()
    result = invoke("train", "--data", str(same), "--from-ledger")
    assert result.exit_code == 2
    assert "--data or --from-ledger" in result.output


async def test_train_from_ledger_with_the_text_analyzer_uses_duel_labels(tmp_path: Path) -> None:
    """With router.analyzer text, --from-ledger refits from duels; too few keeps the model."""
    from agent_routing.config import settings_from_mapping
    from agent_routing.ledger import get_writer
    from agent_routing.router import Router, RouteRequest

    db = tmp_path / "ledger.db"
    config = tmp_path / "config.yaml"
    config.write_text(f"ledger:\n  path: {db}\nrouter:\n  analyzer: text\n")
    settings = settings_from_mapping({"ledger": {"path": str(db)}, "router": {"analyzer": "text"}})
    writer = get_writer(db, settings.ledger)
    await Router(settings, sink=writer).route(RouteRequest("hello", input_tokens=10))
    assert writer.flush(timeout=30)
    result = invoke("train", "--from-ledger", "--config", str(config), "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["labelled"] == 0
    assert payload["replaced"] is False
    assert "not enough duel labels" in payload["reason"]
    assert not text_model_path().exists()
