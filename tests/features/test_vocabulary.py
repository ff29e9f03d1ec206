"""The vocabulary fitted from partition counts: scikit-learn's, term for term and bit for bit."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from features.relevance import TopicVectorizer
from features.vocabulary import analyzer, term_counts, vocabulary_from_counts

words = st.sampled_from(
    ["run", "gym", "Yoga", "yoga", "#yoga", "serum", "a", "b2", "ok!", "é", "über", "x-ray", "42"]
)
texts = st.one_of(st.none(), st.just(""), st.lists(words, max_size=6).map(" ".join))


def outcome(fit: Any) -> tuple[str, Any, Any]:
    """What a fit gives: its vocabulary and IDF, or the error it raises."""
    try:
        vectorizer = fit().vectorizer_
    except ValueError as e:
        return ("error", type(e), str(e))
    return ("fitted", vectorizer.vocabulary_, vectorizer.idf_.tolist())


@settings(max_examples=300, deadline=None)
@given(
    corpus=st.lists(texts, max_size=40),
    cuts=st.lists(st.integers(0, 40), max_size=5),
    max_features=st.integers(1, 12),
)
def test_vocabulary_from_partition_counts_equals_fit_on_the_whole_corpus(
    corpus: list[str | None], cuts: list[int], max_features: int
) -> None:
    series = pd.Series(corpus, dtype=object)
    bounds = [0, *sorted(min(c, len(corpus)) for c in cuts), len(corpus)]
    analyze = analyzer(max_features)
    counts = [term_counts(series.iloc[a:b], analyze) for a, b in itertools.pairwise(bounds)]
    single = outcome(lambda: TopicVectorizer(max_features=max_features).fit(series))
    spread = outcome(lambda: vocabulary_from_counts(counts, max_features))
    assert spread == single
    if single[0] == "fitted" and len(series):  # and the same vectors, to the bit
        fitted_single = TopicVectorizer(max_features=max_features).fit(series)
        fitted_spread = vocabulary_from_counts(counts, max_features)
        a = fitted_single.transform(series).toarray()
        b = fitted_spread.transform(series).toarray()
        np.testing.assert_array_equal(a, b)
