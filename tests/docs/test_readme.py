"""Every `influence` command the README shows exists, with every flag it shows."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main
from typer.core import TyperGroup

from serving.cli import app

README = Path(__file__).parents[2] / "README.md"


def _invocations() -> list[list[str]]:
    """The README's `influence ...` commands (inline or in blocks), as tokens after `influence`."""
    text = README.read_text(encoding="utf-8")
    found = re.findall(r"`(?:\S*/)?influence ([^`\n]*)`", text)
    found += re.findall(r"^\s*(?:\S+=\S+ )*(?:\S*/)?influence ([^\n]*)$", text, flags=re.M)
    return [line.split("#")[0].replace("[", " ").replace("]", " ").split() for line in found]


def test_every_command_and_flag_the_readme_shows_exists() -> None:
    root = typer.main.get_group(app)
    checked, missing = 0, []
    for tokens in _invocations():
        command: object = root
        rest = list(tokens)
        while isinstance(command, TyperGroup) and rest and not rest[0].startswith("--"):
            # `influence abtest DATA_DIR` is short for `influence abtest analyse DATA_DIR`.
            command = command.commands.get(rest[0]) or command.commands.get("analyse")
            if command is not None and command.name == rest[0]:
                rest.pop(0)
        if command is None:
            continue  # prose that starts with the word, such as "influence installed"
        opts = {o for param in command.params for o in (*param.opts, *param.secondary_opts)}
        missing += [(tokens, t) for t in rest if t.startswith("--") and t not in opts]
        checked += 1
    assert missing == []
    assert checked >= 40
