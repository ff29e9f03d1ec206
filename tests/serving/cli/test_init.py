"""The `influence` app itself, in-process: `--version`, and every command's `--help` as written."""

from __future__ import annotations

from importlib.metadata import version

import pytest
import typer.main
from typer.core import TyperGroup
from typer.testing import CliRunner

from serving.cli import app


def _commands(group: TyperGroup, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path of `group`, groups included: ("train",), ("abtest", "plan"), ..."""
    found = []
    for name, command in group.commands.items():
        found.append((*path, name))
        if isinstance(command, TyperGroup):
            found += _commands(command, (*path, name))
    return found


COMMANDS = _commands(typer.main.get_group(app))


def test_version_prints_the_installed_one() -> None:
    done = CliRunner().invoke(app, ["--version"])
    assert done.exit_code == 0, done.output
    assert done.stdout == f"influence {version('influence')}\n"


def test_every_command_is_listed() -> None:
    assert sorted(COMMANDS) == sorted(
        [
            *[(c,) for c in ("validate", "simulate", "features", "train", "promote")],
            *[(c,) for c in ("compare", "serve", "predict", "materialize", "rank", "abtest")],
            ("benchmark",),
            *[("abtest", c) for c in ("analyse", "plan", "assign")],
            ("benchmark", "peerindex"),
        ]
    )


@pytest.mark.parametrize("path", [(), *COMMANDS], ids=lambda p: " ".join(p) or "influence")
def test_help_is_plain_text_as_written_within_80_columns(path: tuple[str, ...]) -> None:
    done = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "80"})
    assert done.exit_code == 0, done.output
    text = done.stdout
    assert text.startswith(f"Usage: influence {' '.join(path)}".rstrip() + " [OPTIONS]")
    assert "<bool>" not in text
    assert not any(c in text for c in "╭╰│"), "help is plain text, without rich panels"
    assert max(len(line) for line in text.splitlines()) <= 80


def test_brackets_and_backticks_are_shown_as_written() -> None:
    for command in ("features", "train", "predict"):
        text = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "80"}).stdout
        assert "'influence[dask]')." in text, text
        assert "--engine <pandas|dask>" in text
    simulate = CliRunner().invoke(app, ["simulate", "--help"]).stdout
    assert "`truth.parquet`" in simulate
    assert "  --experiment  " in simulate
