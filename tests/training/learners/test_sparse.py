"""Sparse outcomes: a target that is 0 everywhere is skipped; too few campaigns says why."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from features.io import load_dataset
from training.backtest.rolling import BacktestConfig, rolling_origins
from training.errors import TrainingError
from training.evaluation.split import time_split
from training.fitting import TrainConfig
from training.pipeline import train
from training.settings import TrainingSettings, get_settings

StoredUnder = Callable[[Path], TrainingSettings]  # the `stored_under` fixture


@pytest.fixture
def world(trainable_world: Path) -> Path:
    """The session's trainable world (300 accounts, 20 campaigns, seed 4)."""
    return trainable_world


def _changed(world: Path, tmp: Path, **columns: float | None) -> Path:
    """A copy of `world` whose placements have `columns` set to one value everywhere."""
    out = tmp / "changed"
    out.mkdir()
    for path in world.iterdir():
        (out / path.name).write_bytes(path.read_bytes())
    placements = pd.read_parquet(out / "placements.parquet")
    for name, value in columns.items():
        placements[name] = pd.Series(value, index=placements.index, dtype="float64")
    placements.to_parquet(out / "placements.parquet", index=False)
    return out


def test_a_target_that_is_zero_everywhere_is_skipped_with_a_warning(
    world: Path, tmp_path: Path, stored_under: StoredUnder
) -> None:
    from typer.testing import CliRunner

    from serving.cli import app

    data = _changed(world, tmp_path, conversions=0.0)
    stored_under(tmp_path)  # the workspace's store, copied from the session's empty one
    get_settings.cache_clear()  # the command reads INFLUENCE_HOME afresh, and so do later tests
    try:
        done = CliRunner().invoke(
            app,
            ["train", str(data), "--targets", "conversions,clicks"],
            env={"INFLUENCE_HOME": str(tmp_path), "COLUMNS": "200"},
        )
    finally:
        get_settings.cache_clear()
    assert done.exit_code == 0, done.output
    rows = int(done.stderr.split("all ")[1].split(" ")[0])
    assert rows > 100
    assert (
        f"warning: conversions is skipped: all {rows} of its training placements have "
        "conversions 0, which LightGBM cannot fit; it is left out of the model and its metrics."
    ) in " ".join(done.stderr.split())
    assert "clicks on" in done.stdout
    assert "conversions on" not in done.stdout
    assert "Version 1 promoted to champion: it beats the followers baseline on clicks" in (
        " ".join(done.stdout.split())
    )


def test_skipped_target_is_absent_from_bundle_and_metrics(
    world: Path, tmp_path: Path, stored_under: StoredUnder
) -> None:
    data = _changed(world, tmp_path, referrals=0.0)
    said: list[str] = []
    settings = stored_under(tmp_path)
    result = train(
        data, TrainConfig(targets=("referrals", "clicks"), seed=1), settings, progress=said.append
    )
    warnings = [m for m in said if m.startswith("warning: ")]
    rows = warnings[0].split()[5] if warnings else "?"
    assert warnings == [
        f"warning: referrals is skipped: all {rows} of its training placements have referrals "
        "0, which LightGBM cannot fit; it is left out of the model and its metrics"
    ]
    assert result.bundle.targets == ["clicks"]
    assert list(result.evaluations) == ["clicks"]
    assert set(result.bundle.metadata["metrics"]) == {"clicks"}
    run = MlflowClient(settings.tracking_uri()).get_run(result.run_id)
    assert run.data.params["targets"] == "clicks"
    assert not [k for k in run.data.metrics if k.split("/")[1] == "referrals"]
    assert run.data.tags["influence.targets"] == "clicks"  # asked for both, trained one


def test_every_target_zero_is_one_sentence(
    world: Path, tmp_path: Path, stored_under: StoredUnder
) -> None:
    data = _changed(world, tmp_path, clicks=0.0, revenue=0.0)
    with pytest.raises(TrainingError, match="Every target asked for") as caught:
        train(data, TrainConfig(targets=("clicks", "revenue")), stored_under(tmp_path))
    rows = str(caught.value).split("on all ")[1].split(" ")[0]
    assert str(caught.value) == (
        f"Every target asked for (clicks, revenue) is 0 on all {rows} training placements, so "
        "there is nothing to learn; check that the outcome columns were exported, or train on "
        "other --targets."
    )


def test_an_empty_target_column_is_named(
    world: Path, tmp_path: Path, stored_under: StoredUnder
) -> None:
    data = _changed(world, tmp_path, revenue=None)
    with pytest.raises(TrainingError, match="found 0, because") as caught:
        train(data, TrainConfig(targets=("clicks", "revenue")), stored_under(tmp_path))
    assert str(caught.value) == (
        "Training needs past placements with outcomes (clicks, revenue) in at least 4 "
        "campaigns, to learn from earlier ones and check on later ones; found 0, because the "
        "revenue column is empty on every placement (train on other --targets)."
    )
    placements = load_dataset(data).placements
    with pytest.raises(TrainingError, match="give 0, because") as caught:
        rolling_origins(placements, BacktestConfig(targets=("revenue",)))
    assert str(caught.value) == (
        "A backtest with 4 folds needs at least 4 held-out campaigns with outcomes; 0 campaigns "
        "with a held-out share of 0.5 give 0, because the revenue column is empty on every "
        "placement (train on other --targets)."
    )


def test_open_attribution_windows_are_named_with_the_first_closing_date(world: Path) -> None:
    as_of = pd.Timestamp("2025-04-30T00:00:00Z")
    placements = load_dataset(world).placements
    known = placements[placements["posted_at"] < as_of]
    closes = known["posted_at"] + pd.Timedelta(days=30)
    still_open = closes[closes > as_of]
    assert len(still_open) > 1
    with pytest.raises(TrainingError, match="attribution window at") as caught:
        time_split(known, ["clicks"], 0.3, 30, as_of)
    assert str(caught.value) == (
        "Training needs past placements with outcomes (clicks) in at least 4 campaigns, to "
        "learn from earlier ones and check on later ones; found "
        f"{known[closes <= as_of]['campaign_id'].nunique()}, because {len(still_open)} "
        "placements with outcomes are still inside their 30-day attribution window at "
        f"2025-04-30, the moment the data stands at (the first window closes on "
        f"{still_open.min().date()})."
    )
