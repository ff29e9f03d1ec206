"""Settings read from the environment: each variable the service cannot run with is one
sentence naming it, from `read_settings` and from `influence serve`."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from serving.errors import SettingsError
from serving.settings import read_settings

Cli = Callable[..., "subprocess.CompletedProcess[str]"]  # the `influence_cli` fixture
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No INFLUENCE_ variable of the developer's shell leaks into these tests."""
    for name in list(os.environ):
        if name.startswith("INFLUENCE_"):
            monkeypatch.delenv(name)


def refusal(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> str:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=f"^{name}") as raised:
        read_settings()
    return str(raised.value)


def test_zero_threads_is_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (
        refusal(monkeypatch, "INFLUENCE_THREADS", "0")
        == "INFLUENCE_THREADS='0': input should be greater than or equal to 1."
    )


def test_an_empty_api_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (
        refusal(monkeypatch, "INFLUENCE_API_KEY", "")
        == "INFLUENCE_API_KEY is empty; set a real key or unset the variable to run without one."
    )


def test_cors_origins_are_separated_by_commas(monkeypatch: pytest.MonkeyPatch) -> None:
    assert refusal(
        monkeypatch, "INFLUENCE_CORS_ORIGINS", "https://a.example https://b.example"
    ) == (
        "INFLUENCE_CORS_ORIGINS has 'https://a.example https://b.example', which is not one "
        "origin such as https://app.example; separate origins with commas."
    )
    monkeypatch.setenv("INFLUENCE_CORS_ORIGINS", "https://a.example, https://b.example")
    assert read_settings().cors_origins == ["https://a.example", "https://b.example"]
    monkeypatch.setenv("INFLUENCE_CORS_ORIGINS", "https://a.example")
    assert read_settings().cors_origins == ["https://a.example"]


def test_serve_refuses_a_bad_variable_without_a_traceback(
    influence_cli: Cli, trained: Path, tmp_path: Path
) -> None:
    result = influence_cli(
        "serve",
        "--data",
        trained / "world",
        cwd=tmp_path,
        env={"INFLUENCE_THREADS": "0", "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 2
    assert result.stderr == (
        "error: INFLUENCE_THREADS='0': input should be greater than or equal to 1.\n"
    )
    assert "Traceback" not in result.stdout + result.stderr


def test_the_data_directory_is_read_as_the_environment_says(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    mapping = tmp_path / "map.toml"
    mapping.write_text('[posts]\nfollowers = "Fans"\n')
    monkeypatch.setenv("INFLUENCE_COLUMNS_FILE", str(mapping))
    monkeypatch.setenv("INFLUENCE_DAYFIRST", "true")
    read = read_settings().read_options()
    assert (read.columns, read.dayfirst, read.columns_file) == (
        {"posts": {"followers": "Fans"}},
        True,
        str(mapping),
    )


def test_without_a_project_the_files_are_where_they_always_were(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = read_settings()
    assert (settings.model_uri, settings.decision_log) == (
        str(tmp_path / "models" / "champion.json"),
        str(tmp_path / "decisions.db"),
    )


def test_a_project_serves_its_own_champion_and_keeps_its_own_decisions(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    home = tmp_path / "workspace"
    monkeypatch.chdir(tmp_path)  # not the workspace: INFLUENCE_HOME says where it is
    monkeypatch.setenv("INFLUENCE_HOME", str(home))
    monkeypatch.setenv("INFLUENCE_PROJECT", "acme")
    settings = read_settings()
    assert settings.model_uri == str(home / "models" / "acme" / "champion.json")
    assert settings.decision_log == str(home / "decisions-acme.db")
    assert settings.describe() == (
        f"Workspace {home}, project acme: model {home / 'models' / 'acme' / 'champion.json'}, "
        f"decisions in {home / 'decisions-acme.db'}."
    )
    monkeypatch.setenv("INFLUENCE_MODELS_DIR", "/srv/models")  # every project's models
    assert read_settings().model_uri == "/srv/models/acme/champion.json"


def test_relative_settings_are_the_workspace_s_and_explicit_ones_win(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("INFLUENCE_HOME", str(tmp_path))
    monkeypatch.setenv("INFLUENCE_PROJECT", "acme")
    monkeypatch.setenv("INFLUENCE_MODEL_URI", "shared/champion.json")
    monkeypatch.setenv("INFLUENCE_DECISION_LOG", "logs/all.db")
    monkeypatch.setenv("INFLUENCE_DATA_DIR", "exports")
    settings = read_settings()
    assert settings.model_uri == str(tmp_path / "shared" / "champion.json")
    assert settings.decision_log == str(tmp_path / "logs" / "all.db")
    assert settings.data_dir == tmp_path / "exports"
    # URLs and registry URIs are used as written, a password never shown.
    monkeypatch.setenv("INFLUENCE_MODEL_URI", "models:/influence-acme@champion")
    monkeypatch.setenv("INFLUENCE_DECISION_LOG", "postgresql://me:secret@db/decisions")
    settings = read_settings()
    assert (settings.model_uri, settings.decision_log) == (
        "models:/influence-acme@champion",
        "postgresql://me:secret@db/decisions",
    )
    assert settings.describe().endswith(
        ": model models:/influence-acme@champion, decisions in postgresql://me:***@db/decisions."
    )


def test_a_project_name_that_is_not_a_slug_is_one_sentence(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert refusal(monkeypatch, "INFLUENCE_PROJECT", "acme/b") == (
        "INFLUENCE_PROJECT 'acme/b' is not a project name: use 1 to 64 letters, digits, '-' "
        "and '_', such as acme or brand-x."
    )
