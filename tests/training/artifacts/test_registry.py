"""Promotion against a real store: runs logged under the old metric keys are still read, and
the decision becomes the status in the version's description and its run's."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from training.artifacts.registry import Decision, promote
from training.fitting import TrainConfig
from training.pipeline import TrainResult, train
from training.settings import TrainingSettings
from training.tracking.store import Tracking, use_tracking

StoredUnder = Callable[[Path], TrainingSettings]  # the `stored_under` fixture


@pytest.fixture(scope="module")
def settings(
    tmp_path_factory: pytest.TempPathFactory, stored_under: StoredUnder
) -> TrainingSettings:
    return stored_under(tmp_path_factory.mktemp("registry"))


@pytest.fixture(scope="module")
def first(trainable_world: Path, settings: TrainingSettings) -> TrainResult:
    """One clicks model trained on the session's trainable world: version 1, champion."""
    return train(trainable_world, TrainConfig(targets=("clicks",), seed=1), settings)


@pytest.fixture(scope="module")
def tracking(first: TrainResult, settings: TrainingSettings) -> Tracking:
    return use_tracking(settings)


def _old_version(tracking: Tracking, model: float, followers: float) -> str:
    """A version whose run logged its budget metrics as runs did before keys were grouped."""
    with tracking.run() as run_id:
        tracking.log_metrics(
            run_id,
            {
                "clicks.model.actions_per_cost": model,
                "clicks.followers.actions_per_cost": followers,
            },
        )
    source = tracking.client.get_run(run_id).info.artifact_uri
    return str(tracking.client.create_model_version("influence", source, run_id).version)


def test_a_champion_logged_under_the_old_keys_is_compared_and_told_it_was_replaced(
    first: TrainResult, tracking: Tracking, settings: TrainingSettings
) -> None:
    client = tracking.client
    body = str(client.get_model_version("influence", first.version).description).split(
        "\n\nStatus: "
    )[0]
    old = _old_version(tracking, 0.05, 0.04)
    client.set_registered_model_alias("influence", "champion", old)

    decision = promote("influence", first.version, "clicks", settings.models_dir, tracking=tracking)

    reason = (
        "it beats the followers baseline on clicks per unit cost (0.2652 against 0.1596 and "
        "the champion's 0.05)"
    )
    assert decision == Decision(True, reason)
    assert str(client.get_model_version_by_alias("influence", "champion").version) == "1"
    now = f"{body}\n\nStatus: champion; {reason}."
    assert client.get_model_version("influence", first.version).description == now
    assert client.get_run(first.run_id).data.tags["mlflow.note.content"] == now
    replaced = "Status: former champion; version 1 replaced it."
    assert client.get_model_version("influence", old).description == replaced
    old_run = str(client.get_model_version("influence", old).run_id)
    assert client.get_run(old_run).data.tags["mlflow.note.content"] == replaced


def test_a_version_logged_under_the_old_keys_that_loses_to_followers_says_why(
    tracking: Tracking, settings: TrainingSettings
) -> None:
    old = _old_version(tracking, 0.03, 0.04)

    decision = promote("influence", old, "clicks", settings.models_dir, tracking=tracking)

    reason = "it does not beat the followers baseline on clicks per unit cost (0.03 against 0.04)"
    assert decision == Decision(False, reason)
    assert tracking.client.get_model_version("influence", old).description == (
        f"Status: challenger, not promoted; {reason}."
    )
