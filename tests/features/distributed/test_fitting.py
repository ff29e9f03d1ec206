"""The distributed fit and transform: the pandas engine's state and feature table, exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.builder import FeatureBuilder
from features.distributed import PartitionedData, fit_builder, transform
from features.io import Dataset


def by_id(table: pd.DataFrame) -> pd.DataFrame:
    return table.sort_values("placement_id").reset_index(drop=True)


def assert_same_state(a: FeatureBuilder, b: FeatureBuilder) -> None:
    assert a.priors_ == b.priors_
    assert a.vectorizer_.vectorizer_.vocabulary_ == b.vectorizer_.vectorizer_.vocabulary_
    np.testing.assert_array_equal(a.vectorizer_.vectorizer_.idf_, b.vectorizer_.vectorizer_.idf_)


def test_feature_table_and_state_equal_the_pandas_engine(
    both: tuple[Dataset, PartitionedData],
) -> None:
    data, parted = both
    single = FeatureBuilder().fit(data)
    spread = fit_builder(parted, FeatureBuilder())
    assert_same_state(single, spread)
    table = transform(parted, spread)
    assert list(table["placement_id"]) == list(data.placements["placement_id"])
    pd.testing.assert_frame_equal(by_id(table), by_id(single.transform(data)), check_exact=True)


def test_fit_until_a_cutoff_equals_the_pandas_engine(
    both: tuple[Dataset, PartitionedData],
) -> None:
    data, parted = both
    until = pd.Timestamp("2025-07-01", tz="UTC")
    cutoff = pd.Timestamp("2025-06-01", tz="UTC")
    past, parted_past = data.known_until(until), parted.known_until(until)
    single = FeatureBuilder().fit(past, until=cutoff)
    spread = fit_builder(parted_past, FeatureBuilder(), until=cutoff)
    assert_same_state(single, spread)
    targets = past.placements.sample(frac=1.0, random_state=4)  # any order comes back
    pd.testing.assert_frame_equal(
        transform(parted_past, spread, targets),
        single.transform(past, targets),
        check_exact=True,
    )
