"""The consoles: sentences wrap at a width that is known, text prints as written, and
progress is a live bar on a terminal and plain lines in a log."""

from __future__ import annotations

import io
import math

import pytest
from rich.console import Console

from features.io import Dataset
from features.simulate import SimulationConfig, simulate_world
from serving.cli.console import error, progress, say, warn
from training import TrainConfig, fit

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


def _steps(console: Console) -> None:
    with progress(console, "Backtesting [fast]") as step:
        step("Validating the data")
        step("Fold 2 of 5: refitting as of 2026-01-05")
        step("MLflow logging")


def test_progress_in_a_log_is_one_line_per_step() -> None:
    assert _printed(_steps) == (
        "Backtesting [fast] ...\n"
        "Backtesting [fast]: validating the data ...\n"
        "Backtesting [fast]: fold 2 of 5: refitting as of 2026-01-05 ...\n"
        "Backtesting [fast]: MLflow logging ...\n"
    )


def test_progress_on_a_terminal_counts_what_counts() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=120, force_terminal=True, color_system=None)
    with progress(console, "Backtesting") as step:
        step("Fold 2 of 5: refitting as of 2026-01-05")
        console.print("a warning")  # printed above the live line, kept
    shown = buffer.getvalue()
    assert "Backtesting: fold 2 of 5: refitting as of 2026-01-05 ..." in shown
    assert "1/5" in shown  # one fold done of five
    assert "a warning" in shown
    assert "Backtesting ...\n" not in shown  # no plain lines on a terminal


@pytest.mark.model  # it fits a booster
def test_boosting_rounds_count_on_a_terminal() -> None:
    """A real fit's rounds drive the live bar: the count of rounds done and the step."""
    world = simulate_world(SimulationConfig(accounts=150, campaigns=10, seed=3))
    data = Dataset(world.accounts, world.posts, world.campaigns, world.placements)
    buffer = io.StringIO()
    console = Console(file=buffer, width=120, force_terminal=True, color_system=None)
    with progress(console, "Training") as step:
        bundle = fit(data, TrainConfig(targets=("clicks",)), progress=step)
    rounds = bundle.models["clicks"].booster.current_iteration()
    # The last round told (every fifth, from the first) is the bar's last state.
    last = range(1, rounds + 1, math.ceil(rounds / 5))[-1]
    shown = buffer.getvalue()
    assert f"Training: round {last} of {rounds}: boosting clicks ..." in shown
    assert f"{last - 1}/{rounds}" in shown
    assert "Training ...\n" not in shown  # no plain lines on a terminal
