"""Response models of `GET /accounts/{account_id}`: one account's profile (`features.profile`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

__all__ = [
    "AccountProfile",
    "Cadence",
    "FollowerJump",
    "PastPlacement",
    "Ratios",
    "TrackRate",
    "TrackRecord",
    "WeekPoint",
]


class WeekPoint(BaseModel):
    """One week of the account's history (weeks start on Monday, UTC)."""

    week: datetime
    followers: int | None = Field(None, description="Followers at its last post that week.")
    engagement_rate: float | None = Field(
        None, description="Median (likes + comments + shares) per follower of its posts."
    )
    tier_engagement_rate: float | None = Field(
        None, description="The same median over that week's posts by accounts of its tier."
    )


class FollowerJump(BaseModel):
    """A rise in followers between two posts that likes did not follow."""

    at: datetime = Field(description="The first post after the rise.")
    gained: int
    share: float = Field(description="The rise as a share of the followers before it.")
    likes_rise: float = Field(description="Median likes after over before, minus 1.")


class Ratios(BaseModel):
    """Over the last 90 days: comments and shares per like, median engagement rate."""

    comments_per_like: float
    shares_per_like: float
    engagement_rate: float


class Cadence(BaseModel):
    """How often the account posted in the last 90 days."""

    posts_90d: int
    posts_per_week: float | None
    median_gap_days: float | None


class PastPlacement(BaseModel):
    """One of the account's earlier placements, with what it realised."""

    placement_id: str
    campaign_id: str
    posted_at: datetime
    cost: float
    clicks: float | None = None
    referrals: float | None = None
    conversions: float | None = None
    revenue: float | None = None


class TrackRate(BaseModel):
    """One outcome's track-record rate: what the model reads of the account's past."""

    outcome: str
    per_cost: float = Field(
        description="Realised per unit cost on its closed placements, shrunk toward the "
        "pooled rate (the model's `track_<outcome>_per_cost` feature)."
    )
    average: float = Field(
        description="The pooled rate of every placement the model learned from: their summed "
        "outcome over their summed cost."
    )
    times_average: float | None = Field(description="per_cost / average; null if it is 0.")


class TrackRecord(BaseModel):
    """The account's track record as the model reads it for a placement at `as_of`."""

    placements_known: int = Field(
        description="Earlier placements whose attribution window had closed: outcomes known."
    )
    placements_pending: int = Field(description="Earlier placements still accruing outcomes.")
    prior_strength: float = Field(
        description="How many placements at the pooled rate each estimate counts besides "
        "the account's own."
    )
    rates: list[TrackRate]
    summary: str = Field(description="The track record in one plain sentence.")


class AccountProfile(BaseModel):
    """What an analyst checks before booking an account, as of the data's moment.

    `flags` are plain sentences: bought followers ("followers rose by 38,000 on
    2025-03-02 with no change in likes: likely bought") and possible engagement pods
    ("likes without shares: ..."). Tiers: nano (< 10,000 followers), micro (< 100,000),
    mid (< 500,000), macro (< 1,000,000), mega.
    """

    account_id: str
    as_of: datetime
    posts: int
    followers: int | None = None
    tier: str | None = None
    followers_weekly: list[WeekPoint] = []
    engagement_weekly: list[WeekPoint] = []
    jumps: list[FollowerJump] = []
    ratios: Ratios | None = None
    tier_ratios: Ratios | None = None
    sponsored_posts: int = 0
    sponsored_rate: float | None = Field(None, description="Median engagement rate, sponsored.")
    organic_rate: float | None = Field(None, description="Median engagement rate, organic.")
    cadence: Cadence | None = None
    topics: list[str] = Field([], description="The most used words of its recent captions.")
    placements: list[PastPlacement] = []
    track_record: TrackRecord | None = Field(
        None, description="What its earlier placements caused, as the model reads it."
    )
    flags: list[str] = []
