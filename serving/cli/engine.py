"""Where a command runs, chosen once: this process (pandas) or a Dask cluster.

`--engine` is parsed into `Engine`; `run_on` turns it, with `--scheduler`,
`--workers` and `--memory-limit`, into a `Runner`: what the library needs from the
engine, so that no command branches on it.

- `load`: validate a data directory and open it as of a moment, as a
  `features.engine.Tables` (the `load` of `training.pipeline.train`, and the
  source of `influence features`' table), its exports read as the command's
  `--columns` and `--dayfirst` say (the runner's `read`);
- `refit`: fit a booster with a given number of rounds (the `refit` of `train`);
- `predict`: score a file of planned placements into a file (`serving.batch`);
- `materialize`: write a data directory's online snapshot (`serving.materialize`).

The pandas engine keeps everything in this process; the Dask engine starts a local
cluster (or connects to `--scheduler`) for the length of the `with` block and runs
the same code on it (`training.distributed`, `features.distributed`). Both import
their libraries only when a command uses them, so `influence validate` stays quick.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd
import typer

from features.engine import Engine
from features.headers import ReadOptions

if TYPE_CHECKING:
    from features.engine import Tables
    from serving.batch import NewCampaign
    from serving.materialize import Materialized
    from serving.settings import ServingSettings
    from training.fitting import Refit

    NewOrNone = NewCampaign | None  # the plan's campaign not in campaigns.csv, if any

__all__ = ["DaskRunner", "Engine", "PandasRunner", "Runner", "run_on"]


class Runner(Protocol):
    """What a command needs from its engine; `where` ends its progress messages."""

    @property
    def where(self) -> str:
        """Where the work happens, for a progress message: "" or " on the Dask cluster"."""
        ...

    def load(self, data_dir: Path, until: pd.Timestamp | None) -> Tables:
        """Validate `data_dir` and open it as it stood at `until` (None: everything)."""
        ...

    @property
    def refit(self) -> Refit:
        """How a booster is fitted with a given number of rounds."""
        ...

    def predict(self, settings: ServingSettings, plan: Path, out: Path, new: NewOrNone) -> int:
        """Score the planned placements in `plan` into `out` (`new`: the plan's new
        campaign, if any); the row count."""
        ...

    def materialize(self, settings: ServingSettings, out: Path) -> Materialized:
        """Write the snapshot of the settings' data for their model to `out`."""
        ...


@dataclass(frozen=True)
class PandasRunner:
    """The pandas engine: every table in this process's memory, read as `read` says."""

    read: ReadOptions = field(default_factory=ReadOptions)
    where = ""

    def load(self, data_dir: Path, until: pd.Timestamp | None) -> Tables:
        """`features.engine.PandasTables.load`."""
        from features.engine import PandasTables

        return PandasTables.load(data_dir, until, self.read)

    @property
    def refit(self) -> Refit:
        """`training.fitting.local_refit`."""
        from training.fitting import local_refit

        return local_refit

    def predict(self, settings: ServingSettings, plan: Path, out: Path, new: NewOrNone) -> int:
        """`serving.batch.predict_file`."""
        from serving.batch import predict_file

        return predict_file(settings, plan, out, new)

    def materialize(self, settings: ServingSettings, out: Path) -> Materialized:
        """`serving.materialize.materialize_data` in this process."""
        from serving.materialize import materialize_data

        return materialize_data(settings, out)


@dataclass(frozen=True)
class DaskRunner:
    """The Dask engine on the cluster of `client`: posts, features and boosters there."""

    client: Any
    read: ReadOptions = field(default_factory=ReadOptions)
    where = " on the Dask cluster"

    def load(self, data_dir: Path, until: pd.Timestamp | None) -> Tables:
        """`features.distributed.DaskTables.load` on this cluster."""
        from features.distributed import DaskTables

        return DaskTables.load(self.client, data_dir, until, self.read)

    @property
    def refit(self) -> Refit:
        """`training.distributed.dask_refit` on this cluster."""
        from training.distributed import dask_refit

        return dask_refit(self.client)

    def predict(self, settings: ServingSettings, plan: Path, out: Path, new: NewOrNone) -> int:
        """`serving.batch.predict_file_dask` on this cluster."""
        from serving.batch import predict_file_dask

        return predict_file_dask(settings, self.client, plan, out, new)

    def materialize(self, settings: ServingSettings, out: Path) -> Materialized:
        """`serving.materialize.materialize_data` on this cluster."""
        from serving.materialize import materialize_data

        return materialize_data(settings, out, self.client)


@contextlib.contextmanager
def _pandas(
    scheduler: str | None, workers: int, memory_limit: str | None, read: ReadOptions
) -> Iterator[Runner]:
    if scheduler:
        raise typer.BadParameter("applies to --engine dask only", param_hint="--scheduler")
    yield PandasRunner(read)


@contextlib.contextmanager
def _dask(
    scheduler: str | None, workers: int, memory_limit: str | None, read: ReadOptions
) -> Iterator[Runner]:
    from features.distributed import dask_client

    with dask_client(scheduler, workers, memory_limit) as client:
        yield DaskRunner(client, read)


_STARTS = {Engine.pandas: _pandas, Engine.dask: _dask}


@contextlib.contextmanager
def run_on(
    engine: Engine,
    scheduler: str | None,
    workers: int,
    memory_limit: str | None,
    read: ReadOptions | None = None,
) -> Iterator[Runner]:
    """The `Runner` of `engine`, for the length of the `with` block.

    Takes the parsed `--engine`, `--scheduler` (a Dask scheduler's address; None: a
    local cluster), `--workers`, `--memory-limit` (of the local cluster) and how data
    directories are read (`--columns`, `--dayfirst`; default the contract). Raises
    typer.BadParameter (exit 2) for a scheduler given to the pandas engine, and the
    features layer's FeaturesError when Dask is missing or the scheduler cannot be
    reached. A local cluster is stopped when the block ends.
    """
    with _STARTS[engine](scheduler, workers, memory_limit, read or ReadOptions()) as runner:
        yield runner
