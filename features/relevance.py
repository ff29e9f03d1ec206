"""Relevance: how well an account's recent posts fit the campaign's topic and brand.

A TF-IDF vectoriser, fit on training data only and saved with the model, turns
captions and campaign briefs into vectors. An account's profile at a placement is
the sum of its recent posts' vectors; relevance is the cosine between profile and
brief, the share of recent posts that are on the brief's topic, and how often the
account mentioned the brand before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfTransformer, TfidfVectorizer

from features.errors import NotFittedError

__all__ = [
    "ON_TOPIC_COSINE",
    "RELEVANCE_COLUMNS",
    "RecentCaptions",
    "TopicVectorizer",
    "captions_of",
    "fitted_vectorizer",
    "recent_captions",
    "relevance_features",
    "relevance_scores",
]

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


def fitted_vectorizer(
    configured: TfidfVectorizer,
    terms: Sequence[str],
    idf: npt.NDArray[np.float64],
    max_features: int,
    min_df: int,
) -> TopicVectorizer:
    """The fitted `TopicVectorizer` with this vocabulary and these IDF weights, without a fit.

    Takes an unfitted scikit-learn vectoriser configured as the fitted one was (its
    parameters, with the effective `min_df`), the terms in column order, their IDF
    weights (float64, one per term) and the `TopicVectorizer` parameters. Returns a
    vectoriser whose `transform` equals the fitted one's to the bit. Used where the
    state is learned or stored elsewhere: the distributed fit and the exported bundle.
    Raises ValueError for repeated terms, a weight count that differs from the term
    count, or parameters scikit-learn refuses.
    """
    weights = np.asarray(idf)
    if weights.dtype != np.float64 or weights.shape != (len(terms),):
        raise ValueError(
            f"{len(terms)} terms need as many float64 IDF weights; got {weights.dtype} "
            f"of shape {weights.shape}."
        )
    vocabulary = {str(term): i for i, term in enumerate(terms)}
    if len(vocabulary) != len(terms):
        raise ValueError("The vocabulary repeats a term.")
    configured._validate_params()  # what fit would check first
    configured._validate_vocabulary()  # sets fixed_vocabulary_ as fit does
    configured.vocabulary_ = vocabulary
    tfidf = TfidfTransformer(
        norm=configured.norm,
        use_idf=configured.use_idf,
        smooth_idf=configured.smooth_idf,
        sublinear_tf=configured.sublinear_tf,
    )
    tfidf.idf_ = weights
    tfidf.n_features_in_ = len(vocabulary)
    configured._tfidf = tfidf
    fitted = TopicVectorizer(max_features=max_features, min_df=min_df)
    fitted.vectorizer_ = configured
    return fitted


RELEVANCE_COLUMNS = (
    "relevance_topic_similarity",
    "relevance_on_topic_share",
    "relevance_brand_mentions",
    "relevance_brand_mentions_share",
)

Floats = npt.NDArray[np.float64]
Indices = npt.NDArray[np.intp]


def _rowwise_dot(a: sp.csr_matrix, b: sp.csr_matrix) -> Floats:
    return np.asarray(a.multiply(b).sum(axis=1), dtype=np.float64).ravel()


@dataclass(frozen=True)
class RecentCaptions:
    """The campaign-free half of relevance for n targets: their captions of the last 90 days.

    `texts` are the distinct captions, sorted, `lowered` the same in lower case and
    `vectors` their TF-IDF rows;
    each recent post is a caption (`text_codes`) of a target (`positions`).
    `profile` is, per target, the sum of its recent posts' rows and `norms` its
    length. Every per-target value depends on that target's posts alone, so a
    service computes this once for all its accounts and `take`s the rows a request
    asks for: the scores are the ones `relevance_features` gives, to the bit.
    """

    texts: npt.NDArray[np.object_]
    lowered: npt.NDArray[np.object_]
    vectors: sp.csr_matrix
    text_codes: Indices
    positions: Indices
    counts: Floats
    profile: sp.csr_matrix
    norms: Floats

    def take(self, rows: npt.ArrayLike) -> RecentCaptions:
        """The same for targets `rows` (repeats allowed), renumbered 0..len(rows)-1."""
        rows = np.asarray(rows, dtype=np.intp)
        # Posts are grouped by target (`positions` ascending), so each target's are a slice.
        starts = np.searchsorted(self.positions, rows, side="left")
        ends = np.searchsorted(self.positions, rows, side="right")
        sizes = ends - starts
        offsets = np.repeat(starts - np.cumsum(sizes) + sizes, sizes)
        posts = offsets + np.arange(int(sizes.sum()), dtype=np.intp)
        return RecentCaptions(
            texts=self.texts,
            lowered=self.lowered,
            vectors=self.vectors,
            text_codes=self.text_codes[posts],
            positions=np.repeat(np.arange(rows.size, dtype=np.intp), sizes),
            counts=self.counts[rows],
            profile=self.profile[rows],
            norms=self.norms[rows],
        )


def recent_captions(
    n: int,
    positions: Indices,
    texts: npt.NDArray[np.object_],
    vectorizer: TopicVectorizer,
) -> RecentCaptions:
    """Gather the recent captions of n targets: post i is `texts[i]` of target `positions[i]`.

    Each distinct caption is vectorised once.
    """
    order = np.argsort(positions, kind="stable")
    positions = np.asarray(positions, dtype=np.intp)[order]
    # Sorted codes: each target's posts are summed in the same order whatever other
    # targets share the batch, so online and offline rows agree to the bit.
    codes, distinct = pd.factorize(np.asarray(texts, dtype=object)[order], sort=True)
    distinct = np.asarray(distinct, dtype=object)
    # The vectoriser refuses an empty batch; without captions there is nothing to score.
    vectors = (
        vectorizer.transform(pd.Series(distinct, dtype=object))
        if distinct.size
        else sp.csr_matrix((0, 0))
    )
    counts = np.bincount(positions, minlength=n).astype(np.float64)
    weights = sp.csr_matrix((np.ones(positions.size), (positions, codes)), shape=(n, len(distinct)))
    profile = sp.csr_matrix(weights @ vectors)
    norms = np.sqrt(np.asarray(profile.multiply(profile).sum(axis=1), dtype=np.float64).ravel())
    lowered = np.array([str(t).lower() for t in distinct], dtype=object)
    return RecentCaptions(
        distinct,
        lowered,
        vectors,
        np.asarray(codes, dtype=np.intp),
        positions,
        counts,
        profile,
        norms,
    )


def captions_of(
    targets: pd.DataFrame, joined: pd.DataFrame, vectorizer: TopicVectorizer
) -> RecentCaptions:
    """The recent captions (last 90 days, with text) of each target, in the targets' order."""
    index = pd.Index(targets["_p"], name="_p")
    keep = (joined["age_days"].to_numpy() <= RELEVANCE_DAYS) & joined["text"].notna().to_numpy()
    return recent_captions(
        len(index),
        index.get_indexer(joined["_p"].to_numpy()[keep]),
        joined["text"].to_numpy()[keep],
        vectorizer,
    )


def _pairs(left: Indices, right: Indices, width: int) -> tuple[Indices, Indices, Indices]:
    """Distinct (left, right) pairs and, per input, which pair it is."""
    pairs, inverse = np.unique(left * width + right, return_inverse=True)
    return pairs // width, pairs % width, inverse.ravel()


def relevance_scores(
    captions: RecentCaptions,
    briefs: sp.csr_matrix,
    brief_codes: Indices,
    brands: list[str],
    brand_codes: Indices,
) -> dict[str, Floats]:
    """The relevance columns for each target of `captions`.

    Takes each target's brief (row `brief_codes[i]` of `briefs`, TF-IDF rows of the
    campaigns' topics) and brand (`brands[brand_codes[i]]`, lower case; empty means
    none). Returns the `RELEVANCE_COLUMNS` as arrays; NaN for a target without
    recent captions. Each distinct (caption, brief) and (caption, brand) pair is
    computed once.
    """
    n = captions.counts.size
    positions, codes = captions.positions, captions.text_codes
    has_posts = captions.counts > 0
    if not has_posts.any():
        return {name: np.full(n, np.nan) for name in RELEVANCE_COLUMNS}
    norms = captions.norms
    cosine = _rowwise_dot(captions.profile, briefs[brief_codes]) / np.where(norms > 0, norms, 1.0)

    text, brief, which = _pairs(codes, brief_codes[positions], max(briefs.shape[0], 1))
    post_cos = _rowwise_dot(captions.vectors[text], briefs[brief])[which]
    on_topic = np.bincount(positions, weights=post_cos >= ON_TOPIC_COSINE, minlength=n)

    text, brand, which = _pairs(codes, brand_codes[positions], max(len(brands), 1))
    hits = np.array(
        [
            bool(brands[b]) and brands[b] in captions.lowered[t]
            for t, b in zip(text, brand, strict=True)
        ],
        dtype=bool,
    )
    mentioned = np.bincount(positions, weights=hits[which], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = (cosine, on_topic / captions.counts, mentioned, mentioned / captions.counts)
        return {
            name: np.where(has_posts, v, np.nan).astype(np.float64)
            for name, v in zip(RELEVANCE_COLUMNS, values, strict=True)
        }


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
    each distinct caption and brief is vectorised once. The two halves,
    `captions_of` (campaign-free) and `relevance_scores`, are public so that a
    service can keep the first for its accounts and run the second per request.
    """
    index = pd.Index(targets["_p"], name="_p")
    captions = captions_of(targets, joined, vectorizer)
    by_id = campaigns.drop_duplicates("campaign_id").set_index("campaign_id")
    campaign_of = targets["campaign_id"]
    brief_codes, briefs = pd.factorize(campaign_of.map(by_id["topic"]).fillna(""))
    brand_codes, brands = pd.factorize(campaign_of.map(by_id["brand"]).fillna(""))
    columns = relevance_scores(
        captions,
        vectorizer.transform(pd.Series(briefs)),
        np.asarray(brief_codes, dtype=np.intp),
        [str(b).lower() for b in brands],
        np.asarray(brand_codes, dtype=np.intp),
    )
    return pd.DataFrame(columns, index=index, dtype=np.float64)
