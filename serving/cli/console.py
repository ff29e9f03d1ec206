"""Where the commands write: results to stdout; progress, warnings and errors to stderr.

A console is made per command (`stdout()`, `stderr()`), so that it takes the width of
the terminal, or of COLUMNS, as it is when the command runs (80 when piped without
COLUMNS); result tables are made to fit 80 columns (`serving.cli.tables`). Sentences
are wrapped at that width only when it is known (a terminal, or COLUMNS); piped
without COLUMNS, each stays on one line, for `grep` and logs. `say`, `warn` and
`error` print text as written: a path or a message with brackets (`influence[dask]`)
is never taken for rich markup. `progress` shows where a long command is: a live bar
on a terminal, plain lines in a log.
"""

from __future__ import annotations

import os
import re
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

__all__ = ["error", "progress", "say", "stderr", "stdout", "warn"]

_COUNT = re.compile(r"\w+ (\d+) of (\d+)\b")
"""A step that counts (`Fold 2 of 5: ...`): the second of five has begun, one is done."""


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


@contextmanager
def progress(console: Console, title: str) -> Iterator[Callable[[str], None]]:
    """Show `title` while the block runs; the callable it yields announces each step.

    Takes the console (stderr) and what the command does ("Training"); yields
    `step(message)`, which the layers' `progress` callbacks accept. On a terminal it
    is one live line (spinner, `title: step`, and, for a step that counts, `Fold 2 of
    5: ...`, a bar with the count and the time left), gone when the block ends. Not
    on a terminal (a log, CI), each step is one plain line, `Training: fitting on the
    earlier campaigns ...`, printed as it starts (rich flushes each print), so that a
    log shows where a long command is and what it was doing when it stopped.
    """
    if not console.is_terminal:
        console.print(Text(f"{title} ..."), soft_wrap=True)

        def line(message: str) -> None:
            console.print(Text(f"{title}: {_lower_first(message)} ..."), soft_wrap=True)

        yield line
        return
    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[count]}"),
        _TimeLeft(),
        console=console,
        transient=True,
    )
    task = bar.add_task(f"{title} ...", total=None, count="")

    def update(message: str) -> None:
        count = _COUNT.match(message)
        description = f"{title}: {_lower_first(message)} ..."
        if count is None:  # a step that does not count: the bar pulses
            bar.update(task, description=description, total=None, completed=0, count="")
        else:
            done, total = int(count.group(1)) - 1, int(count.group(2))
            bar.update(
                task, description=description, total=total, completed=done, count=f"{done}/{total}"
            )

    with bar:
        yield update


def _lower_first(message: str) -> str:
    # "Fitting on ..." follows "Training: "; an acronym ("MLflow ...") keeps its case.
    if len(message) > 1 and message[1].islower():
        return message[0].lower() + message[1:]
    return message


class _TimeLeft(TimeRemainingColumn):
    """rich's estimate of the time left, blank while the step does not count."""

    def render(self, task: Task) -> Text:
        """The estimate, or nothing when the task has no total."""
        return Text("") if task.total is None else super().render(task)
