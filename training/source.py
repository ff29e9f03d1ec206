"""Where a fit reads placements and builds features: one machine, or a cluster.

`FeatureSource` is the seam between the fitting code and the engine that holds the
data: `PandasSource` keeps every table in this process; `training.distributed`'s
`DaskSource` keeps the posts on the workers. Both give the same feature tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pandas as pd

from features.builder import FeatureBuilder
from features.io import Dataset, load_dataset
from features.moment import observed_until
from training.evaluation.split import known_until

__all__ = ["FeatureSource", "PandasSource", "as_source"]


class FeatureSource(Protocol):
    """The data as known, and `FeatureBuilder.fit` / `.transform` over all of it.

    `placements` is the placements table (on the driver); `fit` and `transform` are
    the builder's on the whole data, wherever it is held.
    """

    @property
    def placements(self) -> pd.DataFrame:
        """The placements table, as known at `--until`."""
        ...

    def as_of(self, until: pd.Timestamp | None, now: pd.Timestamp | None = None) -> pd.Timestamp:
        """`until`, or the latest observed post or placement (`features.moment`) by `now`."""
        ...

    def digest(self) -> str:
        """`Dataset.digest` of the data as known."""
        ...

    def fit(self, window_days: int, until: pd.Timestamp | None) -> FeatureBuilder:
        """A builder fitted on what was known before `until`."""
        ...

    def transform(self, builder: FeatureBuilder, targets: pd.DataFrame) -> pd.DataFrame:
        """The feature table of `targets`, in their order."""
        ...


@dataclass(frozen=True)
class PandasSource:
    """The pandas engine: every table in this process's memory."""

    data: Dataset

    @classmethod
    def load(cls, data_dir: Path, until: pd.Timestamp | None) -> PandasSource:
        """Validate and load `data_dir` as it stood at `until`."""
        return cls(known_until(load_dataset(data_dir), until))

    @property
    def placements(self) -> pd.DataFrame:
        """The placements table."""
        return self.data.placements

    def as_of(self, until: pd.Timestamp | None, now: pd.Timestamp | None = None) -> pd.Timestamp:
        """`until`, or the latest observed post or placement."""
        if until is not None:
            return until
        return observed_until(self.data.posts["posted_at"], self.data.placements, now)

    def digest(self) -> str:
        """The data's digest."""
        return self.data.digest()

    def fit(self, window_days: int, until: pd.Timestamp | None) -> FeatureBuilder:
        """`FeatureBuilder.fit` on the data."""
        return FeatureBuilder(attribution_window_days=window_days).fit(self.data, until=until)

    def transform(self, builder: FeatureBuilder, targets: pd.DataFrame) -> pd.DataFrame:
        """`FeatureBuilder.transform` on the data."""
        return builder.transform(self.data, targets)


def as_source(data: Dataset | FeatureSource) -> FeatureSource:
    """A `Dataset` as the pandas engine's source; any other source as it is."""
    return PandasSource(data) if isinstance(data, Dataset) else data
