"""`training.fit` is pure: no MLflow, no files; and it follows the rules it documents."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.io import Dataset
from features.simulate import SimulationConfig, World, simulate_world
from training import TrainConfig, TrainingError, fit
from training.fitting import outcomes_known

SCRIPT = """
import sys
from features.io import Dataset
from features.simulate import SimulationConfig, simulate_world
from training import TrainConfig, fit

w = simulate_world(SimulationConfig(accounts=150, campaigns=10, candidates=10, seed=3))
data = Dataset(accounts=w.accounts, posts=w.posts, campaigns=w.campaigns, placements=w.placements)
bundle = fit(data, TrainConfig(targets=("clicks",)))
rows = bundle.builder.transform(data, data.placements.head(4))
print(bundle.predict(rows, data.placements["cost"].head(4))["clicks"].round(6).tolist())
print(sorted(m for m in ("mlflow", "sqlalchemy", "matplotlib") if m in sys.modules))
"""


def _dataset(world: World) -> Dataset:
    return Dataset(
        accounts=world.accounts,
        posts=world.posts,
        campaigns=world.campaigns,
        placements=world.placements,
    )


def test_fit_on_an_in_memory_dataset_touches_neither_mlflow_nor_files(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "MLFLOW_TRACKING_URI": f"file://{tmp_path}/never"},
    )
    assert done.returncode == 0, done.stderr
    predictions, loaded = done.stdout.strip().splitlines()
    values = json.loads(predictions)
    assert len(values) == 4
    assert all(v > 0 for v in values)
    assert loaded == "[]"  # MLflow (and its database and plotting stack) never imported
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def data() -> Dataset:
    return _dataset(simulate_world(SimulationConfig(accounts=150, campaigns=10, seed=3)))


def test_fit_as_of_a_moment_learns_only_from_windows_closed_by_then(data: Dataset) -> None:
    until = data.placements["posted_at"].quantile(0.7)
    bundle = fit(data, TrainConfig(targets=("clicks",), seed=2), until=until)
    known = outcomes_known(data.placements, ["clicks"], 30, until)
    assert (known["posted_at"] + pd.Timedelta(days=30) <= until).all()
    # The heuristic's scale is the known clicks over their estimated engagements: one more
    # row (a placement whose window was still open) would change it.
    rows = bundle.builder.transform(data, known)
    score = np.nan_to_num(rows["reach_followers"] * rows["resonance_er_median_90d"])
    assert bundle.models["clicks"].heuristic.scale == pytest.approx(
        known["clicks"].sum() / score.sum(), rel=1e-12
    )
    assert bundle.builder.attribution_window_days == 30


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (TrainConfig(window_days=0), "window_days must be at least 1, got 0."),
        (TrainConfig(validation_share=1.0), "validation_share must be between 0 and 1, got 1.0."),
        (TrainConfig(budget_share=0.0), "budget_share must be in (0, 1], got 0.0."),
        (
            TrainConfig(targets=("likes",)),
            "targets must be among clicks, referrals, conversions, revenue; got likes.",
        ),
    ],
)
def test_a_configuration_that_cannot_fit_names_its_parameter(
    data: Dataset, config: TrainConfig, message: str
) -> None:
    with pytest.raises(TrainingError, match=r"^(targets|window|validation|budget)") as raised:
        fit(data, config)
    assert str(raised.value) == message


def test_too_few_closed_windows_is_one_sentence_with_the_cause(small_world: World) -> None:
    with pytest.raises(TrainingError, match=r"^Fitting needs") as raised:
        fit(_dataset(small_world), TrainConfig(targets=("clicks",)))
    assert str(raised.value) == (
        "Fitting needs placements with outcomes (clicks) in at least 4 campaigns whose 30-day "
        "attribution window had closed by 2025-03-31; found 0, because 60 placements with "
        "outcomes are still inside their 30-day attribution window at 2025-03-31, the moment "
        "the data stands at (the first window closes on 2025-04-03)."
    )


def test_too_few_closed_by_a_cut_off_names_the_cut_off_and_what_can_help(
    small_world: World,
) -> None:
    cut_off = pd.Timestamp("2025-03-20T00:00:00Z")
    # Only placements posted before the cut-off are inside their window there.
    inside = int((small_world.placements["posted_at"] < cut_off).sum())
    assert 0 < inside < len(small_world.placements)
    with pytest.raises(TrainingError, match=r"^Fitting needs") as raised:
        fit(_dataset(small_world), TrainConfig(targets=("clicks",)), until=cut_off)
    assert str(raised.value) == (
        "Fitting needs placements with outcomes (clicks) in at least 4 campaigns whose 30-day "
        f"attribution window had closed by 2025-03-20; found 0, because {inside} placements with "
        "outcomes are still inside their 30-day attribution window at 2025-03-20, the fit's "
        "cut-off (the first window closes on 2025-04-03). Add earlier campaigns, or pass a "
        "shorter --window if outcomes are complete sooner."
    )


def test_fit_as_of_config_until_ignores_what_came_later(data: Dataset) -> None:
    until = data.placements["posted_at"].quantile(0.8)
    config = TrainConfig(targets=("clicks",), seed=2, until=until)
    whole, cut = fit(data, config), fit(data.known_until(until), config)
    assert whole.builder.priors_ == cut.builder.priors_
    assert (
        whole.builder.vectorizer_.vectorizer_.vocabulary_
        == cut.builder.vectorizer_.vectorizer_.vocabulary_
    )
    for target, model in whole.models.items():
        assert model.booster.model_to_string() == cut.models[target].booster.model_to_string()


def test_a_path_where_a_dataset_belongs_says_so(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"^expected a Dataset \(features\.load_dataset\(path\)\)"):
        fit(tmp_path)  # type: ignore[arg-type]
