"""What a trained run says about itself in MLflow: its name, tags and description, and its
version's description, read back through `MlflowClient` from the session's trained store."""

from __future__ import annotations

import subprocess
from importlib.metadata import version
from pathlib import Path

import pandas as pd
import pytest
from mlflow.entities import Run
from mlflow.entities.model_registry import ModelVersion
from mlflow.tracking import MlflowClient

from training.settings import TrainingSettings
from training.tracking.story import describe_data, interval

ROOT = Path(__file__).resolve().parents[3]
"""The checkout these tests belong to: the code whose commit the run records."""

DIGEST = "2e6a16abf7b3efd0070774ab6bdebbe17a1ba44590256c32ab313c371348c8c8"
"""The digest of the `trained` fixture's world (800 accounts, 30 campaigns, seed 5)."""


@pytest.fixture(scope="module")
def champion(trained: Path) -> tuple[Run, ModelVersion]:
    """The trained workspace's champion version and the run that registered it."""
    client = MlflowClient(TrainingSettings.under(trained).tracking_uri())
    found = client.get_model_version_by_alias("influence", "champion")
    return client.get_run(str(found.run_id)), found


def test_the_run_is_named_by_project_command_and_data(champion: tuple[Run, ModelVersion]) -> None:
    run, _ = champion
    assert run.info.run_name == "influence train 2e6a16ab"


def test_the_run_lists_its_headline_metrics_first(champion: tuple[Run, ModelVersion]) -> None:
    # The run page's Overview lists metrics as the store returns them, in logged order.
    run, _ = champion
    keys = list(run.data.metrics)
    first = [k.startswith("headline/") for k in keys].index(False)
    assert first == 40  # per target: 2 budget metrics and their ratio, with bounds; coverage
    assert not any(k.startswith("headline/") for k in keys[first:])
    assert keys[:10] == [
        f"headline/clicks/{name}{suffix}"
        for name in ("model_actions_per_cost", "followers_actions_per_cost", "model_vs_followers")
        for suffix in ("", "_low", "_high")
    ] + ["headline/clicks/interval_coverage"]


def test_the_run_is_tagged_with_what_it_did_and_which_code_did_it(
    champion: tuple[Run, ModelVersion],
) -> None:
    run, _ = champion
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    ours = {
        k: v
        for k, v in run.data.tags.items()
        if k.startswith("influence.") and k not in {"influence.pid", "influence.host"}
    }
    assert ours == {
        "influence.project": "influence",
        "influence.command": "train",
        "influence.data_digest": DIGEST,
        "influence.engine": "pandas",
        "influence.targets": "clicks,referrals,conversions,revenue",
        "influence.code_version": f"{version('influence')} (commit {commit[:12]})",
    }
    assert run.data.tags["mlflow.source.git.commit"] == commit


def test_the_run_and_its_version_say_what_data_what_result_and_why_promoted(
    champion: tuple[Run, ModelVersion], trained: Path
) -> None:
    run, registered = champion
    expected = (
        f"Data from `{trained / 'world'}` (digest 2e6a16ab): 1,500 placements of 616 accounts "
        "in 30 campaigns, posted 2025-03-07 to 2025-12-22.\n"
        "\n"
        "Judged on the 9 later campaigns (from 2025-08-26): what the budget bought, choosing "
        "by the model and by the followers baseline, with the ratio's 95% interval:\n"
        "\n"
        "- clicks per unit cost 0.203 against the followers baseline's 0.119: "
        "1.7 times [1.2, 2.3]\n"
        "- referrals per unit cost 0.0324 against the followers baseline's 0.0194: "
        "1.67 times [1.2, 2.2]\n"
        "- conversions per unit cost 0.00645 against the followers baseline's 0.00381: "
        "1.69 times [1.2, 2.4]\n"
        "- revenue per unit cost 0.309 against the followers baseline's 0.182: "
        "1.7 times [1.3, 2.4]\n"
        "\n"
        "Registered as version 1 of model 'influence' (alias challenger).\n"
        "\n"
        "Status: champion; it beats the followers baseline on clicks per unit cost "
        "(0.2026 against 0.1195)."
    )
    assert run.data.tags["mlflow.note.content"] == expected
    assert registered.description == expected


def test_data_passed_in_memory_is_described_as_such() -> None:
    placements = pd.DataFrame(
        {
            "account_id": ["a", "b", "a"],
            "campaign_id": ["c1", "c1", "c2"],
            "posted_at": pd.to_datetime(["2025-01-02", "2025-01-05", "2025-02-01"], utc=True),
        }
    )
    assert describe_data(None, "3f9a12bc" + "0" * 56, placements) == (
        "Data in memory (digest 3f9a12bc): 3 placements of 2 accounts in 2 campaigns, "
        "posted 2025-01-02 to 2025-02-01."
    )


def test_an_interval_keeps_two_significant_digits_and_its_trailing_zero() -> None:
    assert interval(1.2, 2.0) == "[1.2, 2.0]"
    assert interval(0.0794, 0.2) == "[0.079, 0.20]"
    assert interval(12.3, 45.6) == "[12, 46]"
