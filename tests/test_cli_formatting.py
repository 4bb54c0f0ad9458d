"""The CLI's one money formatter and one table renderer: exact small amounts, 80 columns."""

from __future__ import annotations

import pytest

from agent_routing.cli._formatting import money, percent, table


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (2.5, "$2.50"),
        (10.0, "$10.00"),
        (0.075, "$0.075"),
        (0.0099375, "$0.0099375"),
        (0.1 + 0.2, "$0.30"),  # float noise is not a digit
        (10 * 0.02 / 1e6, "$0.0000002"),  # ten embedding tokens: exact, not $0.000000
        (1234.56789, "$1,234.56789"),
        (0.0, "$0.00"),
        (-0.25, "-$0.25"),
        (1e-12, "$1e-12"),
    ],
)
def test_money_shows_as_many_decimals_as_the_amount_needs(value: float, shown: str) -> None:
    """Cents at least; exact to 1e-8 dollars below a cent and 1e-6 from a cent; a tinier
    amount in scientific notation, never $0.00 (the formatter budget messages use too)."""
    assert money(value) == shown


def test_unknown_money_is_never_zero() -> None:
    """None is 'unpriced' where a cost was expected, '-' elsewhere."""
    assert money(None, unpriced=True) == "unpriced"
    assert money(None) == "-"
    assert percent(None) == "-"
    assert percent(0.218) == "21.8%"


def test_a_narrow_table_is_aligned_numbers_right_text_left() -> None:
    """Headers, a dashed rule, text left-aligned and numbers right-aligned."""
    text = table(["model", "calls"], [["gpt-4o", 3], ["gpt-4o-mini", 12]], width=80)
    assert text.splitlines() == [
        "model        calls",
        "-----------  -----",
        "gpt-4o           3",
        "gpt-4o-mini     12",
    ]


def test_a_wide_table_continues_below_repeating_its_first_column() -> None:
    """Fourteen numeric columns do not fit 80: the table splits, every part fits and starts
    with the row's name, and every value is still shown once."""
    headers = ["model"] + [f"column {n}" for n in range(13)]
    rows = [["openai/gpt-4o", *range(100_000, 100_013)], ["openai/gpt-4o-mini", *range(13)]]
    text = table(headers, rows, width=80)
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines)
    parts = text.split("\n\n")
    assert len(parts) > 1
    assert all(part.startswith("model") for part in parts)
    for value in range(100_000, 100_013):
        assert text.count(str(value)) == 1


def test_a_long_text_column_wraps_to_fit() -> None:
    """A long reason wraps inside its column instead of widening the table."""
    reason = "balanced: score 0.298 < 0.599 -> cheap; cascade: escalated to strong " * 2
    text = table(["step", "why"], [["retry", reason.strip()]], width=60)
    lines = text.splitlines()
    assert all(len(line) <= 60 for line in lines)
    assert len(lines) > 3
    assert " ".join(line[7:].strip() for line in lines[2:]) == reason.strip()
