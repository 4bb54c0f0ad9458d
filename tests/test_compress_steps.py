"""The four compression steps, one at a time, on hand-made entries."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace

from compress_support import a0_reply, tool_output

from agent_routing.compression._context import StepContext
from agent_routing.compression._duplicates import DuplicateCollapser, collapse_repeated_lines
from agent_routing.compression._elision import ToolOutputElider, elide, segments_of
from agent_routing.compression._entries import Entry, Role
from agent_routing.compression._extractive import summarize_turn
from agent_routing.compression._folding import TurnFolder
from agent_routing.compression._reasoning import ReasoningDropper, strip_reasoning
from agent_routing.compression.tokenize import token_counter

COUNT = token_counter("gpt-4o")


def make_context(budget: int, entries: list[Entry], limit: int = 200) -> StepContext:
    return StepContext(
        budget=budget,
        total=sum(e.tokens for e in entries),
        count=COUNT,
        tool_output_max_tokens=limit,
    )


def make_entry(role: Role, text: str, position: int, unit: int, **flags: bool) -> Entry:
    context = StepContext(budget=0, total=0, count=COUNT, tool_output_max_tokens=200)
    entry = Entry(
        role=role,
        text=text,
        position=position,
        unit=unit,
        observation=role is not Role.ASSISTANT,
        **flags,
    )
    measured = context.measured(entry)
    return replace(measured, source_text=text, source_tokens=measured.tokens)


def turns(count: int, lines: int = 40) -> list[Entry]:
    entries: list[Entry] = []
    for turn in range(count):
        entries.append(make_entry(Role.ASSISTANT, f"Running step {turn}.", 2 * turn, turn + 1))
        entries.append(make_entry(Role.TOOL, tool_output(turn, lines), 2 * turn + 1, turn + 1))
    return entries


# --- reasoning ------------------------------------------------------------------------------


def test_strip_reasoning_removes_tagged_blocks() -> None:
    """<think> blocks go, the rest of the reply stays."""
    assert strip_reasoning("<think>private plan</think>Running tests.") == "Running tests."


def test_strip_reasoning_drops_json_thoughts_and_keeps_the_call() -> None:
    """An Agent Zero reply loses `thoughts` and keeps headline, tool name and arguments."""
    stripped = json.loads(strip_reasoning(a0_reply(3)))
    assert "thoughts" not in stripped
    assert stripped["tool_name"] == "code_execution_tool"
    assert stripped["tool_args"]["code"] == "pytest tests/test_calc_3.py"


def test_strip_reasoning_drops_react_thoughts_only_beside_an_action() -> None:
    """ReAct 'Thought n:' lines go when an 'Action n:' line is there; prose stays as is."""
    react = "Thought 2: Creed is a band.\nAction 2: Search[Creed (band)]"
    assert strip_reasoning(react) == "Action 2: Search[Creed (band)]"
    prose = "Thought: this is just a sentence."
    assert strip_reasoning(prose) == prose


def test_reasoning_dropper_skips_recent_turns() -> None:
    """Only past assistant messages lose their reasoning; a recent one keeps it."""
    old = make_entry(Role.ASSISTANT, "<think>a</think>Old step.", 0, 1)
    recent = make_entry(Role.ASSISTANT, "<think>b</think>New step.", 1, 2, recent=True)
    entries = [old, recent]
    result = ReasoningDropper()(entries, make_context(0, entries))
    assert result[0].text == "Old step."
    assert result[1] is recent


# --- duplicates -----------------------------------------------------------------------------


def test_repeated_lines_collapse_to_one_and_a_count() -> None:
    """A run of identical lines keeps its first line and says how many more there were."""
    text = "start\n" + "Downloading...\n" * 5 + "done"
    assert collapse_repeated_lines(text) == (
        "start\nDownloading...\n[previous line repeated 4 more times]\ndone"
    )


def test_identical_output_is_replaced_and_the_later_copy_kept_whole() -> None:
    """An output repeated later becomes a marker; the later copy is anchored against elision."""
    entries = turns(2)
    entries[3] = replace(entries[3], text=entries[1].text, text_tokens=entries[1].text_tokens)
    result = DuplicateCollapser()(entries, make_context(0, entries))
    assert result[1].text.startswith("[output omitted: identical to a later tool output")
    assert result[3].text == entries[1].text
    assert result[3].anchor
    after = ToolOutputElider()(result, make_context(0, result, limit=50))
    assert after[3].text == entries[1].text


def test_superseded_output_keeps_only_its_own_lines() -> None:
    """An output whose lines mostly reappear later keeps just the lines that do not."""
    later_text = tool_output(1, 40)
    earlier_text = later_text + "\nUNIQUE line_only_here = 77"
    entries = turns(2)
    entries[1] = make_entry(Role.TOOL, earlier_text, 1, 1)
    entries[3] = make_entry(Role.TOOL, later_text, 3, 2)
    result = DuplicateCollapser()(entries, make_context(0, entries))
    assert result[1].text.splitlines()[0].startswith("[output shortened:")
    assert result[1].text.splitlines()[1:] == ["UNIQUE line_only_here = 77"]


def test_tiny_duplicates_are_left_alone() -> None:
    """Replacing an output shorter than the marker would add tokens, so it is not done."""
    entries = [make_entry(Role.TOOL, "ok", 0, 1), make_entry(Role.TOOL, "ok", 1, 2)]
    result = DuplicateCollapser()(entries, make_context(0, entries))
    assert result[0].text == "ok"


# --- elision --------------------------------------------------------------------------------


def test_segments_rebuild_the_text_exactly() -> None:
    """Cutting into pieces (long lines included) loses and adds nothing."""
    text = "short\n" + ("word, " * 200) + "\nend"
    pieces = segments_of(text)
    assert "".join(pieces) == text
    assert max(len(piece) for piece in pieces) <= 240


def test_elide_keeps_head_tail_errors_and_referenced_lines() -> None:
    """A long output keeps its ends, its error line and the line a later message refers to."""
    text = tool_output(7, 200)
    referenced = {"value_7_150"}
    result = elide(text, 200, 0.3, referenced.__contains__)
    assert result is not None
    assert result.startswith("$ pytest tests/test_calc_7.py -q")
    assert result.rstrip().endswith("200 passed, 1 failed in 7.42s")
    assert "ZeroDivisionError: division by zero in divide_numbers_7" in result
    assert "value_7_150 = 1850" in result
    assert "lines (" in result
    assert "elided ...]" in result
    assert COUNT(result) < COUNT(text) / 2


def test_elide_leaves_short_outputs_alone() -> None:
    """An output under the limit is not touched."""
    assert elide("one\ntwo\nthree", 200, 0.3, lambda item: True) is None


# --- folding --------------------------------------------------------------------------------


def test_fold_replaces_oldest_turns_by_one_summary_until_the_budget_is_met() -> None:
    """The oldest turns fold into one summary message, the newest stay, the budget is met."""
    entries = turns(6)
    budget = sum(e.tokens for e in entries) - entries[1].tokens - entries[3].tokens
    context = make_context(budget, entries)
    result = TurnFolder()(entries, context)
    folded = 6 - (len(result) - 1) // 2
    assert result[0].summary
    assert result[0].text.startswith(f"[Summary of {folded} earlier turns")
    assert 2 <= folded < 6
    assert result[1:] == entries[2 * folded :]
    assert context.met()
    assert context.total == sum(e.tokens for e in result)


def test_fold_keeps_a_tool_result_with_its_call() -> None:
    """A turn is folded whole: no tool result is left without the assistant message before it."""
    entries = turns(4)
    context = make_context(sum(e.tokens for e in entries) - 10, entries)
    result = TurnFolder()(entries, context)
    for before, entry in itertools.pairwise(result):
        if entry.role is Role.TOOL:
            assert before.role is Role.ASSISTANT


def test_fold_leaves_protected_turns() -> None:
    """Recent, pinned and frozen entries are never folded, even far over the budget."""
    entries = [replace(e, recent=True) if e.unit == 3 else e for e in turns(3)]
    entries[0] = replace(entries[0], pinned=True)
    result = TurnFolder()(entries, make_context(1, entries))
    assert result[0] == entries[0]
    assert result[-2:] == entries[-2:]


def test_extractive_summary_names_the_action_and_the_result() -> None:
    """The summary line copies the tool call, the first result line, an error and items."""
    call = make_entry(Role.ASSISTANT, a0_reply(4), 0, 1)
    result = make_entry(Role.TOOL, tool_output(4, 30), 1, 1)
    line = summarize_turn([call, result], lambda item: item == "value_4_20")
    assert "code_execution_tool(" in line
    assert "$ pytest tests/test_calc_4.py -q (33 lines)" in line
    assert "ZeroDivisionError" in line
    assert "value_4_20" in line
