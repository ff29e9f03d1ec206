"""One feature builder for training, batch and online prediction.

`FeatureBuilder.fit` learns the state features need (the text vocabulary and the
track-record priors) from training data only; `transform` turns tables into one
row per placement using only what was known strictly before its `posted_at`. The
API, batch prediction and training all call `transform`: there is no second
implementation. Accounts are independent, so `transform` gives the same rows for
an account whatever other accounts are in the tables (the scale-out relies on it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.errors import NotFittedError
from features.history import TARGET_KEYS, join_history, prepare_posts, targets_frame
from features.io import Dataset
from features.reach import reach_features
from features.relevance import RecentCaptions, TopicVectorizer, captions_of, relevance_features
from features.resonance import resonance_features
from features.track_record import fit_priors, track_features

__all__ = ["FAMILIES", "FEATURES", "FeatureBuilder", "family_of"]

FAMILIES = ("reach", "resonance", "relevance", "track")

FEATURES: tuple[str, ...] = (
    "reach_followers",
    "reach_growth_30d",
    "reach_growth_90d",
    "reach_burst_ratio",
    "reach_max_jump_share",
    "reach_following_ratio",
    "reach_posts_per_week",
    "reach_median_views",
    "reach_views_per_follower",
    "reach_account_age_days",
    "resonance_er_median_7d",
    "resonance_er_median_30d",
    "resonance_er_median_90d",
    "resonance_er_trend_7d_90d",
    "resonance_er_trend_30d_90d",
    "resonance_comments_per_like",
    "resonance_shares_per_like",
    "resonance_er_cv",
    "resonance_engagement_per_view",
    "resonance_sponsored_vs_organic",
    "resonance_sponsored_share_30d",
    "resonance_sponsored_count_30d",
    "relevance_topic_similarity",
    "relevance_on_topic_share",
    "relevance_brand_mentions",
    "relevance_brand_mentions_share",
    "track_days_since_last",
    "track_placements_known",
    "track_placements_pending",
    *(
        f"track_{outcome}_{rate}"
        for outcome in ("clicks", "referrals", "conversions", "revenue")
        for rate in ("per_follower", "per_cost")
    ),
)
"""Every feature, in the order of the feature table; the prefix names its family."""


def family_of(feature: str) -> str:
    """The family a feature belongs to, from its prefix (`reach_followers` -> `reach`)."""
    family = feature.split("_", 1)[0]
    if family not in FAMILIES:
        raise ValueError(f"Feature {feature!r} has no family prefix; expected one of {FAMILIES}.")
    return family


@dataclass(frozen=True)
class History:
    """The targets (keyed by `_p`), the prepared posts, and each target's post window."""

    targets: pd.DataFrame
    posts: pd.DataFrame
    joined: pd.DataFrame


class FeatureBuilder:
    """Point-in-time features per placement; scikit-learn style.

    Parameters are stored unchanged in `__init__`; `fit` learns `vectorizer_`
    (TF-IDF over captions and briefs) and `priors_` (population outcome rates)
    and returns self; `transform` builds the feature table.

    attribution_window_days: a past placement's outcomes count only once this many
        days have passed since it went live.
    lookback_days: how far back posts are read.
    prior_strength: weight of the population mean, in placements, when track
        records are shrunk.
    """

    def __init__(
        self,
        attribution_window_days: int = 30,
        lookback_days: int = 180,
        prior_strength: float = 3.0,
        max_vocabulary: int = 20_000,
    ) -> None:
        self.attribution_window_days = attribution_window_days
        self.lookback_days = lookback_days
        self.prior_strength = prior_strength
        self.max_vocabulary = max_vocabulary

    def fit(self, data: Dataset, until: pd.Timestamp | None = None) -> FeatureBuilder:
        """Learn the vocabulary and the priors from what was known before `until`.

        With `until`, posts from `until` on and placements whose attribution window
        had not closed by then are ignored, so that a validation period never
        shapes the state its own features use. Returns self.
        """
        posts, placements = data.posts, data.placements
        if until is not None:
            window = pd.Timedelta(days=self.attribution_window_days)
            posts = posts[posts["posted_at"] < until]
            placements = placements[placements["posted_at"] + window <= until]
        briefs = data.campaigns.loc[
            data.campaigns["campaign_id"].isin(placements["campaign_id"]), "topic"
        ]
        texts = pd.concat([posts["text"], briefs], ignore_index=True)
        vectorizer = TopicVectorizer(max_features=self.max_vocabulary).fit(texts)
        return self.set_state(vectorizer, fit_priors(placements, prepare_posts(posts)))

    def set_state(self, vectorizer: TopicVectorizer, priors: dict[str, float]) -> FeatureBuilder:
        """Install fitted state (what `fit` learns) and return self.

        `fit` calls it; so does the distributed fit (`features.distributed`), which
        learns the same vocabulary and priors from partitions of the data.
        """
        self.vectorizer_ = vectorizer
        self.priors_ = priors
        self.feature_names_ = list(FEATURES)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "priors_"):
            raise NotFittedError(
                "This FeatureBuilder is not fitted yet. Call 'fit' before 'transform'."
            )

    def _history(self, data: Dataset, targets: pd.DataFrame) -> History:
        """The targets keyed by `_p`, their posts, and the joined look-back window."""
        self._check_fitted()
        frame = targets_frame(targets)
        posts = prepare_posts(data.posts)
        return History(frame, posts, join_history(frame, posts, self.lookback_days))

    def _campaign_free(self, data: Dataset, history: History) -> pd.DataFrame:
        """Reach, resonance and track record: the families that do not depend on the campaign."""
        return pd.concat(
            [
                reach_features(history.targets, history.joined, data.accounts),
                resonance_features(history.targets, history.joined),
                track_features(
                    history.targets,
                    data.placements,
                    history.posts,
                    self.priors_,
                    self.attribution_window_days,
                    self.prior_strength,
                ),
            ],
            axis=1,
        )

    def _campaign_free_state(
        self, data: Dataset, targets: pd.DataFrame
    ) -> tuple[pd.DataFrame, RecentCaptions]:
        """What `transform` computes for `targets` before it looks at their campaign.

        Returns the campaign-free families (one row per target, indexed 0..n-1) and
        each target's recent captions, from which `features.relevance.relevance_scores`
        completes relevance for any brief. `features.online` keeps this for every
        known account, so a request computes relevance alone.
        """
        history = self._history(data, targets)
        captions = captions_of(history.targets, history.joined, self.vectorizer_)
        return self._campaign_free(data, history), captions

    def transform(self, data: Dataset, targets: pd.DataFrame | None = None) -> pd.DataFrame:
        """Build one feature row per target placement.

        Takes the tables known to the caller (`data`) and the placements to
        describe (`targets`, the contract's placement columns; default: all of
        `data.placements`). Returns the targets' `placement_id`, `account_id`,
        `campaign_id` and `posted_at` followed by `FEATURES`, in the targets'
        order. Only posts before each target and past placements whose window had
        closed by then reach its row.
        """
        history = self._history(data, data.placements if targets is None else targets)
        relevance = relevance_features(
            history.targets, history.joined, data.campaigns, self.vectorizer_
        )
        parts = [self._campaign_free(data, history), relevance]
        features = pd.concat(parts, axis=1).reindex(columns=list(FEATURES))
        values = features.reindex(history.targets["_p"].to_numpy()).to_numpy(dtype=np.float64)
        keys = history.targets[TARGET_KEYS].reset_index(drop=True)
        return pd.concat([keys, pd.DataFrame(values, columns=list(FEATURES))], axis=1)
