"""The engine seam: where the tables are held and features built, one machine or a cluster.

`Tables` is what fitting, evaluation and training need of the data, whichever engine
holds it: `PandasTables` keeps every table in this process; `features.distributed`'s
`DaskTables` keeps the posts on the workers. Both give the same feature tables, the
same moment and the same digest (tests/features/distributed/). `Engine` names the
choice; the CLI parses `--engine` into it once and passes the tables down.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd

from features.headers import ReadOptions
from features.io import Dataset, load_dataset

if TYPE_CHECKING:  # the builder brings scikit-learn: imported where a fit needs it
    from features.builder import FeatureBuilder
from features.moment import observed_until

__all__ = ["Engine", "PandasTables", "Tables", "as_tables"]


class Engine(enum.StrEnum):
    """Where the tables are held: this process's memory, or a Dask cluster's workers.

    Members are named as `--engine` spells them, so that its `--help` lists the values.
    """

    pandas = "pandas"
    dask = "dask"


class Tables(Protocol):
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

    def materialize(
        self, builder: FeatureBuilder, out: Path, as_of: pd.Timestamp, lineage: dict[str, Any]
    ) -> Path:
        """Write the online snapshot of the data as of `as_of` (`features.snapshot`)."""
        ...


@dataclass(frozen=True)
class PandasTables:
    """The pandas engine: every table in this process's memory."""

    data: Dataset

    @classmethod
    def load(
        cls, data_dir: Path, until: pd.Timestamp | None, options: ReadOptions | None = None
    ) -> PandasTables:
        """Validate and load `data_dir`, read as `options` says, as it stood at `until`."""
        return cls(load_dataset(data_dir, options).known_until(until))

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
        from features.builder import FeatureBuilder

        return FeatureBuilder(attribution_window_days=window_days).fit(self.data, until=until)

    def transform(self, builder: FeatureBuilder, targets: pd.DataFrame) -> pd.DataFrame:
        """`FeatureBuilder.transform` on the data."""
        return builder.transform(self.data, targets)

    def materialize(
        self, builder: FeatureBuilder, out: Path, as_of: pd.Timestamp, lineage: dict[str, Any]
    ) -> Path:
        """`features.snapshot.materialize` of the data."""
        from features.snapshot import materialize

        return materialize(self.data, builder, out, as_of, lineage)


def as_tables(data: Dataset | Tables) -> Tables:
    """A `Dataset` as the pandas engine's tables; any other engine's tables as they are."""
    if isinstance(data, Dataset):
        return PandasTables(data)
    if not hasattr(data, "transform"):
        raise TypeError(
            f"expected a Dataset (features.load_dataset(path)) or an engine's tables, got "
            f"{type(data).__name__}"
        )
    return data
