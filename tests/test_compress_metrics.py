"""Retention metrics, markers, transcript reading and the two naive baselines."""

from __future__ import annotations

from pathlib import Path

import pytest
from compress_support import chat_conversation

from agent_routing.compression import _markers as markers
from agent_routing.compression._baselines import (
    strip_text,
    strip_whitespace_and_filler,
    truncate_to_last_tokens,
)
from agent_routing.compression._metrics import (
    Retention,
    measure_retention,
    rendered_text,
    retention,
)
from agent_routing.compression.tokenize import token_counter
from agent_routing.compression.transcripts import read_transcripts
from agent_routing.errors import ConfigError


def test_retention_counts_distinct_items_found_in_the_output() -> None:
    """Kept means the same item appears in the output; each item counts once."""
    found = retention(["parse_args", "/etc/hosts", "8080"], "call parse_args on port 8080")
    assert found == Retention(total=3, kept=2)
    assert found.ratio == pytest.approx(2 / 3)
    assert Retention().ratio == 1.0


def test_numbers_inside_markers_do_not_count_as_kept() -> None:
    """'37 lines elided' must not keep the number 37 of the original."""
    output = markers.elided("x\n" * 37) + " " + markers.summary_header(12, 4096)
    assert retention(["37", "12", "4,096"], output).kept == 0


def test_every_marker_is_recognised() -> None:
    """strip_markers removes each marker the steps can write."""
    made = [
        markers.elided("a\nb\n"),
        markers.elided("abc"),
        markers.repeated_line(1234),
        markers.duplicate_output(1500),
        markers.superseded_output(0.93, 3),
        markers.summary_header(1, 50),
        markers.summary_header(2, 50),
    ]
    for marker in made:
        assert markers.strip_markers(marker).strip() == "", marker


def test_recent_retention_covers_the_last_three_turns() -> None:
    """Items of the last three turns are the recent set; older ones only count overall."""
    messages = chat_conversation(5, lines=3)
    measured = measure_retention(messages, rendered_text(messages[-6:]))
    assert measured.recent.ratio == 1.0
    assert measured.overall.kept < measured.overall.total
    assert measured.opening.kept < measured.opening.total  # the task was cut
    assert sum(r.total for r in measured.by_kind.values()) == measured.overall.total


def test_rendered_text_includes_tool_calls() -> None:
    """Tool calls are not in `content`, so they are rendered as name(arguments)."""
    text = rendered_text(chat_conversation(1, lines=1))
    assert 'bash({"cmd": "pytest tests/test_calc_0.py"})' in text


def test_truncation_keeps_exactly_the_last_tokens() -> None:
    """The truncation baseline keeps at most N tokens, from the end of the conversation."""
    messages = chat_conversation(4, lines=10)
    text, kept = truncate_to_last_tokens(messages, 300, "gpt-4o")
    assert kept == 300
    assert token_counter("gpt-4o")(text) <= 302  # decoding may merge two tokens at the cut
    assert text.rstrip().endswith("10 passed, 1 failed in 3.42s")


def test_stripping_collapses_space_and_filler_only() -> None:
    """Whitespace runs and filler words go; the words that carry facts stay."""
    assert strip_text("I think   we should   just run\n\n\n  tests/a.py  ") == (
        "we should run\ntests/a.py"
    )
    messages = [{"role": "user", "content": "Please   run it"}, {"role": "tool", "content": None}]
    stripped = strip_whitespace_and_filler(messages)
    assert stripped == [{"role": "user", "content": "run it"}, {"role": "tool", "content": None}]
    assert messages[0]["content"] == "Please   run it"


def test_reading_transcripts_skips_blank_lines(tmp_path: Path) -> None:
    """Blank lines are skipped; each record keeps its id and file:line source."""
    path = tmp_path / "t.jsonl"
    path.write_text('\n{"id": "a", "messages": []}\n\n{"messages": [{"role": "user"}]}\n')
    transcripts = read_transcripts(path)
    assert [t.id for t in transcripts] == ["a", f"{path}:4"]
    assert transcripts[1].source == f"{path}:4"


def test_reading_a_non_object_line_names_it(tmp_path: Path) -> None:
    """A JSON line that is not an object is rejected with its file and line."""
    path = tmp_path / "t.jsonl"
    path.write_text("[1, 2]\n")
    with pytest.raises(ConfigError) as caught:
        read_transcripts(path)
    assert caught.value.problems[0][0] == f"{path}:1"
