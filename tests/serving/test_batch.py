"""Batch prediction (`serving.batch.predict_file`): what the file of scores holds, ids the
plan may leave out, and a campaign that is not in campaigns.csv yet.

That the Dask engine writes the same file is tests/training/test_distributed.py.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from features.errors import DataContractError
from serving.batch import NewCampaign, predict_file
from serving.errors import UnknownCampaignError
from serving.settings import ServingSettings

OUTCOMES = ["clicks", "referrals", "conversions", "revenue"]


def _plan(trained: Path, n: int = 6) -> pd.DataFrame:
    """`n` past placements of the trained world, as a plan: no outcomes."""
    placements = pd.read_parquet(trained / "world" / "placements.parquet")
    return placements.sample(n, random_state=7).drop(columns=OUTCOMES).reset_index(drop=True)


def _settings(trained: Path) -> ServingSettings:
    return ServingSettings(
        data_dir=trained / "world", model_uri=str(trained / "models" / "champion.json")
    )


def test_the_scores_repeat_the_plans_ids_and_cost(trained: Path, tmp_path: Path) -> None:
    plan = _plan(trained)
    plan.to_parquet(tmp_path / "plan.parquet", index=False)
    n = predict_file(_settings(trained), tmp_path / "plan.parquet", tmp_path / "scores.parquet")
    scores = pd.read_parquet(tmp_path / "scores.parquet")
    assert n == 6
    assert list(scores.columns) == [
        "placement_id",
        "campaign_id",
        "account_id",
        "cost",
        *[c for t in OUTCOMES for c in (t, f"{t}_low", f"{t}_high")],
        "roi",
    ]
    keys = ["placement_id", "campaign_id", "account_id", "cost"]
    assert scores[keys].astype(str).values.tolist() == plan[keys].astype(str).values.tolist()


def test_placements_without_an_id_are_numbered_by_their_row(trained: Path, tmp_path: Path) -> None:
    plan = _plan(trained, 3)
    plan.drop(columns=["placement_id"]).to_csv(tmp_path / "none.csv", index=False)
    predict_file(_settings(trained), tmp_path / "none.csv", tmp_path / "none-scores.csv")
    assert pd.read_csv(tmp_path / "none-scores.csv")["placement_id"].tolist() == [
        "planned-1",
        "planned-2",
        "planned-3",
    ]
    plan.loc[1, "placement_id"] = ""
    plan.to_csv(tmp_path / "some.csv", index=False)
    predict_file(_settings(trained), tmp_path / "some.csv", tmp_path / "some-scores.csv")
    assert pd.read_csv(tmp_path / "some-scores.csv")["placement_id"].tolist() == [
        plan.loc[0, "placement_id"],
        "planned-2",
        plan.loc[2, "placement_id"],
    ]


def test_a_plan_from_a_spreadsheet_is_read_as_the_data_directory_is(
    trained: Path, tmp_path: Path
) -> None:
    plan = _plan(trained, 3)
    # As Excel writes it: spaced, capitalised headers and day-first dates to the minute.
    plan = plan.assign(posted_at=plan["posted_at"].dt.floor("min"))
    plan.to_csv(tmp_path / "minute.csv", index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
    predict_file(_settings(trained), tmp_path / "minute.csv", tmp_path / "minute-scores.csv")
    export = plan.assign(posted_at=plan["posted_at"].dt.strftime("%d/%m/%Y %H:%M"))
    export = export.rename(columns=lambda c: c.replace("_", " ").title().replace("Id", "ID"))
    assert {"Placement ID", "Account ID", "Posted At", "Cost"} <= set(export.columns)
    export.to_csv(tmp_path / "export.csv", index=False)
    with pytest.raises(DataContractError, match=r"export\.csv, column 'posted_at'"):
        predict_file(_settings(trained), tmp_path / "export.csv", tmp_path / "no.csv")
    assert not (tmp_path / "no.csv").exists()
    settings = ServingSettings(
        data_dir=trained / "world",
        model_uri=str(trained / "models" / "champion.json"),
        dayfirst=True,
    )
    predict_file(settings, tmp_path / "export.csv", tmp_path / "export-scores.csv")
    assert (tmp_path / "export-scores.csv").read_bytes() == (
        tmp_path / "minute-scores.csv"
    ).read_bytes()


def test_a_new_campaign_scores_as_a_known_one_with_its_brand_and_topic(
    trained: Path, tmp_path: Path
) -> None:
    campaigns = pd.read_parquet(trained / "world" / "campaigns.parquet")
    known = campaigns.iloc[-1]
    plan = _plan(trained).assign(campaign_id=known["campaign_id"])
    plan.to_parquet(tmp_path / "known.parquet", index=False)
    plan.assign(campaign_id="launch-2027").to_parquet(tmp_path / "new.parquet", index=False)
    settings = _settings(trained)
    predict_file(settings, tmp_path / "known.parquet", tmp_path / "known-scores.parquet")
    predict_file(
        settings,
        tmp_path / "new.parquet",
        tmp_path / "new-scores.parquet",
        NewCampaign(brand=str(known["brand"]), topic=str(known["topic"])),
    )
    new = pd.read_parquet(tmp_path / "new-scores.parquet")
    assert set(new["campaign_id"]) == {"launch-2027"}
    pd.testing.assert_frame_equal(
        new.drop(columns=["campaign_id"]),
        pd.read_parquet(tmp_path / "known-scores.parquet").drop(columns=["campaign_id"]),
    )


def test_a_campaign_neither_known_nor_described_is_one_error(trained: Path, tmp_path: Path) -> None:
    plan = _plan(trained, 4)
    plan.loc[:1, "campaign_id"] = "launch-a"
    plan.loc[2:, "campaign_id"] = "launch-b"
    plan.to_csv(tmp_path / "plan.csv", index=False)
    settings = _settings(trained)
    with pytest.raises(UnknownCampaignError, match="plans campaigns that are not in") as refused:
        predict_file(settings, tmp_path / "plan.csv", tmp_path / "scores.csv")
    assert str(refused.value) == (
        "plan.csv plans campaigns that are not in campaigns.parquet: 'launch-a', 'launch-b'; "
        "add them to campaigns.parquet, or give a new campaign's --brand and --topic."
    )
    with pytest.raises(UnknownCampaignError, match="describe one new campaign") as refused:
        predict_file(
            settings, tmp_path / "plan.csv", tmp_path / "scores.csv", NewCampaign("b", "t")
        )
    assert str(refused.value) == (
        "--brand and --topic describe one new campaign, but plan.csv plans 2 that are not in "
        "campaigns.parquet: 'launch-a', 'launch-b'; add all but one to campaigns.parquet."
    )
    assert not (tmp_path / "scores.csv").exists()
