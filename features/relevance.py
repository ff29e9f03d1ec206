"""Relevance: how well an account's recent posts fit the campaign's topic and brand.

A TF-IDF vectoriser, fit on training data only and saved with the model, turns
captions and campaign briefs into vectors. An account's profile at a placement is
the sum of its recent posts' vectors; relevance is the cosine between profile and
brief, the share of recent posts that are on the brief's topic, and how often the
account mentioned the brand before.
"""

from __future__ import annotations

from collections.abc import Callable

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
    encode: Callable[[pd.Series], sp.csr_matrix] | None = None,
) -> pd.DataFrame:
    """Relevance features per target placement, indexed by `_p`.

    Takes the targets (with `campaign_id`), their joined history, the campaigns
    table (`brand`, `topic`) and a fitted vectoriser. Returns `relevance_*`
    columns; without post text they are missing. Vectorised with sparse algebra:
    each distinct caption and brief is vectorised once. `encode`, when given,
    turns captions into the vectoriser's rows from a cache (a service encodes its
    accounts' captions once); it must return exactly what `vectorizer.transform`
    would, row for row.
    """
    index = pd.Index(targets["_p"], name="_p")
    n = len(index)
    names = [
        "relevance_topic_similarity",
        "relevance_on_topic_share",
        "relevance_brand_mentions",
        "relevance_brand_mentions_share",
    ]
    # NumPy inside: this runs per API request, where pandas' per-call overhead dominates.
    keep = (joined["age_days"].to_numpy() <= RELEVANCE_DAYS) & joined["text"].notna().to_numpy()
    if not keep.any():
        return pd.DataFrame({name: np.full(n, np.nan) for name in names}, index=index)

    by_id = campaigns.drop_duplicates("campaign_id").set_index("campaign_id")
    campaign_of = targets["campaign_id"]
    brief_codes, briefs = pd.factorize(campaign_of.map(by_id["topic"]).fillna(""))
    brief_vectors = vectorizer.transform(pd.Series(briefs))

    # Sorted codes: each placement's posts are summed in the same order whatever
    # other placements share the batch, so online and offline rows agree to the bit.
    text_codes, texts = pd.factorize(joined["text"].to_numpy()[keep], sort=True)
    text_vectors = (encode or vectorizer.transform)(pd.Series(texts))
    positions = index.get_indexer(joined["_p"].to_numpy()[keep])
    counts = np.bincount(positions, minlength=n).astype(np.float64)
    has_posts = counts > 0

    # Profile: the sum of recent post vectors, one row per target placement.
    weights = sp.csr_matrix(
        (np.ones(positions.size), (positions, text_codes)), shape=(n, len(texts))
    )
    profile = weights @ text_vectors
    norms = np.sqrt(np.asarray(profile.multiply(profile).sum(axis=1)).ravel())
    cosine = _rowwise_dot(profile, brief_vectors[brief_codes]) / np.where(norms > 0, norms, 1.0)

    post_cos = _rowwise_dot(text_vectors[text_codes], brief_vectors[brief_codes[positions]])
    on_topic = np.bincount(positions, weights=post_cos >= ON_TOPIC_COSINE, minlength=n)

    # Brand mentions: one substring search per distinct brand over distinct captions.
    brand_codes, brands = pd.factorize(campaign_of.map(by_id["brand"]).fillna("").str.lower())
    text_lower = pd.Series(texts).str.lower()
    mentions = np.zeros(positions.size, dtype=bool)
    row_brands = brand_codes[positions]
    for code, brand in enumerate(brands):
        if not brand:
            continue
        hit = text_lower.str.contains(brand, regex=False).to_numpy(dtype=bool)
        rows_of_brand = row_brands == code
        mentions[rows_of_brand] = hit[text_codes[rows_of_brand]]
    mentioned = np.bincount(positions, weights=mentions, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        columns = {
            names[0]: np.where(has_posts, cosine, np.nan),
            names[1]: np.where(has_posts, on_topic / counts, np.nan),
            names[2]: np.where(has_posts, mentioned, np.nan),
            names[3]: np.where(has_posts, mentioned / counts, np.nan),
        }
    return pd.DataFrame(columns, index=index, dtype=np.float64)
