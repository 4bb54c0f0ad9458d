"""How the command line shows things: one money formatter, one table renderer (tabulate).

- :func:`money` prints dollars with as many decimals as the amount needs, so a small cost is
  exact (`$0.0000002` for ten embedding tokens, never `$0.000000`), cents at least, and an
  unknown cost never as $0 (the formatting itself is `budgets.rules.format_usd`, the one
  money formatter of the package).
- :func:`table` renders aligned text tables with `tabulate` (numbers right-aligned, text
  left). A table wider than the terminal (80 columns when there is none) wraps its text
  columns first and, if it is still too wide, continues below with the remaining columns,
  each part repeating the first column so every row stays identifiable.
"""

from __future__ import annotations

import shutil
from collections.abc import Collection, Sequence
from typing import Any

import tabulate as tabulate_module

DEFAULT_WIDTH = 80
MIN_TEXT_WIDTH = 24  # a wrapped text column is never narrower (else the table splits)
GAP = 2  # spaces between columns (tabulate's "simple" format)


def money(value: float | None, *, unpriced: bool = False) -> str:
    """Dollars for the CLI: :func:`agent_routing.budgets.rules.format_usd` (the one money
    formatter, shared with budget messages: `$2.50`, `$0.075`, `$0.0000002`); None is
    `unpriced` (when `unpriced`) or `-`, never $0."""
    if value is None:
        return "unpriced" if unpriced else "-"
    from agent_routing.budgets.rules import format_usd

    return format_usd(value)


def percent(value: float | None) -> str:
    """A fraction as a percentage with one decimal; None as `-`."""
    return "-" if value is None else f"{value:.1%}"


def number(value: Any) -> str:
    """A table cell: None as `-`, floats to 6 decimals below 1 and 4 from 1, else str()."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6f}" if abs(value) < 1 else f"{value:,.4f}"
    return str(value)


def terminal_width() -> int:
    """The terminal's width in columns ($COLUMNS, else the terminal, else 80)."""
    return shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    numeric: Collection[int] | None = None,
    width: int | None = None,
) -> str:
    """An aligned text table that fits `width` columns (default: the terminal's).

    `numeric` names the right-aligned columns; by default, those whose values are all
    numbers (or None). Cells that are not strings are shown by :func:`number`.
    """
    if numeric is None:
        numeric = {
            index
            for index in range(len(headers))
            if rows
            and all(isinstance(row[index], int | float) or row[index] is None for row in rows)
        }
    cells = [[value if isinstance(value, str) else number(value) for value in row] for row in rows]
    limit = width or terminal_width()
    return "\n\n".join(
        _fitted(
            [headers[i] for i in part],
            [[row[i] for i in part] for row in cells],
            {position for position, i in enumerate(part) if i in numeric},
            limit,
        )
        for part in _column_parts(headers, cells, numeric, limit)
    )


def _fitted(
    headers: Sequence[str], cells: Sequence[Sequence[str]], numeric: Collection[int], limit: int
) -> str:
    """The table as is if it fits, else with its text columns wrapped as far as they go."""
    text = _render(headers, cells, numeric, None)
    if _widest(text) <= limit:
        return text
    return _render(headers, cells, numeric, _wrap_text_columns(headers, cells, numeric, limit))


def _all_numbers(rows: Sequence[Sequence[Any]], index: int) -> bool:
    return all(isinstance(row[index], int | float) or row[index] is None for row in rows)


def _render(
    headers: Sequence[str],
    cells: Sequence[Sequence[str]],
    numeric: Collection[int],
    max_widths: Sequence[int | None] | None,
) -> str:
    align = ["right" if index in numeric else "left" for index in range(len(headers))]
    padding = tabulate_module.MIN_PADDING
    tabulate_module.MIN_PADDING = 0  # columns as wide as their widest cell or header
    try:
        text = tabulate_module.tabulate(
            cells,
            headers=list(headers),
            tablefmt="simple",
            colalign=align,
            disable_numparse=True,
            maxcolwidths=list(max_widths) if max_widths else None,
        )
    finally:
        tabulate_module.MIN_PADDING = padding
    return "\n".join(line.rstrip() for line in text.splitlines())


def _widest(text: str) -> int:
    return max((len(line) for line in text.splitlines()), default=0)


def _natural_widths(headers: Sequence[str], cells: Sequence[Sequence[str]]) -> list[int]:
    widths = [len(header) for header in headers]
    for row in cells:
        for index, text in enumerate(row):
            widths[index] = max(widths[index], *(len(line) for line in text.splitlines() or [""]))
    return widths


def _wrap_text_columns(
    headers: Sequence[str], cells: Sequence[Sequence[str]], numeric: Collection[int], limit: int
) -> list[int | None]:
    """Widths for the text columns that bring the table under `limit`, narrowing the widest
    text column first and none below MIN_TEXT_WIDTH (or its header); numbers never wrap."""
    widths = _natural_widths(headers, cells)
    floors = [max(MIN_TEXT_WIDTH, len(header)) for header in headers]
    caps: list[int | None] = [None] * len(headers)
    total = sum(widths) + GAP * (len(widths) - 1)
    while total > limit:
        text_columns = [
            index
            for index in range(len(headers))
            if index not in numeric and widths[index] > floors[index]
        ]
        if not text_columns:
            break
        widest = max(text_columns, key=lambda index: widths[index])
        cut = min(total - limit, widths[widest] - floors[widest])
        widths[widest] -= cut
        caps[widest] = widths[widest]
        total -= cut
    return caps


def _column_parts(
    headers: Sequence[str], cells: Sequence[Sequence[str]], numeric: Collection[int], limit: int
) -> list[list[int]]:
    """Split the columns into parts that fit `limit`, each starting with column 0; one part
    when the whole table fits, or fits once its text columns wrap."""
    widths = _natural_widths(headers, cells)
    wrapped = _wrap_text_columns(headers, cells, numeric, limit)
    narrowest = [width if cap is None else cap for cap, width in zip(wrapped, widths, strict=True)]
    if sum(narrowest) + GAP * (len(widths) - 1) <= limit:
        return [list(range(len(headers)))]
    parts: list[list[int]] = []
    current = [0]
    used = widths[0]
    for index in range(1, len(headers)):
        if len(current) > 1 and used + GAP + widths[index] > limit:
            parts.append(current)
            current, used = [0], widths[0]
        current.append(index)
        used += GAP + widths[index]
    parts.append(current)
    return parts
