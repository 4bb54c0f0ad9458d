"""The compression benchmark runs end to end on a small data folder (`--quick`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench_support import loaded_bench
from compress_support import chat_conversation


def test_quick_run_prints_the_policy_beside_the_baselines_for_each_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--quick` on two long transcripts: every method, its replay ratio, for both models."""
    data = tmp_path / "data"
    data.mkdir()
    records = [{"id": f"t{i}", "messages": chat_conversation(24 + i, lines=30)} for i in range(2)]
    (data / "runs.jsonl").write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    with loaded_bench("bench_compression") as module:
        assert module.main(["--data", str(data), "--quick"]) == 0
    output = capsys.readouterr().out
    assert "== gpt-4.1: input $2/M" in output
    assert "the policy fires from 8,000 tokens" in output
    assert "== claude-sonnet-4-6: input $3/M" in output

    def rows(method: str) -> list[list[str]]:
        lines = [line for line in output.splitlines() if line.startswith(method + "  ")]
        return [[c.strip() for c in line[len(method) :].split("  ") if c.strip()] for line in lines]

    for method in ("agent-routing", "observation masking", "truncate last N"):
        assert len(rows(method)) == 2  # one table per model
    assert len(rows("strip whitespace/filler")) == 2
    assert output.count("floor of replay_cost_ratio") == 2
    ours, masking = rows("agent-routing"), rows("observation masking")
    for cells, masked in zip(ours, masking, strict=True):
        assert cells[3] == "100.0%"  # the last three turns are always kept
        assert float(cells[2].rstrip("%")) >= 40  # these histories are mostly old tool output
        assert float(cells[6]) < float(masked[6])  # cheaper replay than masking every step
    assert float(ours[0][6]) < 1  # at gpt-4.1's prices the replayed run costs less
