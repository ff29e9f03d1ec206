"""Partitioned data: its digest, latest post and past equal the pandas engine's."""

from __future__ import annotations

import pandas as pd

from features.distributed import PartitionedData
from features.io import Dataset


def test_digest_and_latest_post_equal_the_pandas_engine(
    both: tuple[Dataset, PartitionedData],
) -> None:
    data, parted = both
    assert parted.digest() == data.digest()
    assert parted.latest_post() == data.posts["posted_at"].max()


def test_known_until_equals_the_pandas_engine(both: tuple[Dataset, PartitionedData]) -> None:
    data, parted = both
    until = pd.Timestamp("2025-07-01", tz="UTC")
    assert parted.known_until(until).digest() == data.known_until(until).digest()
