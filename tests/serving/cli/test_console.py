"""The consoles: sentences wrap at a width that is known, text prints as written."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from serving.cli.console import error, say, warn

SENTENCE = "Wrote out/influence[dask]/features.parquet: 1,500 rows, 37 features, all of them."


def _printed(write: object, width: int | None = None) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=False, color_system=None)
    assert callable(write)
    write(console)
    return buffer.getvalue()


def test_a_sentence_wraps_only_at_a_known_width(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    assert _printed(lambda c: say(c, SENTENCE)) == SENTENCE + "\n"  # piped: one line
    monkeypatch.setenv("COLUMNS", "40")
    wrapped = _printed(lambda c: say(c, SENTENCE), width=40)
    assert max(map(len, wrapped.splitlines())) <= 40
    assert " ".join(wrapped.split()) == SENTENCE
    kept = _printed(lambda c: say(c, SENTENCE, soft_wrap=True), width=40)
    assert kept == SENTENCE + "\n"  # what is copied stays whole


def test_brackets_are_text_not_markup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    hint = "The dask engine needs Dask: pip install 'influence[dask]' [bold]now[/bold]."
    assert _printed(lambda c: error(c, hint)) == f"error: {hint}\n"
    assert _printed(lambda c: warn(c, hint)) == f"warning: {hint}\n"
    assert _printed(lambda c: error(c, hint, label="internal error:")).startswith(
        "internal error: The dask engine"
    )
