"""The TF-IDF vocabulary from counts of disjoint parts of a corpus: the distributed fit.

`TopicVectorizer.fit` needs the whole corpus in one process. Counting terms and
documents per part (`term_counts`, on each worker) and adding the counts
(`vocabulary_from_counts`, on the driver) learns the same vocabulary and bit-identical
IDF weights without moving the captions (tests/features/test_vocabulary.py checks it
with Hypothesis). Pure pandas and scikit-learn: no Dask here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer

from features.relevance import TopicVectorizer, fitted_vectorizer

__all__ = ["Analyzer", "TermCounts", "analyzer", "term_counts", "vocabulary_from_counts"]

Analyzer = Callable[[str], list[str]]


@dataclass(frozen=True)
class TermCounts:
    """Documents, and per term its total count (`tf`) and documents holding it (`df`)."""

    documents: int
    tf: dict[str, int] = field(default_factory=dict)
    df: dict[str, int] = field(default_factory=dict)


def _configured(max_features: int, min_df: int) -> TfidfVectorizer:
    """An unfitted vectoriser configured as `TopicVectorizer` configures its own.

    Read from a fitted `TopicVectorizer` rather than written out again, so that a
    change of configuration in `features.relevance` reaches the distributed fit.
    """
    probe = TopicVectorizer(max_features=max_features).fit(pd.Series(["probe"]))
    vectorizer: TfidfVectorizer = clone(probe.vectorizer_).set_params(min_df=min_df)
    return vectorizer


def analyzer(max_features: int) -> Analyzer:
    """The tokeniser `TopicVectorizer` uses (lower case, words of two characters or more)."""
    analyze: Analyzer = _configured(max_features, 1).build_analyzer()
    return analyze


def term_counts(texts: pd.Series, analyze: Analyzer) -> TermCounts:
    """Count documents, terms and documents per term in `texts` (missing texts skipped).

    Each distinct text is tokenised once and weighted by how often it occurs. Counts
    of disjoint parts of a corpus add up to the counts of the whole.
    """
    corpus = texts.dropna().astype(str)
    tf: Counter[str] = Counter()
    df: Counter[str] = Counter()
    for text, times in corpus.value_counts(sort=False).items():
        for term, count in Counter(analyze(str(text))).items():
            tf[term] += count * int(times)
            df[term] += int(times)
    return TermCounts(len(corpus), dict(tf), dict(df))


def vocabulary_from_counts(
    counts: Sequence[TermCounts], max_features: int = 20_000, min_df: int = 2
) -> TopicVectorizer:
    """The `TopicVectorizer` that `fit` would learn on the corpus these counts describe.

    Takes the counts of disjoint parts of a corpus. Adds them, then does what
    scikit-learn's `CountVectorizer.fit_transform` and `TfidfTransformer.fit` do with
    them, operation for operation: terms sorted, those in fewer than `min_df`
    documents dropped (`min_df` is 1 below 10 * `min_df` documents, as in
    `TopicVectorizer.fit`), the `max_features` most frequent kept (the same NumPy sort
    on the same array, so ties break the same way), and smoothed IDF weights. The
    result has the same `vocabulary_` and bit-identical `idf_` as `TopicVectorizer.fit`
    on the whole corpus.
    """
    n = sum(c.documents for c in counts)
    effective_min_df = min_df if n >= 10 * min_df else 1  # TopicVectorizer.fit's rule
    tf: Counter[str] = Counter()
    df: Counter[str] = Counter()
    for c in counts:
        tf.update(c.tf)
        df.update(c.df)
    terms = sorted(tf)
    tfs = np.array([tf[t] for t in terms], dtype=np.float64)
    dfs = np.array([df[t] for t in terms], dtype=np.int64)
    mask = (dfs <= 1.0 * n) & (dfs >= effective_min_df)
    if mask.sum() > max_features:
        keep = (-tfs[mask]).argsort()[:max_features]
        limited = np.zeros(len(dfs), dtype=bool)
        limited[np.where(mask)[0][keep]] = True
        mask = limited
    if not mask.any():
        # No term survives: let TopicVectorizer take its own fallback on as many documents.
        return TopicVectorizer(max_features=max_features, min_df=min_df).fit(pd.Series([""] * n))
    kept = [t for t, keep in zip(terms, mask, strict=True) if keep]  # column order
    document_frequency = dfs[mask].astype(np.float64)
    document_frequency += 1.0  # smooth_idf
    idf = np.full_like(document_frequency, fill_value=n + 1, dtype=np.float64)
    idf /= document_frequency
    np.log(idf, out=idf)
    idf += 1.0
    configured = _configured(max_features, effective_min_df)
    return fitted_vectorizer(configured, kept, idf, max_features, min_df)
