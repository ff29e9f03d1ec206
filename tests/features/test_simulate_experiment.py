"""The simulator's experiment mode: later campaigns only, the abtest formula, a clear winner."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

from features import load_dataset
from features.simulate import SimulationConfig, World, simulate_world, write_world
from features.simulate_experiment import EXPERIMENT_ARMS, experiment_arm

EXPERIMENT = SimulationConfig(accounts=600, campaigns=40, seed=7, experiment=True)


@pytest.fixture(scope="module")
def experiment_world() -> World:
    return simulate_world(EXPERIMENT)


def test_experiment_arms_only_later_campaigns(experiment_world: World) -> None:
    plain = simulate_world(dataclasses.replace(EXPERIMENT, experiment=False))
    order = experiment_world.campaigns.sort_values("starts_at")["campaign_id"].tolist()
    earlier, later = set(order[:20]), set(order[20:])
    placements = experiment_world.placements
    before = placements[placements["campaign_id"].isin(earlier)]
    assert before["arm"].isna().all()
    # Earlier campaigns are exactly the plain world's, every candidate placed.
    same = plain.placements[plain.placements["campaign_id"].isin(earlier)]
    pd.testing.assert_frame_equal(
        before.drop(columns="arm").reset_index(drop=True), same.reset_index(drop=True)
    )
    after = placements[placements["campaign_id"].isin(later)]
    arms = after.groupby("campaign_id")["arm"].agg(["nunique", "first"])
    assert (arms["nunique"] == 1).all()
    assert set(arms["first"]) == {"model", "followers"}
    assert set(after["campaign_id"]) == later
    # Each arm keeps at most 30% of its shortlist's cost (within greedy_select's relative
    # 1e-9); only kept placements remain.
    shortlist = plain.placements.groupby("campaign_id")["cost"].sum()
    kept = after.groupby("campaign_id")["cost"].sum()
    assert (kept <= 0.3 * shortlist[kept.index] * (1 + 1e-9)).all()
    assert set(experiment_world.truth["placement_id"]) == set(placements["placement_id"])
    dropped = set(plain.placements["placement_id"]) - set(placements["placement_id"])
    assert len(experiment_world.posts) == len(plain.posts) - len(dropped)
    assert experiment_world.metadata()["experiment"] is True


def test_experiment_assignment_is_the_abtest_formula(experiment_world: World) -> None:
    from training.experiments.assignment import assign_arm

    arms = experiment_world.placements.dropna(subset=["arm"]).groupby("campaign_id")["arm"].first()
    for campaign_id, arm in arms.items():
        assert arm == assign_arm(str(campaign_id), ["model", "followers"], "simulate-7")
    for campaign_id in (f"c{i:04d}" for i in range(200)):
        expected = assign_arm(campaign_id, list(EXPERIMENT_ARMS), "salt")
        assert experiment_arm(campaign_id, "salt") == expected


def test_same_seed_same_experiment_world(experiment_world: World) -> None:
    again = simulate_world(EXPERIMENT)
    for name in ("accounts", "posts", "campaigns", "placements", "truth"):
        pd.testing.assert_frame_equal(getattr(experiment_world, name), getattr(again, name))


def test_model_arm_beats_followers_arm_in_the_experiment(
    experiment_world: World, tmp_path: Path
) -> None:
    from training.experiments.analysis import analyse_experiment

    write_world(experiment_world, tmp_path / "w")
    placements = load_dataset(tmp_path / "w").placements
    result = analyse_experiment(placements, resamples=500)
    clicks = result.metrics[0]
    assert clicks.metric == "clicks"
    (model,) = clicks.differences
    assert model.arm == "model"
    assert model.bootstrap_low > 0
    assert model.lift > 1.0  # measured: +242%, 8 model against 12 followers campaigns
    assert not result.sample_ratio.mismatch
    assert result.unassigned_skipped == (placements["arm"].isna()).sum() == 20 * 50
