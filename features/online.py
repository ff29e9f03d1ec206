"""Online features: every known account's latest campaign-free row, ready for any campaign.

A service scores the same accounts for campaign after campaign. Reach, resonance and
track record do not depend on the campaign, and relevance depends on it only through
the brief and the brand; so `OnlineFeatures.build` computes, once per data load, each
account's campaign-free families and its recent-caption profile as of one moment, and
`rows` completes relevance per request. The rows are `FeatureBuilder.transform`'s, to
the bit (tests/features/test_online.py), because both run the builder's own steps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from features.builder import FEATURES, FeatureBuilder
from features.io import Dataset
from features.relevance import RecentCaptions, relevance_scores

__all__ = ["BRIEF_CACHE", "OnlineFeatures"]

BRIEF_CACHE = 1024
"""Campaign briefs whose TF-IDF rows are remembered (vectorising one costs about 3 ms)."""

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class OnlineFeatures:
    """Each known account's features as of `as_of`, relevance left to the campaign.

    `free` holds one row per account (`row_of` gives it), `FEATURES` columns, with
    the relevance columns missing; `captions` the recent captions relevance is scored
    from. Build it with `OnlineFeatures.build`.
    """

    as_of: pd.Timestamp
    free: Floats
    row_of: Mapping[str, int]
    captions: RecentCaptions
    brief: Callable[[str], sp.csr_matrix]

    @classmethod
    def build(cls, builder: FeatureBuilder, data: Dataset, as_of: pd.Timestamp) -> OnlineFeatures:
        """Describe every account with posts in `data` as of `as_of`, with a fitted builder.

        The accounts are those with at least one post (sorted); each is described as
        a placement at `as_of` would be: from posts before it and past placements
        whose attribution window had closed by then.
        """
        accounts = sorted(set(data.posts["account_id"]))
        targets = pd.DataFrame(
            {
                "placement_id": [f"latest/{a}" for a in accounts],
                "account_id": accounts,
                "campaign_id": "latest",
                "posted_at": as_of,
            }
        )
        # The builder's own first steps, so that `rows` equals `transform` to the bit; this
        # module is the one caller of that private method outside the builder.
        free, captions = builder._campaign_free_state(data, targets)
        rows = free.reindex(index=range(len(accounts)), columns=list(FEATURES))
        return cls.assemble(builder, as_of, rows.to_numpy(dtype=np.float64), accounts, captions)

    @classmethod
    def assemble(
        cls,
        builder: FeatureBuilder,
        as_of: pd.Timestamp,
        free: Floats,
        accounts: Sequence[str],
        captions: RecentCaptions,
    ) -> OnlineFeatures:
        """The snapshot from its parts: `free` rows in the order of `accounts`, their
        `captions`, and the fitted builder whose vectorizer turns briefs into rows.

        `build` computes the parts; `features.snapshot` reads them back from files.
        """
        vectorizer = builder.vectorizer_

        @lru_cache(maxsize=BRIEF_CACHE)
        def brief(topic: str) -> sp.csr_matrix:
            return vectorizer.transform(pd.Series([topic]))

        return cls(
            as_of=as_of,
            free=free,
            row_of={a: i for i, a in enumerate(accounts)},
            captions=captions,
            brief=brief,
        )

    def knows(self, account_id: str) -> bool:
        """Whether the account had a post in the data the snapshot was built from."""
        return account_id in self.row_of

    def rows(self, account_ids: Sequence[str], campaign: Mapping[str, str]) -> Floats:
        """Feature rows (`FEATURES` order) for placements of known accounts at `as_of`.

        Takes account ids (each `knows`; repeats allowed) and the campaign's `brand`
        and `topic`. Returns an (n, len(FEATURES)) array equal to the rows
        `FeatureBuilder.transform` builds for those placements in that campaign.
        """
        slots = np.array([self.row_of[a] for a in account_ids], dtype=np.intp)
        x = self.free[slots]
        one = np.zeros(slots.size, dtype=np.intp)
        relevance = relevance_scores(
            self.captions.take(slots),
            self.brief(campaign["topic"]),
            one,
            [campaign["brand"].lower()],
            one,
        )
        for name, values in relevance.items():
            x[:, FEATURES.index(name)] = values
        return x
