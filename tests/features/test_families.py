"""Small hand-computed examples for every feature family."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.builder import FeatureBuilder
from features.contract import TABLES
from features.io import Dataset
from features.validate import coerce_table

T = "2025-03-31T00:00:00Z"


def typed(name: str, rows: list[dict[str, object]]) -> pd.DataFrame:
    table, problems = coerce_table(TABLES[name], pd.DataFrame(rows), name)
    assert problems == []
    return table


def post(
    pid: str,
    acc: str,
    at: str,
    followers: int,
    likes: int,
    comments: int,
    shares: int,
    views: int,
    text: str,
    sponsored: bool,
    following: int = 100,
) -> dict[str, object]:
    return {
        "post_id": pid,
        "account_id": acc,
        "posted_at": at,
        "followers": followers,
        "following": following,
        "likes": likes,
        "comments": comments,
        "shares": shares,
        "views": views,
        "text": text,
        "sponsored": sponsored,
    }


@pytest.fixture(scope="module")
def data() -> Dataset:
    posts = [
        post("p1", "a", "2025-01-01", 1000, 90, 6, 4, 2000, "running shoes marathon", False),
        post("p2", "a", "2025-02-01", 1100, 100, 8, 2, 3000, "baking bread", False),
        post("p3", "a", "2025-03-01", 5100, 100, 5, 5, 2500, "northpeak #ad running", True),
        post("p4", "a", "2025-03-25", 5200, 200, 10, 10, 4000, "running trail", False, 520),
        post("p5", "a", T, 9999, 1, 1, 1, 1, "after the placement", True),
        *(
            post(f"b{i}", "b", f"2025-03-0{i}", 500, 10, 1, 1, 100, "running shoes", False)
            for i in range(1, 6)
        ),
        *(
            post(f"c{i}", "c", f"2025-03-0{i}", 500, 10, 1, 1, 100, "cake frosting", False)
            for i in range(1, 6)
        ),
    ]
    placements = [
        {
            "placement_id": "x",
            "campaign_id": "c1",
            "account_id": "a",
            "posted_at": T,
            "cost": 300.0,
        },
        {
            "placement_id": "old",
            "campaign_id": "c0",
            "account_id": "a",
            "posted_at": "2025-02-10",
            "cost": 100.0,
            "clicks": 50,
            "referrals": 5,
            "conversions": 2,
            "revenue": 80.0,
        },
        {
            "placement_id": "recent",
            "campaign_id": "c0",
            "account_id": "a",
            "posted_at": "2025-03-20",
            "cost": 100.0,
            "clicks": 1000,
            "referrals": 50,
            "conversions": 20,
            "revenue": 800.0,
        },
        {
            "placement_id": "xb",
            "campaign_id": "c1",
            "account_id": "b",
            "posted_at": T,
            "cost": 50.0,
        },
        {
            "placement_id": "xc",
            "campaign_id": "c1",
            "account_id": "c",
            "posted_at": T,
            "cost": 50.0,
        },
    ]
    return Dataset(
        accounts=typed("accounts", [{"account_id": a, "created_at": "2024-01-01"} for a in "abc"]),
        posts=typed("posts", posts),
        campaigns=typed(
            "campaigns",
            [
                {"campaign_id": "c0", "brand": "other", "topic": "cooking"},
                {"campaign_id": "c1", "brand": "Northpeak", "topic": "running shoes"},
            ],
        ),
        placements=typed("placements", placements),
    )


PRIORS = {
    f"{o}_per_{r}": 0.01
    for o in ("clicks", "referrals", "conversions", "revenue")
    for r in ("follower", "cost")
}


@pytest.fixture(scope="module")
def rows(data: Dataset) -> pd.DataFrame:
    builder = FeatureBuilder().fit(data)
    builder.priors_ = dict(PRIORS)
    return builder.transform(data).set_index("placement_id")


def test_reach(rows: pd.DataFrame) -> None:
    x = rows.loc["x"]
    assert x["reach_followers"] == 5200
    assert x["reach_growth_30d"] == pytest.approx(5200 / 5100 - 1)
    assert x["reach_growth_90d"] == pytest.approx(4.2)
    assert x["reach_burst_ratio"] == pytest.approx(4000 / 101)
    assert x["reach_max_jump_share"] == pytest.approx(4000 / 5200)
    assert x["reach_following_ratio"] == pytest.approx(0.1)
    assert x["reach_posts_per_week"] == pytest.approx(4 / (90 / 7))
    assert x["reach_median_views"] == 2750
    per_follower = sorted([2000 / 1000, 3000 / 1100, 2500 / 5100, 4000 / 5200])
    assert x["reach_views_per_follower"] == pytest.approx((per_follower[1] + per_follower[2]) / 2)
    assert x["reach_account_age_days"] == 455


def test_resonance(rows: pd.DataFrame) -> None:
    x = rows.loc["x"]
    er = {"p1": 100 / 1000, "p2": 110 / 1100, "p3": 110 / 5100, "p4": 220 / 5200}
    assert x["resonance_er_median_7d"] == pytest.approx(er["p4"])
    assert x["resonance_er_median_30d"] == pytest.approx((er["p3"] + er["p4"]) / 2)
    assert x["resonance_er_median_90d"] == pytest.approx((er["p4"] + 0.1) / 2)
    assert x["resonance_er_trend_7d_90d"] == pytest.approx(
        np.log((er["p4"] + 1e-6) / ((er["p4"] + 0.1) / 2 + 1e-6))
    )
    assert x["resonance_comments_per_like"] == pytest.approx(29 / 490)
    assert x["resonance_shares_per_like"] == pytest.approx(21 / 490)
    assert x["resonance_engagement_per_view"] == pytest.approx(540 / 11500)
    assert x["resonance_sponsored_share_30d"] == 0.5
    assert x["resonance_sponsored_count_30d"] == 1
    assert x["resonance_sponsored_vs_organic"] == pytest.approx((er["p3"] + 1e-6) / (0.1 + 1e-6))
    assert rows.loc["xb", "resonance_er_cv"] == 0.0


def test_relevance(rows: pd.DataFrame) -> None:
    assert rows.loc["xb", "relevance_topic_similarity"] == pytest.approx(1.0)
    assert rows.loc["xc", "relevance_topic_similarity"] == 0.0
    assert rows.loc["xb", "relevance_on_topic_share"] == 1.0
    assert rows.loc["xc", "relevance_on_topic_share"] == 0.0
    assert rows.loc["x", "relevance_on_topic_share"] == 0.75
    assert 0.0 < rows.loc["x", "relevance_topic_similarity"] < 1.0
    assert rows.loc["x", "relevance_brand_mentions"] == 1
    assert rows.loc["x", "relevance_brand_mentions_share"] == 0.25


def test_track_record(rows: pd.DataFrame) -> None:
    x = rows.loc["x"]
    assert x["track_placements_known"] == 1
    assert x["track_placements_pending"] == 1
    assert x["track_days_since_last"] == 11
    assert x["track_clicks_per_follower"] == pytest.approx((50 / 1100 + 3 * 0.01) / 4)
    assert x["track_revenue_per_cost"] == pytest.approx((80 / 100 + 3 * 0.01) / 4)
    fresh = rows.loc["xb"]
    assert fresh["track_placements_known"] == 0
    assert fresh["track_clicks_per_cost"] == pytest.approx(0.01)
    assert np.isnan(fresh["track_days_since_last"])


def test_missing_optional_columns_give_missing_values(data: Dataset) -> None:
    bare = Dataset(
        accounts=data.accounts.assign(created_at=pd.NaT),
        posts=data.posts.assign(views=np.nan, text=None, following=np.nan, sponsored=pd.NA),
        campaigns=data.campaigns,
        placements=data.placements,
    )
    x = FeatureBuilder().fit(bare).transform(bare).set_index("placement_id").loc["x"]
    for name in (
        "reach_median_views",
        "reach_following_ratio",
        "reach_account_age_days",
        "resonance_engagement_per_view",
        "resonance_sponsored_share_30d",
        "resonance_sponsored_count_30d",
        "relevance_topic_similarity",
        "relevance_brand_mentions",
    ):
        assert np.isnan(x[name]), name
    assert x["reach_followers"] == 5200
