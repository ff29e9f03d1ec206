"""One account's profile, as an analyst vets it: growth, engagement against its tier, flags.

What a brand checks before it books an influencer (and what HypeAuditor or Modash show):
followers over time with jumps that engagement did not follow (bought followers arrive
in bursts that bring no likes), engagement rate against accounts of the same size,
comments and shares per like (an engagement pod inflates likes, not shares), sponsored
against organic engagement, how often it posts, what it posts about, and how its past
placements did. Everything is computed from the contract's tables as of a moment, with
the posts before it only, so a profile is what was knowable then.

`tier_norms` summarises all accounts once (per follower tier and week); `account_profile`
reads one account's rows against them. Both are pure functions of their inputs.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from features.history import as_utc, prepare_posts

__all__ = ["TIERS", "Jump", "TierNorms", "account_profile", "tier_index", "tier_norms", "tier_of"]

TIERS = (
    ("nano", 10_000.0),
    ("micro", 100_000.0),
    ("mid", 500_000.0),
    ("macro", 1_000_000.0),
    ("mega", float("inf")),
)
"""Follower tiers as the market names them, each with its upper bound (exclusive)."""

RECENT_DAYS = 90
"""The window of the ratios, the cadence and the topics: the last three months."""

JUMP_SHARE = 0.05
"""A rise between two posts of more than this share of followers is a jump worth a look..."""
JUMP_TYPICAL = 20.0
"""...and more than this many times the account's typical rise between posts."""
LIKES_AROUND = 5
"""Posts before and after a jump whose median likes say whether engagement followed."""
POD_SHARES = 0.5
"""Shares per like under this share of its tier's median read as a possible pod."""
_TIER_NAMES = np.array([name for name, _ in TIERS], dtype=object)
_TIER_BOUNDS = np.array([upper for _, upper in TIERS[:-1]])
_WORD = re.compile(r"[a-z]{3,}")
_NOT_TOPICS = frozenset(ENGLISH_STOP_WORDS) | {"ad", "sponsored", "spon", "amp"}


def tier_index(followers: npt.ArrayLike) -> npt.NDArray[np.intp]:
    """Index into `TIERS` of each follower count (the backtest's tiers are these too)."""
    tiers: npt.NDArray[np.intp] = np.searchsorted(
        _TIER_BOUNDS, np.asarray(followers, dtype=float), side="right"
    )
    return tiers


def tier_of(followers: float) -> str:
    """The tier name of a follower count (`TIERS`)."""
    return str(_TIER_NAMES[tier_index(followers)])


@dataclass(frozen=True)
class TierNorms:
    """What accounts of each tier typically show, to read one account against.

    `weekly`: per (tier, week start) the median engagement rate of that week's posts by
    accounts then in the tier. `recent`: per tier, the median over accounts of their
    last-`RECENT_DAYS` comments and shares per like and engagement rate.
    """

    weekly: pd.DataFrame
    recent: pd.DataFrame


def _prepared(posts: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    # The feature families' own per-post quantities (`er`), on the posts before `as_of`.
    frame = prepare_posts(posts[as_utc(posts["posted_at"]).to_numpy() < as_of])
    return frame.assign(
        tier=_TIER_NAMES[tier_index(frame["followers"])],
        # Weeks start on Monday 00:00 UTC, and say so (a time without a zone reads as local).
        week=frame["posted_at"]
        .dt.tz_convert(None)
        .dt.to_period("W")
        .dt.start_time.dt.tz_localize("UTC"),
    )


def _ratios(frame: pd.DataFrame, by: str | list[str]) -> pd.DataFrame:
    sums = frame.groupby(by, sort=True)[["likes", "comments", "shares"]].sum()
    likes = sums["likes"].clip(lower=1.0)
    out = pd.DataFrame(
        {
            "comments_per_like": sums["comments"] / likes,
            "shares_per_like": sums["shares"] / likes,
        }
    )
    out["engagement_rate"] = frame.groupby(by, sort=True)["er"].median()
    return out


def tier_norms(posts: pd.DataFrame, as_of: pd.Timestamp) -> TierNorms:
    """Per follower tier, the typical account, from every account's posts before `as_of`.

    Takes the contract's posts table (typed) and the moment; returns `TierNorms`. An
    account's recent ratios count in the tier of its latest follower count.
    """
    frame = _prepared(posts, as_of)
    weekly = _weekly(frame).reset_index()
    return TierNorms(weekly=weekly, recent=_recent_norms(_recent_ratios(frame, as_of)))


def _weekly(frame: pd.DataFrame) -> pd.Series:
    """Per (tier, week) of `_prepared` posts, the median engagement rate: a median needs
    every post of its group, so the Dask engine sends each group's to one task."""
    return frame.groupby(["tier", "week"], sort=True)["er"].median().rename("engagement_rate")


def _recent_ratios(frame: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Per account of `_prepared` posts, its last-`RECENT_DAYS` ratios and latest tier: an
    account's own posts alone give its row (the Dask engine computes them per partition)."""
    recent = frame[frame["posted_at"] >= as_of - pd.Timedelta(days=RECENT_DAYS)]
    per_account = _ratios(recent, "account_id")
    latest = recent.groupby("account_id", sort=True)["tier"].last()
    per_account["tier"] = latest
    return per_account


def _recent_norms(per_account: pd.DataFrame) -> pd.DataFrame:
    """Per tier, the median of `_recent_ratios`' accounts and how many there are."""
    norms = per_account.groupby("tier", sort=True).median()
    norms["accounts"] = per_account.groupby("tier", sort=True).size()
    return norms


@dataclass(frozen=True)
class Jump:
    """A rise in followers between two posts that likes did not follow."""

    at: pd.Timestamp
    """The first post after the rise."""
    gained: int
    share: float
    """The rise over the followers before it."""
    likes_rise: float
    """Median likes of the posts after over those before, minus 1."""

    def sentence(self) -> str:
        """The flag an analyst reads."""
        change = "no change in" if abs(self.likes_rise) < 0.1 else "little change in"
        return (
            f"followers rose by {self.gained:,} on {self.at.date()} with {change} likes: "
            "likely bought"
        )


def _jumps(frame: pd.DataFrame) -> list[Jump]:
    """Follower rises between two posts that likes did not follow, biggest first."""
    followers = frame["followers"].to_numpy(dtype=float)
    likes = frame["likes"].to_numpy(dtype=float)
    rise = np.diff(followers)
    if rise.size == 0:
        return []
    typical = float(np.median(np.abs(rise))) + 1.0
    found = []
    for i in np.flatnonzero((rise > JUMP_SHARE * followers[:-1]) & (rise > JUMP_TYPICAL * typical)):
        before = likes[max(0, i + 1 - LIKES_AROUND) : i + 1]
        after = likes[i + 1 : i + 1 + LIKES_AROUND]
        share = rise[i] / max(followers[i], 1.0)
        likes_rise = (np.median(after) + 1.0) / (np.median(before) + 1.0) - 1.0
        if likes_rise < share / 2:  # engagement rose by less than half as much, or fell
            at = pd.Timestamp(frame["posted_at"].iloc[i + 1])
            found.append(Jump(at, int(rise[i]), float(share), float(likes_rise)))
    return sorted(found, key=lambda j: -j.gained)


def _topics(texts: pd.Series, top: int = 5) -> list[str]:
    words: Counter[str] = Counter()
    for text in texts.dropna():
        words.update(w for w in _WORD.findall(str(text).lower()) if w not in _NOT_TOPICS)
    return [word for word, _ in words.most_common(top)]


def _sponsored(recent: pd.DataFrame) -> dict[str, float | int | None]:
    if "sponsored" not in recent or recent["sponsored"].isna().all():
        return {"sponsored_posts": 0, "sponsored_rate": None, "organic_rate": None}
    flagged = recent.dropna(subset=["sponsored"])
    kind = flagged["sponsored"].astype(bool)
    sponsored, organic = flagged.loc[kind, "er"], flagged.loc[~kind, "er"]
    return {
        "sponsored_posts": int(kind.sum()),
        "sponsored_rate": float(sponsored.median()) if len(sponsored) else None,
        "organic_rate": float(organic.median()) if len(organic) else None,
    }


def account_profile(
    posts: pd.DataFrame,
    placements: pd.DataFrame,
    account_id: str,
    as_of: pd.Timestamp,
    norms: TierNorms,
) -> dict[str, object]:
    """The profile of `account_id` as of `as_of`, read against `norms` (`tier_norms`).

    Takes posts and placements (typed contract tables; rows of other accounts, and rows
    at or after `as_of`, are left out here), the account and the moment. Returns a
    JSON-ready dict: the latest followers and tier; `followers_weekly` and
    `engagement_weekly` (with the tier's weekly median) series; `jumps` that likes did
    not follow; recent `ratios` beside the tier's; sponsored against organic engagement;
    `cadence`; `topics`; past `placements` with what they realised; and `flags`, plain
    sentences for what an analyst should look at. An account with no post before
    `as_of` has empty series and no flags.
    """
    frame = _prepared(posts[posts["account_id"] == account_id], as_of)
    placed = placements[
        (placements["account_id"] == account_id) & (as_utc(placements["posted_at"]) < as_of)
    ].sort_values("posted_at", kind="stable")
    if frame.empty:
        return {"account_id": account_id, "as_of": as_of, "posts": 0, "flags": []}
    latest = float(frame["followers"].iloc[-1])
    tier = tier_of(latest)
    weekly = frame.groupby("week", sort=True).agg(
        followers=("followers", "last"), engagement_rate=("er", "median")
    )
    tier_weekly = norms.weekly[norms.weekly["tier"] == tier].set_index("week")["engagement_rate"]
    weekly["tier_engagement_rate"] = tier_weekly.reindex(weekly.index)
    recent = frame[frame["posted_at"] >= as_of - pd.Timedelta(days=RECENT_DAYS)]
    mine = _row(_ratios(recent.assign(_all=0), "_all"), 0) if len(recent) else None
    typical = _row(norms.recent, tier)
    jumps = _jumps(frame)
    flags = [j.sentence() for j in jumps]
    if mine and typical and mine["shares_per_like"] < POD_SHARES * typical["shares_per_like"]:
        flags.append(
            f"likes without shares: {100 * mine['shares_per_like']:.1f} shares per 100 likes "
            f"against {100 * typical['shares_per_like']:.1f} for {tier} accounts: possible "
            "engagement pod"
        )
    span = (recent["posted_at"].iloc[-1] - recent["posted_at"].iloc[0]) if len(recent) else None
    gaps = recent["posted_at"].diff().dt.total_seconds().dropna() / 86400.0
    return {
        "account_id": account_id,
        "as_of": as_of,
        "posts": len(frame),
        "followers": int(latest),
        "tier": tier,
        "followers_weekly": [
            {"week": week, "followers": int(f)}
            for week, f in zip(weekly.index, weekly["followers"], strict=True)
        ],
        "engagement_weekly": [
            {"week": week, "engagement_rate": float(er), "tier_engagement_rate": _number(tier_er)}
            for week, er, tier_er in zip(
                weekly.index, weekly["engagement_rate"], weekly["tier_engagement_rate"], strict=True
            )
        ],
        "jumps": [asdict(j) for j in jumps],
        "ratios": mine,
        "tier_ratios": typical,
        **_sponsored(recent),
        "cadence": {
            "posts_90d": len(recent),
            "posts_per_week": (
                None if span is None or span.days < 7 else 7 * len(recent) / (span.days + 1)
            ),
            "median_gap_days": float(gaps.median()) if len(gaps) else None,
        },
        "topics": _topics(recent["text"]) if "text" in recent else [],
        # An outcome not yet known is None, not NaN: the dict is JSON-ready.
        "placements": placed.astype(object).where(placed.notna(), None).to_dict("records"),
        "flags": flags,
    }


def _row(frame: pd.DataFrame, key: object) -> dict[str, float] | None:
    """The ratio columns of one row as floats, or None when there is no such row."""
    if key not in frame.index:
        return None
    columns = ["comments_per_like", "shares_per_like", "engagement_rate"]
    values = frame.loc[[key], columns].to_numpy(dtype=float)[0]
    return dict(zip(columns, map(float, values), strict=True))


def _number(value: object) -> float | None:
    number = float(value)  # type: ignore[arg-type]
    return None if np.isnan(number) else number
