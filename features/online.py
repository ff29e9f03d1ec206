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

__all__ = ["BRIEF_CACHE", "OnlineFeatures", "OnlineParts", "merge_captions"]

BRIEF_CACHE = 1024
"""Campaign briefs whose TF-IDF rows are remembered (vectorising one costs about 3 ms)."""

Floats = npt.NDArray[np.float64]
Indices = npt.NDArray[np.intp]


@dataclass(frozen=True)
class OnlineParts:
    """What `OnlineFeatures` is made of, without the fitted builder: the accounts (sorted),
    their campaign-free rows (`free`, `FEATURES` columns, relevance missing) and their
    recent captions, target i being `accounts[i]`.

    Every value of an account depends on its own rows of the tables alone, so the parts
    of disjoint sets of accounts (the Dask engine's buckets, `merge`) give the parts of
    all of them, to the bit.
    """

    accounts: list[str]
    free: Floats
    captions: RecentCaptions

    @classmethod
    def build(cls, builder: FeatureBuilder, data: Dataset, as_of: pd.Timestamp) -> OnlineParts:
        """The parts of the accounts with posts in `data`, as of `as_of` (as `build` needs)."""
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
        return cls(accounts, rows.to_numpy(dtype=np.float64), captions)

    @classmethod
    def merge(cls, pieces: Sequence[OnlineParts]) -> OnlineParts:
        """The parts of the accounts of all `pieces` (no account in two), as `build` gives
        them for the union of their data: accounts sorted, rows and captions in that order.
        Raises ValueError for no piece or an account in two."""
        if not pieces:
            raise ValueError("merging online parts needs at least one piece")
        piece = np.concatenate([np.full(len(p.accounts), i, np.intp) for i, p in enumerate(pieces)])
        row = np.concatenate([np.arange(len(p.accounts), dtype=np.intp) for p in pieces])
        named = [a for p in pieces for a in p.accounts]
        if len(set(named)) != len(named):
            raise ValueError("an account is in two pieces of the online parts")
        # Python's sort, as `build` sorts the accounts; `order[i]` is the i-th account's slot.
        order = np.array(sorted(range(len(named)), key=named.__getitem__), dtype=np.intp)
        free = np.concatenate([p.free for p in pieces], axis=0)[order]
        captions = merge_captions([p.captions for p in pieces], piece[order], row[order])
        return cls([named[i] for i in order], free, captions)


def merge_captions(
    pieces: Sequence[RecentCaptions], piece_of: Indices, row_of: Indices
) -> RecentCaptions:
    """The recent captions of targets taken from several pieces, as `recent_captions` would
    have gathered them for all of them at once, to the bit.

    Takes the pieces (disjoint targets, captions vectorised by the same vectoriser) and, for
    target i of the result, its piece `piece_of[i]` and row there `row_of[i]`. The distinct
    texts of every piece are sorted and de-duplicated together, each post's text code is
    remapped to them and each text keeps the TF-IDF row its first piece computed (a row
    depends on its text alone). A target's profile and norm are its piece's: summed over
    its posts in the order of their texts, which no other target changes.
    """
    sizes = np.array([p.counts.size for p in pieces], dtype=np.intp)
    offsets = np.cumsum(sizes) - sizes
    texted = [p for p in pieces if p.texts.size]
    every = np.concatenate([p.texts for p in texted]) if texted else np.array([], dtype=object)
    codes, distinct = pd.factorize(np.asarray(every, dtype=object), sort=True)
    distinct = np.asarray(distinct, dtype=object)
    width = texted[0].vectors.shape[1] if texted else 0
    if texted:
        _, first = np.unique(codes, return_index=True)
        vectors = sp.csr_matrix(sp.vstack([p.vectors for p in texted], format="csr")[first])
    else:  # as `recent_captions` leaves it without captions
        vectors = sp.csr_matrix((0, 0))
    # Each piece's text codes in the merged texts, and each of its targets' stacked slot.
    starts = np.cumsum([p.texts.size for p in pieces]) - [p.texts.size for p in pieces]
    global_codes = [
        np.asarray(codes[s : s + p.texts.size], dtype=np.intp)[p.text_codes]
        for s, p in zip(starts, pieces, strict=True)
    ]
    profiles = [
        p.profile if p.profile.shape[1] == width else sp.csr_matrix((p.counts.size, width))
        for p in pieces
    ]
    stacked = RecentCaptions(
        texts=distinct,
        lowered=np.array([str(t).lower() for t in distinct], dtype=object),
        vectors=vectors,
        text_codes=np.concatenate(global_codes),
        positions=np.concatenate(
            [p.positions + o for p, o in zip(pieces, offsets, strict=True)]
        ).astype(np.intp),
        counts=np.concatenate([p.counts for p in pieces]),
        profile=sp.csr_matrix(sp.vstack(profiles, format="csr")),
        norms=np.concatenate([p.norms for p in pieces]),
    )
    return stacked.take(offsets[np.asarray(piece_of, np.intp)] + np.asarray(row_of, np.intp))


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
        parts = OnlineParts.build(builder, data, as_of)
        return cls.assemble(builder, as_of, parts.free, parts.accounts, parts.captions)

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
