"""Account profiles (features/profile.py): what the data reveals of bought followers and pods."""

from __future__ import annotations

import pandas as pd
import pytest

from features.profile import account_profile, tier_norms, tier_of
from features.simulate import SimulationConfig, simulate_world

WORLD = SimulationConfig(accounts=150, campaigns=8, days=200, candidates=10, seed=4)


def _posts(followers: list[int], likes: list[int], start: str = "2025-02-01") -> pd.DataFrame:
    n = len(followers)
    return pd.DataFrame(
        {
            "post_id": [f"p{i:03d}" for i in range(n)],
            "account_id": "acme",
            "posted_at": pd.date_range(start, periods=n, freq="D", tz="UTC").as_unit("us"),
            "followers": followers,
            "likes": likes,
            "comments": [max(1, x // 25) for x in likes],
            "shares": [max(1, x // 30) for x in likes],
            "text": "trail running shoes review",
            "sponsored": False,
        }
    )


NO_PLACEMENTS = pd.DataFrame(
    {
        c: pd.Series(dtype=t)
        for c, t in [("account_id", object), ("posted_at", "datetime64[us, UTC]")]
    }
)


def test_a_jump_that_likes_did_not_follow_is_named_with_its_size_and_day() -> None:
    followers = [10_000 + 10 * i for i in range(15)] + [48_140 + 10 * i for i in range(15)]
    posts = _posts(followers, [400] * 30)
    as_of = pd.Timestamp("2025-04-01", tz="UTC")
    profile = account_profile(posts, NO_PLACEMENTS, "acme", as_of, tier_norms(posts, as_of))
    assert profile["flags"] == [
        "followers rose by 38,000 on 2025-02-16 with no change in likes: likely bought"
    ]
    assert profile["tier"] == "micro"
    assert profile["followers"] == 48_280


def test_a_jump_that_likes_followed_is_growth_not_a_flag() -> None:
    followers = [10_000 + 10 * i for i in range(15)] + [48_140 + 10 * i for i in range(15)]
    posts = _posts(followers, [400] * 15 + [1_600] * 15)
    as_of = pd.Timestamp("2025-04-01", tz="UTC")
    profile = account_profile(posts, NO_PLACEMENTS, "acme", as_of, tier_norms(posts, as_of))
    assert profile["flags"] == []
    assert profile["jumps"] == []


@pytest.mark.parametrize(
    ("followers", "tier"),
    [(0, "nano"), (9_999, "nano"), (10_000, "micro"), (499_999, "mid"), (2e6, "mega")],
)
def test_tiers_are_the_market_s(followers: float, tier: str) -> None:
    assert tier_of(followers) == tier


def test_the_flags_find_the_simulator_s_buyers_and_pods() -> None:
    world = simulate_world(WORLD)
    assert world.traits is not None
    as_of = world.posts["posted_at"].max() + pd.Timedelta(seconds=1)
    norms = tier_norms(world.posts, as_of)
    # As the service does: each account's own rows only.
    placed = dict(tuple(world.placements.groupby("account_id", sort=False)))
    flags = {
        a: account_profile(posts, placed.get(a, NO_PLACEMENTS), a, as_of, norms)["flags"]
        for a, posts in world.posts.groupby("account_id", sort=False)
    }
    traits = world.traits.set_index("account_id")
    found = pd.DataFrame(
        {
            "bought": [any("likely bought" in f for f in flags[a]) for a in traits.index],
            "pod": [any("engagement pod" in f for f in flags[a]) for a in traits.index],
        },
        index=traits.index,
    )
    for flag, truth in [("bought", traits["bought"] > 0), ("pod", traits["pod"])]:
        hits = (found[flag] & truth).sum()
        assert truth.sum() >= 15  # enough of each to judge
        assert hits / found[flag].sum() >= 0.8, flag  # precision
        assert hits / truth.sum() >= 0.7, flag  # recall


def test_a_profile_as_of_a_moment_ignores_everything_after_it() -> None:
    world = simulate_world(WORLD)
    account = str(world.placements["account_id"].iloc[0])
    as_of = pd.Timestamp(world.placements["posted_at"].iloc[len(world.placements) // 2])
    norms = tier_norms(world.posts[world.posts["posted_at"] < as_of], as_of)
    full = account_profile(world.posts, world.placements, account, as_of, norms)
    cut = account_profile(
        world.posts[world.posts["posted_at"] < as_of],
        world.placements[world.placements["posted_at"] < as_of],
        account,
        as_of,
        norms,
    )
    assert full == cut
    assert tier_norms(world.posts, as_of).recent.equals(norms.recent)
    assert all(p["posted_at"] < as_of for p in full["placements"])  # type: ignore[attr-defined]
