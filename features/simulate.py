"""A simulated world in which popularity and influence come apart as the research says.

`simulate_world` returns the four contract tables plus the ground truth (the
expected outcomes the generating process used for every placement). Every demo and
most tests run on it. The generating process, in one paragraph:

Each account has real followers (heavy-tailed, growing slowly), and some buy
followers in sudden bursts that bring no engagement and no actions. Engagement
rate is an inverted U in followers (Wies et al. 2023); some accounts sit in
engagement pods that inflate likes and comments but not shares or clicks. Views
grow with followers at an elasticity near 0.1 (Tian et al. 2024). Each account
posts about a few topics; a campaign has a topic, and actions grow with the fit
between the two. A stable per-account trait scales actions per real follower, so
that past placements predict future ones (Bakshy et al. 2011), and accounts that
post sponsored content often fatigue their audience. Prices follow displayed
followers, as the market prices popularity, so return per unit cost is highest
away from the top of the follower ranking (Beichert et al. 2024). Outcomes are
over-dispersed counts drawn around the expected values.

The topics, brands and captions come from features.simulate_topics. With
`experiment=True` the later half of the campaigns run as a live experiment between two
selection policies (features.simulate_experiment), so that the whole loop (simulate,
train, compare, analyse the experiment) can be shown on one world. `write_world`
writes a world as a data directory with `truth.parquet` (`TRUTH_FILE`) beside it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from features.simulate_experiment import run_experiment
from features.simulate_files import METADATA_FILE, TRUTH_FILE, write_world
from features.simulate_topics import BRANDS, SENTENCES_PER_TOPIC, TOPICS, sentence_pool

__all__ = [
    "METADATA_FILE",
    "TRUTH_FILE",
    "SimulationConfig",
    "World",
    "simulate_world",
    "write_world",
]


@dataclass(frozen=True)
class SimulationConfig:
    """The knobs of a simulated world; the same config always gives the same world."""

    accounts: int = 2000
    campaigns: int = 60
    days: int = 365
    candidates: int = 50
    seed: int = 0
    start: str = "2025-01-01T00:00:00Z"
    experiment: bool = False
    """Run the later half of the campaigns as an experiment: model picks against follower picks."""

    def validate(self) -> None:
        """Raise ValueError naming the first knob that cannot make a world."""
        if self.accounts < 10:
            raise ValueError(f"accounts must be at least 10, got {self.accounts}.")
        if self.campaigns < 1:
            raise ValueError(f"campaigns must be at least 1, got {self.campaigns}.")
        if self.days < 60:
            raise ValueError(f"days must be at least 60 (histories need time), got {self.days}.")
        if not 2 <= self.candidates <= self.accounts:
            raise ValueError(
                f"candidates must be between 2 and accounts ({self.accounts}), "
                f"got {self.candidates}."
            )


@dataclass(frozen=True)
class World:
    """A simulated data directory's tables and the ground truth kept beside them."""

    accounts: pd.DataFrame
    posts: pd.DataFrame
    campaigns: pd.DataFrame
    placements: pd.DataFrame
    truth: pd.DataFrame
    config: SimulationConfig
    traits: pd.DataFrame | None = None
    """Per account, what the data never shows: `bought` (followers bought in bursts, 0 for
    most) and `pod` (in an engagement pod). Kept in memory only, to test what the data
    reveals of them (`features.profile`'s flags); never written."""

    def metadata(self) -> dict[str, object]:
        """What made this world, for `simulation.json` beside the tables.

        `experiment` is written only when it is on, so that a default world's
        directory stays byte-identical to the ones written before the option existed.
        """
        config = asdict(self.config)
        if not self.config.experiment:
            del config["experiment"]
        return {"generator": "influence simulate", **config}


def _timestamps(start: pd.Timestamp, days: np.ndarray) -> pd.Series:
    seconds = np.round(days * 86400.0).astype("int64")
    return pd.Series(start + pd.to_timedelta(seconds, unit="s")).dt.as_unit("us")


def simulate_world(config: SimulationConfig) -> World:
    """Generate a complete, valid data directory's tables and their ground truth.

    Vectorised over accounts and posts; the only loops run over topics and
    campaigns. Deterministic: the same `config` (seed included) gives identical
    tables. `truth` holds, per placement, the expected clicks, referrals,
    conversions and revenue, which are never put in the input tables.
    """
    config.validate()
    rng = np.random.default_rng(config.seed)
    start = pd.Timestamp(config.start)
    if start.tzinfo is None:
        start = start.tz_localize("UTC")
    n, days = config.accounts, float(config.days)
    n_topics = len(TOPICS)
    pool, topic_names = sentence_pool(rng)

    # --- accounts: traits the data never shows directly -------------------------------
    log_f0 = np.clip(rng.normal(9.0, 1.5, n), np.log(300), np.log(5e6))
    f0 = np.exp(log_f0)
    growth = rng.normal(0.0008, 0.0006, n)  # per day
    buyer = rng.random(n) < 0.15
    bought = np.where(buyer, f0 * rng.uniform(0.5, 3.0, n), 0.0)
    burst_t = rng.uniform(0, days, (n, 3))
    burst_share = rng.dirichlet(np.ones(3), n) * (rng.random((n, 3)) < [1.0, 0.6, 0.3])
    burst_size = bought[:, None] * burst_share / np.maximum(burst_share.sum(1, keepdims=True), 1e-9)
    pod = rng.random(n) < 0.15
    pod_likes = np.where(pod, rng.uniform(2.0, 4.0, n), 1.0)
    pod_comments = np.where(pod, rng.uniform(1.5, 3.0, n), 1.0)
    trait = rng.lognormal(0.0, 0.9, n)  # actions per real follower, stable over time
    inverted_u = np.exp(-0.05 * (log_f0 - np.log(5000)) ** 2)
    eng_rate = 0.06 * inverted_u * trait**0.4 * rng.lognormal(0.0, 0.3, n)
    primary = rng.integers(0, n_topics, n)
    secondary = (primary + rng.integers(1, n_topics, n)) % n_topics
    focus = rng.uniform(0.5, 0.9, n)
    affinity = np.full((n, n_topics), 0.0)
    affinity[np.arange(n), primary] += focus
    affinity[np.arange(n), secondary] += (1 - focus) * 0.7
    affinity += (1 - focus[:, None]) * 0.3 / n_topics
    post_rate = rng.lognormal(np.log(0.25), 0.5, n)  # posts per day
    sponsor_rate = rng.beta(1.2, 10.0, n)
    following = rng.lognormal(np.log(400), 1.0, n) * np.where(buyer, 3.0, 1.0)
    view_factor = rng.lognormal(0.0, 0.6, n)
    conv_rate = 0.03 * rng.lognormal(0.0, 0.4, n)
    referral_rate = 0.15 * rng.lognormal(0.0, 0.4, n)
    fatigue = np.exp(-2.0 * sponsor_rate)
    account_ids = np.array([f"a{i:06d}" for i in range(n)], dtype=object)
    platforms = rng.choice(np.array(["instagram", "tiktok", "youtube"], dtype=object), n)
    created = _timestamps(start, -rng.uniform(200, 2500, n))

    # --- campaigns -------------------------------------------------------------------
    n_c = config.campaigns
    brand_names = np.array(list(BRANDS), dtype=object)
    c_brand = rng.choice(brand_names, n_c)
    home = np.array([topic_names.index(BRANDS[b]) for b in c_brand])
    c_topic = np.where(rng.random(n_c) < 0.8, home, rng.integers(0, n_topics, n_c))
    c_start = np.sort(rng.uniform(60.0, days - 20.0, n_c))
    c_scale = rng.lognormal(0.0, 0.3, n_c)
    brand_aov = dict(zip(brand_names, rng.uniform(30.0, 120.0, len(brand_names)), strict=True))
    c_aov = np.array([brand_aov[b] for b in c_brand])
    briefs = np.array(
        [
            " ".join(rng.choice(np.array(TOPICS[topic_names[t]]), size=4, replace=False))
            for t in c_topic
        ],
        dtype=object,
    )

    # --- placements: each campaign's candidates, leaning on-topic ------------------------
    # Brands shortlist within a band of follower tiers around a campaign's own target,
    # so that no single mega account dwarfs the rest of a shortlist's cost.
    k = config.candidates
    c_tier = rng.uniform(np.log(3e3), np.log(3e5), n_c)
    pl_campaign = np.repeat(np.arange(n_c), k)
    weights = (0.3 + affinity[:, c_topic]) * np.exp(-0.5 * ((log_f0[:, None] - c_tier) / 1.2) ** 2)
    pl_account = np.concatenate(
        [rng.choice(n, size=k, replace=False, p=w / w.sum()) for w in weights.T]
    )
    pl_t = c_start[pl_campaign] + rng.uniform(0.0, 14.0, pl_campaign.size)

    # --- posts: organic history plus the placement posts themselves ----------------------
    counts = rng.poisson(post_rate * days)
    org_account = np.repeat(np.arange(n), counts)
    org_t = rng.uniform(0.0, days, org_account.size)
    post_account = np.concatenate([org_account, pl_account])
    post_t = np.concatenate([org_t, pl_t])
    is_placement = np.concatenate(
        [np.zeros(org_account.size, bool), np.ones(pl_account.size, bool)]
    )
    order = np.lexsort((post_t, post_account))
    post_account, post_t, is_placement = post_account[order], post_t[order], is_placement[order]
    m = post_account.size

    def real_followers(acc: np.ndarray, t: np.ndarray) -> np.ndarray:
        return np.asarray(f0[acc] * np.exp(growth[acc] * t))

    def shown_followers(acc: np.ndarray, t: np.ndarray) -> np.ndarray:
        bought_by_t = (burst_size[acc] * (t[:, None] >= burst_t[acc])).sum(1)
        return np.asarray(real_followers(acc, t) + bought_by_t)

    real_f = real_followers(post_account, post_t)
    shown_f = shown_followers(post_account, post_t)
    sponsored = is_placement | (rng.random(m) < sponsor_rate[post_account])
    topic_draw = rng.random(m)
    post_topic = np.where(
        topic_draw < focus[post_account],
        primary[post_account],
        np.where(topic_draw < 0.9, secondary[post_account], rng.integers(0, n_topics, m)),
    )
    pl_rows = np.flatnonzero(is_placement)
    # Placement posts are about their campaign's topic; map rows back to placements.
    pl_index = np.empty(pl_account.size, dtype=np.int64)
    pl_index[order[pl_rows] - org_account.size] = pl_rows
    post_topic[pl_index] = c_topic[pl_campaign]
    real_likes = (
        eng_rate[post_account] * real_f * np.where(sponsored, 0.7, 1.0) * rng.lognormal(0, 0.25, m)
    )
    likes = rng.poisson(real_likes * pod_likes[post_account])
    comments = rng.poisson(real_likes * 0.04 * pod_comments[post_account])
    shares = rng.poisson(real_likes * 0.03 * trait[post_account] ** 0.3)
    views = rng.poisson(
        3000.0 * (shown_f / 1e4) ** 0.1 * view_factor[post_account] * rng.lognormal(0, 0.3, m)
    )
    text = pool[post_topic, rng.integers(0, SENTENCES_PER_TOPIC, m)]
    text[pl_index] = [
        f"{b} #ad @{b} " + p for b, p in zip(c_brand[pl_campaign], text[pl_index], strict=True)
    ]
    following_now = np.round(following[post_account] * np.exp(0.0003 * post_t))

    posts = pd.DataFrame(
        {
            "post_id": [f"p{i:08d}" for i in range(m)],
            "account_id": account_ids[post_account],
            "posted_at": _timestamps(start, post_t),
            "followers": np.round(shown_f).astype("int64"),
            "following": following_now.astype("int64"),
            "likes": likes,
            "comments": comments,
            "shares": shares,
            "views": views,
            "text": text,
            "sponsored": sponsored,
        }
    )

    # --- outcomes: what the placements caused ------------------------------------------
    fit = affinity[pl_account, c_topic[pl_campaign]]
    pl_real = real_followers(pl_account, pl_t)
    pl_shown = shown_followers(pl_account, pl_t)
    exp_clicks = (
        1.0
        * c_scale[pl_campaign]
        * trait[pl_account]
        * pl_real**0.4
        * (0.15 + 1.7 * fit)
        * fatigue[pl_account]
    )
    exp_referrals = exp_clicks * referral_rate[pl_account]
    p_conv = np.clip(conv_rate[pl_account] * (0.5 + fit), 0.0, 1.0)
    exp_conversions = exp_clicks * p_conv
    exp_revenue = exp_conversions * c_aov[pl_campaign]
    latent = rng.gamma(3.0, 1.0 / 3.0, pl_account.size)  # shared shock: over-dispersion
    clicks = rng.poisson(exp_clicks * latent)
    referrals = rng.poisson(exp_referrals * latent)
    conversions = rng.binomial(clicks, p_conv)
    revenue = np.where(
        conversions > 0,
        rng.gamma(np.maximum(conversions, 1) * 2.0, c_aov[pl_campaign] / 2.0),
        0.0,
    )
    cost = 50.0 + 0.01 * pl_shown * rng.lognormal(0.0, 0.25, pl_account.size)

    campaign_ids = np.array([f"c{i:04d}" for i in range(n_c)], dtype=object)
    placement_ids = np.array([f"pl{i:07d}" for i in range(pl_account.size)], dtype=object)
    placements = pd.DataFrame(
        {
            "placement_id": placement_ids,
            "campaign_id": campaign_ids[pl_campaign],
            "account_id": account_ids[pl_account],
            "posted_at": _timestamps(start, pl_t),
            "cost": np.round(cost, 2),
            "clicks": clicks,
            "referrals": referrals,
            "conversions": conversions,
            "revenue": np.round(revenue, 2),
        }
    )
    truth = pd.DataFrame(
        {
            "placement_id": placement_ids,
            "clicks": exp_clicks,
            "referrals": exp_referrals,
            "conversions": exp_conversions,
            "revenue": exp_revenue,
        }
    )
    accounts = pd.DataFrame(
        {"account_id": account_ids, "platform": platforms, "created_at": created}
    )
    campaigns = pd.DataFrame(
        {
            "campaign_id": campaign_ids,
            "brand": c_brand,
            "topic": briefs,
            "starts_at": _timestamps(start, c_start),
        }
    )
    traits = pd.DataFrame({"account_id": account_ids, "bought": bought, "pod": pod})
    world = World(accounts, posts, campaigns, placements, truth, config, traits)
    if not config.experiment:
        return world
    # Every random number is drawn by now: the experiment only removes rows and adds `arm`.
    keep, arm = run_experiment(
        campaign_ids,
        pl_campaign,
        placements["cost"].to_numpy(dtype=float),
        pl_shown,
        exp_clicks,
        config.seed,
    )
    return _keep_placements(world, keep, arm, pl_index)


def _keep_placements(
    world: World, keep: np.ndarray, arm: np.ndarray, pl_index: np.ndarray
) -> World:
    """The world with only the `keep` placements (and their posts), `arm` beside them."""
    post_keep = np.ones(len(world.posts), dtype=bool)
    post_keep[pl_index[~keep]] = False
    return World(
        accounts=world.accounts,
        posts=world.posts[post_keep].reset_index(drop=True),
        campaigns=world.campaigns,
        placements=world.placements.assign(arm=arm)[keep].reset_index(drop=True),
        truth=world.truth[keep].reset_index(drop=True),
        config=world.config,
        traits=world.traits,
    )
