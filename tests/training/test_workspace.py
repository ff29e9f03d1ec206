"""A workspace's projects: the default keeps today's layout, a named one gets its own names."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.workspace import Workspace, check_project, project_flag


def test_the_default_project_keeps_the_layout_a_workspace_had_before_projects(
    tmp_path: Path,
) -> None:
    workspace = Workspace.at(tmp_path)
    assert not workspace.named
    assert workspace.project_folder(Path("models")) == tmp_path / "models"
    assert workspace.project_file("decisions", ".db") == tmp_path / "decisions.db"
    assert (workspace.experiment("train"), workspace.experiment("compare")) == (
        "influence",
        "influence-compare",
    )
    assert workspace.registered_model() == "influence"
    assert project_flag(workspace.project) == ""
    assert workspace.describe() == f"Workspace {tmp_path}, project influence (the default)"


def test_a_named_project_has_names_of_its_own(tmp_path: Path) -> None:
    workspace = Workspace.at(tmp_path, "acme")
    assert workspace.project_folder(Path("models")) == tmp_path / "models" / "acme"
    assert workspace.project_folder(Path("/srv/models")) == Path("/srv/models/acme")
    assert workspace.project_file("decisions", ".db") == tmp_path / "decisions-acme.db"
    assert (workspace.experiment("train"), workspace.experiment("compare")) == (
        "influence-acme-train",
        "influence-acme-compare",
    )
    assert workspace.registered_model() == "influence-acme"
    assert project_flag("acme") == " --project acme"
    assert workspace.describe() == f"Workspace {tmp_path}, project acme"


def test_no_two_projects_share_an_experiment() -> None:
    # Names chosen to collide if the rule were only "influence-<project>[-<command>]".
    projects = ["influence", "compare", "x", "x-compare", "x-train", "train", "compare-train"]
    names = [Workspace(Path("/w"), p).experiment(c) for p in projects for c in ("train", "compare")]
    assert len(set(names)) == len(names)


def test_relative_paths_are_the_workspace_s_and_absolute_ones_stay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert Workspace.at(None).home == tmp_path
    workspace = Workspace.at(Path("w"))
    assert workspace.home == tmp_path / "w"
    assert workspace.path(Path("data")) == tmp_path / "w" / "data"
    assert workspace.path(Path("/elsewhere/data")) == Path("/elsewhere/data")


@pytest.mark.parametrize("name", ["acme corp", "acme/b", "acme.b", "", "é", "a" * 65])
def test_a_project_name_is_a_slug(name: str) -> None:
    with pytest.raises(ValueError, match="is not a project name") as refused:
        check_project(name)
    assert str(refused.value) == (
        f"{name!r} is not a project name: use 1 to 64 letters, digits, '-' and '_', "
        "such as acme or brand-x"
    )


@pytest.mark.parametrize("name", ["acme", "brand_x", "brand-2", "a" * 64])
def test_letters_digits_dashes_and_underscores_name_a_project(name: str) -> None:
    assert check_project(name) == name


def test_case_does_not_tell_two_projects_apart(tmp_path: Path) -> None:
    # On macOS or Windows models/Acme is models/acme: one project, one set of names.
    assert check_project("Brand_X") == "brand_x"
    upper, lower = Workspace.at(tmp_path, "ACME"), Workspace.at(tmp_path, "acme")
    assert upper == lower
    assert Workspace.at(tmp_path, "Influence").named is False  # the default project


def test_a_home_written_with_a_tilde_is_the_user_s_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert Workspace.at(Path("~/brands")).home == tmp_path.resolve() / "brands"
