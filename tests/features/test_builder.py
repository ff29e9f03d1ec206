"""The feature builder: point in time, order-free, one code path, partition-free."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.builder import FAMILIES, FEATURES, FeatureBuilder, family_of
from features.contract import TABLES
from features.errors import NotFittedError
from features.io import Dataset
from features.simulate import SimulationConfig, World, simulate_world
from features.validate import coerce_table


def as_dataset(world: World) -> Dataset:
    tables = {}
    for name, spec in TABLES.items():
        table, problems = coerce_table(spec, getattr(world, name), name)
        assert problems == []
        tables[name] = table
    return Dataset(**tables)


@pytest.fixture(scope="module")
def data(small_world: World) -> Dataset:
    return as_dataset(small_world)


@pytest.fixture(scope="module")
def builder(data: Dataset) -> FeatureBuilder:
    return FeatureBuilder().fit(data)


@pytest.fixture(scope="module")
def offline(data: Dataset, builder: FeatureBuilder) -> pd.DataFrame:
    return builder.transform(data)


def row_of(table: pd.DataFrame, placement_id: str) -> pd.Series:
    return table.set_index("placement_id").loc[placement_id, list(FEATURES)]


def assert_same_row(a: pd.Series, b: pd.Series) -> None:
    np.testing.assert_array_equal(a.to_numpy(dtype=float), b.to_numpy(dtype=float))


def test_columns_are_the_declared_features_with_family_prefixes(offline: pd.DataFrame) -> None:
    assert list(offline.columns) == [
        "placement_id",
        "account_id",
        "campaign_id",
        "posted_at",
        *FEATURES,
    ]
    assert {family_of(f) for f in FEATURES} == set(FAMILIES)
    with pytest.raises(ValueError, match="has no family prefix"):
        family_of("followers")


def test_transform_before_fit_says_so(data: Dataset) -> None:
    with pytest.raises(NotFittedError, match=r"not fitted yet\. Call 'fit' before 'transform'"):
        FeatureBuilder().transform(data)


mutation = st.sampled_from(
    ["add_post", "drop_post", "change_post", "change_outcome", "add_placement"]
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    pick=st.integers(min_value=0, max_value=10_000),
    kind=mutation,
    after=st.floats(0.0, 40.0),
    seed=st.integers(0, 2**16),
)
def test_nothing_at_or_after_a_placement_changes_its_features(
    data: Dataset,
    builder: FeatureBuilder,
    offline: pd.DataFrame,
    pick: int,
    kind: str,
    after: float,
    seed: int,
) -> None:
    target = data.placements.iloc[pick % len(data.placements)]
    at, account = target["posted_at"], target["account_id"]
    rng = np.random.default_rng(seed)
    posts, placements = data.posts.copy(), data.placements.copy()
    later_posts = posts.index[(posts["account_id"] == account) & (posts["posted_at"] >= at)]
    later_placements = placements.index[placements["posted_at"] >= at]
    when = at + pd.Timedelta(days=after)
    if kind == "add_post":
        new = posts[posts["account_id"] == account].iloc[[0]].copy()
        new[["post_id", "posted_at", "followers", "likes"]] = ["new-post", when, 10**7, 10**6]
        new["text"] = "totally on topic " + str(data.campaigns["topic"].iloc[0])
        posts = pd.concat([posts, new], ignore_index=True)
    elif kind == "drop_post" and len(later_posts):
        posts = posts.drop(index=rng.choice(later_posts))
    elif kind == "change_post" and len(later_posts):
        i = rng.choice(later_posts)
        posts.loc[i, ["likes", "shares", "followers"]] = [0.0, 999.0, 1.0]
        posts.loc[i, "text"] = None
    elif kind == "change_outcome" and len(later_placements):
        i = rng.choice(later_placements)
        placements.loc[i, ["clicks", "revenue"]] = [10**6, 10**8]
    elif kind == "add_placement":
        new = placements.loc[placements["placement_id"] == target["placement_id"]].copy()
        new[["placement_id", "posted_at", "clicks", "cost"]] = ["new-pl", when, 10**6, 1.0]
        placements = pd.concat([placements, new], ignore_index=True)
    changed = dataclasses.replace(data, posts=posts, placements=placements)
    online = builder.transform(
        changed, targets=placements[placements["placement_id"] == target["placement_id"]]
    )
    assert_same_row(row_of(online, target["placement_id"]), row_of(offline, target["placement_id"]))


def test_shuffling_rows_changes_nothing(
    data: Dataset, builder: FeatureBuilder, offline: pd.DataFrame
) -> None:
    shuffled = Dataset(
        **{name: getattr(data, name).sample(frac=1.0, random_state=1) for name in TABLES}
    )
    again = builder.transform(shuffled)
    pd.testing.assert_frame_equal(
        again.sort_values("placement_id").reset_index(drop=True),
        offline.sort_values("placement_id").reset_index(drop=True),
    )


def test_online_row_from_one_accounts_history_equals_offline_row(
    data: Dataset, builder: FeatureBuilder, offline: pd.DataFrame
) -> None:
    for target in data.placements.sample(8, random_state=2).itertuples():
        one = Dataset(
            accounts=data.accounts[data.accounts["account_id"] == target.account_id],
            posts=data.posts[data.posts["account_id"] == target.account_id],
            campaigns=data.campaigns[data.campaigns["campaign_id"] == target.campaign_id],
            placements=data.placements[data.placements["account_id"] == target.account_id],
        )
        request = one.placements[one.placements["placement_id"] == target.placement_id]
        online = builder.transform(one, targets=request)
        assert_same_row(row_of(online, target.placement_id), row_of(offline, target.placement_id))


def test_any_partition_of_accounts_gives_the_same_rows(
    data: Dataset, builder: FeatureBuilder, offline: pd.DataFrame
) -> None:
    ids = data.accounts["account_id"].to_numpy()
    parts = []
    for chunk in np.array_split(np.random.default_rng(5).permutation(ids), 3):
        keep = {
            "accounts": data.accounts[data.accounts["account_id"].isin(chunk)],
            "posts": data.posts[data.posts["account_id"].isin(chunk)],
            "campaigns": data.campaigns,
            "placements": data.placements[data.placements["account_id"].isin(chunk)],
        }
        parts.append(builder.transform(Dataset(**keep)))
    together = pd.concat(parts).sort_values("placement_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(
        together, offline.sort_values("placement_id").reset_index(drop=True)
    )


def test_last_three_months_identical_without_the_future() -> None:
    world = simulate_world(
        SimulationConfig(accounts=300, campaigns=20, days=240, candidates=20, seed=11)
    )
    data = as_dataset(world)
    builder = FeatureBuilder().fit(data)
    offline = builder.transform(data)
    last = data.placements[
        data.placements["posted_at"] >= data.placements["posted_at"].max() - pd.Timedelta(days=90)
    ]
    assert len(last) > 50
    for target in last.sample(40, random_state=0).itertuples():
        # The world as it stood at the placement: no later post, no later placement, and
        # no outcome of a placement whose attribution window was still open.
        before = data.placements[data.placements["posted_at"] < target.posted_at].copy()
        still_open = before["posted_at"] + pd.Timedelta(days=30) > target.posted_at
        before.loc[still_open, ["clicks", "referrals", "conversions", "revenue"]] = np.nan
        past = Dataset(
            accounts=data.accounts,
            posts=data.posts[data.posts["posted_at"] < target.posted_at],
            campaigns=data.campaigns,
            placements=before,
        )
        request = data.placements[data.placements["placement_id"] == target.placement_id]
        alone = builder.transform(past, targets=request)
        assert_same_row(row_of(alone, target.placement_id), row_of(offline, target.placement_id))
