"""Workspaces and projects: where each brand's or client's models, runs and decisions live.

A workspace is one folder (`INFLUENCE_HOME`, default the working directory) that every
relative path of the settings is resolved against, so that a command started from another
directory finds the same `models/`, `mlruns/` and decision log. A project (`--project NAME`
or `INFLUENCE_PROJECT`) is one brand or client inside it, with names of its own:

    what                 default project (`influence`)     project `acme`
    bundles, champion    `models/`                         `models/acme/`
    registered model     `influence`                       `influence-acme`
    MLflow experiments   `influence`, `influence-compare`  `influence-acme-train`, `-compare`
    decision log         `decisions.db`                    `decisions-acme.db`

The default project keeps the layout the workspace had before projects existed, so that a
workspace with one brand needs no name. The MLflow store (`mlruns/`, or the configured
tracking URI) is the workspace's and holds every project's experiments. Their names cannot
collide: a named project's end in `-train` or `-compare`, so `influence-x-train` can only be
project `x`'s, and no project's training experiment is another's backtest experiment.
Settings that name one thing explicitly (`INFLUENCE_MODEL_URI`, `INFLUENCE_DECISION_LOG`,
`INFLUENCE_EXPERIMENT`, `INFLUENCE_REGISTERED_MODEL`, the tracking URI) win over these
names; `INFLUENCE_MODELS_DIR` moves the folder of every project's models, a project's
own staying a subfolder of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CHAMPION_MANIFEST",
    "DEFAULT_PROJECT",
    "Workspace",
    "check_project",
    "project_flag",
    "snapshot_folder",
]

DEFAULT_PROJECT = "influence"
"""The project of a workspace whose commands name none: today's layout, unchanged."""

CHAMPION_MANIFEST = "champion.json"
"""In a project's models folder: a copy of its champion's manifest, what serving loads."""


def snapshot_folder(models_dir: Path, version: str) -> Path:
    """Where a model version's online snapshot goes in a project's models folder, beside its
    bundle: `influence-v{version}.snapshot` (`features.snapshot`). `influence train
    --promote` writes the new champion's there, and a service with no data directory or
    snapshot named reads its champion's from there."""
    return models_dir / f"influence-v{version}.snapshot"


_PROJECT_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def check_project(name: str) -> str:
    """`name` in lower case if it can name a project (a folder, an MLflow name); ValueError
    otherwise.

    A project name is 1 to 64 ASCII letters, digits, '-' and '_': it becomes a folder name
    and part of MLflow's experiment and model names, where spaces, slashes or dots would
    mean something else. Case does not tell two projects apart (`Acme` is `acme`): on a
    file system that ignores case (macOS, Windows) `models/Acme/` is `models/acme/`, and
    two registered models would share one champion file and one decision log. The
    error's sentence follows the name of what was set (`--project` or `INFLUENCE_PROJECT`).
    """
    if not _PROJECT_NAME.fullmatch(name):
        raise ValueError(
            f"{name!r} is not a project name: use 1 to 64 letters, digits, '-' and '_', "
            "such as acme or brand-x"
        )
    return name.lower()


def project_flag(project: str) -> str:
    """What a command suggested to the user needs to act on `project`: nothing for the
    default project, ` --project acme` for another."""
    return "" if project == DEFAULT_PROJECT else f" --project {project}"


@dataclass(frozen=True)
class Workspace:
    """One workspace root (absolute) and the project a command works for.

    Every name and path a project gets is derived here, once, by the rule in this
    module's docstring; the layers' settings add what was configured explicitly.
    """

    home: Path
    project: str = DEFAULT_PROJECT

    @classmethod
    def at(cls, home: Path | None, project: str = DEFAULT_PROJECT) -> Workspace:
        """The workspace rooted at `home` (None: the working directory), made absolute; a
        leading `~` is the user's home, as a shell would read it (a systemd unit or an
        `.env` file does not)."""
        return cls(Path(home or Path.cwd()).expanduser().resolve(), check_project(project))

    @property
    def named(self) -> bool:
        """Whether the project is one other than the default (and so has names of its own)."""
        return self.project != DEFAULT_PROJECT

    def path(self, path: Path) -> Path:
        """`path` resolved against the workspace root; an absolute path stays as it is."""
        return self.home / Path(path)

    def project_folder(self, root: Path) -> Path:
        """The project's own folder under `root` (resolved): `root` itself for the default
        project, `root/<project>` for a named one (`models/acme`)."""
        folder = self.path(root)
        return folder / self.project if self.named else folder

    def project_file(self, stem: str, suffix: str) -> Path:
        """A file of the project's at the workspace root: `decisions.db` for the default
        project, `decisions-acme.db` for `acme` (stem `decisions`, suffix `.db`)."""
        name = f"{stem}-{self.project}{suffix}" if self.named else f"{stem}{suffix}"
        return self.home / name

    def experiment(self, command: str) -> str:
        """The MLflow experiment of a command's runs (`train` or `compare`): `influence` and
        `influence-compare` for the default project, `influence-<project>-<command>` else."""
        if self.named:
            return f"{DEFAULT_PROJECT}-{self.project}-{command}"
        return DEFAULT_PROJECT if command == "train" else f"{DEFAULT_PROJECT}-{command}"

    def registered_model(self) -> str:
        """The registry name of the project's models: `influence`, or `influence-<project>`."""
        return f"{DEFAULT_PROJECT}-{self.project}" if self.named else DEFAULT_PROJECT

    def describe(self) -> str:
        """`Workspace /abs/path, project acme`: the start of each command's first line."""
        default = "" if self.named else " (the default)"
        return f"Workspace {self.home}, project {self.project}{default}"
