"""MLflow on PostgreSQL: the same plain `postgresql://` URL as the decision log, a training run
logged and registered in a real PostgreSQL database, and the champion loaded back from it.

The server comes from `INFLUENCE_TEST_POSTGRES_URL` (`.ci/postgres.sh` starts one); the test
gets its own new database. The URL tests need no server.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from sqlalchemy import create_engine, text

from features.simulate import SimulationConfig, simulate_world, write_world
from training import settings as training_settings
from training.fitting import TrainConfig
from training.pipeline import train
from training.settings import TrainingSettings
from training.tracking.database import sqlalchemy_url
from training.tracking.store import TrackingStoreError

WORLD = SimulationConfig(accounts=800, campaigns=30, seed=5)  # the `trained` fixture's world


@pytest.mark.parametrize(
    ("written", "given"),
    [
        ("postgresql://u:p@db:5432/mlflow", "postgresql+psycopg://u:p@db:5432/mlflow"),
        ("postgres://u@db/mlflow", "postgresql+psycopg://u@db/mlflow"),
        ("postgresql+psycopg2://u@db/mlflow", "postgresql+psycopg2://u@db/mlflow"),
        ("sqlite:///mlruns/mlflow.db", "sqlite:///mlruns/mlflow.db"),
        ("http://mlflow:5000", "http://mlflow:5000"),
    ],
)
def test_a_plain_postgresql_url_gets_the_psycopg_driver(written: str, given: str) -> None:
    assert sqlalchemy_url(written) == given
    assert TrainingSettings(mlflow_tracking_uri=written).tracking_uri() == given


@pytest.mark.parametrize(
    ("hide_driver", "problem"),
    [
        (
            True,
            "needs the PostgreSQL driver psycopg, which is not installed: "
            "pip install 'influence[postgres]'.",
        ),
        # Nothing listens on a free port. MLflow alone would retry for about 100 s.
        (
            False,
            "cannot be reached (Connection refused); check MLFLOW_TRACKING_URI (or "
            "INFLUENCE_MLFLOW_TRACKING_URI) and that the database is running.",
        ),
    ],
    ids=["missing driver", "unreachable"],
)
def test_a_store_that_cannot_be_used_stops_training_at_once_with_one_sentence(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, free_port: int, hide_driver: bool, problem: str
) -> None:
    if hide_driver:
        # None in sys.modules is Python's own way to block an import: an install without
        # the `postgres` extra.
        monkeypatch.setitem(sys.modules, "psycopg", None)
    settings = TrainingSettings(mlflow_tracking_uri=f"postgresql://a:pw@127.0.0.1:{free_port}/m")
    with pytest.raises(TrackingStoreError, match="The MLflow tracking store") as raised:
        # Before anything else: not even the (missing) data directory is read.
        train(tmp_path / "no-data-here", TrainConfig(), settings)
    assert str(raised.value) == (
        f"The MLflow tracking store at postgresql://a:***@127.0.0.1:{free_port}/m {problem}"
    )


@pytest.fixture
def fresh_training_settings() -> Iterator[None]:
    """Clear the cached training settings before and after: the test changes the env."""
    training_settings.get_settings.cache_clear()
    yield
    training_settings.get_settings.cache_clear()


@pytest.mark.slow
def test_a_run_on_postgresql_registers_a_champion_that_serving_loads(
    postgres_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fresh_training_settings: None,
) -> None:
    from serving.state import load_model

    write_world(simulate_world(WORLD), tmp_path / "world")
    settings = TrainingSettings(
        mlflow_tracking_uri=postgres_url,
        mlruns_dir=tmp_path / "mlruns",
        models_dir=tmp_path / "models",
    )
    result = train(tmp_path / "world", TrainConfig(targets=("clicks",), seed=1), settings)
    assert result.decision is not None
    assert result.decision.promote

    client = MlflowClient(settings.tracking_uri())
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["data_digest"] == result.bundle.metadata["data_digest"]
    assert str(client.get_model_version_by_alias("influence", "champion").version) == "1"
    # The run and the registry are rows in PostgreSQL itself, not in some local file.
    engine = create_engine(sqlalchemy_url(postgres_url))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM runs")).scalar_one() == 1
        assert conn.execute(text("SELECT name FROM registered_models")).scalars().all() == [
            "influence"
        ]
        assert conn.execute(text("SELECT count(*) FROM model_versions")).scalar_one() == 1
    engine.dispose()

    # The API's way in: INFLUENCE_MODEL_URI=models:/influence@champion with the same URL.
    monkeypatch.setenv("INFLUENCE_MLFLOW_TRACKING_URI", postgres_url)
    monkeypatch.setenv("INFLUENCE_MLRUNS_DIR", str(tmp_path / "mlruns"))
    training_settings.get_settings.cache_clear()
    bundle, meta = load_model("models:/influence@champion")
    assert meta["version"] == result.version == "1"
    assert bundle.metadata["run_id"] == result.run_id
    assert bundle.metadata["data_digest"] == result.bundle.metadata["data_digest"]
