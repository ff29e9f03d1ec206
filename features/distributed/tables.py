"""`DaskTables`: the engine seam's Dask side, data partitioned on a cluster's workers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from features.builder import FeatureBuilder
from features.distributed.fitting import fit_builder, transform
from features.distributed.loading import load_partitioned
from features.distributed.partitioned import PartitionedData
from features.headers import ReadOptions
from features.moment import first_unobserved, observed_until

__all__ = ["DaskTables"]


@dataclass(frozen=True)
class DaskTables:
    """`features.engine.Tables` over data partitioned on a Dask cluster."""

    data: PartitionedData

    @classmethod
    def load(
        cls,
        client: Any,
        data_dir: Path,
        until: pd.Timestamp | None,
        options: ReadOptions | None = None,
    ) -> DaskTables:
        """Validate `data_dir` (read as `options` says) on the cluster behind `client`; keep
        it as it stood at `until`."""
        return cls(load_partitioned(client, data_dir, options=options).known_until(until))

    @property
    def placements(self) -> pd.DataFrame:
        """The placements table (on the driver)."""
        return self.data.placements

    def as_of(self, until: pd.Timestamp | None, now: pd.Timestamp | None = None) -> pd.Timestamp:
        """`until`, or the latest observed post (found per partition) or placement."""
        if until is not None:
            return until
        # Each partition's latest post up to now: the one `observed_until` would keep.
        latest_post = self.data.known_until(first_unobserved(now)).latest_post()
        return observed_until(pd.Series([latest_post]), self.data.placements, now)

    def digest(self) -> str:
        """The digest the pandas engine computes for the same data."""
        return self.data.digest()

    def fit(self, window_days: int, until: pd.Timestamp | None) -> FeatureBuilder:
        """The feature state, fitted once over the partitions (equal to the pandas fit)."""
        return fit_builder(self.data, FeatureBuilder(attribution_window_days=window_days), until)

    def transform(self, builder: FeatureBuilder, targets: pd.DataFrame) -> pd.DataFrame:
        """The feature table of `targets`, built per partition of accounts."""
        return transform(self.data, builder, targets)

    def materialize(
        self, builder: FeatureBuilder, out: Path, as_of: pd.Timestamp, lineage: dict[str, Any]
    ) -> Path:
        """The pandas engine's snapshot, written per partition of accounts on the cluster."""
        from features.distributed.snapshot import materialize_partitioned

        return materialize_partitioned(self.data, builder, out, as_of, lineage)
