"""What counts as a fact to keep: identifiers, numbers, paths, URLs, error lines."""

from __future__ import annotations

import pytest

from agent_routing.compression._identifiers import extract_items, is_error_line, items_in


def test_each_kind_is_recognised() -> None:
    """URLs, absolute and relative paths, file names, code names, hashes and numbers are items."""
    text = (
        "See https://example.com/a/b?x=1. Then open /repo/src/app.py and src/util/io.py, "
        "edit setup.cfg, call parse_args, DataFrame and os.path.join, commit 8da0b9b215eb, "
        "port 8080 and ratio 0.25."
    )
    items = extract_items(text)
    assert items["https://example.com/a/b?x=1"] == "url"
    assert items["/repo/src/app.py"] == "path"
    assert items["src/util/io.py"] == "path"
    assert items["setup.cfg"] == "path"
    assert items["parse_args"] == "identifier"
    assert items["DataFrame"] == "identifier"
    assert items["os.path.join"] == "identifier"
    assert items["8da0b9b215eb"] == "identifier"
    assert items["8080"] == "number"
    assert items["0.25"] == "number"


def test_plain_words_and_single_digits_are_not_items() -> None:
    """Ordinary prose, capitalised words, acronyms, single digits and 'and/or' carry no item."""
    items = extract_items("The Quick fox saw NASA and/or 3 dogs, e.g. twice.Then it ran.")
    assert items == {}


def test_parts_of_a_path_are_not_counted_again() -> None:
    """The words inside a path belong to the path, not to the identifiers."""
    items = extract_items("/SWE-agent__test-repo/tests/missing_colon.py")
    assert items == {"/SWE-agent__test-repo/tests/missing_colon.py": "path"}


def test_error_lines() -> None:
    """Errors, tracebacks and failures are error lines; 'no errors' and plain output are not."""
    assert is_error_line("E   ZeroDivisionError: division by zero")
    assert is_error_line("Traceback (most recent call last):")
    assert is_error_line("bash: foo: command not found")
    assert not is_error_line("Script completed successfully, no errors.")
    assert not is_error_line("3 passed in 0.12s")


def test_cached_items_are_read_only() -> None:
    """The cached scan cannot be changed by a caller (it is shared across calls)."""
    items = items_in("value_1 = 42")
    assert dict(items) == {"value_1": "identifier", "42": "number"}
    with pytest.raises(TypeError):
        items["x"] = "number"  # type: ignore[index]
