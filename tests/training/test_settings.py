"""Training settings: the workspace root resolves every relative path, the project picks its
names, and what is set explicitly wins."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from training.errors import TrainingError
from training.settings import TrainingSettings, get_settings, settings_for


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No INFLUENCE_ or MLflow variable of the developer's shell leaks into these tests."""
    for name in list(os.environ):
        if name.startswith(("INFLUENCE_", "MLFLOW_")):
            monkeypatch.delenv(name)
    get_settings.cache_clear()


def test_relative_folders_are_the_workspace_s_wherever_the_command_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "workspace"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INFLUENCE_HOME", str(home))
    monkeypatch.setenv("INFLUENCE_PROJECT", "acme")
    settings = settings_for()
    assert (settings.home, settings.project) == (home, "acme")
    assert settings.mlruns_dir == home / "mlruns"
    assert settings.project_models_dir() == home / "models" / "acme"
    assert settings.configured_tracking_uri() == f"sqlite:///{home / 'mlruns' / 'mlflow.db'}"
    assert (settings.model_name(), settings.experiment_name()) == (
        "influence-acme",
        "influence-acme-train",
    )
    assert settings.describe() == (
        f"Workspace {home}, project acme: models in {home / 'models' / 'acme'}, runs in "
        f"sqlite:///{home / 'mlruns' / 'mlflow.db'}."
    )
    # --project wins over INFLUENCE_PROJECT; the default project keeps models/ itself.
    assert settings_for("influence").project_models_dir() == home / "models"


def test_explicit_names_and_folders_win_over_the_project_s(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INFLUENCE_HOME", str(tmp_path))
    monkeypatch.setenv("INFLUENCE_REGISTERED_MODEL", "shared")
    monkeypatch.setenv("INFLUENCE_EXPERIMENT", "team-runs")
    monkeypatch.setenv("INFLUENCE_MODELS_DIR", "/srv/models")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "postgresql://me:secret@db/mlflow")
    settings = settings_for("acme")
    assert (settings.model_name(), settings.experiment_name()) == ("shared", "team-runs")
    assert settings.experiment_name("compare") == "influence-acme-compare"
    # INFLUENCE_MODELS_DIR holds every project's models: each keeps a folder of its own.
    assert settings.project_models_dir() == Path("/srv/models/acme")
    assert settings.describe().endswith(
        "models in /srv/models/acme, runs in postgresql://me:***@db/mlflow."
    )


def test_a_bad_project_in_the_environment_is_one_sentence(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INFLUENCE_PROJECT", "acme corp")
    with pytest.raises(TrainingError, match=r"^INFLUENCE_PROJECT ") as refused:
        get_settings()
    assert str(refused.value) == (
        "INFLUENCE_PROJECT 'acme corp' is not a project name: use 1 to 64 letters, digits, "
        "'-' and '_', such as acme or brand-x."
    )


def test_under_keeps_a_project_in_its_folder(tmp_path: Path) -> None:
    settings = TrainingSettings.under(tmp_path, project="acme")
    assert settings.home == tmp_path
    assert settings.project_models_dir() == tmp_path / "models" / "acme"
    assert settings.tracking_uri() == f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"


def test_under_a_relative_folder_is_that_folder_of_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As docs/python-api.md writes it: TrainingSettings.under(Path("workspace")).
    monkeypatch.chdir(tmp_path)
    settings = TrainingSettings.under(Path("workspace"), project="acme")
    root = tmp_path / "workspace"
    assert (settings.home, settings.mlruns_dir, settings.models_dir) == (
        root,
        root / "mlruns",
        root / "models",
    )
    assert settings.project_models_dir() == root / "models" / "acme"
    assert settings.tracking_uri() == f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"


def test_a_project_named_in_capitals_is_the_same_project(tmp_path: Path) -> None:
    settings = TrainingSettings.under(tmp_path, project="Acme")
    assert settings.project == "acme"
    assert (settings.model_name(), settings.experiment_name()) == (
        "influence-acme",
        "influence-acme-train",
    )
    assert settings.project_models_dir() == tmp_path / "models" / "acme"
