"""Result tables that a person reads on an 80-column terminal.

Labels wrap and numbers do not, and an estimate puts its 95% interval on a second
line (`estimate`), so that a table of four metrics with intervals fits 80 columns:
rich wraps a long label before it would ever cut a number short.
"""

from __future__ import annotations

import math

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from serving.cli.console import say

__all__ = ["estimate", "result_table", "show"]


def result_table(*headers: str) -> Table:
    """A table with one column per header (a header may hold newlines).

    The first column holds labels: left-aligned, and wrapped first when the table is
    wider than the console. The others hold numbers: right-aligned and kept whole (a
    number is folded onto a second line, never cut, should nothing else give way).
    Light rules (a line under the header, two spaces between columns) leave the width
    to the numbers.
    """
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 0, 0, 1))
    # Headers as Text: a currency in one ("clicks per [b]") is shown, never read as markup.
    label, *numbers = headers
    table.add_column(Text(label), justify="left", min_width=11, overflow="fold")
    for header in numbers:
        table.add_column(Text(header), justify="right", no_wrap=True, overflow="fold")
    return table


def estimate(values: tuple[float, ...], spec: str = ".3g") -> str:
    """A (value, low, high) triple as the value over its interval `[low, high]`.

    Each number is formatted by `spec`: ".3g" (three significant digits) for rates,
    "+.3g" for differences, ".2f" for correlations. Empty when the value is NaN (a
    policy that did not run).
    """
    value, low, high = values
    if math.isnan(value):
        return ""
    v, lo, hi = (format(x, spec) for x in (value, low, high))
    return f"{v}\n[{lo}, {hi}]"


def show(console: Console, title: str, table: Table, *notes: str) -> None:
    """Print `title`, `table` below it, any `notes` on it, then a blank line.

    The title and the notes wrap at the console's width, not the table's.
    """
    say(console, title)
    console.print(table)
    for note in notes:
        say(console, note)
    console.print()
