"""Write `examples/data`: a small data directory that reads like a brand's own exports.

The README's "Your own data" commands (validate, train, compare, serve) run as written on
it, and the model has enough to learn more than the follower count: 100 accounts, 28 past
campaigns of about 15 placements each, spread over eleven months after two of history, so
that the attribution windows (30 days) of enough early campaigns have closed before the later
ones start (`influence train` learns from the early campaigns and checks on the later;
`influence compare` refits at 4 origins). Smaller worlds were tried: with a dozen campaigns of
a few placements the boosting stops after one round and the model buys what the follower
count buys. Posts are every post of the first two months, then one in four, so that each
account's history is a few dozen lines.

The accounts, posts and outcomes are simulated (`features.simulate`, so the numbers follow
the world the README describes); only the names are changed to read like real ones:
handles from each account's main hashtag, campaign ids from the brand and the month. Run
`python examples/make_data.py` to write it again: the same files, byte for byte.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from features.simulate import SimulationConfig, simulate_world

CONFIG = SimulationConfig(accounts=100, campaigns=28, days=420, candidates=15, seed=1)
"""The simulated world behind the example."""

KEEP_EVERY = 4
"""After the first two months, keep one post in this many (in time order per account)."""

NAMES = (
    "jo sam alex kim lee max ana ben cleo dev eli fin gus ivy jay kai liv mia nia oz pia ray "
    "tess uma val"
).split()

OUT = Path(__file__).resolve().parent / "data"


def example_tables() -> dict[str, pd.DataFrame]:
    """The four contract tables of the example, as they are written to CSV."""
    world = simulate_world(CONFIG)
    posts = world.posts.sort_values(["account_id", "posted_at"], kind="stable")
    # Every post of the first two months (before any campaign), so that each account has a
    # history when its first placement comes; then one in KEEP_EVERY.
    early = posts["posted_at"] < pd.Timestamp(CONFIG.start) + pd.Timedelta(days=60)
    posts = posts[early | (posts.groupby("account_id").cumcount() % KEEP_EVERY == 0)]
    # The first hashtag that is not the paid-post label names the account's niche.
    tags = posts["text"].str.extract(r"#(?!ad\b)(\w+)", expand=False).fillna("life")
    main_tag = tags.groupby(posts["account_id"]).agg(lambda s: s.value_counts().index[0])
    handle: dict[str, str] = {}
    for i, account in enumerate(sorted(world.accounts["account_id"])):
        name = f"{main_tag[account]}_{NAMES[i % len(NAMES)]}"
        # Unique as the contract wants: a repeated handle gets the account's number.
        handle[account] = name if name not in handle.values() else f"{name}{i}"
    campaigns = world.campaigns.sort_values("starts_at", kind="stable")
    slug = {
        c: f"{b}-{s:%b}-{i}".lower()
        for i, (c, b, s) in enumerate(
            zip(campaigns["campaign_id"], campaigns["brand"], campaigns["starts_at"], strict=True),
            start=1,
        )
    }
    accounts = world.accounts.assign(account_id=world.accounts["account_id"].map(handle))
    posts = posts.sort_values(["posted_at", "post_id"], kind="stable")
    posts = posts.assign(
        post_id=[f"p{i}" for i in range(1, len(posts) + 1)],
        account_id=posts["account_id"].map(handle),
    )
    campaigns = campaigns.assign(campaign_id=campaigns["campaign_id"].map(slug))
    placements = world.placements.sort_values("posted_at", kind="stable")
    placements = placements.assign(
        placement_id=[f"pl{i}" for i in range(1, len(placements) + 1)],
        campaign_id=placements["campaign_id"].map(slug),
        account_id=placements["account_id"].map(handle),
    )
    return {
        "accounts": accounts.sort_values("account_id"),
        "posts": posts,
        "campaigns": campaigns,
        "placements": placements,
    }


def write_example(out: Path = OUT) -> None:
    """Write the example's four CSV files into `out` (created when missing)."""
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in example_tables().items():
        frame.to_csv(out / f"{name}.csv", index=False, date_format="%Y-%m-%dT%H:%M:%SZ")


if __name__ == "__main__":
    write_example(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
