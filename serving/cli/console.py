"""Where the commands write: results to stdout; progress, warnings and errors to stderr.

A console is made per command (`stdout()`, `stderr()`), so that it takes the width of
the terminal, or of COLUMNS, as it is when the command runs (80 when piped without
COLUMNS); result tables are made to fit 80 columns (`serving.cli.tables`). Sentences
are wrapped at that width only when it is known (a terminal, or COLUMNS); piped
without COLUMNS, each stays on one line, for `grep` and logs. `say`, `warn` and
`error` print text as written: a path or a message with brackets (`influence[dask]`)
is never taken for rich markup.
"""

from __future__ import annotations

import os
import textwrap

from rich.console import Console
from rich.text import Text

__all__ = ["error", "say", "stderr", "stdout", "warn"]


def stdout() -> Console:
    """A console on standard output, for results."""
    return Console(highlight=False)


def stderr() -> Console:
    """A console on standard error, for progress, warnings and errors."""
    return Console(stderr=True, highlight=False)


def say(console: Console, text: str, *, soft_wrap: bool = False) -> None:
    """Print `text` as written, wrapped at the console's width when that width is known.

    `soft_wrap` keeps a line whole (the terminal wraps it) for what is copied or
    parsed rather than read: a command to paste, one problem per line.
    """
    known = console.is_terminal or os.environ.get("COLUMNS", "").isdigit()
    if soft_wrap or not known:
        console.print(Text(text), soft_wrap=True)
        return
    # Wrapped at spaces only: a word wider than what is left of the line (a path, a URL)
    # moves to the next line whole, never folded in two, since it is what a user copies.
    lines = text.splitlines() or [""]
    wrapped = [
        textwrap.fill(line, console.width, break_long_words=False, break_on_hyphens=False)
        for line in lines
    ]
    console.print(Text("\n".join(wrapped)), soft_wrap=True)


def warn(console: Console, text: str) -> None:
    """Print `warning: text`, the label in yellow, the line whole."""
    console.print(Text.assemble(("warning:", "yellow"), " ", text), soft_wrap=True)


def error(console: Console, text: str, label: str = "error:") -> None:
    """Print `error: text` (or another label), the label in red, the line whole."""
    console.print(Text.assemble((label, "red"), " ", text), soft_wrap=True)
