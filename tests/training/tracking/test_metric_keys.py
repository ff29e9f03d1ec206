"""Metric keys: headlines first, the rest under holdout/; old runs' keys still read."""

from __future__ import annotations

from training.tracking.metric_keys import budget_key, holdout_key, read_budget


def test_the_budget_metric_of_model_and_followers_is_a_headline_and_the_rest_is_holdout() -> None:
    assert budget_key("clicks", "model") == "headline/clicks/model_actions_per_cost"
    assert budget_key("clicks", "followers") == "headline/clicks/followers_actions_per_cost"
    assert budget_key("revenue", "heuristic") == "holdout/revenue/heuristic/actions_per_cost"
    assert holdout_key("clicks", "model", "spearman") == "holdout/clicks/model/spearman"
    # The UI sorts keys alphabetically: every headline before every holdout metric.
    assert sorted([holdout_key("clicks", "model", "mae"), budget_key("revenue", "model")]) == [
        "headline/revenue/model_actions_per_cost",
        "holdout/clicks/model/mae",
    ]


def test_read_budget_takes_the_new_key_first_then_the_old_one() -> None:
    old = {"clicks.model.actions_per_cost": 0.12, "clicks.followers.actions_per_cost": 0.08}
    assert read_budget(old, "clicks", "model") == 0.12
    assert read_budget(old, "clicks", "followers") == 0.08
    both = {**old, "headline/clicks/model_actions_per_cost": 0.2}
    assert read_budget(both, "clicks", "model") == 0.2
    assert read_budget(both, "revenue", "model") is None
    assert read_budget({"clicks.heuristic.actions_per_cost": 0.05}, "clicks", "heuristic") == 0.05
