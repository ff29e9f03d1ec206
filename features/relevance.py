"""Relevance: how well an account's recent posts fit the campaign's topic and brand.

A TF-IDF vectoriser, fit on training data only and saved with the model, turns
captions and campaign briefs into vectors. An account's profile at a placement is
the sum of its recent posts' vectors; relevance is the cosine between profile and
brief, the share of recent posts that are on the brief's topic, and how often the
account mentioned the brand before.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from features.errors import NotFittedError

__all__ = ["ON_TOPIC_COSINE", "TopicVectorizer", "relevance_features"]

ON_TOPIC_COSINE = 0.1
"""A post whose cosine with the brief reaches this counts as on topic."""

RELEVANCE_DAYS = 90


class TopicVectorizer:
    """TF-IDF over captions and briefs; scikit-learn style (`fit` / `transform`).

    Parameters are stored unchanged; the fitted vectoriser is `vectorizer_`.
    Hashtags count as their word (`#running` is `running`).
    """

    def __init__(self, max_features: int = 20_000, min_df: int = 2) -> None:
        self.max_features = max_features
        self.min_df = min_df

    def fit(self, texts: pd.Series) -> TopicVectorizer:
        """Learn the vocabulary and IDF weights from training texts; return self."""
        corpus = texts.dropna().astype(str)
        min_df = self.min_df if len(corpus) >= 10 * self.min_df else 1
        self.vectorizer_ = TfidfVectorizer(
            max_features=self.max_features, min_df=min_df, sublinear_tf=True, dtype=np.float64
        )
        try:
            self.vectorizer_.fit(corpus if len(corpus) else pd.Series(["empty"]))
        except ValueError:  # nothing but stop words or symbols: keep a harmless vocabulary
            self.vectorizer_.fit(pd.Series(["empty"]))
        return self

    def transform(self, texts: pd.Series) -> sp.csr_matrix:
        """L2-normalised TF-IDF rows for `texts`; a missing text is an all-zero row."""
        if not hasattr(self, "vectorizer_"):
            raise NotFittedError(
                "This TopicVectorizer is not fitted yet. Call 'fit' before 'transform'."
            )
        matrix = self.vectorizer_.transform(texts.fillna("").astype(str))
        return sp.csr_matrix(matrix)


def _rowwise_dot(a: sp.csr_matrix, b: sp.csr_matrix) -> np.ndarray:
    return np.asarray(a.multiply(b).sum(axis=1)).ravel()


def relevance_features(
    targets: pd.DataFrame,
    joined: pd.DataFrame,
    campaigns: pd.DataFrame,
    vectorizer: TopicVectorizer,
) -> pd.DataFrame:
    """Relevance features per target placement, indexed by `_p`.

    Takes the targets (with `campaign_id`), their joined history, the campaigns
    table (`brand`, `topic`) and a fitted vectoriser. Returns `relevance_*`
    columns; without post text they are missing. Vectorised with sparse algebra:
    each distinct caption and brief is vectorised once.
    """
    index = pd.Index(targets["_p"], name="_p")
    out = pd.DataFrame(index=index, dtype=np.float64)
    names = [
        "relevance_topic_similarity",
        "relevance_on_topic_share",
        "relevance_brand_mentions",
        "relevance_brand_mentions_share",
    ]
    recent = joined[(joined["age_days"] <= RELEVANCE_DAYS) & joined["text"].notna()]
    if recent.empty:
        for name in names:
            out[name] = np.nan
        return out

    camp = targets[["_p", "campaign_id"]].merge(
        campaigns[["campaign_id", "brand", "topic"]], on="campaign_id", how="left"
    )
    camp = camp.set_index("_p").reindex(index)
    brief_codes, briefs = pd.factorize(camp["topic"].fillna(""))
    brief_vectors = vectorizer.transform(pd.Series(briefs))

    # Sorted codes: each placement's posts are summed in the same order whatever
    # other placements share the batch, so online and offline rows agree to the bit.
    text_codes, texts = pd.factorize(recent["text"], sort=True)
    text_vectors = vectorizer.transform(pd.Series(texts))
    rows = recent["_p"].to_numpy()
    positions = index.get_indexer(rows)

    # Profile: the sum of recent post vectors, one row per target placement.
    weights = sp.csr_matrix(
        (np.ones(len(recent)), (positions, text_codes)), shape=(len(index), len(texts))
    )
    profile = weights @ text_vectors
    brief_per_target = brief_vectors[brief_codes]
    norms = np.sqrt(np.asarray(profile.multiply(profile).sum(axis=1)).ravel())
    cosine = _rowwise_dot(profile, brief_per_target) / np.where(norms > 0, norms, 1.0)
    has_posts = np.bincount(positions, minlength=len(index)) > 0
    out["relevance_topic_similarity"] = np.where(has_posts, cosine, np.nan)

    post_cos = _rowwise_dot(text_vectors[text_codes], brief_vectors[brief_codes[positions]])
    on_topic = pd.Series(post_cos >= ON_TOPIC_COSINE).groupby(rows, sort=False).mean()
    out["relevance_on_topic_share"] = on_topic.reindex(index)

    # Brand mentions: one substring search per distinct brand over distinct captions.
    brand_codes, brands = pd.factorize(camp["brand"].fillna("").str.lower())
    text_lower = pd.Series(texts).str.lower()
    mentions = np.zeros(len(recent), dtype=bool)
    row_brands = brand_codes[positions]
    for code, brand in enumerate(brands):
        if not brand:
            continue
        hit = text_lower.str.contains(brand, regex=False).to_numpy(dtype=bool)
        rows_of_brand = row_brands == code
        mentions[rows_of_brand] = hit[text_codes[rows_of_brand]]
    grouped = pd.Series(mentions).groupby(rows, sort=False)
    out["relevance_brand_mentions"] = grouped.sum().reindex(index)
    out["relevance_brand_mentions_share"] = grouped.mean().reindex(index)
    return out.astype(np.float64)
