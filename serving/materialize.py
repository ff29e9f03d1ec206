"""Materialize the served data: the snapshot a service starts from in seconds (`features.snapshot`).

`influence materialize`, and `influence train --promote` for its new champion, call
`materialize_data`: the model's fitted feature state, the data directory validated as the
service reads it, its moment (`serving.sources.end_of_data`) and its digest, written as
one snapshot folder. With a Dask client the posts stay on the cluster
(`features.distributed.materialize_partitioned`); the folder answers the same.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from features.builder import FeatureBuilder
from features.errors import FeaturesError
from features.io import Dataset, load_dataset
from features.moment import first_unobserved
from features.snapshot import materialize, snapshot_lineage
from serving.errors import NotReadyError
from serving.settings import ServingSettings
from serving.sources import data_dir_of, end_of_data
from serving.state import load_model

__all__ = ["Materialized", "materialize_data", "materialize_loaded"]


@dataclass(frozen=True)
class Materialized:
    """What `materialize_data` wrote: where, for which model, of how much, as of when."""

    manifest: Path
    version: str
    accounts: int
    as_of: pd.Timestamp
    seconds: float

    def sentence(self) -> str:
        """The line the command prints."""
        return (
            f"Wrote {self.manifest.parent}: {self.accounts:,} accounts as of "
            f"{self.as_of.isoformat()} for model version {self.version} ({self.seconds:.0f} s)."
        )


def materialize_loaded(
    data: Dataset,
    builder: FeatureBuilder,
    version: str,
    data_dir: Path,
    settings: ServingSettings,
    out: Path,
) -> Materialized:
    """Write the snapshot of data already loaded (training has it in hand).

    Takes the data, the model's fitted builder and version, the directory the data was
    read from (recorded, with how it was read), the settings and the destination.
    """
    started = time.perf_counter()
    as_of = end_of_data(data.posts["posted_at"], data.placements, data_dir)
    lineage = snapshot_lineage(data.digest(), version, data_dir, settings.read_options())
    manifest = materialize(data, builder, out, as_of, lineage)
    return Materialized(manifest, version, _accounts(manifest), as_of, _since(started))


def materialize_data(
    settings: ServingSettings, out: Path, client: Any | None = None
) -> Materialized:
    """Write the snapshot of the settings' data directory for the settings' model to `out`.

    Takes the settings (`model_uri`, `data_dir` and how it is read), the destination folder
    (replaced whole, or left as it was on failure) and, for the Dask engine, a
    `distributed.Client`. Raises NotReadyError naming what is missing or broken.
    """
    started = time.perf_counter()
    bundle, manifest = load_model(settings.model_uri)
    version = str(manifest.get("version", "unknown"))
    data_dir = data_dir_of(settings)
    read = settings.read_options()
    if client is None:
        try:
            data = load_dataset(data_dir, read)
        except FeaturesError as e:
            raise NotReadyError(f"no data: {e}") from e
        done = materialize_loaded(data, bundle.builder, version, data_dir, settings, out)
        return Materialized(done.manifest, version, done.accounts, done.as_of, _since(started))
    from features.distributed import load_partitioned, materialize_partitioned

    try:
        parted = load_partitioned(client, data_dir, options=read)
    except FeaturesError as e:
        raise NotReadyError(f"no data: {e}") from e
    observed = parted.known_until(first_unobserved()).latest_post()
    as_of = end_of_data(pd.Series([observed]), parted.placements, data_dir)
    lineage = snapshot_lineage(parted.digest(), version, data_dir, read)
    path = materialize_partitioned(parted, bundle.builder, out, as_of, lineage)
    return Materialized(path, version, _accounts(path), as_of, _since(started))


def _accounts(manifest: Path) -> int:
    return int(json.loads(manifest.read_text())["accounts"])


def _since(started: float) -> float:
    return time.perf_counter() - started
