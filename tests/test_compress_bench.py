"""The compression benchmark runs end to end on a small data folder (`--quick`)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from test_compress_support import chat_conversation

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_compression.py"


def test_quick_run_prints_all_three_methods(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--quick` on two transcripts prints our figures beside both baselines."""
    data = tmp_path / "data"
    data.mkdir()
    records = [{"id": f"t{i}", "messages": chat_conversation(8 + i, lines=20)} for i in range(2)]
    (data / "runs.jsonl").write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("bench_compression", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up
    spec.loader.exec_module(module)

    assert module.main(["--data", str(data), "--quick", "--min-tokens", "1000"]) == 0
    output = capsys.readouterr().out
    assert "2 with >= 1,000 tokens" in output
    for method in ("agent-routing", "truncate last N", "strip whitespace/filler"):
        assert output.count(method) == 2  # the main table and the by-kind table
    ours = next(line for line in output.splitlines() if line.startswith("agent-routing"))
    assert "100.0%" in ours  # the last three turns are always kept
