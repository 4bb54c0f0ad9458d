"""`agent-routing compress`: statistics per transcript file, JSON output, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from compress_support import chat_conversation

from agent_routing.cli import main


def write_transcripts(path: Path, sizes: list[int]) -> Path:
    lines = [
        json.dumps({"id": f"run-{index}", "messages": chat_conversation(turns, lines=20)})
        for index, turns in enumerate(sizes)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_json_output_has_the_promised_fields(tmp_path: Path) -> None:
    """--json prints one object with totals, retention and timing, per file and per transcript."""
    data = write_transcripts(tmp_path / "runs.jsonl", [10, 12])
    result = CliRunner().invoke(
        main, ["compress", str(data), "--model", "gpt-4o", "--budget", "3000", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    for key in (
        "transcripts",
        "input_tokens",
        "output_tokens",
        "reduction",
        "retention_recent",
        "retention_overall",
        "ms_per_10k_tokens",
    ):
        assert key in report
    assert report["transcripts"] == 2
    assert report["output_tokens"] <= 2 * 3000 < report["input_tokens"]
    assert report["reduction"] == round(1 - report["output_tokens"] / report["input_tokens"], 4)
    assert report["retention_recent"] == 1.0
    assert 0 < report["retention_overall"] < 1
    assert report["files"][0]["file"] == str(data)
    assert [t["id"] for t in report["per_transcript"]] == ["run-0", "run-1"]


def test_text_output_lists_each_transcript_and_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --json a table per transcript and a totals line per file are printed."""
    monkeypatch.chdir(tmp_path)  # files named as a user types them (tables fit 80 columns)
    first = write_transcripts(Path("a.jsonl"), [10])
    second = write_transcripts(Path("b.jsonl"), [3])
    result = CliRunner().invoke(
        main, ["compress", str(first), str(second), "--model", "gpt-4o", "--budget", "3000"]
    )
    assert result.exit_code == 0, result.output
    assert "run-0" in result.output
    assert "compressed" in result.output
    assert "within_budget" in result.output
    assert str(first) in result.output
    assert str(second) in result.output
    assert "kept recent" in result.output


def test_default_policy_leaves_small_prompts_alone(tmp_path: Path) -> None:
    """Without --budget the configured thresholds apply: a short run on a big window is kept."""
    data = write_transcripts(tmp_path / "runs.jsonl", [2])
    result = CliRunner().invoke(main, ["compress", str(data), "--model", "gpt-4o", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["reduction"] == 0.0
    assert report["per_transcript"][0]["outcome"] == "below_threshold"


def test_unknown_model_exits_2_naming_it(tmp_path: Path) -> None:
    """An unpriced model is bad input: exit code 2 and the model's name."""
    data = write_transcripts(tmp_path / "runs.jsonl", [2])
    result = CliRunner().invoke(main, ["compress", str(data), "--model", "no-such/model-xyz"])
    assert result.exit_code == 2
    assert "no-such/model-xyz" in result.output


def test_bad_budget_exits_2_naming_the_option(tmp_path: Path) -> None:
    """A budget of zero tokens is refused before any work, naming --budget and the value."""
    data = write_transcripts(tmp_path / "runs.jsonl", [2])
    result = CliRunner().invoke(main, ["compress", str(data), "--model", "gpt-4o", "--budget", "0"])
    assert result.exit_code == 2
    assert "--budget" in result.output
    assert "0" in result.output


def test_broken_line_exits_2_naming_file_and_line(tmp_path: Path) -> None:
    """A line that is not JSON (or has no message list) names its file and line number."""
    data = write_transcripts(tmp_path / "runs.jsonl", [2])
    with data.open("a", encoding="utf-8") as handle:
        handle.write("{not json\n")
    result = CliRunner().invoke(main, ["compress", str(data), "--model", "gpt-4o"])
    assert result.exit_code == 2
    assert f"{data}:2" in result.output

    data.write_text(json.dumps({"id": "x", "messages": "nope"}) + "\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["compress", str(data), "--model", "gpt-4o"])
    assert result.exit_code == 2
    assert f"{data}:1" in result.output
    assert "messages" in result.output


def test_missing_file_exits_2(tmp_path: Path) -> None:
    """A file that does not exist is bad input, named in the message."""
    missing = tmp_path / "absent.jsonl"
    result = CliRunner().invoke(main, ["compress", str(missing), "--model", "gpt-4o"])
    assert result.exit_code == 2
    assert "absent.jsonl" in result.output
