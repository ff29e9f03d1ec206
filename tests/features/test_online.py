"""`features.online`: the snapshot's rows are `FeatureBuilder.transform`'s, to the bit."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from features.builder import FEATURES, FeatureBuilder
from features.io import Dataset
from features.online import OnlineFeatures


def _transformed(
    builder: FeatureBuilder,
    data: Dataset,
    online: OnlineFeatures,
    accounts: list[str],
    campaign: dict[str, str],
) -> np.ndarray:
    targets = pd.DataFrame(
        {
            "placement_id": [f"p{i}" for i in range(len(accounts))],
            "account_id": accounts,
            "campaign_id": "request",
            "posted_at": online.as_of,
        }
    )
    request = Dataset(
        accounts=data.accounts,
        posts=data.posts,
        campaigns=pd.DataFrame(
            {"campaign_id": ["request"], **{k: [v] for k, v in campaign.items()}}
        ),
        placements=data.placements,
    )
    return builder.transform(request, targets)[list(FEATURES)].to_numpy(dtype=np.float64)


def test_every_known_account_in_the_data_s_own_campaign(
    online_data: Dataset, online_builder: FeatureBuilder, online: OnlineFeatures
) -> None:
    accounts = sorted(online.row_of)
    assert accounts == sorted(set(online_data.posts["account_id"]))
    last = online_data.campaigns.iloc[-1]
    campaign = {"brand": str(last["brand"]), "topic": str(last["topic"])}
    rows = online.rows(accounts, campaign)
    np.testing.assert_array_equal(
        rows, _transformed(online_builder, online_data, online, accounts, campaign)
    )
    # The data's own brand: some captions mention it, so relevance is really computed.
    assert np.nansum(rows[:, FEATURES.index("relevance_brand_mentions")]) > 0
    assert np.isfinite(rows[:, FEATURES.index("reach_followers")]).all()


@settings(max_examples=15, deadline=None)
@given(
    picks=st.lists(st.integers(min_value=0, max_value=199), min_size=1, max_size=12),
    topic=st.sampled_from(["running shoes and marathon training", "vegan recipes", "", "x y z"]),
    brand=st.sampled_from(["", "Acme", "nike", "ZZZ Corp"]),
)
def test_any_accounts_any_brief_equal_transform(
    online_data: Dataset,
    online_builder: FeatureBuilder,
    online: OnlineFeatures,
    picks: list[int],
    topic: str,
    brand: str,
) -> None:
    known = sorted(online.row_of)
    accounts = [known[p % len(known)] for p in picks]  # repeats allowed, any order
    campaign = {"brand": brand, "topic": topic}
    np.testing.assert_array_equal(
        online.rows(accounts, campaign),
        _transformed(online_builder, online_data, online, accounts, campaign),
    )
